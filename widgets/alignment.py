"""The alignment page: fit one orthogonal map between two models' spaces and watch it work.

State lives in ``param`` parameters (bounded, documented); the controls are generated from
them and the figures are methods bound to the parameters they read. Every number comes from
:mod:`lab.alignment`; ``widgets.alignment_figures`` draws it. Heavy work (the anchor-count
curve and map comparison, UMAP, retraining) runs in the page's background jobs, whose
events arrive in order and are appended to the results they build.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import panel as pn
import param

from lab.alignment import (
    MAP_TYPES,
    PRESETS,
    PROJECTIONS,
    AlignmentData,
    AlignmentResult,
    anchor_range,
    anchor_sweep,
    comparison_size,
    default_anchor_count,
    load_byo,
    project_2d,
    retrain_pair,
    shared_alignment,
    shared_shipped,
    shipped_sweep,
)
from lab.device import describe_device
from lab.files import confine
from widgets import alignment_figures as figs
from widgets.common import MAX_UPLOAD_BYTES, StudyView, allowed_dirs, keeps_last, plotly_pane
from widgets.figures import empty_figure

__all__ = ["AlignmentView", "create_view", "SOURCES"]

# page label -> shipped artifact name (lab.alignment.PRESETS["page"]["sources"])
SOURCES: dict[str, str] = PRESETS["page"]["sources"]
# the group control's labels -> ProcrustesAligner's allow_reflection
GROUPS = {"O(d) reflections": True, "SO(d) rotations": False}
RETRAINED = "Toy CLIPs retrained in this session"
RETRAIN_PAIR = PRESETS[PRESETS["page"]["retrain"]]


def _fit_controls(n_anchor_classes: int, map_type: str, center: bool, group: str, seed: int) -> dict[str, Any]:
    """run_alignment's arguments for the page's controls (the same keys in the same order every time)."""
    return {"n_anchor_classes": int(n_anchor_classes), "map_type": map_type, "center": bool(center),
            "allow_reflection": GROUPS[group], "seed": int(seed)}


INTRO = """
## Representation alignment via orthogonal maps
Two models trained apart embed the same items in different coordinates. If one **orthogonal map Q**
(plus a mean shift) carries one space onto the other, nearest-neighbour retrieval *across* the models
jumps from chance to high. Q is fitted on a few **anchor** items of the first modality (images) and then
applied unchanged to the second (captions): if the text also lines up, the two models share one geometry.
Move the controls; every figure is recomputed by `lab.alignment` on this machine.
"""


class AlignmentView(StudyView):
    """The /alignment page (one instance per browser session)."""

    intro = INTRO

    source = param.Selector(objects=list(SOURCES), default=next(iter(SOURCES)), label="Data source",
                            doc="Which pair of embedding spaces to align.")
    n_anchor_classes = param.Integer(default=PRESETS["page"]["anchor_classes"], bounds=(1, 30),
                                     label="Anchor classes",
                                     doc="Anchor classes (or rows, without labels) whose items fit the map.")
    center = param.Boolean(default=True, label="Centre each space (own anchor mean)",
                           doc="Subtract each space's own anchor mean before fitting.")
    group = param.Selector(objects=list(GROUPS), default=next(iter(GROUPS)), label="Group",
                           doc="Orthogonal maps with reflections (O(d)) or proper rotations only (SO(d)).")
    map_type = param.Selector(objects=list(MAP_TYPES), default="orthogonal", label="Map",
                              doc="The fitted map: orthogonal Procrustes, unconstrained least squares, or a small MLP.")
    projection = param.Selector(objects=list(PROJECTIONS), default="pca", label="2-D view",
                                doc="2-D view: PCA of space B (instant) or UMAP (computed in the background).")
    n_points = param.Integer(default=200, bounds=(20, 600), label="Points shown", doc="Items drawn in the 2-D view.")
    seed = param.Integer(default=0, bounds=(0, 99), label="Anchor seed", doc="Seed for the choice of anchor classes.")
    load = param.Action(lambda self: self.load_files(), label="Load my embeddings",
                        doc="Load the uploaded files (or the paths typed) as a new data source.")
    train_steps = param.Integer(default=RETRAIN_PAIR.steps, bounds=(20, PRESETS["shipped-pair"].steps), step=20,
                                label="Training steps per model", doc="Optimiser steps of each retrained toy CLIP.")
    retrain_button = param.Action(lambda self: self.retrain(), label="Retrain the toy CLIPs here",
                                  doc="Train model A and model B from scratch; the pair becomes a data source.")
    # Results, shown by the figures that depend on them (not controls).
    data = param.ClassSelector(class_=AlignmentData, default=None, allow_None=True, precedence=-1,
                               doc="The embedding pair of the selected source.")
    result = param.ClassSelector(class_=AlignmentResult, default=None, allow_None=True, precedence=-1,
                                 doc="The map fitted for the current controls, and its scores.")
    curve_rows = param.List(default=[], precedence=-1, doc="Rows of the anchor-count curve so far.")
    compare_rows = param.List(default=[], precedence=-1, doc="Rows of the held-out map comparison so far.")
    umap_coords = param.Dict(default=None, allow_None=True, precedence=-1, doc="The latest UMAP coordinates.")
    loss_log = param.List(default=[], precedence=-1, doc="(model, step, loss) of the retraining run.")
    sweep_settings = param.Tuple(default=None, allow_None=True, length=2, precedence=-1,
                                 doc="(data, center) of the sweep the page asked for last.")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._datasets: dict[str, AlignmentData] = {}
        self._umap_cache: dict[tuple, dict[str, np.ndarray]] = {}
        self.curve_job = self.add_job("anchor sweep")
        self.umap_job = self.add_job("UMAP")
        self.train_job = self.add_job("retraining")
        self.controls = pn.Param(
            self.param,
            parameters=["source", "n_anchor_classes", "center", "group", "map_type", "projection", "n_points", "seed"],
            widgets={
                "source": {"type": pn.widgets.Select},
                "n_anchor_classes": {"type": pn.widgets.IntSlider, "throttled": True},
                "center": {"type": pn.widgets.Checkbox},
                "group": {"type": pn.widgets.RadioButtonGroup},
                "map_type": {"type": pn.widgets.RadioButtonGroup},
                "projection": {"type": pn.widgets.RadioButtonGroup},
                "n_points": {"type": pn.widgets.IntSlider, "throttled": True},
                "seed": {"type": pn.widgets.IntInput},
            },
            show_name=False, sizing_mode="stretch_width",
        )
        accept = ".npy,.npz,.safetensors,.parquet"
        self.file_a = pn.widgets.FileInput(accept=accept, sizing_mode="stretch_width")
        self.file_b = pn.widgets.FileInput(accept=accept, sizing_mode="stretch_width")
        self.path_a = pn.widgets.TextInput(placeholder="…or a path on the server for space A",
                                           sizing_mode="stretch_width")
        self.path_b = pn.widgets.TextInput(placeholder="…and for space B (optional)", sizing_mode="stretch_width")
        # The loss figure joins the (collapsed) retrain card with the first retraining, so an
        # unused hidden plot does not sit in the page ahead of the figures the page is about.
        self.loss_area = pn.Column(sizing_mode="stretch_width")
        self._load_source()

    @classmethod
    def warm(cls, progress, should_stop) -> None:
        """The default source, its fit for the default controls, and its sweep (shared by every visitor)."""
        p = cls.param
        name = SOURCES[p.source.default]
        data = shared_shipped(name)
        shared_alignment(data, **_fit_controls(default_anchor_count(data, p.n_anchor_classes.default),
                                               p.map_type.default, p.center.default, p.group.default, p.seed.default))
        shipped_sweep(name, center=p.center.default, progress=progress, should_stop=should_stop)

    # ------------------------------------------------------------------ data
    def _data_for(self, label: str) -> AlignmentData:
        if label not in self._datasets:
            self._datasets[label] = shared_shipped(SOURCES[label])
        return self._datasets[label]

    def _label_of(self, data: AlignmentData) -> str | None:
        return next((label for label, d in self._datasets.items() if d is data), None)

    @param.depends("source", watch=True)
    def _load_source(self) -> None:
        if self.data is not None and self._datasets.get(self.source) is self.data:
            return  # the selector names what is shown (it was put back after a failure)
        data = self.guard(self._data_for)(self.source)
        if data is None:  # keep what the page showed: the selector goes back to it
            shown = self._label_of(self.data) if self.data is not None else None
            if shown is not None:
                self.source = shown
            return
        if data is not self.data:
            self.data = data

    @param.depends("data", watch=True)
    def _on_data(self) -> None:
        data = self.data
        lo, hi, unit = anchor_range(data)
        before = self.n_anchor_classes
        with param.parameterized.batch_call_watchers(self):
            self.param.n_anchor_classes.bounds = (lo, hi)
            self.param.n_anchor_classes.label = f"Anchor {unit}"
            self.n_anchor_classes = default_anchor_count(data, before)
        if self.n_anchor_classes == before:  # otherwise the anchor-count watcher has refitted already
            self.refit()
        self.start_sweep()

    @param.depends("data")
    def data_info(self) -> str:
        data = self.data
        if data is None:
            return ""
        m1, m2 = data.modalities
        second = f", plus {data.x2.shape[0]} {m2} items embedded by both" if data.has_second else ""
        classes = f"; {data.n_classes} classes" if data.labels is not None else ""
        return (f"**{data.description or data.name}**  \n{data.n} paired {m1} items in {data.dim} dimensions"
                f"{second}; {int(data.train_mask.sum())} may be anchors, {int((~data.train_mask).sum())} are held "
                f"back for scoring{classes}.  \nSpace A: {data.spaces[0]}. Space B: {data.spaces[1]}.  \n"
                f"Fitting and scoring run on: {describe_device()}.")

    # ------------------------------------------------------------------ fitting
    @param.depends("n_anchor_classes", "group", "map_type", "seed", watch=True)
    def refit(self) -> None:
        """Fit the map for the current controls; every figure that reads the result follows."""
        if self.data is None:
            return
        result = self.guard(shared_alignment)(
            self.data, **_fit_controls(self.n_anchor_classes, self.map_type, self.center, self.group, self.seed))
        if result is not None:
            self.result = result

    @param.depends("center", watch=True)
    def _on_center(self) -> None:
        self.refit()
        self.start_sweep()

    @param.depends("result")
    @keeps_last
    def metrics_figure(self) -> dict:
        if self.result is None:
            return empty_figure("Scores", "no data loaded", height=430)
        return figs.metrics_figure(self.result.metrics)

    @param.depends("result")
    @keeps_last
    def spectrum_figure(self) -> dict:
        if self.result is None:
            return empty_figure("Spectrum", "no data loaded")
        return figs.spectrum_figure(self.result.singular_values)

    @param.depends("result")
    def orthogonality(self) -> float:
        return float(self.result.orthogonality_error) if self.result is not None else 0.0

    @param.depends("result")
    def headline(self) -> str:
        res, data = self.result, self.data
        if res is None or data is None:
            return ""
        m = res.metrics.set_index(["metric", "modality"])
        m1, m2 = data.modalities
        parts = []
        for key, label in ((("retrieval top-1 (instance)", m1), f"{m1} retrieval"),
                           (("retrieval top-1 (class)", m1), f"{m1} retrieval by class"),
                           (("retrieval top-1 (instance)", m2), f"{m2} retrieval with the {m1}-fitted map"),
                           ((f"zero-shot: B {m1} vs A {m2}", m1), "cross-model zero-shot")):
            if key in m.index:
                parts.append(f"{label}: **{m.loc[key, 'before']:.0%} → {m.loc[key, 'after']:.0%}**")
        sample = ""
        if res.n_eval_total > res.eval_rows.size:
            sample = (f" *(scores on a seeded sample of {res.eval_rows.size:,} of the {res.n_eval_total:,} held-back "
                      "items)*")
        return f"With **{len(res.anchors)} anchors** ({self.map_type} map): " + " · ".join(parts) + sample

    # ------------------------------------------------------------------ 2-D view
    def _view_rows(self) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """The evaluation items drawn (rows of data, positions in result), and their hover text."""
        res, data = self.result, self.data
        k = min(self.n_points, res.eval_rows.size)
        pick = np.linspace(0, res.eval_rows.size - 1, k).round().astype(int)  # (k,) evenly spread eval items
        rows = res.eval_rows[pick]
        if data.labels is not None and data.label_names:
            names = data.label_names
            hover = [f"{names[i]} (item {r})" if i < len(names) else f"item {r}"
                     for i, r in zip(data.labels[rows], rows)]
        else:
            hover = [f"item {r}" for r in rows]
        return rows, pick, hover

    def _umap_key(self) -> tuple:
        """What the UMAP coordinates depend on (the datasets stay in _datasets, so ids are not reused)."""
        return (id(self.data), self.center, self.n_anchor_classes, self.map_type, self.group, self.seed,
                min(self.n_points, self.result.eval_rows.size))

    @param.depends("result", "projection", "n_points", "umap_coords")
    @keeps_last
    def scatter_figure(self) -> dict:
        res, data = self.result, self.data
        if res is None:
            return empty_figure("Both spaces in 2-D", "no data loaded", height=430)
        rows, pick, hover = self._view_rows()
        if self.projection == "pca":
            coords = project_2d(data.x[rows], res.x_after[pick], data.y[rows], method="pca")
        else:
            coords = self._umap_cache.get(self._umap_key())
            if coords is None:
                return empty_figure("Both spaces in 2-D (UMAP)", "UMAP is running in the background…", height=430)
        return figs.scatter_figure(coords, hover, spaces=data.spaces, method=self.projection, map_type=self.map_type)

    @param.depends("result", "projection", "n_points", watch=True)
    def request_umap(self) -> None:
        """With the UMAP view on, compute the coordinates the controls ask for (unless cached)."""
        if self.projection != "umap" or self.result is None or self.closed:
            return
        key = self._umap_key()
        if key in self._umap_cache:
            return
        if self.umap_job.running:
            self.umap_job.stop()  # its end starts the run the controls ask for now
            return
        rows, pick, _ = self._view_rows()
        before, after, target = self.data.x[rows], self.result.x_after[pick], self.data.y[rows]
        seed = self.seed

        def work(progress, should_stop):
            progress(0.1, "embedding both panels with UMAP…")
            return project_2d(before, after, target, method="umap", seed=seed)

        def done(coords):
            if coords is not None:
                self._umap_cache[key] = coords
            if self.result is not None and self._umap_key() == key:
                self.umap_coords = coords
            else:  # the controls moved on while it ran
                self.request_umap()

        self.umap_job.start(work, on_done=done)

    # ------------------------------------------------------------------ sweeps
    def on_load(self) -> None:
        self.start_sweep()  # the sweep asked for while the page was built waited for the browser

    def start_sweep(self) -> None:
        """Anchor-count curve and held-out map comparison for the current data, in the background.

        Asked while a sweep runs, it stops that one; the old sweep's end starts the one asked
        for last (a sweep stopped with its own Stop button is not restarted).
        """
        if self.data is None or self.closed:
            return
        # A new tuple on every request, so a request for settings equal to the running sweep's
        # (asked away and back while it stopped) still counts as newer than that sweep.
        self.sweep_settings = settings = (self.data, self.center)
        self.curve_rows, self.compare_rows = [], []
        if self.curve_job.running:
            self.curve_job.stop()
            return
        data, center = settings
        shipped = next((SOURCES[label] for label in SOURCES if self._datasets.get(label) is data), None)

        def work(progress, should_stop):
            if shipped is not None:  # the same for every visitor: computed once per server (Note in lab)
                return shipped_sweep(shipped, center=center, progress=progress, should_stop=should_stop)
            return anchor_sweep(data, center=center, progress=progress, should_stop=should_stop)

        def on_row(event):
            if self.sweep_settings is not settings or "row" not in event:
                return  # a row of a sweep the page no longer asks for
            if event["stage"] == "curve":
                self.curve_rows = [*self.curve_rows, event["row"]]
            else:
                self.compare_rows = [*self.compare_rows, event["row"]]

        def done(_result):
            if self.sweep_settings is not settings and not self.closed:
                self.start_sweep()

        self.curve_job.start(work, on_partial=on_row, on_done=done)

    @param.depends("curve_rows", "n_anchor_classes", "data")
    @keeps_last
    def curve_figure(self) -> dict:
        if self.data is None:
            return empty_figure("Anchor curve", "no data loaded", height=400)
        _, _, unit = anchor_range(self.data)
        curve = pd.DataFrame(self.curve_rows) if self.curve_rows else None
        return figs.curve_figure(curve, self.n_anchor_classes, unit, self.data.modalities)

    @param.depends("compare_rows", "data")
    @keeps_last
    def compare_figure(self) -> dict:
        if self.data is None:
            return empty_figure("Map comparison", "no data loaded")
        _, _, unit = anchor_range(self.data)
        table = pd.DataFrame(self.compare_rows) if self.compare_rows else None
        return figs.compare_figure(table, self.data.modalities, comparison_size(self.data), unit)

    # ------------------------------------------------------------------ your own files
    def load_files(self) -> AlignmentData | None:
        """Load the uploaded (or named) files; on any problem show it and keep the page as it was."""

        def load() -> AlignmentData:
            if self.file_a.value:
                b = self.file_b.value or None
                return load_byo(self.file_a.value, b, filename_a=self.file_a.filename,
                                filename_b=self.file_b.filename if b else None, max_bytes=MAX_UPLOAD_BYTES)
            if self.path_a.value.strip():
                # Note [confined paths]: the server reads typed paths only inside its --data-dir folders.
                roots = allowed_dirs()
                a = confine(self.path_a.value.strip(), roots)
                b = confine(self.path_b.value.strip(), roots) if self.path_b.value.strip() else None
                return load_byo(a, b, max_bytes=MAX_UPLOAD_BYTES)
            raise ValueError("file: choose a file for space A (or type a path) first")

        data = self.guard(load)()
        if data is None:
            return None
        self._add_source(f"Your files: {data.description.removeprefix('uploaded: ')}", data)
        return data

    def _add_source(self, label: str, data: AlignmentData) -> None:
        self._datasets[label] = data
        if label not in self.param.source.objects:
            self.param.source.objects = [*self.param.source.objects, label]
        if self.source == label:
            self.data = data
        else:
            self.source = label

    # ------------------------------------------------------------------ retraining
    def retrain(self) -> bool:
        """Train a fresh toy-CLIP pair in the background; the result becomes a new data source."""
        if self.train_job.running or self.closed:
            return False
        steps = int(self.train_steps)
        self.loss_log = []
        if not self.loss_area.objects:
            self.loss_area.append(plotly_pane(self.loss_figure, height=260))

        def work(progress, should_stop):
            return retrain_pair(steps, progress=progress, should_stop=should_stop)

        def on_loss(event):
            if "loss" in event:
                self.loss_log = [*self.loss_log, {"model": event.get("model"), "step": event.get("step"),
                                                  "loss": event["loss"]}]

        def done(data):
            if data is not None:
                self._add_source(RETRAINED, data)

        return self.train_job.start(work, on_partial=on_loss, on_done=done)

    @param.depends("loss_log")
    @keeps_last
    def loss_figure(self) -> dict:
        return figs.loss_figure(self.loss_log)

    # ------------------------------------------------------------------ layout
    def body(self) -> pn.viewable.Viewable:
        controls = pn.Card(self.controls, title="Controls", collapsible=False, sizing_mode="stretch_width")
        ortho = pn.indicators.Number(label="orthogonality error ‖MᵀM − I‖", value=self.orthogonality,
                                     format="{value:.1e}", font_size="22pt", title_size="10pt")
        byo = pn.Card(
            pn.pane.Markdown("One file with arrays `x`, `y` (paired rows; optional `labels`, `x2`, `y2`, `labels2`), "
                             "or one file per space. `.npy` `.npz` `.safetensors` `.parquet`; nothing is unpickled; "
                             f"{MAX_UPLOAD_BYTES // 2**20} MB at most.", styles={"font-size": "0.85em"}),
            pn.pane.Markdown("**Space A**"), self.file_a, self.path_a,
            pn.pane.Markdown("**Space B** (optional)"), self.file_b, self.path_b,
            pn.Param(self.param, parameters=["load"], show_name=False,
                     widgets={"load": {"type": pn.widgets.Button, "color": "primary"}}),
            title="Bring your own embeddings", collapsed=True, sizing_mode="stretch_width",
        )
        retrain = pn.Card(
            pn.pane.Markdown("Trains model A (CNN + bag of words) and model B (MLP + ordered words) from scratch on "
                             "freshly drawn shapes, then adds them as a data source.", styles={"font-size": "0.85em"}),
            pn.Param(self.param, parameters=["train_steps", "retrain_button"], show_name=False,
                     widgets={"train_steps": {"type": pn.widgets.IntSlider},
                              "retrain_button": {"type": pn.widgets.Button, "color": "success"}}),
            self.train_job, self.loss_area,
            title="Retrain the toy models", collapsed=True, sizing_mode="stretch_width",
        )
        side = pn.Column(controls, ortho, byo, retrain, width=330)
        main = pn.Column(
            pn.pane.Markdown(self.headline, sizing_mode="stretch_width"),
            plotly_pane(self.scatter_figure, height=430), self.umap_job,
            pn.Row(plotly_pane(self.metrics_figure, height=430), plotly_pane(self.curve_figure, height=400),
                   sizing_mode="stretch_width"),
            self.curve_job,
            pn.Row(plotly_pane(self.spectrum_figure, height=340), plotly_pane(self.compare_figure, height=340),
                   sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )
        return pn.Column(pn.pane.Markdown(self.data_info, sizing_mode="stretch_width"),
                         pn.Row(side, main, sizing_mode="stretch_width"), sizing_mode="stretch_width")


def create_view() -> AlignmentView:
    """A fresh alignment page for one browser session (its jobs stop when the session ends)."""
    return AlignmentView()
