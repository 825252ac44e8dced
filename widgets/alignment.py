"""The alignment page: fit one orthogonal map between two models' spaces and watch it work.

State lives in ``param`` parameters (bounded, documented); the controls are generated from
them. Every number comes from :mod:`lab.alignment`; this module only arranges it. Heavy
work (the anchor-count curve and map comparison, UMAP, retraining) runs in
:class:`~widgets.jobs.BackgroundJob` threads and streams partial results back.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import panel as pn
import param

from lab.alignment.experiment import (
    AlignmentResult,
    anchor_curve,
    anchor_range,
    compare_maps,
    project_2d,
    run_alignment,
)
from lab.alignment.pipeline import SMOKE_PAIR, train_pair
from lab.alignment.sources import AlignmentData, load_byo, load_shipped
from widgets.alignment_figures import (
    compare_figure,
    curve_figure,
    empty_figure,
    loss_figure,
    metrics_figure,
    scatter_figure,
    spectrum_figure,
)
from lab.device import describe_device
from widgets.common import ErrorBox, guarded, plotly_pane
from widgets.jobs import BackgroundJob

__all__ = ["AlignmentView", "create_view", "SOURCES"]

# page label -> shipped artifact name (see lab.alignment.sources.SHIPPED)
SOURCES = {
    "Toy CLIPs on drawn shapes": "toyclip",
    "MiniLM: sentence embedding vs layer 3": "minilm_layer3",
    "MiniLM: sentence embedding vs layer 1": "minilm_layer1",
}
GROUPS = {"O(d) reflections": True, "SO(d) rotations": False}
MAX_UPLOAD_BYTES = 64 * 1024 * 1024

INTRO = """
## Representation alignment via orthogonal maps
Two models trained apart embed the same items in different coordinates. If one **orthogonal map Q**
(plus a mean shift) carries one space onto the other, nearest-neighbour retrieval *across* the models
jumps from chance to high. Q is fitted on a few **anchor** items of the first modality (images) and then
applied unchanged to the second (captions): if the text also lines up, the two models share one geometry.
Move the controls; every figure is recomputed by `lab.alignment` on this machine.
"""


class AlignmentView(pn.viewable.Viewer):
    """The /alignment page (one instance per browser session)."""

    source = param.Selector(objects=list(SOURCES), default=next(iter(SOURCES)),
                            doc="Which pair of embedding spaces to align.")
    n_anchor_classes = param.Integer(default=10, bounds=(1, 30),
                                     doc="Anchor classes (or rows, without labels) whose items fit the map.")
    center = param.Boolean(default=True, doc="Subtract each space's own anchor mean before fitting.")
    group = param.Selector(objects=list(GROUPS), default=next(iter(GROUPS)),
                           doc="Orthogonal maps with reflections (O(d)) or proper rotations only (SO(d)).")
    map_type = param.Selector(objects=["orthogonal", "linear", "mlp"], default="orthogonal",
                              doc="The fitted map: orthogonal Procrustes, unconstrained least squares, or a small MLP.")
    projection = param.Selector(objects=["pca", "umap"], default="pca",
                                doc="2-D view: PCA of space B (instant) or UMAP (computed in the background).")
    n_points = param.Integer(default=200, bounds=(20, 600), doc="Items drawn in the 2-D view.")
    seed = param.Integer(default=0, bounds=(0, 99), doc="Seed for the choice of anchor classes.")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.errors = ErrorBox()
        self._datasets: dict[str, AlignmentData] = {}
        self._data: AlignmentData | None = None
        self._result: AlignmentResult | None = None
        self._curve = None
        self._compare = None
        self._token = 0  # bumps when the data or centring changes; stale partial results are ignored
        self._curve_pending = False
        self._umap_cache: dict[tuple, dict[str, np.ndarray]] = {}
        self._loss_history: list[dict[str, Any]] = []
        self._busy = False
        self._closed = False
        self.curve_job = BackgroundJob("anchor sweep")
        self.umap_job = BackgroundJob("UMAP")
        self.train_job = BackgroundJob("retraining")

        self.scatter_pane = plotly_pane(empty_figure("Both spaces in 2-D"), height=430)
        self.metrics_pane = plotly_pane(empty_figure("Scores"), height=430)
        self.curve_pane = plotly_pane(empty_figure("Anchor curve"), height=400)
        self.spectrum_pane = plotly_pane(empty_figure("Spectrum"), height=340)
        self.compare_pane = plotly_pane(empty_figure("Map comparison"), height=340)
        self.loss_pane = plotly_pane(loss_figure([]), height=260)  # joins the page on the first retrain
        self.retrain_box = pn.Column(sizing_mode="stretch_width")
        self.headline = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.data_info = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.ortho_number = pn.indicators.Number(name="orthogonality error ‖MᵀM − I‖", value=0.0,
                                                 format="{value:.1e}", font_size="22pt", title_size="10pt")
        self.controls = pn.Param(
            self.param,
            parameters=["source", "n_anchor_classes", "center", "group", "map_type", "projection", "n_points", "seed"],
            widgets={
                "source": {"type": pn.widgets.Select, "name": "Data source"},
                "n_anchor_classes": {"type": pn.widgets.IntSlider, "throttled": True, "name": "Anchor classes"},
                "center": {"type": pn.widgets.Checkbox, "name": "Centre each space (own anchor mean)"},
                "group": {"type": pn.widgets.RadioButtonGroup, "name": "Group"},
                "map_type": {"type": pn.widgets.RadioButtonGroup, "name": "Map"},
                "projection": {"type": pn.widgets.RadioButtonGroup, "name": "2-D view"},
                "n_points": {"type": pn.widgets.IntSlider, "throttled": True, "name": "Points shown"},
                "seed": {"type": pn.widgets.IntInput, "name": "Anchor seed"},
            },
            show_name=False, sizing_mode="stretch_width",
        )
        self.file_a = pn.widgets.FileInput(accept=".npy,.npz,.safetensors,.parquet", sizing_mode="stretch_width")
        self.file_b = pn.widgets.FileInput(accept=".npy,.npz,.safetensors,.parquet", sizing_mode="stretch_width")
        self.path_a = pn.widgets.TextInput(placeholder="…or a path on the server for space A", sizing_mode="stretch_width")
        self.path_b = pn.widgets.TextInput(placeholder="…and for space B (optional)", sizing_mode="stretch_width")
        self.load_button = pn.widgets.Button(label="Load my embeddings", color="primary")
        self.load_button.on_click(lambda _e: self.load_files())
        self.train_steps = pn.widgets.IntSlider(label="Training steps per model", start=20, end=2500, step=20,
                                                value=SMOKE_PAIR.steps)
        self.train_button = pn.widgets.Button(label="Retrain the toy CLIPs here", color="success")
        self.train_button.on_click(lambda _e: self.retrain())
        self._load_source()

    # ------------------------------------------------------------------ data
    def _data_for(self, label: str) -> AlignmentData:
        if label not in self._datasets:
            self._datasets[label] = load_shipped(SOURCES[label])
        return self._datasets[label]

    @param.depends("source", watch=True)
    def _load_source(self) -> None:
        if self._busy:
            return
        previous = self._data
        data = guarded(self.errors)(self._data_for)(self.source)
        if data is None:  # keep what the page showed; put the selector back
            if previous is not None:
                self._busy = True
                try:
                    self.source = next(k for k, v in self._datasets.items() if v is previous)
                finally:
                    self._busy = False
            return
        self._set_data(data)

    def _set_data(self, data: AlignmentData) -> None:
        self._data = data
        lo, hi, unit = anchor_range(data)
        self._busy = True
        try:
            self.param.n_anchor_classes.bounds = (lo, hi)
            self.param.n_anchor_classes.label = f"Anchor {unit}"
            default = self.n_anchor_classes if unit == "classes" else 2 * data.dim
            self.n_anchor_classes = int(min(max(default, lo), hi))
        finally:
            self._busy = False
        m1, m2 = data.modalities
        second = f", plus {data.x2.shape[0]} {m2} items embedded by both" if data.has_second else ""
        self.data_info.object = (
            f"**{data.description or data.name}**  \n{data.n} paired {m1} items in {data.dim} dimensions"
            f"{second}; {int(data.train_mask.sum())} may be anchors, {int((~data.train_mask).sum())} are held back for "
            f"scoring{'; ' + str(data.n_classes) + ' classes' if data.labels is not None else ''}.  \n"
            f"Space A: {data.spaces[0]}. Space B: {data.spaces[1]}.  \n"
            f"Fitting and scoring run on: {describe_device()}."
        )
        self._token += 1
        self.refit()
        self.start_sweep()

    # ------------------------------------------------------------------ fitting
    @param.depends("n_anchor_classes", "group", "map_type", "seed", watch=True)
    def _on_fit_params(self) -> None:
        if not self._busy:
            self.refit()

    @param.depends("center", watch=True)
    def _on_center(self) -> None:
        if not self._busy:
            self._token += 1
            self.refit()
            self.start_sweep()

    def refit(self) -> None:
        """Fit the map for the current controls and update every figure that depends on it."""
        if self._data is None:
            return
        result = guarded(self.errors)(run_alignment)(
            self._data, n_anchor_classes=self.n_anchor_classes, map_type=self.map_type, center=self.center,
            allow_reflection=GROUPS[self.group], seed=self.seed)
        if result is None:
            return
        self._result = result
        self.metrics_pane.object = metrics_figure(result.metrics)
        self.spectrum_pane.object = spectrum_figure(result.singular_values)
        self.ortho_number.value = float(result.orthogonality_error)
        self._update_headline()
        self._update_curve_marker()
        self.update_projection()

    def _update_headline(self) -> None:
        res, data = self._result, self._data
        m = res.metrics.set_index(["metric", "modality"])
        m1, m2 = data.modalities
        parts = []
        for key, label in ((("retrieval top-1 (instance)", m1), f"{m1} retrieval"),
                           (("retrieval top-1 (class)", m1), f"{m1} retrieval by class"),
                           (("retrieval top-1 (instance)", m2), f"{m2} retrieval with the {m1}-fitted map"),
                           ((f"zero-shot: B {m1} vs A {m2}", m1), "cross-model zero-shot")):
            if key in m.index:
                parts.append(f"{label}: **{m.loc[key, 'before']:.0%} → {m.loc[key, 'after']:.0%}**")
        self.headline.object = (f"With **{len(res.anchors)} anchors** ({self.map_type} map): " + " · ".join(parts))

    # ------------------------------------------------------------------ 2-D view
    @param.depends("projection", "n_points", watch=True)
    def update_projection(self) -> None:
        res, data = self._result, self._data
        if res is None or data is None:
            return
        k = min(self.n_points, res.eval_rows.size)
        pick = np.linspace(0, res.eval_rows.size - 1, k).round().astype(int)  # (k,) evenly spread eval items
        rows = res.eval_rows[pick]
        before, after, target = data.x[rows], res.x_after[pick], data.y[rows]
        if data.labels is not None and data.label_names:
            hover = [f"{data.label_names[i]} (item {r})" if i < len(data.label_names) else f"item {r}"
                     for i, r in zip(data.labels[rows], rows)]
        else:
            hover = [f"item {r}" for r in rows]
        spaces = data.spaces
        if self.projection == "pca":
            coords = guarded(self.errors)(project_2d)(before, after, target, method="pca")
            if coords is not None:
                self.scatter_pane.object = scatter_figure(coords, hover, spaces=spaces, method="pca",
                                                          map_type=self.map_type)
            return
        key = (self._token, self.n_anchor_classes, self.map_type, self.group, self.seed, k)
        if key in self._umap_cache:
            self.scatter_pane.object = scatter_figure(self._umap_cache[key], hover, spaces=spaces, method="umap",
                                                      map_type=self.map_type)
            return
        if self.umap_job.running:
            self.umap_job.stop()

        def work(progress, should_stop):
            progress(0.1, "embedding both panels with UMAP…")
            return project_2d(before, after, target, method="umap", seed=self.seed)

        def done(coords):
            if coords is None:
                return
            self._umap_cache[key] = coords
            if self.projection == "umap":
                self.scatter_pane.object = scatter_figure(coords, hover, spaces=spaces, method="umap",
                                                          map_type=self.map_type)

        if self._closed:
            return
        if not self.umap_job.start(work, on_done=done):
            self.errors.show("UMAP is still running for an earlier setting; try again in a moment")

    # ------------------------------------------------------------------ sweeps
    def start_sweep(self) -> None:
        """Anchor-count curve and held-out map comparison for the current data, in the background."""
        if self._data is None or self._closed:
            return
        if self.curve_job.running:
            self._curve_pending = True
            self.curve_job.stop()
            return
        self._curve_pending = False
        data, token, center = self._data, self._token, self.center
        lo, hi, unit = anchor_range(data)
        n_cmp = max(lo, min(5, hi // 3)) if unit == "classes" else max(lo, min(hi, 2 * data.dim))
        self._curve, self._compare = None, None
        self.curve_pane.object = curve_figure(None, self.n_anchor_classes, unit, data.modalities)
        self.compare_pane.object = compare_figure(None, data.modalities, n_cmp, unit)

        def work(progress, should_stop):
            curve = anchor_curve(data, center=center, progress=lambda f, m="", **p: progress(0.7 * f, m, curve=p["rows"],
                                                                                          token=token),
                                 should_stop=should_stop)
            if should_stop():
                return None
            table = compare_maps(data, n_anchor_classes=n_cmp, seeds=(0, 1, 2), center=center,
                                 progress=lambda f, m="", **p: progress(0.7 + 0.3 * f, m, compare=p["rows"],
                                                                        token=token),
                                 should_stop=should_stop)
            return {"curve": curve, "compare": table, "token": token}

        def partial(p):
            if p.get("token") != self._token:
                return
            import pandas as pd

            if "curve" in p:
                self._curve = pd.DataFrame(p["curve"])
                self.curve_pane.object = curve_figure(self._curve, self.n_anchor_classes, unit, data.modalities)
            if "compare" in p:
                self._compare = pd.DataFrame(p["compare"])
                self.compare_pane.object = compare_figure(self._compare, data.modalities, n_cmp, unit)

        def done(result):
            if result is not None and result["token"] == self._token:
                self._curve, self._compare = result["curve"], result["compare"]
                self.curve_pane.object = curve_figure(self._curve, self.n_anchor_classes, unit, data.modalities)
                self.compare_pane.object = compare_figure(self._compare, data.modalities, n_cmp, unit)
            if self._curve_pending:
                self.start_sweep()

        self.curve_job.start(work, on_partial=partial, on_done=done)

    def _update_curve_marker(self) -> None:
        if self._curve is not None and self._data is not None:
            _, _, unit = anchor_range(self._data)
            self.curve_pane.object = curve_figure(self._curve, self.n_anchor_classes, unit, self._data.modalities)

    # ------------------------------------------------------------------ your own files
    def load_files(self) -> AlignmentData | None:
        """Load the uploaded (or named) files; on any problem show it and keep the page as it was."""

        def load() -> AlignmentData:
            if self.file_a.value:
                b = self.file_b.value or None
                return load_byo(self.file_a.value, b, filename_a=self.file_a.filename,
                                filename_b=self.file_b.filename if b else None, max_bytes=MAX_UPLOAD_BYTES)
            if self.path_a.value.strip():
                b = self.path_b.value.strip() or None
                return load_byo(self.path_a.value.strip(), b, max_bytes=MAX_UPLOAD_BYTES)
            raise ValueError("file: choose a file for space A (or type a path) first")

        data = guarded(self.errors)(load)()
        if data is None:
            return None
        self._add_source(f"Your files: {data.description.removeprefix('uploaded: ')}", data)
        return data

    def _add_source(self, label: str, data: AlignmentData) -> None:
        self._datasets[label] = data
        if label not in self.param.source.objects:
            self.param.source.objects = [*self.param.source.objects, label]
        if self.source == label:
            self._set_data(data)
        else:
            self.source = label

    # ------------------------------------------------------------------ retraining
    def retrain(self) -> bool:
        """Train a fresh toy-CLIP pair in the background; the result becomes a new data source."""
        cfg = dataclasses.replace(SMOKE_PAIR, steps=int(self.train_steps.value))
        self._loss_history = []
        if self.loss_pane not in self.retrain_box.objects:
            self.retrain_box.append(self.loss_pane)

        def work(progress, should_stop):
            from lab.runs import Run

            run = Run.create("alignment", {"pair": dataclasses.asdict(cfg)}, name="page-retrain")
            data, _ = train_pair(cfg, run=run, progress=progress, should_stop=should_stop)
            return data

        def partial(p):
            if "loss" in p:
                self._loss_history.append({"model": p.get("model"), "step": p.get("step"), "loss": p["loss"]})
                self.loss_pane.object = loss_figure(self._loss_history)

        def done(data):
            if data is not None:
                self._add_source("Toy CLIPs retrained in this session", data)

        return self.train_job.start(work, on_partial=partial, on_done=done)

    # ------------------------------------------------------------------ shutdown
    def close(self, timeout: float = 120.0) -> None:
        """Stop every background job and wait for it (tests, notebooks, a closing session)."""
        self._closed = True
        self._curve_pending = False
        for job in (self.curve_job, self.umap_job, self.train_job):
            if job.running:
                job.stop()
            job.wait(timeout)

    # ------------------------------------------------------------------ layout
    def __panel__(self) -> pn.viewable.Viewable:
        if getattr(self, "_layout", None) is None:
            self._layout = self._build_layout()
        return self._layout

    def _build_layout(self) -> pn.viewable.Viewable:
        controls = pn.Card(self.controls, title="Controls", collapsible=False, sizing_mode="stretch_width")
        byo = pn.Card(
            pn.pane.Markdown("One file with arrays `x`, `y` (paired rows; optional `labels`, `x2`, `y2`, `labels2`), "
                             "or one file per space. `.npy` `.npz` `.safetensors` `.parquet`; nothing is unpickled; "
                             f"{MAX_UPLOAD_BYTES // 2**20} MB at most.", styles={"font-size": "0.85em"}),
            pn.pane.Markdown("**Space A**"), self.file_a, self.path_a,
            pn.pane.Markdown("**Space B** (optional)"), self.file_b, self.path_b, self.load_button,
            title="Bring your own embeddings", collapsed=True, sizing_mode="stretch_width",
        )
        retrain = pn.Card(
            pn.pane.Markdown("Trains model A (CNN + bag of words) and model B (MLP + ordered words) from scratch on "
                             "freshly drawn shapes, then adds them as a data source.", styles={"font-size": "0.85em"}),
            self.train_steps, self.train_button, self.train_job, self.retrain_box,
            title="Retrain the toy models", collapsed=True, sizing_mode="stretch_width",
        )
        side = pn.Column(controls, self.ortho_number, byo, retrain, width=330)
        main = pn.Column(
            self.headline, self.scatter_pane, self.umap_job,
            pn.Row(self.metrics_pane, self.curve_pane, sizing_mode="stretch_width"),
            self.curve_job,
            pn.Row(self.spectrum_pane, self.compare_pane, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )
        return pn.Column(
            pn.pane.Markdown(INTRO, sizing_mode="stretch_width"), self.errors, self.data_info,
            pn.Row(side, main, sizing_mode="stretch_width"), sizing_mode="stretch_width",
        )


def create_view() -> AlignmentView:
    """A fresh alignment page for one browser session (its jobs stop when the session ends)."""
    view = AlignmentView()
    if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
        pn.state.on_session_destroyed(lambda _ctx: view.close(timeout=0.0))
    return view
