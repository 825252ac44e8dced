"""The /threephase page: phase rotation, live baseline-vs-3PT training, theta drift, the horn.

All numbers come from lab.threephase* (the view only arranges figures); figures are Plotly
dicts updated in place. Training runs through widgets.jobs.BackgroundJob.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import panel as pn
import param

from lab.threephase import ModelConfig, horn_values, phasor, theta_init
from lab.threephase_experiments import drift_profile, list_study_runs, load_run, train_side_by_side
from lab.threephase_trainer import TrainConfig
from widgets.common import STUDY_COLORS, ErrorBox, as_list, guarded, plotly_pane
from widgets.jobs import BackgroundJob

__all__ = ["ThreePhaseView", "create_view"]

PHASE_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
ROLE = {"baseline": STUDY_COLORS["a"], "3pt": STUDY_COLORS["b"]}

INTRO = """
### The Three-Phase Transformer: rotation drift

3PT cuts the residual stream (d_model) into **N contiguous phase stripes**. Between attention and
the FFN of every block it *replaces* the hidden state by a rotated copy: inside phase *i* each
(even, odd) channel pair turns by **θ_k + 2πi/N**, where θ is learned per block (shared by the
phases) and starts at (l+1)·π/(2L). Norms are per phase, and the embedding's mean is pinned to
the **horn** 1/(p+1). The paper reports a U-shaped profile of how far θ drifts from its start
across depth at 12 layers. Here you can watch each piece.
"""


def _layout(title: str, x: str, y: str, **extra: Any) -> dict:
    lay = {"title": {"text": title, "font": {"size": 14}}, "xaxis": {"title": {"text": x}}, "yaxis": {"title": {"text": y}},
           "margin": {"l": 60, "r": 20, "t": 40, "b": 50}, "height": 330, "legend": {"orientation": "h", "y": -0.25},
           "uirevision": "keep", "template": "plotly_white"}
    lay.update(extra)
    return lay


class ThreePhaseView(pn.viewable.Viewer):
    """One session's 3PT page; every control below is generated from these parameters."""

    theta = param.Number(default=0.6, bounds=(0.0, 2 * math.pi), step=0.05, label="θ (rad)",
                         doc="Learned angle θ_k of one channel pair; phase i adds the fixed offset 2πi/N.")
    n_phases = param.Selector(default=3, objects=[1, 2, 3, 4, 6, 8], label="N (phases)",
                              doc="Number of phase stripes; their offsets are 2π/N apart.")
    steps = param.Integer(default=150, bounds=(2, 3000), label="Training steps",
                          doc="Optimizer steps of the live side-by-side run (batch 8 × 64 tokens).")
    n_layers = param.Integer(default=4, bounds=(1, 12), label="Blocks (L)", doc="Depth of both live models.")
    lr = param.Number(default=3e-3, bounds=(1e-4, 1e-2), step=1e-4, label="Peak learning rate",
                      doc="AdamW peak learning rate (warmup 10%, cosine to 10%).")
    eval_every = param.Integer(default=10, bounds=(1, 500), label="Evaluate every",
                               doc="Steps between validation evaluations (and drift snapshots).")
    run_id = param.Selector(default=None, objects=[], label="Saved run", doc="A finished run to inspect.")
    frame = param.Integer(default=0, bounds=(0, 0), label="Evaluation #",
                          doc="Which evaluation of the selected run the drift, angle and horn figures show.")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.errors = ErrorBox()
        self.job = BackgroundJob(name="training")
        self._live: dict[str, dict[str, list]] = {}
        self._live_rows: dict[str, list[dict]] = {}
        self._runs = list_study_runs()
        self._run: dict | None = None
        self.phasor_pane = plotly_pane(self._phasor_fig(), height=380)
        self.loss_pane = plotly_pane(self._empty("Live training loss", "step", "loss (nats/token)",
                                                 "press 'Train baseline and 3PT side by side' to start"))
        self.live_drift_pane = plotly_pane(self._empty("Live 3PT drift by block", "block", "L2 drift |θ - θ_init|",
                                                       "the 3PT model's drift profile appears here while it trains"))
        self.curve_pane = plotly_pane(self._empty("Validation perplexity", "step", "perplexity", "pick a saved run"))
        self.drift_pane = plotly_pane(self._empty("Drift depth profile", "block", "L2 drift"))
        self.angle_pane = plotly_pane(self._empty("Angles per block", "block", "θ (rad)"))
        self.horn_pane = plotly_pane(self._empty("Horn witness", "position p", "mean over d_model"))
        self.runs_table = pn.widgets.Tabulator(self._runs_frame(), disabled=True, height=260, sizing_mode="stretch_width",
                                               show_index=False)
        self.train_button = pn.widgets.Button(label="Train baseline and 3PT side by side", button_type="primary", width=300)
        self.train_button.on_click(lambda _e: self.start_training())
        self._refresh_run_choices()

    # ------------------------------------------------------------------ phasor
    def _phasor_fig(self) -> dict:
        pts = phasor(self.theta, int(self.n_phases))  # (N, 2)
        circle = np.linspace(0, 2 * math.pi, 121)
        traces = [{"type": "scatter", "x": as_list(np.cos(circle)), "y": as_list(np.sin(circle)), "mode": "lines",
                   "line": {"color": "#cccccc"}, "name": "unit circle", "hoverinfo": "skip", "showlegend": False},
                  {"type": "scatter", "x": [0, 1], "y": [0, 0], "mode": "lines", "line": {"color": "#999", "dash": "dot"},
                   "name": "input pair (1, 0)"}]
        for i, (x, y) in enumerate(pts):
            deg = math.degrees(math.atan2(y, x)) % 360
            traces.append({"type": "scatter", "x": [0.0, float(x)], "y": [0.0, float(y)], "mode": "lines+markers",
                           "line": {"color": PHASE_COLORS[i % len(PHASE_COLORS)], "width": 3},
                           "marker": {"size": [0, 11]}, "name": f"phase {i}: θ + 2π·{i}/{self.n_phases} = {deg:.0f}°"})
        lay = _layout(f"One channel pair in each of the N = {self.n_phases} phases", "even channel", "odd channel",
                      xaxis={"range": [-1.25, 1.25], "zeroline": False, "title": {"text": "even channel"}},
                      yaxis={"range": [-1.25, 1.25], "scaleanchor": "x", "zeroline": False, "title": {"text": "odd channel"}},
                      height=380, legend={"orientation": "v", "x": 1.02, "y": 1})
        return {"data": traces, "layout": lay}

    @param.depends("theta", "n_phases", watch=True)
    def _update_phasor(self) -> None:
        @guarded(self.errors)
        def go():
            self.phasor_pane.object = self._phasor_fig()

        go()

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _empty(title: str, x: str, y: str, note: str = "") -> dict:
        lay = _layout(title, x, y)
        if note:
            lay["annotations"] = [{"text": note, "showarrow": False, "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5}]
        return {"data": [], "layout": lay}

    def _runs_frame(self):
        cols = ["variant", "n_layers", "n_phases", "state", "step", "source", "id"]
        return self._runs[cols] if len(self._runs) else self._runs.reindex(columns=cols)

    def _refresh_run_choices(self, select: str | None = None) -> None:
        self._runs = list_study_runs()
        labels = {f"{r.variant} · L{r.n_layers} · {r.source} · {r.id[-28:]}": r.path for r in self._runs.itertuples()}
        self.param.run_id.objects = labels  # label -> run path
        self.runs_table.value = self._runs_frame()
        if select is not None:
            self.run_id = select
        elif self.run_id not in labels.values() and labels:
            # prefer the deepest 3PT run: that is where the drift profile has a shape to show
            three = self._runs[self._runs["n_phases"] > 0].sort_values("n_layers", ascending=False)
            self.run_id = (three if len(three) else self._runs)["path"].iloc[0]

    # ------------------------------------------------------------------ saved runs
    @param.depends("run_id", watch=True, on_init=False)
    def _load_run(self) -> None:
        @guarded(self.errors)
        def go():
            if not self.run_id:
                return
            run = load_run(self.run_id)
            if run["history"].empty:
                raise ValueError(f"run_id: the run {run['id']!r} has no logged evaluations yet")
            self._run = run
            n = len(run["history"])
            self.param.frame.bounds = (0, n - 1)
            if self.frame != n - 1:
                self.frame = n - 1
            else:
                self._update_frame()
            self.curve_pane.object = self._curve_fig(run)

        go()

    def _curve_fig(self, run: dict) -> dict:
        h = run["history"]
        name = run["config"].get("variant", "run")
        color = ROLE["3pt"] if run["config"]["model"].get("three_phase") else ROLE["baseline"]
        traces = [{"type": "scatter", "x": as_list(h["step"]), "y": as_list(h["val_loss"]), "mode": "lines+markers",
                   "name": f"{name}: validation", "line": {"color": color}},
                  {"type": "scatter", "x": as_list(h["step"]), "y": as_list(h["train_loss"].astype(float)),
                   "mode": "lines", "name": f"{name}: train (mean since last eval)", "line": {"color": color, "dash": "dot"}}]
        final = h.iloc[-1]
        return {"data": traces, "layout": _layout(f"Loss — final validation perplexity {final['val_ppl']:.1f}, "
                                                   f"{final['val_bpb']:.3f} bits/byte", "step", "loss (nats/token)")}

    @param.depends("frame", watch=True)
    def _update_frame(self) -> None:
        @guarded(self.errors)
        def go():
            if self._run is None:
                return
            h = self._run["history"]
            k = min(max(0, self.frame), len(h) - 1)
            self.drift_pane.object = self._drift_fig(h, k)
            self.angle_pane.object = self._angle_fig(h, k)
            self.horn_pane.object = self._horn_fig(h, k)

        go()

    def _drift_fig(self, h, k: int, title: str | None = None) -> dict:
        steps, prof = drift_profile(h)
        if prof.size == 0:
            return self._empty("Drift depth profile", "block", "L2 drift", "baseline: no rotation, no drift")
        k = min(k, len(steps) - 1)
        blocks = list(range(prof.shape[1]))
        traces = [{"type": "scatter", "x": blocks, "y": as_list(prof[-1]), "mode": "lines", "name": f"final (step {steps[-1]})",
                   "line": {"color": "#bbbbbb", "dash": "dash"}},
                  {"type": "scatter", "x": blocks, "y": as_list(prof[k]), "mode": "lines+markers", "name": f"step {steps[k]}",
                   "line": {"color": ROLE["3pt"], "width": 3}}]
        ymax = float(prof.max()) * 1.1 + 1e-9
        return {"data": traces, "layout": _layout(title or f"Drift depth profile at step {steps[k]} (U shape = minimum inside)",
                                                   "block (0 = first)", "L2 drift ‖θ − θ_init‖",
                                                   yaxis={"range": [0, ymax], "title": {"text": "L2 drift ‖θ − θ_init‖"}},
                                                   xaxis={"dtick": 1, "title": {"text": "block (0 = first)"}})}

    def _angle_fig(self, h, k: int) -> dict:
        if "theta" not in h.columns or not isinstance(h["theta"].iloc[k], list) or not h["theta"].iloc[k]:
            return self._empty("Angles per block", "block", "θ (rad)", "no angles logged for this run")
        th = np.asarray(h["theta"].iloc[k], dtype=float)  # (L, d_phase/2)
        L = th.shape[0]
        traces = [{"type": "box", "y": as_list(th[l]), "name": str(l), "marker": {"color": ROLE["3pt"]}, "boxpoints": "all",
                   "jitter": 0.4, "pointpos": 0, "showlegend": False} for l in range(L)]
        init = [float(theta_init(l, L, 1)[0]) for l in range(L)]
        traces.append({"type": "scatter", "x": [str(l) for l in range(L)], "y": init, "mode": "markers",
                       "marker": {"symbol": "line-ew-open", "size": 24, "color": "#333"}, "name": "init (l+1)π/(2L)"})
        return {"data": traces, "layout": _layout(f"Angle distribution per block at step {int(h['step'].iloc[k])}", "block", "θ (rad)",
                                                   showlegend=True)}

    def _horn_fig(self, h, k: int) -> dict:
        if "horn_mean" not in h.columns:
            return self._empty("Horn witness", "position p", "mean", "not logged for this run")
        mean = np.asarray(h["horn_mean"].iloc[k], dtype=float)
        per = np.asarray(h["horn_phase_means"].iloc[k], dtype=float)  # (N, T)
        p = np.arange(mean.size)
        traces = [{"type": "scatter", "x": as_list(p), "y": as_list(horn_values(mean.size)), "mode": "lines", "name": "horn 1/(p+1)",
                   "line": {"color": "#333", "dash": "dash"}},
                  {"type": "scatter", "x": as_list(p), "y": as_list(mean), "mode": "markers", "name": "mean over d_model",
                   "marker": {"size": 9, "color": "#000"}}]
        if per.ndim == 2 and per.shape[0] > 1:
            for i, row in enumerate(per):
                traces.append({"type": "scatter", "x": as_list(p), "y": as_list(row), "mode": "lines",
                               "name": f"phase {i} mean", "line": {"color": PHASE_COLORS[i % len(PHASE_COLORS)], "width": 1}})
        return {"data": traces, "layout": _layout("Horn witness: embedding mean by position (validation tokens)",
                                                   "position p", "mean of embedding output")}

    # ------------------------------------------------------------------ live training
    def live_configs(self) -> dict[str, ModelConfig]:
        from lab.threephase_data import shipped_token_data

        vocab = shipped_token_data().vocab_size
        base = dict(vocab_size=vocab, d_model=96, n_layers=self.n_layers, n_heads=6, n_kv_heads=3, d_ff=256, max_seq_len=64,
                    n_phases=3)
        return {"baseline": ModelConfig(**base, three_phase=False), "3pt": ModelConfig(**base, three_phase=True)}

    def start_training(self) -> bool:
        """Start the side-by-side run in the background (False if one is running or inputs are bad)."""

        @guarded(self.errors)
        def go():
            from lab.threephase_data import shipped_token_data

            data = shipped_token_data()
            configs = self.live_configs()
            tcfg = TrainConfig(steps=self.steps, batch_size=8, lr=self.lr, warmup=max(1, self.steps // 10),
                               eval_every=self.eval_every, eval_windows=16).validate()
            self._live, self._live_rows = {}, {}

            def work(progress, should_stop):
                return train_side_by_side(configs, tcfg, data, progress=progress, should_stop=should_stop)

            return self.job.start(work, on_partial=self._on_partial, on_done=self._on_done)

        return bool(go())

    def _on_partial(self, partial: dict) -> None:
        # each partial carries the whole curves so far (lab.threephase_experiments.train_side_by_side)
        if "curves" in partial:
            self._live = partial["curves"]
        if "history" in partial:
            self._live_rows = partial["history"]
        self.refresh_live()

    def refresh_live(self) -> None:
        traces = []
        for name, d in self._live.items():
            color = ROLE.get(name, "#555")
            traces.append({"type": "scatter", "x": list(d["step"]), "y": list(d["loss"]), "mode": "lines",
                           "name": f"{name}: train", "line": {"color": color, "width": 1}, "opacity": 0.6})
            rows = self._live_rows.get(name, [])
            traces.append({"type": "scatter", "x": [r["step"] for r in rows], "y": [r["val_loss"] for r in rows],
                           "mode": "lines+markers", "name": f"{name}: validation", "line": {"color": color, "width": 3}})
        self.loss_pane.object = {"data": traces, "layout": _layout("Live training: RoPE-only baseline vs 3PT (same batches)",
                                                                   "step", "loss (nats/token)")}
        rows = self._live_rows.get("3pt", [])
        if rows:
            import pandas as pd

            h = pd.DataFrame(rows)
            self.live_drift_pane.object = self._drift_fig(h, len(h) - 1, title=f"Live 3PT drift by block at step {rows[-1]['step']}")

    def _on_done(self, results: dict) -> None:
        if results:
            self._live_rows = {n: r.history.to_dict("records") for n, r in results.items()}
        self.refresh_live()
        path = results["3pt"].run_path if results and "3pt" in results else None
        self._refresh_run_choices(select=path)

    # ------------------------------------------------------------------ layout
    def __panel__(self):
        w = pn.widgets
        phasor_controls = pn.Column(
            w.FloatSlider.from_param(self.param.theta, width=280),
            w.RadioButtonGroup.from_param(self.param.n_phases, button_type="default"),
            pn.pane.Markdown("Each coloured arrow is the same (even, odd) pair inside one phase stripe after the "
                             "rotation. Moving θ turns all of them together; the offsets 2π/N keep them evenly spread.",
                             width=280),
            width=300,
        )
        train_controls = pn.Column(
            w.IntSlider.from_param(self.param.steps, width=280),
            w.IntSlider.from_param(self.param.n_layers, width=280),
            w.FloatSlider.from_param(self.param.lr, width=280, format="0.0000"),
            w.IntSlider.from_param(self.param.eval_every, width=280),
            self.train_button,
            width=300,
        )
        run_controls = pn.Row(
            w.Select.from_param(self.param.run_id, width=480),
            w.Player.from_param(self.param.frame, interval=400, loop_policy="once", width=380, show_value=True),
        )
        return pn.Column(
            pn.pane.Markdown(INTRO, sizing_mode="stretch_width"),
            self.errors,
            pn.pane.Markdown("## 1 · The phase rotation"),
            pn.Row(phasor_controls, self.phasor_pane, sizing_mode="stretch_width"),
            pn.pane.Markdown("## 2 · Train a RoPE-only baseline and 3PT side by side\n"
                             "Both models see the same batches of the shipped corpus (Python standard-library "
                             "docstrings, 4,096-word vocabulary). Thin lines: per-step training loss; thick: validation."),
            pn.Row(train_controls, pn.Column(self.job, self.loss_pane, sizing_mode="stretch_width"), sizing_mode="stretch_width"),
            self.live_drift_pane,
            pn.pane.Markdown("## 3 · Saved runs: drift over depth and training time\n"
                             "Pick a run; press play to animate the evaluations. The drift profile is the paper's "
                             "per-block ‖θ − θ_init‖₂; the box plots show every learned angle of each block against its "
                             "initial value; the horn witness shows that the embedding mean sits on 1/(p+1)."),
            run_controls,
            pn.Row(self.curve_pane, self.drift_pane, sizing_mode="stretch_width"),
            pn.Row(self.angle_pane, self.horn_pane, sizing_mode="stretch_width"),
            self.runs_table,
            sizing_mode="stretch_width",
        )

def create_view():
    """A fresh page for one browser session."""
    return ThreePhaseView()
