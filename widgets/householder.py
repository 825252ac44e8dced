"""The /householder page: discover, traverse and score a generator's latent directions.

All numbers come from :mod:`lab.householder`; ``widgets.householder_figures`` draws them; this
module binds parameters to figures. The shipped models (data/householder/) are read once per
process and never modified; a model trained on the page replaces that kind's model for this
session only.

Note [what each control recomputes]: a control recomputes only what depends on it. The
directions, the direction x factor heatmap and the layer's orthogonality error depend on the
model, method and layer alone, so they are computed once per (model, method, layer) and kept
in a process-wide cache (:class:`_ModelCache`) that every session shares; the server fills it
for the shipped models when it starts (:meth:`HouseholderView.warm`). The grid, the seed and
the offset sliders only decode images: one batched forward pass for the whole grid, on one
thread (:func:`_one_thread`), sent as a PNG (Note [images as PNG] in householder_figures). What
is not cached yet (the heatmap of a model trained on the page) runs in the background with the
old heatmap kept and marked "updating…".
"""

from __future__ import annotations

import contextlib
import functools
import threading
import weakref
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd
import panel as pn
import param
import torch

from lab.householder import (
    PRESETS,
    Artifacts,
    GeneratorConfig,
    decode_offset,
    directions_of,
    image_grid,
    linear_layer_names,
    load_artifacts,
    make_shapes,
    orthogonality_error,
    page_train_config,
    prior_samples,
    purity,
    sensitivity_matrix,
    to_uint8_image,
    train_vae,
    traverse,
)
from widgets import householder_figures as figs
from widgets.common import StudyView, keeps_last, plotly_pane
from widgets.figures import empty_figure

__all__ = ["HouseholderView", "create_view", "METHOD_MODEL", "METHOD_LABELS", "MAX_DIRECTIONS"]

# Which trained model each direction method reads, and how the page names it.
METHOD_MODEL = {"householder": "householder", "sefa": "linear", "ganspace": "linear", "random": "householder"}
METHOD_LABELS = {
    "householder": "Householder: the projector's own directions",
    "sefa": "SeFa: eigenvectors of the unconstrained layer",
    "ganspace": "GANSpace: PCA of the unconstrained layer's activations",
    "random": "Random orthonormal directions (projector model)",
}
MAX_OFFSET = 4.0
MAX_DIRECTIONS = 10  # offset sliders d1..d10; those beyond the model's rank are hidden
OFFSETS = [f"d{i + 1}" for i in range(MAX_DIRECTIONS)]
FIRST_LAYER = "fc"  # the generator's latent -> features layer; deeper layers come from the model itself
SENSITIVITY = PRESETS["sensitivity"]
# The heatmap is a property of the directions, not of the z shown: it averages prior draws of
# this fixed seed, so every visitor sees the same matrix for the same directions (and it caches).
SENSITIVITY_SEED = 0

INTRO = (
    "## Householder latent directions\n"
    "The generator below maps a latent code z (8 numbers) to a 32×32 image of a coloured shape. "
    "Its first layer is either a **Householder projector** A = Q(U)·S·Q(V)ᵀ (rank 6, every nonzero "
    "singular value exactly 1, its directions are the first columns of Q(V)) or an unconstrained "
    "linear layer, analysed with **SeFa** or **GANSpace**. Move a direction slider to push the sample "
    "along that direction; the grid shows every direction from −span to +span; the heatmap measures, "
    "with a factor regressor trained on the ground truth, which factor each direction changes. "
    "*Of layer* points the study at any linear layer of the generator by its dotted name: for a deeper "
    "layer the directions live in that layer's input and are added to what it receives."
)


@functools.lru_cache(maxsize=2)
def _shipped(folder: str | None = None) -> Artifacts:
    """The shipped artifacts, loaded once per process (read-only)."""
    return load_artifacts(folder)


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Run the torch calls inside on one intra-op thread (this thread only), then restore.

    Note [one thread for small batches]: the page decodes 1 to 77 images of 32x32 at a time.
    Spread over OpenMP threads that is slower than on one (the threads' barriers cost more
    than the work), and on a machine whose cores are busy with a training run it is two orders
    of magnitude slower (a single image: 150 ms instead of 2 ms). OpenMP's thread count is
    per calling thread, so other threads (a training job) keep theirs.
    """
    before = torch.get_num_threads()
    if before == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class _ModelCache:
    """Results that depend only on a model (and method, layer): computed once, shared by every session.

    Keyed by the model object (weakly, so a model trained on a page and dropped is freed with
    its entries); the shipped models are shared read-only, so their entries serve every visitor.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_model: "weakref.WeakKeyDictionary[torch.nn.Module, dict]" = weakref.WeakKeyDictionary()

    def get(self, model: torch.nn.Module, key: tuple) -> Any:
        with self._lock:
            return self._by_model.get(model, {}).get(key)

    def put(self, model: torch.nn.Module, key: tuple, value: Any) -> Any:
        with self._lock:
            self._by_model.setdefault(model, {})[key] = value
        return value

    def get_or_compute(self, model: torch.nn.Module, key: tuple, compute: Callable[[], Any]) -> Any:
        found = self.get(model, key)
        return found if found is not None else self.put(model, key, compute())

    def clear(self) -> None:
        with self._lock:
            self._by_model.clear()


_CACHE = _ModelCache()


def _served() -> bool:
    """True inside a served browser session: there, work that takes long must leave the event loop.

    (A script, a test or a notebook cell computes in place: it waits for its own result anyway.)
    """
    doc = pn.state.curdoc
    return doc is not None and doc.session_context is not None


def _layer_arg(layer: str) -> str | None:
    return None if layer == FIRST_LAYER else layer


def cached_directions(vae, method: str, layer: str) -> tuple[torch.Tensor, torch.Tensor]:
    """((k, d), (k,)) directions and values of ``method`` at ``layer`` of ``vae`` (cached per model)."""
    def compute():
        k = min(vae.config.rank, MAX_DIRECTIONS)
        with _one_thread():
            dirs, values = directions_of(vae, method, _layer_arg(layer), k)
        return dirs.detach().float(), values.detach()

    return _CACHE.get_or_compute(vae, ("directions", method, layer), compute)


def sensitivity_key(method: str, layer: str, regressor) -> tuple:
    return ("sensitivity", method, layer, id(regressor))


def cached_sensitivity(vae, regressor, method: str, layer: str) -> np.ndarray:
    """(k, 6) direction x factor sensitivity of ``method`` at ``layer`` (cached per model and regressor)."""
    def compute():
        dirs, _ = cached_directions(vae, method, layer)
        with _one_thread():
            return sensitivity_matrix(vae.generator, regressor, dirs, seed=SENSITIVITY_SEED, layer=_layer_arg(layer),
                                      **SENSITIVITY)

    return _CACHE.get_or_compute(vae, sensitivity_key(method, layer, regressor), compute)


def cached_orthogonality_error(vae, layer: str) -> float:
    """max |σ−1| of ``layer``'s weight (cached per model)."""
    def compute():
        with _one_thread():
            return orthogonality_error(vae.generator.get_submodule(layer).weight.detach())

    return _CACHE.get_or_compute(vae, ("orthogonality", layer), compute)


@dataclass(frozen=True)
class DirectionSet:
    """The directions the page shows, and where they came from."""

    method: str
    layer: str
    dirs: torch.Tensor  # (k, d): d = latent width for the first layer, else the layer's input width
    values: torch.Tensor  # (k,) singular values, eigenvalues, variances or NaN
    models: dict  # the page's models they were computed from


@dataclass(frozen=True)
class Heatmap:
    """The direction x factor sensitivity shown, and the directions it measures."""

    method: str
    layer: str
    model: Any  # the ShapesVAE whose directions it measures
    S: np.ndarray  # (k, 6)


# One offset parameter per direction slot; the view shows as many as its model has directions.
DirectionOffsets = param.parameterized_class("DirectionOffsets", {
    name: param.Number(0.0, bounds=(-MAX_OFFSET, MAX_OFFSET), step=0.1, label=f"direction {i + 1}",
                       doc=f"Offset of the sample along direction {i + 1} (prior standard deviations).")
    for i, name in enumerate(OFFSETS)})


class HouseholderView(StudyView, DirectionOffsets):
    """Direction sliders, a traversal grid, the sensitivity heatmap and a training panel."""

    intro = INTRO

    method = param.Selector(default="householder", objects=list(METHOD_MODEL), label="Directions from",
                            doc="Where the directions come from: the projector's own directions, SeFa or "
                                "GANSpace on the unconstrained model, or random orthonormal directions. The "
                                "shipped models' directions and heatmaps are precomputed; for a model trained "
                                "here the heatmap is computed in the background (the old one stays, marked "
                                "'updating…').")
    layer = param.Selector(default=FIRST_LAYER, objects=[FIRST_LAYER], label="Of layer (dotted name)",
                           doc="Linear layer whose directions are traversed: the first one moves z itself; a "
                               "deeper one gets t·n added to what it receives (SeFa on an intermediate layer). "
                               "A heatmap not computed yet is computed in the background (the old one stays, "
                               "marked 'updating…').")
    seed = param.Integer(default=0, bounds=(0, 99_999), label="z seed",
                         doc="Seed of the latent sample z (prior N(0, I)); redraws the sample and the grid "
                             "(the heatmap averages its own fixed prior draws).")
    resample = param.Action(lambda self: self.next_seed(), label="Resample z",
                            doc="Draw the next z (redraws the sample and the grid).")
    span = param.Number(default=3.0, bounds=(0.5, 6.0), step=0.25, label="Grid span ±",
                        doc="The traversal grid runs from -span to +span along each direction (redraws the grid only).")
    steps = param.Integer(default=7, bounds=(3, 11), label="Grid steps",
                          doc="Columns of the traversal grid (redraws the grid only).")
    train_layer = param.Selector(default="householder", objects=["householder", "linear"], label="First layer",
                                 doc="First layer of the generator trained on this page.")
    train_steps = param.Integer(default=PRESETS["page"]["train"]["steps"], bounds=(20, 5000), label="Steps",
                                doc="Optimiser steps for a training run started here (the shipped models' "
                                    "budget is in results.json).")
    train = param.Action(lambda self: self.start_training(), label="Train a generator",
                         doc="Train a generator with the chosen first layer, in the background.")
    restore = param.Action(lambda self: self.restore_shipped(), label="Back to the shipped models",
                           doc="Drop the models trained on this page.")
    # Results, shown by the figures that depend on them (not controls).
    models = param.Dict(default={}, precedence=-1, doc="First-layer kind -> the model the page shows.")
    directions = param.ClassSelector(class_=DirectionSet, default=None, allow_None=True, precedence=-1,
                                     doc="The directions of the current method and layer.")
    heatmap = param.ClassSelector(class_=Heatmap, default=None, allow_None=True, precedence=-1,
                                  doc="The sensitivity heatmap shown (of the directions, or the last one while "
                                      "the new one is computed).")
    heatmap_pending = param.Boolean(default=False, precedence=-1,
                                    doc="True while the heatmap of the current directions is computed.")
    train_log = param.List(default=[], precedence=-1, doc="(step, loss) of the run trained on the page.")
    train_samples = param.Tuple(default=(None, None), length=2, precedence=-1,
                                doc="(mosaic, step): the latest samples of the run trained on the page.")

    def __init__(self, *, artifacts: Artifacts | None = None, **params: Any) -> None:
        super().__init__(**params)
        self.job = self.add_job("training", errors_here=True).locks(
            (self, "train_layer"), (self, "train_steps"), (self, "train"), (self, "restore"))
        self.heatmap_job = self.add_job("heatmap", errors_here=True)
        self.direction_errors = self.error_box()  # shown under the direction controls
        self._art: Artifacts | None = None
        self.results_table = pn.pane.DataFrame(pd.DataFrame(), sizing_mode="stretch_width", index=False)
        self.results_note = pn.pane.Markdown("", sizing_mode="stretch_width")
        try:
            self._art = artifacts if artifacts is not None else _shipped()
        except Exception as exc:  # noqa: BLE001 - the page still builds and says what is missing
            self.errors.show(exc)
            return
        self.param.layer.objects = linear_layer_names(self._art.models["householder"].generator)
        self._fill_results()
        self.models = dict(self._art.models)

    @classmethod
    def warm(cls, progress, should_stop) -> None:
        """Directions, heatmaps and orthogonality errors of the shipped models, for every method and layer.

        Run once per server in the background (see :meth:`StudyView.warm`), so switching the
        method or the layer on the page only looks them up (Note [what each control recomputes]).
        """
        try:
            art = _shipped()
        except FileNotFoundError:
            return  # the page says what is missing; the other studies' warm-up goes on
        layers = linear_layer_names(art.models["householder"].generator)
        pairs = [(m, layer) for layer in layers for m in METHOD_MODEL]
        for i, (method, layer) in enumerate(pairs):
            if should_stop():
                return
            vae = art.models[METHOD_MODEL[method]]
            progress(i / len(pairs), f"householder: {method} directions of {layer}")
            try:
                cached_directions(vae, method, layer)
            except ValueError:
                continue  # no such directions (the projector's own directions of a plain layer)
            cached_sensitivity(vae, art.regressor, method, layer)
            cached_orthogonality_error(vae, layer)

    def on_load(self) -> None:
        if self.heatmap_pending and not self.heatmap_job.running:
            self._update_heatmap()  # a heatmap that could not start before a browser showed the page

    # ------------------------------------------------------------------ state
    @property
    def model(self):
        """The model the current method reads."""
        return self.models[METHOD_MODEL[self.method]]

    @property
    def layer_arg(self) -> str | None:
        """The ``layer=`` the lab calls get: None moves z itself (the first layer's input)."""
        return None if self.layer == FIRST_LAYER else self.layer

    @property
    def n_directions(self) -> int:
        return 0 if self.directions is None else self.directions.dirs.shape[0]

    def offsets(self) -> np.ndarray:
        """(k,) offsets of the sample along the k directions shown."""
        return np.array([getattr(self, name) for name in OFFSETS[: self.n_directions]], dtype=float)

    def direction_labels(self) -> list[str]:
        return [self.param[name].label for name in OFFSETS[: self.n_directions]]

    @param.depends("method", "layer", "models", watch=True)
    def refresh(self) -> bool:
        """Recompute the directions of the current method and layer; False (and a message) on failure.

        A method/layer pair with no directions (the projector's own directions of a plain
        Linear layer) shows why and puts the controls back where they were, so the page keeps
        showing what it did. The controls go back silently: nothing has to be recomputed for
        what is already shown, and pn.Param sets a widget back to its parameter's value.
        """
        shown = self.directions
        if shown is not None and (shown.method, shown.layer, shown.models) == (self.method, self.layer, self.models):
            return True  # what is shown already answers these controls
        box = self.errors if not self.models else self.direction_errors
        found = self.guard(self._compute_directions, errors=box)()
        if found is None:
            if shown is not None:  # back to the controls that produced what is shown
                with param.discard_events(self):
                    self.method, self.layer = shown.method, shown.layer
            return False
        self.direction_errors.clear()
        self._label_sliders(found)
        self.directions = found
        self._update_heatmap()
        return True

    def _compute_directions(self) -> DirectionSet:
        if not self.models:
            raise FileNotFoundError("no models are loaded; run `python scripts/make_householder_data.py`")
        dirs, values = cached_directions(self.model, self.method, self.layer)
        return DirectionSet(self.method, self.layer, dirs, values, self.models)

    # ------------------------------------------------------------------ the heatmap
    def _update_heatmap(self) -> None:
        """Show the heatmap of the current directions: at once when cached, else computed off the loop.

        On a served page a heatmap not cached yet is computed by ``heatmap_job`` while the old
        one stays, marked "updating…"; elsewhere (a notebook, a script, a test) it is computed here.
        """
        d = self.directions
        if d is None or self._art is None:
            return
        model, regressor = self.model, self._art.regressor
        S = _CACHE.get(model, sensitivity_key(d.method, d.layer, regressor))
        if S is None and not _served():
            S = self.guard(cached_sensitivity)(model, regressor, d.method, d.layer)
            if S is None:
                return
        if S is not None:
            self.heatmap, self.heatmap_pending = Heatmap(d.method, d.layer, model, S), False
            return
        self.heatmap_pending = True
        if self.heatmap_job.running:
            return  # its end starts the next one (_on_heatmap)
        method, layer = d.method, d.layer

        def work(progress, should_stop):
            progress(0.0, f"measuring {method} directions of {layer}…")
            return None if should_stop() else cached_sensitivity(model, regressor, method, layer)

        self.heatmap_job.start(work, on_done=self._on_heatmap)

    def _on_heatmap(self, _result) -> None:
        self.heatmap_job.status.object = ""  # the figure itself says what it shows
        if self.heatmap_job.outcome == "done":
            self._update_heatmap()  # the current directions' matrix (cached now), or the next job
        else:
            self.heatmap_pending = False  # stopped or failed: the old heatmap stays, no longer "updating"

    def _label_sliders(self, found: DirectionSet) -> None:
        k = found.dirs.shape[0]
        for i, name in enumerate(OFFSETS):
            p = self.param[name]
            # Only what differs is set: a precedence set (even to its value) makes pn.Param rebuild its sliders.
            if p.precedence != (1 if i < k else -1):
                p.precedence = 1 if i < k else -1
            if i < k:
                v = float(found.values[i])
                label = {
                    "householder": f"direction {i + 1} (σ = {v:.2f})",
                    "sefa": f"direction {i + 1} (eigenvalue {v:.2f})",
                    "ganspace": f"direction {i + 1} (variance {v:.3g})",
                }.get(found.method, f"direction {i + 1} (random)")
                if p.label != label:
                    p.label = label

    def next_seed(self) -> None:
        self.seed = (self.seed + 1) % 100_000

    def _z(self) -> torch.Tensor:
        return prior_samples(1, self.model.config.latent_dim, self.seed)  # (1, latent)

    # ------------------------------------------------------------------ figures and texts
    @param.depends("directions", "seed", *OFFSETS)
    @keeps_last
    def sample_figure(self) -> dict:
        if self.directions is None:
            return figs.lean(empty_figure("Sample", "no model loaded", height=380))
        off = self.offsets()
        with _one_thread():
            img = decode_offset(self.model.generator, self.directions.dirs, off, z=self._z(), layer=self.layer_arg)
        return figs.sample_figure(to_uint8_image(img), off.tolist())

    @param.depends("directions", "seed", "span", "steps")
    @keeps_last
    def grid_figure(self) -> dict:
        if self.directions is None:
            return figs.lean(empty_figure("Traversal grid", "no model loaded", height=520))
        with _one_thread():  # one batched forward pass for the whole grid
            imgs = traverse(self.model.generator, self.directions.dirs, z=self._z(), span=self.span,
                            steps=self.steps, layer=self.layer_arg)[0]  # (k, steps, 3, H, W)
        k, s, _, h, w = imgs.shape
        where = "z + t·n_i" if self.layer_arg is None else f"z with t·n_i added at layer {self.layer}"
        return figs.grid_figure(image_grid(imgs), rows=k, cols=s, tile=(h, w), span=self.span,
                                row_labels=self.direction_labels(), where=where,
                                method=METHOD_LABELS[self.method].split(":")[0])

    @param.depends("heatmap", "heatmap_pending")
    @keeps_last
    def sensitivity_figure(self) -> dict:
        kw = {"n_samples": SENSITIVITY["n_samples"], "span": SENSITIVITY["span"]}
        if self.heatmap is None:
            note = "computing the heatmap…" if self.heatmap_pending else "no model loaded"
            return figs.sensitivity_figure(None, None, note=note, **kw)
        S = self.heatmap.S
        note = ""
        if self.heatmap_pending:
            note = f"updating… (still showing {self.heatmap.method}, layer {self.heatmap.layer})"
        return figs.sensitivity_figure(S, purity(S), note=note, **kw)

    @param.depends("directions")
    def orth_text(self) -> str:
        if self.directions is None:
            return ""
        w = self.model.generator.get_submodule(self.layer).weight
        err = cached_orthogonality_error(self.model, self.layer)
        where = "First layer" if self.layer_arg is None else f"Layer `{self.layer}`"
        verdict = (" — a true low-rank orthogonal map." if err < 1e-3
                   else " — unconstrained, its gains differ per direction.")
        return (f"**{where} ({METHOD_MODEL[self.method]} model, {w.shape[0]}×{w.shape[1]}):** orthogonality "
                f"error max|σ−1| = {err:.2e} over its nonzero singular values{verdict}")

    @param.depends("directions")
    def info_text(self) -> str:
        if self.directions is None:
            return ""
        n_in = self.model.generator.get_submodule(self.layer).weight.shape[1]
        moved = "z" if self.layer_arg is None else f"the input of layer `{self.layer}` ({n_in} features)"
        return f"**Directions:** {METHOD_LABELS[self.method]}; they move {moved}."

    @param.depends("train_log")
    @keeps_last
    def loss_figure(self) -> dict:
        steps, losses = zip(*self.train_log) if self.train_log else ((), ())
        return figs.loss_figure(steps, losses)

    @param.depends("train_samples")
    @keeps_last
    def train_samples_figure(self) -> dict:
        return figs.samples_figure(*self.train_samples)

    def _fill_results(self) -> None:
        res = self._art.results
        if not res.get("summary"):
            return
        cfg = res.get("train_config", {})
        held = ", ".join(f"{k} {v:.2f}" for k, v in res.get("regressor_heldout", {}).items())
        device = str(res.get("device", "?")).replace("(1 threads)", "(1 thread)")
        self.results_note.object = (f"Budget per model: {cfg.get('steps', '?')} steps of "
                                    f"{cfg.get('batch_size', '?')} images, seeds {res.get('seeds', '?')}, measured "
                                    f"on {device}; factor regressor held-out: {held}.")
        self.results_table.object = figs.results_table(res["summary"])

    # ------------------------------------------------------------------ training
    def start_training(self) -> bool:
        """Start training a generator in the background; False if one is already running.

        The Train button and the run's settings are disabled while it runs (``job.locks``), so
        a second press cannot reset the loss curve of the run in flight.
        """
        if self.job.running or self.closed:
            return False
        base = self.models["householder"].config if self.models else GeneratorConfig()
        cfg = self.guard(page_train_config, errors=self.job.errors)(base, self.train_layer, self.train_steps)
        if cfg is None:
            return False

        def work(progress, should_stop):
            torch.set_num_threads(max(1, torch.get_num_threads() - 1))  # this thread only; one core for the page
            data = make_shapes(cfg.n_images, seed=cfg.data_seed)
            return train_vae(cfg, data=data, progress=progress, should_stop=should_stop)

        log, samples = self.train_log, self.train_samples
        self.train_log, self.train_samples = [], (None, None)
        if not self.job.start(work, on_partial=self._on_event, on_done=self._on_trained):
            self.train_log, self.train_samples = log, samples  # nothing started: keep what was shown
            return False
        return True

    def _on_event(self, event: dict) -> None:
        """One logged step of the page's training run (events arrive in order)."""
        if "step" in event and "loss" in event:
            self.train_log = [*self.train_log, (int(event["step"]), float(event["loss"]))]
        if "samples" in event:
            imgs = np.asarray(event["samples"])[None]  # (1, n, 3, H, W)
            self.train_samples = (image_grid(imgs), event.get("step"))

    def _on_trained(self, result) -> None:
        """Swap in a finished run's model; a stopped run's model is kept aside, not swapped in.

        Note [a stopped run]: Stop keeps what was computed (the loss curve, the samples, the
        run's checkpoint on disk) but the page goes on showing the model it showed before, so a
        barely trained model never replaces a good one behind the researcher's back; the status
        says so and names the step it stopped at.
        """
        kind = result.model.config.first_layer
        where = f" Run saved in `{result.run.path}`." if result.run is not None else ""
        if result.stopped or self.job.outcome == "stopped":
            shown = "shipped" if self._art is not None and self.models.get(kind) is self._art.models.get(kind) \
                else "previously trained"
            self.job.status.object = (f"training: stopped at step {result.step} of {self.train_steps}; the page "
                                      f"still shows the {shown} **{kind}** model (a stopped run is not swapped in)."
                                      f"{where}")
            return
        self.job.status.object = (f"training: finished after {result.step} steps; the **{kind}** model on this page "
                                  f"is now the one trained here.{where}")
        self.models = {**self.models, kind: result.model.eval().requires_grad_(False)}

    def restore_shipped(self) -> None:
        if self._art is None or self.job.running:
            return
        trained = [k for k, m in self.models.items() if m is not self._art.models.get(k)]
        self.models = dict(self._art.models)
        self.job.status.object = ("Back to the shipped models." if trained else "")

    # ------------------------------------------------------------------ layout
    def body(self) -> pn.viewable.Viewable:
        throttled = {"type": pn.widgets.FloatSlider, "throttled": True}
        controls = pn.Column(
            pn.pane.Markdown("#### Directions"),
            pn.Param(self.param, parameters=["method", "layer"], show_name=False, width=270,
                     widgets={"method": {"type": pn.widgets.Select, "width": 250,
                                         "description": self.param.method.doc},
                              "layer": {"type": pn.widgets.Select, "width": 250,
                                        "description": self.param.layer.doc}}),
            self.direction_errors,
            pn.Param(self.param, parameters=OFFSETS, show_name=False, width=270,
                     widgets={name: {"type": pn.widgets.FloatSlider, "margin": (5, 10, 5, 10)} for name in OFFSETS}),
            pn.pane.Markdown("#### Sample and grid"),
            pn.Param(self.param, parameters=["seed", "resample", "span", "steps"], show_name=False, width=270,
                     widgets={"seed": {"type": pn.widgets.IntInput}, "span": throttled,
                              "steps": {"type": pn.widgets.IntSlider, "throttled": True}}),
            width=290,
        )
        top = pn.Row(
            controls,
            pn.Column(plotly_pane(self.sample_figure, sizing_mode="fixed", width=380, height=380),
                      pn.pane.Markdown(self.info_text, sizing_mode="stretch_width"),
                      pn.pane.Markdown(self.orth_text, sizing_mode="stretch_width"), width=400),
            pn.Column(plotly_pane(self.sensitivity_figure, height=360), self.heatmap_job,
                      sizing_mode="stretch_width"),
            sizing_mode="stretch_width")
        results = pn.Column(
            pn.pane.Markdown(
                "#### Shipped comparison (held-out shapes; mean ± std over seeds)\n"
                "MIG and SAP score encoder codes projected on the directions against the factors; purity is the "
                "share of a direction's sensitivity taken by its top factor; path length is the squared change of "
                "the regressor's features per unit step (lower = smoother). `scripts/make_householder_data.py` "
                "produced these numbers."),
            self.results_table, self.results_note, sizing_mode="stretch_width", min_width=360,
            styles={"overflow-x": "auto"})  # a narrow window scrolls the table instead of cutting it
        middle = pn.Row(pn.Column(plotly_pane(self.grid_figure, height=520, sizing_mode="fixed", width=640),
                                  width=650), results, sizing_mode="stretch_width")
        training = pn.Column(
            pn.pane.Markdown("#### Train a generator here\nRuns in the background on "
                             f"{PRESETS['page']['train']['n_images']:,} shapes; the loss and samples stream in. "
                             "A run that finishes replaces that kind's model, for this page only; Stop ends a run "
                             "and keeps its loss, samples and checkpoint, but the page keeps the model it showed."),
            self._training_controls(),
            self.job,
            pn.Row(plotly_pane(self.loss_figure, height=260), plotly_pane(self.train_samples_figure, height=200),
                   sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )
        return pn.Column(top, middle, training, sizing_mode="stretch_width")

    def _training_controls(self) -> pn.viewable.Viewable:
        """The run's settings and buttons; all but Stop are disabled while a run is in flight."""
        return pn.Param(
            self.param, parameters=["train_layer", "train_steps", "train", "restore"], show_name=False,
            default_layout=pn.Row,
            widgets={"train_layer": {"type": pn.widgets.Select, "width": 160},
                     "train_steps": {"type": pn.widgets.IntInput, "width": 120},
                     "train": {"type": pn.widgets.Button, "color": "primary", "width": 180},
                     "restore": {"type": pn.widgets.Button, "width": 210}})


def create_view(**params: Any) -> HouseholderView:
    """A fresh view for one browser session (or notebook)."""
    return HouseholderView(**params)
