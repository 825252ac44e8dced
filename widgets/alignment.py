"""The alignment page: fit one orthogonal map between two models' spaces and watch it work.

State lives in ``param`` parameters (bounded, documented); the controls are generated from
them and the figures are methods bound to the parameters they read. Every number comes from
:mod:`lab.alignment`; ``widgets.alignment_figures`` draws it. Heavy work (the anchor-count
curve and map comparison, UMAP, retraining, the MLP map, fits of wide pairs) runs in the
page's background jobs, whose events arrive in order and are appended to the results they
build; until a job finishes the page keeps the figures it showed and says it is updating.

Note [what a control recomputes]: a fit depends on (pair, anchor count, map, centring,
group, seed) and is memoised (lab's shared memo for the shipped pairs, the page's own for
the others), so moving a control back is free; lab keeps each pair's map-independent half
of the scores. Every figure method reads only the parameters it depends on: the point
count redraws the 2-D view and nothing else, the anchor count moves the curve's marker
without refitting anything the sweep computed.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

import numpy as np
import pandas as pd
import panel as pn
import param

from lab.alignment import (
    ENCODERS,
    MAP_TYPES,
    PRESETS,
    PROJECTIONS,
    AlignmentData,
    AlignmentResult,
    anchor_range,
    anchor_sweep,
    cached_alignment,
    comparison_size,
    default_anchor_count,
    embed_pair,
    encoder_corpus,
    load_byo,
    project_2d,
    read_texts,
    retrain_pair,
    shared_alignment,
    shared_calibration,
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
LOCAL = "local folder"
ENCODER_CHOICES = [*ENCODERS, LOCAL]
TEXT_SOURCES = {"default corpus": "default", "uploaded .txt": "upload"}
RETRAIN_PAIR = PRESETS[PRESETS["page"]["retrain"]]
# The map control's labels -> map types: the MLP trains for seconds, and the label says so.
MAP_LABELS = {"orthogonal": "orthogonal", "linear": "linear", "ridge (CV)": "ridge", "mlp (background)": "mlp"}
PROJECTION_LABELS = {"pca": "pca", "umap (background)": "umap"}
assert tuple(MAP_LABELS.values()) == MAP_TYPES and tuple(PROJECTION_LABELS.values()) == PROJECTIONS
# Note [heavy fits]: a closed-form fit of a pair this wide (an SVD of a d x d matrix and
# (n, n) scores) takes longer than a control may keep the page waiting on a busy CPU, so it
# runs in the fit job (the figures keep the last result meanwhile); the MLP always does.
HEAVY_DIM = 128
PAGE_FITS_MAX = 24  # fits of pairs that are not shared (uploads, retrained), kept per page
CALIBRATION_DELAY_S = 0.4  # Note [calibration waits]


SCORING = ("normalize", "centered_scoring", "center_second", "semi_orthogonal")  # run_alignment's pipeline switches


def _fit_controls(n_anchor_classes: int, map_type: str, center: bool, group: str, seed: int,
                  **scoring: Any) -> dict[str, Any]:
    """run_alignment's arguments for the page's controls (the same keys in the same order every time)."""
    return {"n_anchor_classes": int(n_anchor_classes), "map_type": map_type, "center": bool(center),
            "allow_reflection": GROUPS[group], "seed": int(seed), **{k: scoring[k] for k in SCORING}}


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
                            doc="Which pair of embedding spaces to align. A wide pair (MiniLM, 384 dimensions) is "
                                "fitted in the background; the figures keep the previous source until it is done.")
    n_anchor_classes = param.Integer(default=PRESETS["page"]["anchor_classes"], bounds=(1, 30),
                                     label="Anchor classes",
                                     doc="Anchor classes (or rows, without labels) whose items fit the map.")
    center = param.Boolean(default=True, label="Centre each space (own anchor mean)",
                           doc="Subtract each space's own anchor mean before fitting.")
    normalize = param.Boolean(default=True, label="L2-normalise rows first",
                              doc="Scale every embedding to unit length before fitting and scoring (the paper's "
                                  "pipeline; it also puts encoders with different output norms on one scale).")
    centered_scoring = param.Boolean(default=True, label="Score in the centred frame",
                                     doc="Compare (x − μx)R with y − μy (anchor means). Off: compare (x − μx)R + μy "
                                         "with y, where a large shared mean dominates cosine scores of anisotropic "
                                         "encoders.")
    center_second = param.Boolean(default=False, label="Centre the second modality by its own means",
                                  doc="Carry captions with their own anchor means instead of the images' (the "
                                      "modality gap). Only for pairs with a second modality.")
    semi_orthogonal = param.Selector(objects={"least squares": "least_squares", "polar factor": "polar"},
                                     default="least_squares", label="Unequal widths",
                                     doc="The orthogonal map when space A is wider than B: the least-squares map "
                                         "with orthonormal columns (iterative), or the polar factor of XcᵀYc "
                                         "(closed form, not least squares then).")
    group = param.Selector(objects=list(GROUPS), default=next(iter(GROUPS)), label="Group",
                           doc="Orthogonal maps with reflections (O(d)) or proper rotations only (SO(d)).")
    map_type = param.Selector(objects=MAP_LABELS, default="orthogonal", label="Map",
                              doc="The fitted map: orthogonal Procrustes, unconstrained least squares, or a small MLP. "
                                  "The MLP trains for several seconds in the background; the figures keep the last "
                                  "map until it is done.")
    projection = param.Selector(objects=PROJECTION_LABELS, default="pca", label="2-D view",
                                doc="2-D view: PCA of space B (instant) or UMAP (computed in the background, tens of "
                                    "seconds the first time; the last view stays until it is done).")
    n_points = param.Integer(default=200, bounds=(20, 600), label="Points shown", doc="Items drawn in the 2-D view.")
    seed = param.Integer(default=0, bounds=(0, 99), label="Anchor seed", doc="Seed for the choice of anchor classes.")
    load = param.Action(lambda self: self.load_files(), label="Load my embeddings",
                        doc="Load the uploaded files (or the paths typed) as a new data source.")
    encoder_a = param.Selector(objects=ENCODER_CHOICES, default="minilm", label="Encoder A",
                               doc="A packaged encoder, or a sentence-transformers model folder on the server "
                                   "(typed below).")
    encoder_b = param.Selector(objects=ENCODER_CHOICES, default="wordllama", label="Encoder B",
                               doc="The second encoder of the same documents.")
    folder_a = param.String(default="", label="Model folder A", doc="Only with 'local folder': its path.")
    folder_b = param.String(default="", label="Model folder B", doc="Only with 'local folder': its path.")
    texts_source = param.Selector(objects=list(TEXT_SOURCES), default=next(iter(TEXT_SOURCES)), label="Documents",
                                  doc="The default corpus (2,158 stdlib documents) or an uploaded .txt file, one "
                                      "document per line.")
    max_texts = param.Integer(default=600, bounds=(20, 5000), label="At most this many documents",
                              doc="The first documents are embedded; e5 runs at a few documents per second here.")
    embed_button = param.Action(lambda self: self.embed_models(), label="Embed with both and align",
                                doc="Embed the documents with both encoders in the background; the pair becomes a "
                                    "data source.")
    train_steps = param.Integer(default=RETRAIN_PAIR.steps, bounds=(20, PRESETS["shipped-pair"].steps), step=20,
                                label="Training steps per model", doc="Optimiser steps of each retrained toy CLIP.")
    retrain_button = param.Action(lambda self: self.retrain(), label="Retrain the toy CLIPs here",
                                  doc="Train model A and model B from scratch; the pair becomes a data source.")
    # Results, shown by the figures that depend on them (not controls).
    data = param.ClassSelector(class_=AlignmentData, default=None, allow_None=True, precedence=-1,
                               doc="The embedding pair of the selected source.")
    result = param.ClassSelector(class_=AlignmentResult, default=None, allow_None=True, precedence=-1,
                                 doc="The map fitted for the current controls, and its scores.")
    calibration = param.DataFrame(default=None, allow_None=True, precedence=-1,
                                  doc="The current fit's scores with their permutation null and bootstrap interval.")
    calibration_state = param.String(default="", precedence=-1, doc="What the calibration figure says while empty.")
    curve_rows = param.List(default=[], precedence=-1, doc="Rows of the anchor-count curve so far.")
    compare_rows = param.List(default=[], precedence=-1, doc="Rows of the held-out map comparison so far.")
    umap_coords = param.Dict(default=None, allow_None=True, precedence=-1, doc="The latest UMAP coordinates.")
    loss_log = param.List(default=[], precedence=-1, doc="(model, step, loss) of the retraining run.")
    sweep_settings = param.Tuple(default=None, allow_None=True, length=2, precedence=-1,
                                 doc="(data, center) of the sweep the page asked for last.")
    pending = param.String(default="", precedence=-1,
                           doc="What is being recomputed in the background while the figures show the last result.")
    umap_pending = param.String(default="", precedence=-1, doc="The UMAP view being computed in the background.")
    sweep_state = param.Selector(objects=["", "running", "stopped", "done"], default="", precedence=-1,
                                 doc="The sweep's state: not started, running, stopped or done.")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._datasets: dict[str, AlignmentData] = {}
        self._umap_cache: dict[tuple, dict[str, np.ndarray]] = {}
        self._fits: OrderedDict[tuple, AlignmentResult] = OrderedDict()  # Note [what a control recomputes]
        self._fit_request: tuple | None = None  # (data, controls) the fit job should deliver last
        self._fit_seconds: dict[str, float] = {}  # map type -> seconds its last background fit took
        self.curve_job = self.add_job("anchor sweep")
        self.fit_job = self.add_job("fitting", errors_here=True)
        self.umap_job = self.add_job("UMAP", errors_here=True)
        self.train_job = self.add_job("retraining", errors_here=True)
        self.calib_job = self.add_job("calibrating the scores", errors_here=True)
        self.embed_job = self.add_job("embedding", errors_here=True)
        self.text_file = pn.widgets.FileInput(accept=".txt", sizing_mode="stretch_width")
        self.upload_errors = self.error_box()
        self.controls = pn.Param(
            self.param,
            parameters=["source", "n_anchor_classes", "center", "normalize", "centered_scoring", "center_second",
                        "semi_orthogonal", "group", "map_type", "projection", "n_points", "seed"],
            widgets={
                "normalize": {"type": pn.widgets.Checkbox},
                "centered_scoring": {"type": pn.widgets.Checkbox},
                "center_second": {"type": pn.widgets.Checkbox},
                "semi_orthogonal": {"type": pn.widgets.RadioButtonGroup},
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
    def default_fit(cls):
        """The shipped default pair fitted with the page's default controls (memoised: what a fresh page shows)."""
        p = cls.param
        data = shared_shipped(SOURCES[p.source.default])
        return shared_alignment(data, **_fit_controls(default_anchor_count(data, p.n_anchor_classes.default),
                                                      p.map_type.default, p.center.default, p.group.default,
                                                      p.seed.default, **cls._default_scoring()))

    @classmethod
    def _default_scoring(cls) -> dict[str, Any]:
        return {k: getattr(cls.param, k).default for k in SCORING}

    def _scoring(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in SCORING}

    @classmethod
    def warm(cls, progress, should_stop) -> None:
        """The default source, its fit for the default controls, and its sweep (shared by every visitor)."""
        p = cls.param
        name = SOURCES[p.source.default]
        data = shared_shipped(name)
        shared_calibration(cls.default_fit(), should_stop=should_stop, **PRESETS["calibration"])  # a fresh page's
        shipped_sweep(name, center=p.center.default, progress=progress, should_stop=should_stop,
                      **cls._sweep_options(cls._default_scoring()))
        # Note [what a control recomputes]: every position of the anchor slider under the default
        # controls, so moving it on a fresh page reads lab's memo instead of fitting.
        lo, hi, _ = anchor_range(data)
        for k in range(lo, hi + 1):
            if should_stop():
                return
            shared_alignment(data, **_fit_controls(k, p.map_type.default, p.center.default, p.group.default,
                                                   p.seed.default, **cls._default_scoring()))

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
            if self._fit_request is not None and self._fit_request[0] is not self.data:
                self._fit_request = None  # back to the source shown: a pending switch is dropped
                self.pending = ""
            return  # the selector names what is shown (it was put back after a failure)
        data = self.guard(self._data_for)(self.source)  # loading is quick (and shared); fitting may not be
        if data is None:  # keep what the page showed: the selector goes back to it
            shown = self._label_of(self.data) if self.data is not None else None
            if shown is not None:
                self.source = shown
            return
        if data is self.data:
            return
        controls = self._controls(data, default_anchor_count(data, self.n_anchor_classes))
        if self.data is None or not self._is_heavy(data, controls):
            self.data = data
            return
        # Note [heavy fits]: the figures keep the current source until the new one's fit is done.
        self._start_fit(data, controls, f"loading **{self.source}** and fitting its map")

    def _controls(self, data: AlignmentData, n_anchor: int | None = None) -> dict[str, Any]:
        n = self.n_anchor_classes if n_anchor is None else n_anchor
        scoring = self._scoring()
        # Switches that cannot change this pair's map are keyed as their defaults, so flipping
        # them reads the memo: the polar factor is the least-squares map unless A is wider than B,
        # and a pair without a second modality has nothing for center_second to move.
        if data.dim <= data.dim_y:
            scoring["semi_orthogonal"] = "least_squares"
        if not data.has_second:
            scoring["center_second"] = False
        return _fit_controls(n, self.map_type, self.center, self.group, self.seed, **scoring)

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
        dims = (f"{data.dim} dimensions" if data.same_width
                else f"{data.dim} (space A) and {data.dim_y} (space B) dimensions")
        return (f"**{data.description or data.name}**  \n{data.n} paired {m1} items in {dims}"
                f"{second}; {int(data.train_mask.sum())} may be anchors, {int((~data.train_mask).sum())} are held "
                f"back for scoring{classes}.  \nSpace A: {data.spaces[0]}. Space B: {data.spaces[1]}.  \n"
                f"Fitting and scoring run on: {describe_device()}.")

    # ------------------------------------------------------------------ fitting
    def _cached_fit(self, data: AlignmentData, controls: dict[str, Any]) -> AlignmentResult | None:
        key = (id(data), tuple(controls.items()))
        result = self._fits.get(key) or cached_alignment(data, **controls)
        if result is not None:
            self._remember(data, controls, result)
        return result

    def _remember(self, data: AlignmentData, controls: dict[str, Any], result: AlignmentResult) -> None:
        key = (id(data), tuple(controls.items()))  # the datasets stay in _datasets, so ids are not reused
        self._fits[key] = result
        self._fits.move_to_end(key)
        while len(self._fits) > PAGE_FITS_MAX:
            self._fits.popitem(last=False)

    def _fit(self, data: AlignmentData, controls: dict[str, Any]) -> AlignmentResult:
        """The fit for ``controls``: memoised, else computed here (lab memoises the shared pairs)."""
        result = self._cached_fit(data, controls)
        if result is None:
            result = shared_alignment(data, **controls)
            self._remember(data, controls, result)
        return result

    @staticmethod
    def _is_heavy(data: AlignmentData, controls: dict[str, Any]) -> bool:
        """Note [heavy fits]: the MLP, and closed-form fits of wide pairs, run in the fit job."""
        return controls["map_type"] == "mlp" or data.dim > HEAVY_DIM

    @param.depends("n_anchor_classes", "group", "map_type", "seed", "center_second", "semi_orthogonal", watch=True)
    def refit(self) -> None:
        """Fit the map for the current controls; every figure that reads the result follows.

        A memoised or light fit is shown at once; a heavy one (Note [heavy fits]) runs in the
        fit job while the figures keep the last result and the page says what is updating.
        """
        if self.data is None:
            return
        if self._fit_request is not None and self._fit_request[0] is not self.data:
            # a source switch is still fitting: it fits these controls instead
            data = self._fit_request[0]
            self._start_fit(data, self._controls(data, default_anchor_count(data, self.n_anchor_classes)),
                            f"loading **{self.source}** and fitting its map")
            return
        controls = self._controls(self.data)
        cached = self._cached_fit(self.data, controls)
        if cached is None and self._is_heavy(self.data, controls):
            self._start_fit(self.data, controls, f"fitting the {self.map_type} map")
            return
        if self._fit_request is not None:  # a background fit the page no longer asks for
            self._fit_request = None
            self.pending = ""
        result = cached if cached is not None else self.guard(self._fit)(self.data, controls)
        if result is not None:
            self.result = result

    def _estimate(self, map_type: str) -> str:
        seconds = self._fit_seconds.get(map_type)
        return f", about {seconds:.0f} s last time" if seconds is not None else ""

    def _start_fit(self, data: AlignmentData, controls: dict[str, Any], what: str) -> None:
        """Fit in the background; the newest request wins (an older run's end starts it)."""
        self._fit_request = request = (data, controls)
        self.pending = (f"⏳ **Updating…** {what} in the background{self._estimate(controls['map_type'])}; the "
                        "figures below show the previous result until it is done.")
        if self.fit_job.running:
            return  # its end starts the request made last

        def work(progress, should_stop):
            progress(0.05, what.replace("**", ""))
            started = time.perf_counter()
            try:
                result = shared_alignment(data, **controls)
            except Exception as exc:  # noqa: BLE001 - shown beside the controls by on_done
                return exc, 0.0
            return result, time.perf_counter() - started

        def on_done(value):
            self.fit_job.status.object = ""  # the note above the figures says what happened
            result, seconds = value if value is not None else (None, 0.0)
            if isinstance(result, Exception):
                self.fit_job.errors.show(result)
                result = None
            elif result is not None:
                self._remember(data, controls, result)
                self._fit_seconds[controls["map_type"]] = seconds
            latest = self._fit_request
            if latest is None or self.closed:
                return
            if latest is not request:
                self._start_fit(*latest, what="fitting the map the controls ask for now")
                return
            self._fit_request = None
            if result is None or self.fit_job.outcome == "stopped":
                why = "failed (the message is beside the controls)" if result is None else \
                    "was stopped (its fit is kept: choose these controls again to see it)"
                self.pending = f"The background fit {why}; the figures still show the previous result."
                shown = self._label_of(self.data) if self.data is not None else None
                if shown is not None and self.source != shown:
                    self.source = shown
                return
            self.pending = ""
            if data is not self.data:
                self.data = data  # its watchers set the anchor range and refit: the result is memoised now
            else:
                self.result = result

        if not self.fit_job.start(work, on_done=on_done):
            # no browser shows the page yet (or it closed): fit here, as before the job existed
            self._fit_request = None
            self.pending = ""
            result = self.guard(self._fit)(data, controls)
            if result is not None:
                if data is not self.data:
                    self.data = data
                else:
                    self.result = result

    @param.depends("center", "normalize", "centered_scoring", watch=True)
    def _on_center(self) -> None:
        self.refit()
        self.start_sweep()

    @staticmethod
    def _sweep_options(scoring: dict[str, Any]) -> dict[str, Any]:
        """The switches the sweep's curves depend on (the second-modality one changes no image score)."""
        return {k: scoring[k] for k in ("normalize", "centered_scoring", "semi_orthogonal")}

    @param.depends("result")
    @keeps_last
    def metrics_figure(self) -> dict:
        if self.result is None:
            return empty_figure("Scores", "no data loaded", height=430)
        return figs.metrics_figure(self.result.metrics)

    # ------------------------------------------------------------------ calibrated scores
    @param.depends("result", watch=True)
    def request_calibration(self) -> None:
        """The fit's permutation null and bootstrap intervals, computed in the background once per fit."""
        res = self.result
        if res is None or self.closed:
            return
        table = shared_calibration(res, compute=False)
        if table is not None:
            self.calibration_state = ""
            self.calibration = table
            return
        self.calibration = None
        self.calibration_state = "computing in the background…"
        if self.calib_job.running:
            self.calib_job.stop()  # its end starts the one for the fit shown now
            return
        settings = PRESETS["calibration"]

        def work(progress, should_stop):
            # Note [calibration waits]: the permutations start a moment after the fit's figures went
            # out, so on a two-core machine they do not compete with the browser drawing them; a
            # control moved again meanwhile stops this run before it has computed anything.
            deadline = time.monotonic() + CALIBRATION_DELAY_S
            while time.monotonic() < deadline:
                if should_stop():
                    return None
                time.sleep(0.02)
            return shared_calibration(res, progress=progress, should_stop=should_stop, **settings)

        def done(table):
            if self.closed:
                return
            if self.result is not res:
                self.request_calibration()
                return
            if table is None:
                self.calibration_state = "stopped; move a control to compute it again"
                return
            self.calib_job.status.object = ""
            self.calibration_state = ""
            self.calibration = table

        if not self.calib_job.start(work, on_done=done):
            self.calibration_state = "computed in the background once the page is shown"

    @param.depends("calibration", "calibration_state")
    @keeps_last
    def calibration_figure(self) -> dict:
        return figs.calibration_figure(self.calibration, note=self.calibration_state or "no fit yet")

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
        instance = f"{m1} retrieval" + (" (items with a unique caption)" if data.groups is not None else "")

        def pct(v: float) -> str:
            return "—" if not np.isfinite(v) else f"{v:.0%}"

        for key, label in ((("retrieval top-1 (same caption)", m1), f"{m1} retrieval of the same caption"),
                           (("retrieval top-1 (class)", m1), f"{m1} retrieval by class"),
                           (("retrieval top-1 (instance)", m2), f"{m2} retrieval with the {m1}-fitted map"),
                           ((f"zero-shot: B {m1} vs A {m2}", m1), "cross-model zero-shot"),
                           (("retrieval top-1 (instance)", m1), instance)):
            if key in m.index:
                parts.append(f"{label}: **{pct(m.loc[key, 'before'])} → {pct(m.loc[key, 'after'])}**")
        if not data.same_width:
            parts.append(f"*(before: undefined, the spaces are {data.dim}- and {data.dim_y}-dimensional)*")
        sample = ""
        if res.n_eval_total > res.eval_rows.size:
            sample = (f" *(scores on a seeded sample of {res.eval_rows.size:,} of the {res.n_eval_total:,} held-back "
                      "items)*")
        return f"With **{len(res.anchors)} anchors** ({res.map_type} map): " + " · ".join(parts) + sample

    @param.depends("pending")
    def pending_note(self) -> str:
        return f"> {self.pending}" if self.pending else ""

    @param.depends("umap_pending")
    def umap_note(self) -> str:
        return f"> {self.umap_pending}" if self.umap_pending else ""

    @param.depends("result", "pending")
    def controls_help(self) -> str:
        """What the controls that do not answer at once do instead (with the last measured time)."""
        mlp = self._fit_seconds.get("mlp")
        took = f" (last time {mlp:.0f} s)" if mlp is not None else " (seconds)"
        return (f"*Map* **mlp** trains in the background{took}, and *2-D view* **umap** runs in the background "
                "(tens of seconds the first time); a wide *data source* (MiniLM, 384 dimensions) is fitted in the "
                "background too. Meanwhile the figures keep the previous result and say they are updating.")

    @param.depends("result")
    def group_note(self) -> str:
        """Why the O(d)/SO(d) switch changes the map or not: the determinant of the O(d) solution."""
        res, data = self.result, self.data
        if res is None or data is None:
            return ""
        if res.map_type != "orthogonal":
            return (f"*Group:* only the orthogonal map is restricted to O(d) or SO(d); the {res.map_type} map "
                    "ignores it, so switching the group changes nothing here.")
        aligner = res.aligner
        R = np.asarray(aligner.matrix_.detach().cpu(), dtype=np.float64)
        sv = np.asarray(res.singular_values, dtype=np.float64)
        if R.shape[0] != R.shape[1]:
            how = ("the least-squares map with orthonormal columns" if aligner.semi_orthogonal == "least_squares"
                   and R.shape[0] > R.shape[1] else "the polar factor of XcᵀYc")
            return (f"*Group:* the spaces have different widths ({R.shape[0]} → {R.shape[1]}), so the map is "
                    f"semi-orthogonal ({how}); a determinant, and the choice between O(d) and SO(d), do not apply "
                    "(SO(d) is refused with a message).")
        if aligner.allow_reflection:
            det_o = float(np.linalg.det(R))
        else:  # was the O(d) solution's reflection flipped away? Only then is tr(RᵀM) below Σσ.
            fitted = res.scored if res.scored is not None else data  # the rows the map saw (normalised)
            xc = fitted.x[res.anchors].astype(np.float64) - np.asarray(aligner.mean_x_.cpu(), dtype=np.float64)
            yc = fitted.y[res.anchors].astype(np.float64) - np.asarray(aligner.mean_y_.cpu(), dtype=np.float64)
            fit = float(np.trace(R.T @ (xc.T @ yc)))
            det_o = -1.0 if fit < sv.sum() * (1 - 1e-9) - 1e-12 else 1.0
        head = f"*Group:* det of the fitted O(d) map = **{det_o:+.3f}**."
        d = R.shape[0]
        rank = int((sv > sv[0] * 1e-9).sum()) if sv.size and sv[0] > 0 else 0
        if rank < d:
            return (head + f" But XcᵀYc has rank {rank} < {d} here (fewer anchors than dimensions), so the best "
                    "orthogonal map is not unique: maps with det +1 and det −1 fit the anchors equally well, and "
                    "switching the group only picks among them (the scores of the held-back rows may move).")
        if det_o > 0:
            return (head + " The best orthogonal map for these anchors is already a proper rotation, so O(d) and "
                    "SO(d) give the identical map and identical scores: switching the group changes nothing "
                    "until other anchors (count or seed) give an O(d) solution with det −1.")
        cost = 2 * sv[-1] / sv.sum() if sv.sum() > 0 else 0.0
        text = (head + f" The best orthogonal map includes a reflection; SO(d) flips its weakest direction "
                f"(σ_min = {sv[-1]:.3g}), which costs {cost:.1%} of the fit on the anchors.")
        other_group = next(g for g, refl in GROUPS.items() if refl != aligner.allow_reflection)
        other = self._cached_fit(data, {**self._controls(data), "allow_reflection": GROUPS[other_group]})
        if other is not None:
            key = ("retrieval top-1 (instance)", data.modalities[0])
            mine = res.metrics.set_index(["metric", "modality"]).loc[key, "after"]
            theirs = other.metrics.set_index(["metric", "modality"]).loc[key, "after"]
            o_val, s_val = (mine, theirs) if aligner.allow_reflection else (theirs, mine)
            text += f" {data.modalities[0]} top-1: O(d) {o_val:.1%}, SO(d) {s_val:.1%}."
        return text

    @param.depends("result", "curve_rows")
    def map_note(self) -> str:
        """Scores the map makes worse than the raw coordinates, and why (computed from this fit)."""
        res, data = self.result, self.data
        if res is None or data is None:
            return ""
        m = res.metrics
        worse = m[m["metric"].str.startswith(("retrieval", "zero-shot", "mean cosine"))
                  & (m["after"] < m["before"] - 0.005)]
        if worse.empty:
            return ""
        drops = ", ".join(f"{mod} {metric} {b:.0%} → {a:.0%}"
                          for metric, mod, b, a in worse[["metric", "modality", "before", "after"]].itertuples(
                              index=False))
        m1 = data.modalities[0]
        raw = m[(m["metric"] == "retrieval top-1 (instance)") & (m["modality"] == m1)]["before"]
        raw_top1 = float(raw.iloc[0]) if len(raw) else float("nan")
        text = (f"**Why some scores drop** ({drops}): \"before\" is the raw coordinates, i.e. the identity map, and "
                f"here they are already aligned: raw {m1} top-1 is {raw_top1:.0%} against a chance level of "
                f"{1 / max(res.eval_rows.size, 1):.1%} ({data.spaces[0]} and {data.spaces[1]}).")
        d, n_anchors = data.dim, len(res.anchors)
        if res.map_type == "orthogonal":
            R = np.asarray(res.aligner.matrix_.detach().cpu(), dtype=np.float64)
            sv = np.asarray(res.singular_values, dtype=np.float64)
            rank = int((sv > sv[0] * 1e-9).sum()) if sv.size and sv[0] > 0 else 0
            dist = float(np.sqrt(max(0.0, (d - np.trace(R)) / d)))  # ‖R − I‖_F / √(2d)
            if rank < d:
                text += (f" The map was fitted on {n_anchors} anchors in {d} dimensions: XcᵀYc has rank {rank}, so "
                         f"{d - rank} directions are not pinned down by the anchors (σ ≈ 0 in the spectrum) and the "
                         f"fit turns them arbitrarily; the map is {dist:.2f} away from the identity (0 = identity, "
                         "about 1 = a random rotation), which loses alignment the raw coordinates had.")
            else:
                text += (f" The map was fitted on {n_anchors} anchors of {len(res.anchor_classes) or n_anchors} "
                         f"{'classes' if len(res.anchor_classes) else 'rows'}; it is {dist:.2f} away from the identity "
                         "(0 = identity, about 1 = a random rotation) and fits the anchors better than it "
                         "generalises to the held-back rows.")
            curve = pd.DataFrame(self.curve_rows) if self.curve_rows else None
            if curve is not None and "image_top1" in curve and np.isfinite(raw_top1):
                mean = curve[curve["map_type"] == "orthogonal"].groupby("n_anchor_classes")["image_top1"].mean()
                beats = mean[mean > raw_top1]
                _, _, unit = anchor_range(data)
                text += (f" In the anchor sweep the orthogonal map beats the raw coordinates from {beats.index[0]} "
                         f"anchor {unit} on." if len(beats) else
                         " No anchor count in the sweep beats the raw coordinates.")
        else:
            text += f" The {res.map_type} map, fitted on {n_anchors} anchors, generalises worse than the identity here."
        return text

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
        """What the UMAP coordinates depend on: the fit shown (memoised results are kept) and the points."""
        return (id(self.result), min(self.n_points, self.result.eval_rows.size))

    def _umap_coords(self) -> dict[str, np.ndarray] | None:
        stored = self._umap_cache.get(self._umap_key())
        return stored[1] if stored is not None and stored[0] is self.result else None

    @param.depends("result", "projection", "n_points", "umap_coords")
    @keeps_last
    def scatter_figure(self) -> dict:
        res, data = self.result, self.data
        if res is None:
            return empty_figure("Both spaces in 2-D", "no data loaded", height=430)
        rows, pick, hover = self._view_rows()
        method = self.projection
        coords = self._umap_coords() if method == "umap" else None
        if coords is None:
            if method == "umap" and "scatter_figure" in self._last_good:
                return self._last_good["scatter_figure"]  # the last view stays until UMAP is done
            method = "pca"
            coords = project_2d(res.x_before[pick], res.x_after[pick], res.y_target[pick], method="pca")
        return figs.scatter_figure(coords, hover, spaces=data.spaces, method=method, map_type=res.map_type)

    @param.depends("result", "projection", "n_points", watch=True)
    def request_umap(self) -> None:
        """With the UMAP view on, compute the coordinates the controls ask for (unless cached)."""
        if self.projection != "umap" or self.result is None or self.closed:
            self.umap_pending = ""
            return
        if self._umap_coords() is not None:
            self.umap_pending = ""
            return
        self.umap_pending = ("⏳ **Updating the 2-D view:** UMAP runs in the background (tens of seconds the first "
                             "time); the view below is the previous one until it is done.")
        if self.umap_job.running:
            self.umap_job.stop()  # its end starts the run the controls ask for now
            return
        key, res = self._umap_key(), self.result
        rows, pick, _ = self._view_rows()
        # the rows as scored (normalised, in the scoring frame), so both panels show what the scores saw
        before, after, target = res.x_before[pick], res.x_after[pick], res.y_target[pick]
        seed = self.seed

        def work(progress, should_stop):
            progress(0.1, "embedding both panels with UMAP…")
            try:
                return project_2d(before, after, target, method="umap", seed=seed)
            except Exception as exc:  # noqa: BLE001 - shown beside the view by done
                return exc

        def done(coords):
            self.umap_job.status.object = ""  # the note above the view says what is shown
            if isinstance(coords, Exception):
                self.umap_job.errors.show(coords)
                self.umap_pending = "UMAP failed (the message is below the view); the view shows the previous one."
                return
            if coords is not None:
                self._umap_cache[key] = (res, coords)
            if self.result is res and self._umap_key() == key:
                self.umap_pending = ""
                self.umap_coords = {"key": key}  # a new value: the view redraws from the cache
            else:  # the controls moved on while it ran
                self.request_umap()

        if not self.umap_job.start(work, on_done=done):
            self.umap_pending = ""

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
        options = self._sweep_options(self._scoring())
        self.sweep_settings = settings = (self.data, (self.center, *options.values()))
        self.curve_rows, self.compare_rows = [], []
        if self.curve_job.running:
            self.curve_job.stop()
            return
        data, center = settings[0], self.center
        shipped = next((SOURCES[label] for label in SOURCES if self._datasets.get(label) is data), None)

        def work(progress, should_stop):
            if shipped is not None:  # the same for every visitor: computed once per server (Note in lab)
                return shipped_sweep(shipped, center=center, progress=progress, should_stop=should_stop, **options)
            return anchor_sweep(data, center=center, progress=progress, should_stop=should_stop, **options)

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
                return
            self.sweep_state = "stopped" if self.curve_job.outcome == "stopped" else "done"
            if self.sweep_state == "done":
                self.curve_job.status.object = (f"anchor sweep: done, {len(self.curve_rows)} curve fits and "
                                                f"{len(self.compare_rows)} comparison fits")

        if self.curve_job.start(work, on_partial=on_row, on_done=done):
            self.sweep_state = "running"
        elif not self.curve_job.running:
            self.sweep_state = ""

    def _sweep_note(self, rows: list) -> str:
        """What an empty sweep figure says: never "computing…" when nothing computes."""
        if rows:
            return ""
        return {"running": "computing in the background…",
                "stopped": "the sweep was stopped before it reached this part; change a control to run it again",
                "done": "nothing to show for this source"}.get(self.sweep_state,
                                                               "computed in the background once the page is shown")

    @param.depends("curve_rows", "n_anchor_classes", "data", "sweep_state")
    @keeps_last
    def curve_figure(self) -> dict:
        if self.data is None:
            return empty_figure("Anchor curve", "no data loaded", height=400)
        # Note [what a control recomputes]: the anchor slider only moves the marker; the curve's
        # traces are rebuilt when its rows (or the data) change.
        key = (id(self.data), id(self.curve_rows), self.sweep_state)
        cached = getattr(self, "_curve_base", None)
        if cached is None or cached[0] != key:
            _, _, unit = anchor_range(self.data)
            curve = pd.DataFrame(self.curve_rows) if self.curve_rows else None
            cached = self._curve_base = (key, figs.curve_figure(curve, self.n_anchor_classes, unit,
                                                                self.data.modalities,
                                                                note=self._sweep_note(self.curve_rows)))
        return figs.with_marker(cached[1], self.n_anchor_classes)

    @param.depends("compare_rows", "data", "sweep_state")
    @keeps_last
    def compare_figure(self) -> dict:
        if self.data is None:
            return empty_figure("Map comparison", "no data loaded")
        _, _, unit = anchor_range(self.data)
        table = pd.DataFrame(self.compare_rows) if self.compare_rows else None
        return figs.compare_figure(table, self.data.modalities, comparison_size(self.data), unit,
                                   note=self._sweep_note(self.compare_rows))

    # ------------------------------------------------------------------ your own files
    def load_files(self) -> AlignmentData | None:
        """Load the uploaded (or named) files; on any problem show it and keep the page as it was."""

        def load() -> AlignmentData:
            for space, widget in (("space A", self.file_a), ("space B", self.file_b)):
                if widget.filename and not widget.value:  # chosen, but the file has no bytes
                    raise ValueError(f"file: {widget.filename!r} ({space}) is empty (0 bytes); choose a file "
                                     "that holds the embeddings")
            if self.file_b.value and not self.file_a.value:
                raise ValueError("file: a file for space B was chosen but none for space A; choose the file for "
                                 "space A too (or one file with arrays x and y)")
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

        data = self.guard(load, errors=self.upload_errors)()  # shown beside the upload controls
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

    # ------------------------------------------------------------------ your own models
    def _encoder(self, choice: str, folder: str, space: str) -> str:
        if choice != LOCAL:
            return choice
        if not folder.strip():
            raise ValueError(f"folder: type the path of the model folder for encoder {space} (a sentence-"
                             "transformers model saved on this server)")
        return str(confine(folder.strip(), allowed_dirs()))  # Note [confined paths]

    def _texts(self) -> list[str] | None:
        """The uploaded documents (checked here, beside the card), or None for the default corpus.

        The default corpus is read in the job: parsing the standard library's docstrings the
        first time takes seconds, which the click must not wait for.
        """
        n = int(self.max_texts)
        if TEXT_SOURCES[self.texts_source] == "default":
            return None
        if not self.text_file.value:
            raise ValueError("file: choose a .txt file (one document per line) first, or use the default corpus")
        return read_texts(self.text_file.value, filename=self.text_file.filename, max_bytes=MAX_UPLOAD_BYTES)[:n]

    def embed_models(self) -> bool:
        """Embed the documents with encoders A and B in the background; the pair becomes a data source."""
        if self.embed_job.running or self.closed:
            return False

        def prepare():
            return (self._encoder(self.encoder_a, self.folder_a, "A"),
                    self._encoder(self.encoder_b, self.folder_b, "B"), self._texts())

        prepared = self.guard(prepare, errors=self.embed_job.errors)()
        if prepared is None:
            return False
        enc_a, enc_b, texts = prepared
        n_max = int(self.max_texts)
        what = f"{len(texts)} documents" if texts is not None else f"the first {n_max} default documents"
        label = f"Your encoders: {self.encoder_a} vs {self.encoder_b} ({what})"

        def work(progress, should_stop):
            try:
                docs = texts if texts is not None else encoder_corpus()["text"].tolist()[:n_max]
                return embed_pair(enc_a, enc_b, docs, name="your encoders", progress=progress,
                                  should_stop=should_stop)
            except (ValueError, TypeError, ImportError, OSError) as exc:
                return exc

        def done(data):
            if isinstance(data, Exception):
                self.embed_job.errors.show(data)
                return
            if data is None or self.embed_job.outcome == "stopped":
                self.embed_job.status.object = (f"embedding: stopped at {self.embed_job.fraction:.0%}; the page keeps "
                                                "the pair it showed")
                return
            self._add_source(label, data)

        return self.embed_job.start(work, on_done=done)

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
            if self.train_job.outcome == "stopped" or data is None:
                # Note [Stop]: barely trained models never replace the pair shown
                self.train_job.status.object = (
                    f"retraining: stopped at {self.train_job.fraction:.0%}; the page keeps the pair it showed (the "
                    "stopped run is saved: `ortholab train alignment --resume` continues it)")
                return
            self._add_source(RETRAINED, data)

        return self.train_job.start(work, on_partial=on_loss, on_done=done)

    @param.depends("loss_log")
    @keeps_last
    def loss_figure(self) -> dict:
        return figs.loss_figure(self.loss_log)

    # ------------------------------------------------------------------ layout
    def body(self) -> pn.viewable.Viewable:
        small = {"font-size": "0.85em"}
        controls = pn.Card(self.controls,
                           pn.pane.Markdown(self.controls_help, styles=small, sizing_mode="stretch_width"),
                           self.fit_job,
                           pn.pane.Markdown(self.group_note, styles=small, sizing_mode="stretch_width"),
                           title="Controls", collapsible=False, sizing_mode="stretch_width")
        ortho = pn.indicators.Number(label="orthogonality error ‖MᵀM − I‖", value=self.orthogonality,
                                     format="{value:.1e}", font_size="22pt", title_size="10pt")
        load = pn.Param(self.param, parameters=["load"], show_name=False,
                        widgets={"load": {"type": pn.widgets.Button, "color": "primary"}})
        byo = pn.Card(
            pn.pane.Markdown("One file with arrays `x`, `y` (paired rows; optional `labels`, `x2`, `y2`, `labels2`), "
                             "or one file per space. `.npy` `.npz` `.safetensors` `.parquet`; nothing is unpickled; "
                             f"{MAX_UPLOAD_BYTES // 2**20} MB at most.", styles={"font-size": "0.85em"},
                             sizing_mode="stretch_width"),
            pn.pane.Markdown("**Space A**"), self.file_a, self.path_a,
            pn.pane.Markdown("**Space B** (optional)"), self.file_b, self.path_b,
            load, self.upload_errors,
            title="Bring your own embeddings", collapsed=True, sizing_mode="stretch_width",
        )
        retrain_controls = pn.Param(self.param, parameters=["train_steps", "retrain_button"], show_name=False,
                                    widgets={"train_steps": {"type": pn.widgets.IntSlider},
                                             "retrain_button": {"type": pn.widgets.Button, "color": "success"}})
        self.train_job.locks(retrain_controls._widgets["retrain_button"])
        retrain = pn.Card(
            pn.pane.Markdown("Trains model A (CNN + bag of words) and model B (MLP + ordered words) from scratch on "
                             "freshly drawn shapes, then adds them as a data source. Stopped early, the page keeps "
                             "the pair it shows.", styles={"font-size": "0.85em"}, sizing_mode="stretch_width"),
            retrain_controls, self.train_job, self.loss_area,
            title="Retrain the toy models", collapsed=True, sizing_mode="stretch_width",
        )
        model_controls = pn.Param(self.param, parameters=["encoder_a", "folder_a", "encoder_b", "folder_b",
                                                          "texts_source", "max_texts", "embed_button"],
                                  show_name=False,
                                  widgets={"encoder_a": {"type": pn.widgets.Select},
                                           "encoder_b": {"type": pn.widgets.Select},
                                           "texts_source": {"type": pn.widgets.RadioButtonGroup},
                                           "embed_button": {"type": pn.widgets.Button, "color": "primary"}})
        self.embed_job.locks(model_controls._widgets["embed_button"])
        models = pn.Card(
            pn.pane.Markdown("Two text encoders embed the same documents; the pair becomes a data source. Packaged, "
                             "offline: " + "; ".join(f"**{k}** {e.description}" for k, e in ENCODERS.items())
                             + ". Or a sentence-transformers model folder on this server (nothing is downloaded).",
                             styles={"font-size": "0.85em"}, sizing_mode="stretch_width"),
            model_controls, self.text_file, self.embed_job,
            title="Bring your own model", collapsed=True, sizing_mode="stretch_width",
        )
        side = pn.Column(controls, ortho, byo, models, retrain, width=330)
        main = pn.Column(
            pn.pane.Markdown(self.pending_note, sizing_mode="stretch_width"),
            pn.pane.Markdown(self.headline, sizing_mode="stretch_width"),
            pn.pane.Markdown(self.umap_note, sizing_mode="stretch_width"),
            plotly_pane(self.scatter_figure, height=430), self.umap_job,
            pn.Row(pn.Column(plotly_pane(self.metrics_figure, height=430),
                             pn.pane.Markdown(self.map_note, styles={"font-size": "0.9em"},
                                              sizing_mode="stretch_width"), sizing_mode="stretch_width"),
                   plotly_pane(self.curve_figure, height=400), sizing_mode="stretch_width"),
            self.curve_job,
            pn.Row(plotly_pane(self.calibration_figure, height=380), plotly_pane(self.compare_figure, height=380),
                   sizing_mode="stretch_width"),
            self.calib_job,
            plotly_pane(self.spectrum_figure, height=340),
            sizing_mode="stretch_width",
        )
        return pn.Column(pn.pane.Markdown(self.data_info, sizing_mode="stretch_width"),
                         pn.Row(side, main, sizing_mode="stretch_width"), sizing_mode="stretch_width")


def create_view() -> AlignmentView:
    """A fresh alignment page for one browser session (its jobs stop when the session ends)."""
    return AlignmentView()
