"""The /householder page: the paper's protocol on a small style-based GAN, explored by hand.

All numbers come from :mod:`lab.householder`; ``widgets.householder_figures`` draws them; this
module binds parameters to figures. The shipped checkpoints (data/householder/) are read once
per process and never modified; a generator fine-tuned on the page is this session's only.

Note [what each control recomputes]: the directions and the direction x factor heatmap depend
on the generator, the method, the block and the rank alone, so they are computed once per
(generator, method, block, k) in a process-wide cache (:class:`_ModelCache`) shared by every
session. The offsets, the edited layers, the seed and the grid only decode images (one batched
forward pass, on one thread: :func:`_one_thread`). A heatmap not cached yet is computed in the
background on a served page (the old one stays, marked "updating…").
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
    VARIANT_LABELS,
    VARIANTS,
    Artifacts,
    GanTrainConfig,
    block_slots,
    direction_labels,
    direction_scales,
    finetune_swapped,
    gan_sensitivity,
    image_grid,
    load_artifacts,
    make_shapes,
    orthogonality_error,
    render_edit,
    sample_ws,
    to_uint8_image,
    to_unit,
    traverse_ws,
    variant_directions,
    variant_source,
)
from widgets import householder_figures as figs
from widgets.common import StudyView, keeps_last, plotly_pane
from widgets.figures import empty_figure

__all__ = ["HouseholderView", "create_view", "MAX_DIRECTIONS", "EDIT_LAYERS"]

MAX_OFFSET = 4.0
MAX_DIRECTIONS = 10  # offset sliders d1..d10; those beyond the rank are hidden
OFFSETS = [f"d{i + 1}" for i in range(MAX_DIRECTIONS)]
RANKS = tuple(PRESETS["finetune"]["ranks"])
SENSITIVITY = PRESETS["sensitivity"]
SENSITIVITY_SEED = 0  # the heatmap averages its own fixed draws: the same matrix for every visitor
EDIT_LAYERS = {
    "first": "this block's first style slot (the paper's edit)",
    "block": "all three slots of this block",
    "range": "all slots of the blocks in 'Edit blocks'",
    "all": "every slot of w+ (all layers)",
}

INTRO = (
    "## Householder latent directions on a style-based GAN\n"
    "A small StyleGAN2-like generator (mapping MLP z → w, 64-d; blocks at 4, 8, 16, 32 px, each with "
    "style affines w → channels) was pretrained on coloured shapes with six known factors. The paper's "
    "protocol: every block's **first style affine** becomes a **Householder projector** "
    "(`HouseholderProjector.from_linear`, rank 4, 6 or 10, all nonzero singular values exactly 1) and the "
    "generator is fine-tuned for 2 % of its pretraining steps. Its directions (the rows of V_rᵀ) are compared, "
    "on the same pretrained generator, with **SeFa**, **GANSpace** (PCA of w), random directions, the swap "
    "without fine-tuning, and the control that the loss cannot tell apart from the projector's own "
    "directions: a **random rotation within the projector's span**. A slider moves the sample along one "
    "direction (in units of σ, the spread of w along it); each slider carries its automatic label (top "
    "factor and purity, from the heatmap)."
)


@functools.lru_cache(maxsize=2)
def _shipped(folder: str | None = None) -> Artifacts:
    """The shipped artifacts, loaded once per process (read-only)."""
    return load_artifacts(folder)


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Run the torch calls inside on one intra-op thread (this thread only), then restore.

    Note [one thread for small batches]: the page decodes 1 to 110 small images at a time;
    spread over OpenMP threads that is slower than on one, and much slower while a training run
    holds the cores. OpenMP's thread count is per calling thread, so a job keeps its own.
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
    """Results that depend only on a generator (and method, block, k): computed once, shared by every session.

    Keyed weakly by the generator object, so a generator fine-tuned on a page and dropped is freed
    with its entries.
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
_SWAPS: dict = {}  # (id of pretrained generator, rank) -> its swap without fine-tuning (shared, read-only)
_SWAPS_LOCK = threading.Lock()


def _served() -> bool:
    """True inside a served browser session: there, long work must leave the event loop."""
    doc = pn.state.curdoc
    return doc is not None and doc.session_context is not None


def swap_of(G, D, rank: int):
    """The pretrained pair's swap without fine-tuning at ``rank`` (computed once per process)."""
    key = (id(G), rank)
    with _SWAPS_LOCK:
        if key not in _SWAPS:
            _SWAPS[key] = finetune_swapped(G, D, rank, None, steps=0).generator
        return _SWAPS[key]


@dataclass(frozen=True)
class DirectionSet:
    """The directions the page shows, and where they came from."""

    method: str
    block: int
    rank: int
    generator: Any  # the StyleGenerator they belong to (and edit)
    dirs: torch.Tensor  # (k, w_dim)
    scales: torch.Tensor  # (k,) sigma of w along each direction


@dataclass(frozen=True)
class Heatmap:
    """The direction x factor sensitivity shown, and the directions it measures."""

    method: str
    block: int
    rank: int
    S: np.ndarray  # (k, 6)
    labels: tuple  # automatic label per direction


def cached_directions(G, method: str, block: int, k: int, gens: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """((k, w_dim) directions, (k,) sigmas) of ``method`` for ``block`` (cached per generator)."""
    def compute():
        with _one_thread():
            dirs = variant_directions(gens, method, k, seed=0)[block].detach().float()
            return dirs, direction_scales(G, dirs)

    return _CACHE.get_or_compute(G, ("directions", method, block, k), compute)


def cached_sensitivity(G, regressor, found: DirectionSet) -> np.ndarray:
    """(k, 6) sensitivity of the directions at their block's first slot (cached per generator)."""
    def compute():
        with _one_thread():
            return gan_sensitivity(G, regressor, found.dirs, block_slots(G, found.block), seed=SENSITIVITY_SEED,
                                   **SENSITIVITY)

    key = ("sensitivity", found.method, found.block, int(found.dirs.shape[0]), id(regressor))
    return _CACHE.get_or_compute(G, key, compute)


# One offset parameter per direction slot; the view shows as many as the rank.
DirectionOffsets = param.parameterized_class("DirectionOffsets", {
    name: param.Number(0.0, bounds=(-MAX_OFFSET, MAX_OFFSET), step=0.1, label=f"d{i + 1}",
                       doc=f"Offset of the sample along direction {i + 1}, in σ (the spread of w along it).")
    for i, name in enumerate(OFFSETS)})


class HouseholderView(StudyView, DirectionOffsets):
    """Direction sliders with labels, the traversal grid, the sensitivity heatmap, results, fine-tuning."""

    intro = INTRO

    method = param.Selector(default="householder", objects=list(VARIANTS), label="Directions from",
                            doc="householder: the fine-tuned projector's own directions; within_span: a random "
                                "rotation of them inside the same span (the control); swap: the projector's "
                                "directions right after the swap, no fine-tuning; sefa, ganspace, random: on the "
                                "same pretrained generator.")
    block = param.Integer(default=1, bounds=(0, 3), label="Block (0 = 4 px … 3 = 32 px)",
                          doc="Whose first style affine the directions belong to (GANSpace and random directions "
                              "are the same for every block; they are edited at this block).")
    rank = param.Selector(default=PRESETS["page"]["rank"], objects=list(RANKS), label="Projector rank",
                          doc="Rank of the projectors (number of directions); the baselines show as many.")
    gan_seed = param.Selector(default=0, objects=[0], label="Pretrained seed",
                              doc="Which pretrained generator (one per seed).")
    edit_layers = param.Selector(default="first", objects=list(EDIT_LAYERS), label="Edit touches",
                                 doc="Which slots of w+ an edit moves: " + "; ".join(
                                     f"{k}: {v}" for k, v in EDIT_LAYERS.items()) + ".")
    edit_range = param.Range(default=(0, 3), bounds=(0, 3), label="Edit blocks (for 'range')",
                             doc="First and last block whose slots move when 'Edit touches' is 'range'.")
    seed = param.Integer(default=0, bounds=(0, 99_999), label="Sample seed",
                         doc="Seed of the sample w (redraws the sample and the grid).")
    resample = param.Action(lambda self: self.next_seed(), label="Resample",
                            doc="Draw the next sample (redraws the sample and the grid).")
    span = param.Number(default=2.5, bounds=(0.5, 4.0), step=0.25, label="Grid span ± (σ)",
                        doc="The traversal grid runs from -span·σ to +span·σ along each direction.")
    steps = param.Integer(default=7, bounds=(3, 11), label="Grid steps", doc="Columns of the traversal grid.")
    ft_steps = param.Integer(default=PRESETS["page"]["steps"], bounds=(1, 500), label="Fine-tune steps",
                             doc="Steps of the paper's fine-tuning after the swap (2 % of the pretraining "
                                 "steps is the protocol's budget).")
    finetune = param.Action(lambda self: self.start_finetune(), label="Fine-tune",
                            doc="Swap every block's first style affine for a projector of the chosen rank and "
                                "fine-tune in the background (Adam lr 0.002, betas (0, 0.99)).")
    restore = param.Action(lambda self: self.restore_shipped(), label="Back to the shipped generators",
                           doc="Drop the generators fine-tuned on this page.")
    # Results (not controls).
    tuned = param.Dict(default={}, precedence=-1, doc="(seed, rank) -> fine-tuned generator shown.")
    directions = param.ClassSelector(class_=DirectionSet, default=None, allow_None=True, precedence=-1,
                                     doc="The directions of the current controls.")
    heatmap = param.ClassSelector(class_=Heatmap, default=None, allow_None=True, precedence=-1,
                                  doc="The sensitivity heatmap shown.")
    heatmap_pending = param.Boolean(default=False, precedence=-1, doc="True while the heatmap is computed.")
    ft_log = param.List(default=[], precedence=-1, doc="(step, loss G, loss D) of the page's fine-tuning run.")

    def __init__(self, *, artifacts: Artifacts | None = None, **params: Any) -> None:
        super().__init__(**params)
        self.job = self.add_job("fine-tuning", errors_here=True).locks(
            (self, "ft_steps"), (self, "finetune"), (self, "restore"))
        self.heatmap_job = self.add_job("heatmap", errors_here=True)
        self.direction_errors = self.error_box()
        self._art: Artifacts | None = None
        self.results_table = pn.pane.DataFrame(pd.DataFrame(), sizing_mode="stretch_width", index=False)
        self.generator_table = pn.pane.DataFrame(pd.DataFrame(), sizing_mode="stretch_width", index=False)
        self.results_note = pn.pane.Markdown("", sizing_mode="stretch_width")
        try:
            self._art = artifacts if artifacts is not None else _shipped()
        except Exception as exc:  # noqa: BLE001 - the page still builds and says what is missing
            self.errors.show(exc)
            return
        seeds = sorted(self._art.pretrained)
        self.param.gan_seed.objects = seeds
        if self.gan_seed not in seeds:
            self.gan_seed = seeds[0]
        n_blocks = len(self._art.pretrained[seeds[0]][0].blocks)
        self.param.block.bounds = (0, n_blocks - 1)
        self.param.edit_range.bounds = (0, n_blocks - 1)
        self._fill_results()
        with param.discard_events(self):
            self.tuned = dict(self._art.finetuned)
        self.refresh()

    @classmethod
    def warm(cls, progress, should_stop) -> None:
        """Directions and heatmaps of the shipped seed-0 generators at the default rank, for every method and block."""
        try:
            art = _shipped()
        except FileNotFoundError:
            return
        if 0 not in art.pretrained:
            return
        view = cls(artifacts=art)
        pairs = [(m, b) for b in range(len(art.pretrained[0][0].blocks)) for m in VARIANTS]
        for i, (method, block) in enumerate(pairs):
            if should_stop():
                return
            progress(i / len(pairs), f"householder: {method} directions of block {block}")
            try:
                found = view._compute(method, block, view.rank)
            except ValueError:
                continue
            cached_sensitivity(found.generator, art.regressor, found)

    def on_load(self) -> None:
        if self.heatmap_pending and not self.heatmap_job.running:
            self._update_heatmap()

    # ------------------------------------------------------------------ state
    def generators(self) -> dict:
        """{'pretrained', 'swap', 'finetuned' (when there is one)} for the current seed and rank."""
        G, D = self._art.pretrained[self.gan_seed]
        gens = {"pretrained": G, "swap": swap_of(G, D, self.rank)}
        ft = self.tuned.get((self.gan_seed, self.rank))
        if ft is not None:
            gens["finetuned"] = ft
        return gens

    @property
    def n_directions(self) -> int:
        return 0 if self.directions is None else self.directions.dirs.shape[0]

    def offsets(self) -> np.ndarray:
        return np.array([getattr(self, name) for name in OFFSETS[: self.n_directions]], dtype=float)

    def slots(self) -> list[int]:
        """The w+ slots an edit moves (Note [what each control recomputes]: images only)."""
        G = self.directions.generator
        if self.edit_layers == "range":
            return block_slots(G, (int(self.edit_range[0]), int(self.edit_range[1])), "block")
        return block_slots(G, self.block, self.edit_layers)

    def _compute(self, method: str, block: int, rank: int) -> DirectionSet:
        gens = self.generators()
        source = variant_source(method)[0]
        if source not in gens:
            raise ValueError(f"method: no fine-tuned generator for seed {self.gan_seed} at rank {rank}; press "
                             "'Fine-tune' below (or choose swap, sefa, ganspace or random)")
        G = gens[source]
        dirs, scales = cached_directions(G, method, block, rank, gens)
        return DirectionSet(method, block, rank, G, dirs, scales)

    @param.depends("method", "block", "rank", "gan_seed", "tuned", watch=True)
    def refresh(self) -> bool:
        """Recompute the directions; on failure say why and put the controls back."""
        if getattr(self, "_art", None) is None:
            return False
        shown = self.directions
        found = self.guard(self._compute, errors=self.direction_errors)(self.method, self.block, self.rank)
        if found is None:
            if shown is not None:
                with param.discard_events(self):
                    self.method, self.block, self.rank = shown.method, shown.block, shown.rank
            return False
        self.direction_errors.clear()
        k = found.dirs.shape[0]
        for i, name in enumerate(OFFSETS):
            p = self.param[name]
            if p.precedence != (1 if i < k else -1):
                p.precedence = 1 if i < k else -1
        self.directions = found
        self._update_heatmap()
        return True

    # ------------------------------------------------------------------ the heatmap and the labels
    def _update_heatmap(self) -> None:
        d = self.directions
        if d is None or self._art is None:
            return
        reg = self._art.regressor
        key = ("sensitivity", d.method, d.block, int(d.dirs.shape[0]), id(reg))
        S = _CACHE.get(d.generator, key)
        if S is None and not _served():
            S = self.guard(cached_sensitivity)(d.generator, reg, d)
            if S is None:
                return
        if S is not None:
            self._show_heatmap(d, S)
            return
        self.heatmap_pending = True
        if self.heatmap_job.running:
            return

        def work(progress, should_stop):
            progress(0.0, f"measuring {d.method} directions of block {d.block}…")
            return None if should_stop() else cached_sensitivity(d.generator, reg, d)

        self.heatmap_job.start(work, on_done=self._on_heatmap)

    def _show_heatmap(self, d: DirectionSet, S: np.ndarray) -> None:
        labels = tuple(direction_labels(S))
        for i, lab in enumerate(labels):
            text = f"d{i + 1}: {lab}"
            if self.param[OFFSETS[i]].label != text:
                self.param[OFFSETS[i]].label = text
        self.heatmap, self.heatmap_pending = Heatmap(d.method, d.block, d.rank, S, labels), False

    def _on_heatmap(self, _result) -> None:
        self.heatmap_job.status.object = ""
        if self.heatmap_job.outcome == "done":
            self._update_heatmap()
        else:
            self.heatmap_pending = False

    def direction_labels(self) -> list[str]:
        return [self.param[name].label for name in OFFSETS[: self.n_directions]]

    def next_seed(self) -> None:
        self.seed = (self.seed + 1) % 100_000

    # ------------------------------------------------------------------ figures and texts
    @param.depends("directions", "seed", "edit_layers", "edit_range", *OFFSETS)
    @keeps_last
    def sample_figure(self) -> dict:
        if self.directions is None:
            return figs.lean(empty_figure("Sample", "no generator loaded", height=380))
        d, off = self.directions, self.offsets()
        with _one_thread():
            img = to_unit(render_edit(d.generator, d.dirs, off, self.slots(), seed=self.seed, scales=d.scales))
        return figs.sample_figure(to_uint8_image(img), off.tolist())

    @param.depends("directions", "seed", "span", "steps", "edit_layers", "edit_range", "heatmap")
    @keeps_last
    def grid_figure(self) -> dict:
        if self.directions is None:
            return figs.lean(empty_figure("Traversal grid", "no generator loaded", height=520))
        d = self.directions
        with _one_thread():
            ws = sample_ws(d.generator, 1, self.seed)
            imgs = to_unit(traverse_ws(d.generator, d.dirs, self.slots(), ws=ws, span=self.span, steps=self.steps,
                                       scales=d.scales))[0]  # (k, steps, 3, H, W)
        k, s, _, h, w = imgs.shape
        return figs.grid_figure(image_grid(imgs), rows=k, cols=s, tile=(h, w), span=self.span,
                                row_labels=self.direction_labels(), where=f"w + t·σ·d_i ({self.edit_layers} slots)",
                                method=self.method)

    @param.depends("heatmap", "heatmap_pending")
    @keeps_last
    def sensitivity_figure(self) -> dict:
        kw = {"n_samples": SENSITIVITY["n"], "span": SENSITIVITY["span"]}
        if self.heatmap is None:
            return figs.sensitivity_figure(None, None, note="computing the heatmap…" if self.heatmap_pending
                                           else "no generator loaded", **kw)
        note = f"updating… (still showing {self.heatmap.method}, block {self.heatmap.block})" \
            if self.heatmap_pending else ""
        return figs.sensitivity_figure(self.heatmap.S, self.heatmap.labels, note=note, **kw)

    @param.depends("directions")
    def info_text(self) -> str:
        d = self.directions
        if d is None:
            return ""
        layer = d.generator.blocks[d.block].conv0.affine
        err = orthogonality_error(layer.weight.detach())
        kind = "a Householder projector" if hasattr(layer, "rank") else "an unconstrained nn.Linear"
        return (f"**Directions:** {VARIANT_LABELS[d.method]}. Block {d.block}'s first style affine in this "
                f"generator is {kind} (max|σ−1| = {err:.1e} over its nonzero singular values).")

    @param.depends("ft_log")
    @keeps_last
    def loss_figure(self) -> dict:
        rows = self.ft_log
        return figs.loss_figure([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])

    def _fill_results(self) -> None:
        res = self._art.results
        if not res.get("summary"):
            self.results_note.object = ("No results yet: run `python scripts/householder_experiment.py` and "
                                        "`--merge`.")
            return
        pre = res.get("pretrain", {})
        secs = ", ".join(f"seed {s}: {v['seconds']:.0f} s" for s, v in pre.items())
        self.results_note.object = (
            f"{len(res.get('seeds', []))} seeds; pretraining {res.get('pretrain_steps', '?')} steps ({secs}, "
            f"{res.get('device', '?')}); fine-tuning {res.get('finetune_steps', '?')} steps. Edits move each "
            "block's first slot of w+; metrics averaged over the 4 blocks. PIPL@matched: path length at matched "
            "image change over target² (1 = an even path). `scripts/householder_experiment.py` produced these.")
        self.results_table.object = figs.results_table(res["summary"])
        self.generator_table.object = figs.generator_table(res.get("generator_summary", []))

    # ------------------------------------------------------------------ fine-tuning
    def start_finetune(self) -> bool:
        """Fine-tune the swapped generator of the current seed and rank in the background."""
        if self.job.running or self.closed or self._art is None:
            return False
        G, D = self._art.pretrained[self.gan_seed]
        seed, rank, steps = self.gan_seed, self.rank, self.ft_steps

        def work(progress, should_stop):
            torch.set_num_threads(max(1, torch.get_num_threads() - 1))  # this thread only; one core for the page
            d = PRESETS["data"]
            data = make_shapes(4000, seed=d["train_seed"])
            cfg = GanTrainConfig(batch_size=PRESETS["pretrain"]["batch_size"], log_every=1)  # a point per step
            return finetune_swapped(G, D, rank, data, steps=steps, train=cfg, progress=progress,
                                    should_stop=should_stop)

        log = self.ft_log
        self.ft_log = []
        if not self.job.start(work, on_partial=self._on_event, on_done=lambda r: self._on_tuned(r, seed, rank)):
            self.ft_log = log
            return False
        return True

    def _on_event(self, event: dict) -> None:
        if "step" in event and "loss_g" in event:
            self.ft_log = [*self.ft_log, (int(event["step"]), float(event["loss_g"]), float(event["loss_d"]))]

    def _on_tuned(self, state, seed: int, rank: int) -> None:
        """Show a finished run's generator; a stopped run is kept aside (Note [a stopped run])."""
        if state is None:
            return
        if state.stopped or self.job.outcome == "stopped":
            self.job.status.object = (f"fine-tuning: stopped at step {state.step}; the page still shows the "
                                      "generator it showed before.")
            return
        self.job.status.object = (f"fine-tuning: finished {state.step} steps; seed {seed}, rank {rank} now shows "
                                  "the generator fine-tuned here.")
        self.tuned = {**self.tuned, (seed, rank): state.generator}

    def restore_shipped(self) -> None:
        if self._art is None or self.job.running:
            return
        self.tuned = dict(self._art.finetuned)
        self.job.status.object = "Back to the shipped generators."

    # ------------------------------------------------------------------ layout
    def body(self) -> pn.viewable.Viewable:
        throttled = {"type": pn.widgets.FloatSlider, "throttled": True}
        controls = pn.Column(
            pn.pane.Markdown("#### Directions"),
            pn.Param(self.param, parameters=["method", "block", "rank", "gan_seed"], show_name=False, width=270,
                     widgets={"method": {"type": pn.widgets.Select, "width": 250},
                              "block": {"type": pn.widgets.IntSlider, "width": 250},
                              "rank": {"type": pn.widgets.Select, "width": 250},
                              "gan_seed": {"type": pn.widgets.Select, "width": 250}}),
            self.direction_errors,
            pn.Param(self.param, parameters=OFFSETS, show_name=False, width=270,
                     widgets={name: {"type": pn.widgets.FloatSlider, "margin": (5, 10, 5, 10)} for name in OFFSETS}),
            pn.pane.Markdown("#### Edit and grid"),
            pn.Param(self.param, parameters=["edit_layers", "edit_range", "seed", "resample", "span", "steps"],
                     show_name=False, width=270,
                     widgets={"edit_layers": {"type": pn.widgets.Select, "width": 250},
                              "edit_range": {"type": pn.widgets.IntRangeSlider, "width": 250},
                              "seed": {"type": pn.widgets.IntInput}, "span": throttled,
                              "steps": {"type": pn.widgets.IntSlider, "throttled": True}}),
            width=290,
        )
        top = pn.Row(
            controls,
            pn.Column(plotly_pane(self.sample_figure, sizing_mode="fixed", width=380, height=380),
                      pn.pane.Markdown(self.info_text, sizing_mode="stretch_width"), width=400),
            pn.Column(plotly_pane(self.sensitivity_figure, height=420), self.heatmap_job,
                      sizing_mode="stretch_width"),
            sizing_mode="stretch_width")
        results = pn.Column(
            pn.pane.Markdown("#### Shipped comparison (held-out real shapes; mean ± std over seeds)\n"
                             "MIG, DCI-D and SAP by the post-hoc protocol (an encoder trained on generated images "
                             "regresses the edit coordinates; real shapes with known factors are scored); purity "
                             "is a direction's top-factor share of its change."),
            self.results_table, self.generator_table, self.results_note, sizing_mode="stretch_width",
            min_width=360, styles={"overflow-x": "auto"})
        middle = pn.Row(pn.Column(plotly_pane(self.grid_figure, height=520, sizing_mode="fixed", width=640),
                                  width=650), results, sizing_mode="stretch_width")
        training = pn.Column(
            pn.pane.Markdown("#### Fine-tune here (the paper's protocol)\nSwaps every block's first style affine of "
                             "the chosen pretrained seed for a projector of the chosen rank and fine-tunes in the "
                             "background on 4,000 shapes; the losses stream in; Stop ends it and keeps the "
                             "generator shown before. A finished run replaces that seed and rank's fine-tuned "
                             "generator, for this page only."),
            pn.Param(self.param, parameters=["ft_steps", "finetune", "restore"], show_name=False,
                     default_layout=pn.Row,
                     widgets={"ft_steps": {"type": pn.widgets.IntInput, "width": 120},
                              "finetune": {"type": pn.widgets.Button, "color": "primary", "width": 160},
                              "restore": {"type": pn.widgets.Button, "width": 240}}),
            self.job,
            plotly_pane(self.loss_figure, height=260),
            sizing_mode="stretch_width")
        return pn.Column(top, middle, training, sizing_mode="stretch_width")


def create_view(**params: Any) -> HouseholderView:
    """A fresh view for one browser session (or notebook)."""
    return HouseholderView(**params)
