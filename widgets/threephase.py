"""The /threephase page: phase rotation, live baseline-vs-3PT training, theta drift, the horn.

Every number comes from :mod:`lab.threephase`; the figures are built by
``widgets.threephase_figures``; this module only binds parameters to them.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import pandas as pd
import panel as pn
import param

from lab.threephase import (
    DECAY_POLICIES,
    PRESETS,
    VARIANTS,
    angle_change_fit,
    drift_profile,
    list_study_runs,
    load_run,
    phasor,
    preset_train,
    run_frame,
    shipped_token_data,
    side_by_side_configs,
    train_side_by_side,
)
from widgets import threephase_figures as figs
from widgets.common import StudyView, keeps_last, plotly_pane
from widgets.figures import empty_figure

__all__ = ["ThreePhaseView", "create_view"]

LIVE = PRESETS["page"]  # the live run's shape and training settings

INTRO = """
### The Three-Phase Transformer: rotation drift

3PT cuts the residual stream (d_model) into **N contiguous phase stripes**. Between attention and
the FFN of every block it *replaces* the hidden state by a rotated copy: inside phase *i* each
(even, odd) channel pair turns by **θ_k + 2πi/N**, where θ is learned per block (shared by the
phases) and starts at (l+1)·π/(2L). Norms are per phase, and the embedding's mean is pinned to
the **horn** 1/(p+1). The paper reports a U-shaped profile of how far θ drifts from its start
across depth at 12 layers. Here you can watch each piece.
"""

BASELINES = [v for v in VARIANTS if v.startswith("baseline")]
TPTS = [v for v in VARIANTS if v.startswith("3pt")]
RUN_COLUMNS = ["variant", "n_layers", "n_phases", "state", "step", "source", "started"]


class ThreePhaseView(StudyView):
    """One session's 3PT page; every control below is generated from these parameters."""

    intro = INTRO

    theta = param.Number(default=0.6, bounds=(0.0, 2 * math.pi), step=0.05, label="θ (rad)",
                         doc="Learned angle θ_k of one channel pair; phase i adds the fixed offset 2πi/N.")
    n_phases = param.Selector(default=3, objects=[1, 2, 3, 4, 6, 8], label="N (phases)",
                              doc="Number of phase stripes; their offsets are 2π/N apart.")
    steps = param.Integer(default=LIVE.train["steps"], bounds=(2, 3000), label="Training steps",
                          doc=f"Optimizer steps of the live side-by-side run (batch {LIVE.train['batch_size']} × "
                              f"{LIVE.model['max_seq_len']} tokens).")
    n_layers = param.Integer(default=LIVE.model["n_layers"], bounds=(1, 12), label="Blocks (L)",
                             doc="Depth of both live models.")
    lr = param.Number(default=LIVE.train["lr"], bounds=(1e-4, 1e-2), step=1e-4, label="Peak learning rate",
                      doc="AdamW peak learning rate (warmup 10%, cosine to 10%).")
    eval_every = param.Integer(default=LIVE.train["eval_every"], bounds=(1, 500), label="Evaluate every",
                               doc="Steps between validation evaluations (and drift snapshots).")
    baseline_variant = param.Selector(default="baseline-paper", objects=BASELINES, label="Baseline",
                                      doc="baseline-paper: the paper's RoPE-only baseline (embedding N(0,1) × √d); "
                                          "baseline-matched: 3PT's own embedding without the horn or the scale.")
    tpt_variant = param.Selector(default="3pt-reference", objects=TPTS, label="3PT",
                                 doc="3pt-reference: the reference implementation's init and embedding.")
    decay = param.Selector(default="all", objects=list(DECAY_POLICIES), label="Weight decay on",
                           doc="all: every parameter, θ and the gains included (the reference); matrices: "
                               "matrices only, so nothing pulls θ toward 0.")
    train = param.Action(lambda self: self.start_training(), label="Train baseline and 3PT side by side",
                         doc="Train both live models on the same batches, in the background.")
    run_id = param.Selector(default=None, objects=[], label="Saved run", doc="A finished run to inspect.")
    frame = param.Integer(default=0, bounds=(0, 0), label="Evaluation #",
                          doc="Which evaluation of the selected run the drift, angle and horn figures show.")
    # Results, shown by the figures that depend on them (not controls).
    run = param.Dict(default=None, allow_None=True, precedence=-1, doc="The selected run (config and history).")
    live = param.Dict(default={"losses": {}, "evals": {}, "decay": "all"}, precedence=-1,
                      doc="The live run so far: per-step losses and evaluation rows per model, and its decay.")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.job = self.add_job("training", errors_here=True).locks((self, "train"))
        self.runs_table = pn.widgets.Tabulator(disabled=True, height=260, sizing_mode="stretch_width",
                                               show_index=False, layout="fit_columns",
                                               widths={"variant": "30%", "started": "20%"})
        self._refresh_run_choices()

    # ------------------------------------------------------------------ figures
    @param.depends("theta", "n_phases")
    @keeps_last
    def phasor_figure(self) -> dict:
        return figs.phasor_figure(phasor(self.theta, int(self.n_phases)), int(self.n_phases))

    @param.depends("run")
    @keeps_last
    def curve_figure(self) -> dict:
        if self.run is None:
            return empty_figure("Validation perplexity", "pick a saved run")
        model = self.run["config"].get("model", {})
        return figs.loss_figure(self.run["history"], self.run["config"].get("variant", "run"),
                                bool(model.get("three_phase")))

    @param.depends("run", "frame")
    @keeps_last
    def drift_figure(self) -> dict:
        if self.run is None:
            return empty_figure("Drift depth profile", "pick a saved run")
        steps, profile = drift_profile(self.run["history"])
        return figs.drift_figure(steps, profile, self.frame)

    @param.depends("run")
    @keeps_last
    def drift_map_figure(self) -> dict:
        if self.run is None:
            return empty_figure("Drift over depth and training time", "pick a saved run")
        steps, profile = drift_profile(self.run["history"])
        return figs.drift_heatmap(steps, profile)

    @param.depends("run", "frame")
    @keeps_last
    def change_figure(self) -> dict:
        if self.run is None:
            return empty_figure("Mean-angle change against the initial angle", "pick a saved run")
        return figs.angle_change_figure(_fit_or_none(self.run["history"], self.frame))

    def _frame_figure(self, title: str, build: Callable[[dict], dict]) -> dict:
        """``build`` applied to what lab reads from the selected run at the selected evaluation."""
        if self.run is None:
            return empty_figure(title, "pick a saved run")
        return build(run_frame(self.run["history"], self.frame))

    @param.depends("run", "frame")
    @keeps_last
    def angle_figure(self) -> dict:
        return self._frame_figure("Angles per block",
                                  lambda f: figs.angle_figure(f["thetas"], f["step"], f["theta_init"]))

    @param.depends("run", "frame")
    @keeps_last
    def horn_figure(self) -> dict:
        return self._frame_figure("Horn witness",
                                  lambda f: figs.horn_figure(f["horn_mean"], f["horn_phase_means"], f["horn"]))

    @param.depends("live")
    @keeps_last
    def live_loss_figure(self) -> dict:
        return figs.live_loss_figure(self.live["losses"], self.live["evals"])

    @param.depends("live")
    @keeps_last
    def live_drift_figure(self) -> dict:
        rows = self.live["evals"].get("3pt", [])
        if not rows:
            return empty_figure("Live 3PT drift over depth and time", "the 3PT model's drift appears here while "
                                     "it trains")
        steps, profile = drift_profile(pd.DataFrame(rows))
        return figs.drift_heatmap(steps, profile, title=f"Live 3PT drift over depth and time (decay on "
                                                        f"{self.live['decay']})")

    @param.depends("live")
    @keeps_last
    def live_change_figure(self) -> dict:
        rows = self.live["evals"].get("3pt", [])
        title = f"Live 3PT: mean-angle change (decay on {self.live['decay']})"
        if not rows:
            return empty_figure(title, "each block's angle change against its start appears here while it trains")
        return figs.angle_change_figure(_fit_or_none(pd.DataFrame(rows), -1), title=title)

    # ------------------------------------------------------------------ saved runs
    def _refresh_run_choices(self, select: str | None = None) -> None:
        runs = list_study_runs()
        runs = runs.assign(started=[_started(i) for i in runs["id"]])
        labels: dict[str, str] = {}
        for r in runs.itertuples():  # readable, and distinct: the run's start time tells repeats apart
            label = f"{r.variant} · L{r.n_layers} · {r.step} steps · {r.source} · {r.started}"
            labels[label if label not in labels else f"{label} · {r.id}"] = r.path
        self.param.run_id.objects = labels  # label -> run path
        self.runs_table.value = runs[RUN_COLUMNS]
        if select is not None:
            self.run_id = select
        elif self.run_id not in labels.values() and labels:
            # prefer the deepest 3PT run: that is where the drift profile has a shape to show
            three = runs[runs["n_phases"] > 0].sort_values("n_layers", ascending=False, kind="stable")
            self.run_id = (three if len(three) else runs)["path"].iloc[0]

    @param.depends("run_id", watch=True)
    def _load_run(self) -> None:
        if not self.run_id:
            return
        run = self.guard(load_run)(self.run_id)
        if run is None:
            return
        if run["history"].empty:
            self.errors.show(f"run_id: the run {run['id']!r} has no logged evaluations yet")
            return
        last = len(run["history"]) - 1
        with param.parameterized.batch_call_watchers(self):
            self.param.frame.bounds = (0, last)
            self.frame = last
            self.run = run

    # ------------------------------------------------------------------ live training
    def start_training(self) -> bool:
        """Start the side-by-side run in the background (False if one is running or inputs are bad)."""
        if self.job.running or self.closed:
            return False

        def prepare():
            data = shipped_token_data()
            configs = side_by_side_configs("page", baseline=self.baseline_variant, tpt=self.tpt_variant,
                                           vocab_size=data.vocab_size, n_layers=self.n_layers)
            tcfg = preset_train("page", steps=self.steps, lr=self.lr, eval_every=self.eval_every,  # warmup: 10%
                                decay=self.decay)
            return data, configs, tcfg

        prepared = self.guard(prepare)()
        if prepared is None:
            return False
        data, configs, tcfg = prepared
        self.live = {"losses": {}, "evals": {}, "decay": tcfg.decay}

        def work(progress, should_stop):
            return train_side_by_side(configs, tcfg, data, progress=progress, should_stop=should_stop)

        return self.job.start(work, on_partial=self._on_step, on_done=self._on_done)

    def _on_step(self, event: dict) -> None:
        """One step of the live run: append its losses and evaluations (events arrive in order)."""
        losses = {n: {"step": list(c["step"]), "loss": list(c["loss"])} for n, c in self.live["losses"].items()}
        evals = {n: list(rows) for n, rows in self.live["evals"].items()}
        for name, loss in event.get("losses", {}).items():
            curve = losses.setdefault(name, {"step": [], "loss": []})
            curve["step"].append(event["step"])
            curve["loss"].append(loss)
        for name, row in event.get("evals", {}).items():
            evals.setdefault(name, []).append(row)
        self.live = {**self.live, "losses": losses, "evals": evals}

    def _on_done(self, results: dict | None) -> None:
        if results and "3pt" in results and results["3pt"].run_path:
            self._refresh_run_choices(select=results["3pt"].run_path)

    # ------------------------------------------------------------------ layout
    def body(self) -> pn.viewable.Viewable:
        phasor_controls = pn.Column(
            pn.Param(self.param, parameters=["theta", "n_phases"], show_name=False, width=300,
                     widgets={"theta": {"type": pn.widgets.FloatSlider, "width": 280},
                              "n_phases": {"type": pn.widgets.RadioButtonGroup}}),
            pn.pane.Markdown("Each coloured arrow is the same (even, odd) pair inside one phase stripe after the "
                             "rotation. Moving θ turns all of them together; the offsets 2π/N keep them evenly "
                             "spread.", width=280),
            width=300,
        )
        train_controls = pn.Param(
            self.param, parameters=["baseline_variant", "tpt_variant", "decay", "steps", "n_layers", "lr",
                                    "eval_every", "train"], show_name=False, width=300,
            widgets={"decay": {"type": pn.widgets.Select},
                     "lr": {"type": pn.widgets.FloatSlider, "format": "0.0000"},
                     "train": {"type": pn.widgets.Button, "color": "primary"}})
        run_controls = pn.Param(
            self.param, parameters=["run_id", "frame"], show_name=False, default_layout=pn.Row,
            widgets={"run_id": {"type": pn.widgets.Select, "width": 480},
                     "frame": {"type": pn.widgets.Player, "interval": 400, "loop_policy": "once", "width": 380,
                               "show_value": True}})
        return pn.Column(
            pn.pane.Markdown("## 1 · The phase rotation"),
            pn.Row(phasor_controls, plotly_pane(self.phasor_figure, height=380), sizing_mode="stretch_width"),
            pn.pane.Markdown("## 2 · Train a RoPE-only baseline and 3PT side by side\n"
                             "Both models see the same batches of the shipped corpus (Python standard-library "
                             "docstrings, 4,096-word vocabulary). Thin lines: per-step training loss; thick: "
                             "validation."),
            pn.Row(train_controls, pn.Column(self.job, plotly_pane(self.live_loss_figure),
                                             sizing_mode="stretch_width"), sizing_mode="stretch_width"),
            pn.Row(plotly_pane(self.live_drift_figure), plotly_pane(self.live_change_figure),
                   sizing_mode="stretch_width"),
            pn.pane.Markdown("## 3 · Saved runs: drift over depth and training time\n"
                             "Pick a run; press play to animate the evaluations. The drift profile is the paper's "
                             "per-block ‖θ − θ_init‖₂; the box plots show every learned angle of each block against "
                             "its initial value; the horn witness shows that the embedding mean sits on 1/(p+1)."),
            run_controls,
            pn.Row(plotly_pane(self.curve_figure), plotly_pane(self.drift_figure), sizing_mode="stretch_width"),
            pn.Row(plotly_pane(self.drift_map_figure), plotly_pane(self.change_figure), sizing_mode="stretch_width"),
            pn.Row(plotly_pane(self.angle_figure), plotly_pane(self.horn_figure), sizing_mode="stretch_width"),
            self.runs_table,
            sizing_mode="stretch_width",
        )


def _started(run_id: str) -> str:
    """A run id's leading timestamp (YYYYmmdd-HHMMSS-…) as 'YYYY-mm-dd HH:MM:SS', or the id itself."""
    stamp = run_id[:15]
    if len(stamp) == 15 and stamp[8] == "-" and (stamp[:8] + stamp[9:]).isdigit():
        return f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]} {stamp[9:11]}:{stamp[11:13]}:{stamp[13:15]}"
    return run_id


def _fit_or_none(history: pd.DataFrame, k: int) -> dict | None:
    """angle_change_fit of evaluation ``k``, or None where it has no line to draw (no angles logged, one block)."""
    try:
        return angle_change_fit(history, k)
    except ValueError:
        return None


def create_view() -> ThreePhaseView:
    """A fresh page for one browser session."""
    return ThreePhaseView()

