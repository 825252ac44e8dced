"""Plotly figure dicts for the /householder page: pure functions of lab.householder results."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from widgets.figures import as_list, empty_figure, image_figure, layout

__all__ = ["FACTOR_LABELS", "sample_figure", "grid_figure", "sensitivity_figure", "loss_figure", "samples_figure",
           "results_table"]

FACTOR_LABELS = ["shape", "scale", "rotation", "x position", "y position", "hue"]


def sample_figure(img: np.ndarray, offsets: Sequence[float]) -> dict:
    """The decoded sample (H, W, 3) uint8, titled with the offsets along each direction."""
    moved = ", ".join(f"{o:+.1f}·n{i + 1}" for i, o in enumerate(offsets) if o != 0) or "no offset"
    return image_figure(img, f"Sample z + ({moved})", height=380)


def grid_figure(mosaic: np.ndarray, *, rows: int, cols: int, tile: tuple[int, int], span: float,
                row_labels: Sequence[str], where: str, method: str, gap: int = 2) -> dict:
    """The traversal mosaic: row i decodes a move along direction i from -span to +span."""
    h, w = tile
    t = np.linspace(-span, span, cols)
    fig = image_figure(mosaic, f"Traversal grid: row i decodes {where} ({method})", height=100 + 70 * rows)
    fig["layout"]["yaxis"] = {"visible": True, "tickmode": "array", "showgrid": False,
                              "tickvals": [i * (h + gap) + h / 2 for i in range(rows)], "ticktext": list(row_labels)}
    fig["layout"]["xaxis"] = {"visible": True, "tickmode": "array", "showgrid": False, "side": "top",
                              "tickvals": [j * (w + gap) + w / 2 for j in range(cols)],
                              "ticktext": [f"t = {v:+.1f}" for v in t]}
    fig["layout"]["margin"] = {"l": 170, "r": 10, "t": 70, "b": 10}
    return fig


def sensitivity_figure(S: np.ndarray, purity: np.ndarray, *, n_samples: int, span: float) -> dict:
    """Direction x factor sensitivity (k, 6) with each direction's purity in its label."""
    S = np.asarray(S, dtype=float)
    ylabels = [f"n{i + 1} (purity {p:.2f})" for i, p in enumerate(np.asarray(purity, dtype=float))]
    trace = {"type": "heatmap", "z": as_list(S), "x": FACTOR_LABELS, "y": ylabels, "colorscale": "Viridis",
             "zmin": 0, "zmax": max(0.5, float(S.max())), "texttemplate": "%{z:.2f}",
             "colorbar": {"title": {"text": "change"}}, "hovertemplate": "%{y}<br>%{x}: %{z:.3f}<extra></extra>"}
    title = ("Which factor moves along each direction<br><sub>range of the regressor's prediction over "
             f"t ∈ [−{span:g}, {span:g}], mean of {n_samples} samples</sub>")
    return {"data": [trace], "layout": layout(title, "ground-truth factor", height=360,
                                              margin={"l": 120, "r": 10, "t": 60, "b": 40},
                                              yaxis={"autorange": "reversed"})}


def loss_figure(steps: Sequence[int], losses: Sequence[float]) -> dict:
    """The loss of a generator trained on the page, as it streams in."""
    if not steps:
        return empty_figure("Training loss (negative ELBO per image)", "press 'Train a generator' to start",
                            height=260)
    trace = {"type": "scatter", "mode": "lines+markers", "x": list(steps), "y": as_list(np.asarray(losses)),
             "name": "loss"}
    return {"data": [trace], "layout": layout("Training loss (negative ELBO per image)", "step", "loss", height=260)}


def samples_figure(mosaic: np.ndarray | None, step: int | None) -> dict:
    """Samples decoded from fixed prior draws during training (a one-row mosaic)."""
    if mosaic is None:
        return empty_figure("Samples during training", "they appear here while a generator trains", height=200)
    return image_figure(mosaic, f"Samples at step {step}", height=200)


def results_table(summary: Sequence[dict]) -> pd.DataFrame:
    """The shipped comparison as a readable table: mean ± std over seeds per (model, directions)."""
    df = pd.DataFrame(list(summary))
    if df.empty:
        return df
    out = pd.DataFrame({"model": df["model"], "directions": df["method"]})
    for m in ("mig", "sap", "purity", "path_length"):
        if f"{m}_mean" in df:
            out[m] = [f"{a:.3g}±{b:.2g}" for a, b in zip(df[f"{m}_mean"], df[f"{m}_std"].fillna(0.0))]
    return out
