"""Plotly figure dicts for the /threephase page: pure functions of lab.threephase results."""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from widgets.figures import ROLE_COLORS, as_list, empty_figure, layout, series_color

__all__ = ["VARIANT_COLORS", "phasor_figure", "loss_figure", "live_loss_figure", "drift_figure", "angle_figure",
           "horn_figure", "drift_heatmap", "angle_change_figure"]

# The RoPE-only baseline and 3PT keep their colours on every figure of the page.
VARIANT_COLORS = {"baseline": ROLE_COLORS["a"], "3pt": ROLE_COLORS["b"]}


def phasor_figure(tips: np.ndarray, n_phases: int) -> dict:
    """One (even, odd) channel pair in each phase after the rotation: ``tips`` (N, 2) from lab's phasor."""
    circle = np.linspace(0, 2 * math.pi, 121)
    traces = [{"type": "scatter", "x": as_list(np.cos(circle)), "y": as_list(np.sin(circle)), "mode": "lines",
               "line": {"color": "#cccccc"}, "name": "unit circle", "hoverinfo": "skip", "showlegend": False},
              {"type": "scatter", "x": [0, 1], "y": [0, 0], "mode": "lines",
               "line": {"color": "#999", "dash": "dot"}, "name": "input pair (1, 0)"}]
    for i, (x, y) in enumerate(np.asarray(tips, dtype=float)):
        deg = math.degrees(math.atan2(y, x)) % 360
        traces.append({"type": "scatter", "x": [0.0, float(x)], "y": [0.0, float(y)], "mode": "lines+markers",
                       "line": {"color": series_color(i), "width": 3}, "marker": {"size": [0, 11]},
                       "name": f"phase {i}: θ + 2π·{i}/{n_phases} = {deg:.0f}°"})
    lay = layout(f"One channel pair in each of the N = {n_phases} phases", height=380,
                 xaxis={"range": [-1.25, 1.25], "zeroline": False, "title": {"text": "even channel"}},
                 yaxis={"range": [-1.25, 1.25], "scaleanchor": "x", "zeroline": False,
                        "title": {"text": "odd channel"}},
                 legend={"orientation": "v", "x": 1.02, "y": 1})
    return {"data": traces, "layout": lay}


def loss_figure(history: pd.DataFrame, name: str, three_phase: bool) -> dict:
    """A saved run's validation loss at each evaluation and its mean training loss in between."""
    color = VARIANT_COLORS["3pt" if three_phase else "baseline"]
    traces = [{"type": "scatter", "x": as_list(history["step"]), "y": as_list(history["val_loss"]),
               "mode": "lines+markers", "name": f"{name}: validation", "line": {"color": color}},
              {"type": "scatter", "x": as_list(history["step"]), "y": as_list(history["train_loss"].astype(float)),
               "mode": "lines", "name": f"{name}: train (mean since last eval)",
               "line": {"color": color, "dash": "dot"}}]
    final = history.iloc[-1]
    return {"data": traces, "layout": layout(f"Loss — final validation perplexity {final['val_ppl']:.1f}, "
                                             f"{final['val_bpb']:.3f} bits/byte", "step", "loss (nats/token)")}


def live_loss_figure(losses: Mapping[str, Mapping[str, Sequence]], evals: Mapping[str, Sequence[dict]]) -> dict:
    """The live side-by-side run: per-step training loss (thin) and validation loss (thick) per model."""
    if not losses and not evals:
        return empty_figure("Live training loss", "press 'Train baseline and 3PT side by side' to start")
    traces = []
    for name in dict.fromkeys([*losses, *evals]):
        color = VARIANT_COLORS.get(name, ROLE_COLORS["muted"])
        curve = losses.get(name, {"step": [], "loss": []})
        rows = evals.get(name, [])
        traces.append({"type": "scatter", "x": list(curve["step"]), "y": list(curve["loss"]), "mode": "lines",
                       "name": f"{name}: train", "line": {"color": color, "width": 1}, "opacity": 0.6})
        traces.append({"type": "scatter", "x": [r["step"] for r in rows], "y": [r["val_loss"] for r in rows],
                       "mode": "lines+markers", "name": f"{name}: validation", "line": {"color": color, "width": 3}})
    return {"data": traces, "layout": layout("Live training: RoPE-only baseline vs 3PT (same batches)", "step",
                                             "loss (nats/token)")}


def drift_figure(steps: np.ndarray, profile: np.ndarray, k: int, *, title: str | None = None) -> dict:
    """The per-block drift ‖θ − θ_init‖ at evaluation ``k`` (thick) against the final one (dashed).

    ``steps`` (n_evals,) and ``profile`` (n_evals, n_layers) come from lab's drift_profile.
    """
    if profile.size == 0:
        return empty_figure("Drift depth profile", "baseline: no rotation, no drift")
    k = min(max(0, k), len(steps) - 1)
    blocks = list(range(profile.shape[1]))
    traces = [{"type": "scatter", "x": blocks, "y": as_list(profile[-1]), "mode": "lines",
               "name": f"final (step {int(steps[-1])})", "line": {"color": "#bbbbbb", "dash": "dash"}},
              {"type": "scatter", "x": blocks, "y": as_list(profile[k]), "mode": "lines+markers",
               "name": f"step {int(steps[k])}", "line": {"color": VARIANT_COLORS["3pt"], "width": 3}}]
    ymax = float(profile.max()) * 1.1 + 1e-9
    y_title = "L2 drift ‖θ − θ_init‖"
    return {"data": traces, "layout": layout(
        title or f"Drift depth profile at step {int(steps[k])} (U shape = minimum inside)", "block (0 = first)",
        y_title, yaxis={"range": [0, ymax], "title": {"text": y_title}},
        xaxis={"dtick": 1, "title": {"text": "block (0 = first)"}})}


def angle_figure(thetas: np.ndarray | None, step: int, init: Sequence[float]) -> dict:
    """Every learned angle of each block, (n_layers, n_angles), as its change from the block's initial value.

    The change, not the angle: the initial angles span (l+1)π/(2L) up to π/2, and drifts of a
    few hundredths of a radian would vanish on that scale.
    """
    if thetas is None or np.asarray(thetas).size == 0:
        return empty_figure("Angles per block", "no angles logged for this run")
    thetas = np.asarray(thetas, dtype=float)
    change = thetas - np.asarray(init, dtype=float)[:, None]
    n_layers = thetas.shape[0]
    traces = [{"type": "box", "y": as_list(change[b]), "name": str(b), "marker": {"color": VARIANT_COLORS["3pt"]},
               "boxpoints": "all", "jitter": 0.4, "pointpos": 0, "showlegend": False,
               "customdata": as_list(thetas[b]), "hovertemplate": "θ %{customdata:.4f} rad, change %{y:.4f}"}
              for b in range(n_layers)]
    traces.append({"type": "scatter", "x": [str(b) for b in range(n_layers)], "y": [0.0] * n_layers,
                   "mode": "lines", "line": {"color": "#333", "dash": "dot", "width": 1},
                   "name": "no change (θ = (l+1)π/(2L))"})
    return {"data": traces, "layout": layout(f"Each angle's change from its start, per block, at step {step}",
                                             "block", "θ − θ_init (rad)", showlegend=True)}


def horn_figure(mean: np.ndarray | None, per_phase: np.ndarray | None, horn: np.ndarray | None) -> dict:
    """The embedding mean by position (over d_model and per phase stripe) against the horn 1/(p+1)."""
    if mean is None:
        return empty_figure("Horn witness", "not logged for this run")
    mean = np.asarray(mean, dtype=float)
    p = np.arange(mean.size)
    traces = [{"type": "scatter", "x": as_list(p), "y": as_list(horn), "mode": "lines", "name": "horn 1/(p+1)",
               "line": {"color": "#333", "dash": "dash"}},
              {"type": "scatter", "x": as_list(p), "y": as_list(mean), "mode": "markers", "name": "mean over d_model",
               "marker": {"size": 9, "color": "#000"}}]
    per = np.asarray(per_phase, dtype=float) if per_phase is not None else np.zeros((0, 0))
    if per.ndim == 2 and per.shape[0] > 1:
        for i, row in enumerate(per):
            traces.append({"type": "scatter", "x": as_list(p), "y": as_list(row), "mode": "lines",
                           "name": f"phase {i} mean", "line": {"color": series_color(i), "width": 1}})
    return {"data": traces, "layout": layout("Horn witness: embedding mean by position (validation tokens)",
                                             "position p", "mean of embedding output")}


def drift_heatmap(steps: np.ndarray, profile: np.ndarray, *, title: str = "Drift over depth and training time") -> dict:
    """‖θ − θ_init‖ of every block (rows) at every evaluation (columns): the whole run at a glance."""
    if profile.size == 0:
        return empty_figure(title, "baseline: no rotation, no drift")
    blocks = list(range(profile.shape[1]))
    trace = {"type": "heatmap", "x": [int(s) for s in steps], "y": blocks, "z": as_list(np.asarray(profile).T),
             "colorscale": "Viridis", "colorbar": {"title": {"text": "L2 drift"}},
             "hovertemplate": "step %{x}<br>block %{y}<br>drift %{z:.4f}<extra></extra>"}
    return {"data": [trace], "layout": layout(title, "step", "block (0 = first)",
                                              yaxis={"dtick": 1, "title": {"text": "block (0 = first)"}})}


def angle_change_figure(fit: Mapping | None, *, title: str = "Mean-angle change against the initial angle") -> dict:
    """Each block's mean-angle change against θ_init, and the line a − b·θ_init through them.

    ``fit`` is lab's angle_change_fit; with decay on θ the points fall on a line of negative slope.
    """
    if fit is None:
        return empty_figure(title, "no angles logged for this run")
    x = np.asarray(fit["theta_init"], dtype=float)
    line_x = np.linspace(float(x.min()), float(x.max()), 2)
    traces = [{"type": "scatter", "x": as_list(x), "y": as_list(fit["change"]), "mode": "markers+text",
               "text": [str(b) for b in range(len(x))], "textposition": "top center", "name": "blocks",
               "marker": {"color": VARIANT_COLORS["3pt"], "size": 9}},
              {"type": "scatter", "x": as_list(line_x), "y": as_list(fit["a"] - fit["b"] * line_x), "mode": "lines",
               "name": f"{fit['a']:+.3g} − {fit['b']:.3g}·θ_init (R² {fit['r2']:.2f})",
               "line": {"color": "#333", "dash": "dash"}},
              {"type": "scatter", "x": as_list(line_x), "y": [0.0, 0.0], "mode": "lines", "showlegend": False,
               "line": {"color": "#bbbbbb", "width": 1}, "hoverinfo": "skip"}]
    return {"data": traces, "layout": layout(f"{title} (step {fit['step']})", "θ_init (rad)",
                                             "mean θ − θ_init (rad)", showlegend=True)}
