"""Plotly figure dicts for the /odis page (pure layout: every number comes from lab.odis)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from widgets.figures import ROLE_COLORS, SERIES_COLORS, as_list, layout, series_color

__all__ = ["heatmap", "variance_bars", "doc_map", "baseline_bars", "downstream_bars", "overlap_sweep_figure",
           "COMPONENT_COLORS"]

COMPONENT_COLORS = SERIES_COLORS  # PC1, PC2, ... in the shared series order
MULTI_COLOR = "#000000"  # a document picked by two or more components
UNSELECTED = ROLE_COLORS["unselected"]
ODIS_COLOR = ROLE_COLORS["method"]  # the ODiS bar in method comparisons
BASELINE_COLOR = ROLE_COLORS["baseline"]  # every baseline bar


def heatmap(z, labels_x: Sequence[str], labels_y: Sequence[str] | None = None, *, title: str,
            zmin: float = -1.0, zmax: float = 1.0, colorscale: str = "RdBu", text=None, fmt: str = "{:.2f}",
            colorbar: str = "", height: int = 380, show_text: bool = True) -> dict:
    """A labelled heatmap; cell text shows the value (or ``text`` when given)."""
    z = np.asarray(z, dtype=np.float64)
    cells = text if text is not None else [[fmt.format(0.0 if abs(v) < 5e-3 else v) for v in row] for row in z]
    ys = list(labels_y) if labels_y is not None else list(labels_x)
    trace = {"type": "heatmap", "z": as_list(z), "x": list(labels_x), "y": ys, "zmin": zmin, "zmax": zmax,
             "colorscale": colorscale, "reversescale": colorscale == "RdBu", "text": cells,
             "texttemplate": "%{text}" if show_text else "", "hovertemplate": "%{y} × %{x}: %{z:.3f}<extra></extra>",
             "colorbar": {"title": {"text": colorbar}}}
    longest = max((len(str(v)) for v in labels_x), default=4)
    return {"data": [trace], "layout": layout(title, height=height + 5 * longest, yaxis={"autorange": "reversed"},
                                               xaxis={"tickangle": -35},
                                               margin={"l": 40 + 7 * longest, "r": 20, "t": 45, "b": 30 + 6 * longest})}


def variance_bars(spectrum, n_kept: int) -> dict:
    s = np.asarray(spectrum, dtype=np.float64)
    names = [f"PC{i + 1}" for i in range(len(s))]
    colors = [series_color(i) if i < n_kept else UNSELECTED for i in range(len(s))]
    bars = {"type": "bar", "x": names, "y": as_list(s), "marker": {"color": colors}, "name": "share of variance",
            "hovertemplate": "%{x}: %{y:.1%} of the variance<extra></extra>"}
    cum = {"type": "scatter", "mode": "lines+markers", "x": names, "y": as_list(np.cumsum(s)), "name": "cumulative",
           "line": {"color": "#555"}}
    return {"data": [bars, cum], "layout": layout("Explained variance (kept components coloured)",
                                                   "component", "share of variance", yaxis={"range": [0, 1.05],
                                                   "tickformat": ".0%", "title": {"text": "share of variance"}},
                                                   legend={"orientation": "h", "y": -0.25})}


def doc_map(xy, labels, hover: Sequence[str], n_components: int, *, title: str) -> dict:
    """Scatter of documents, one WebGL trace per group: unselected, PC1..PCk, several."""
    xy = np.asarray(xy, dtype=np.float64)
    labels = np.asarray(labels)
    hover = np.asarray(hover, dtype=object)
    groups = [(-1, "not selected", UNSELECTED, 4)] + [
        (c, f"PC{c + 1}", series_color(c), 7) for c in range(n_components)
    ] + [(-2, "selected by 2+ PCs", MULTI_COLOR, 9)]
    data = []
    for code, name, color, size in groups:
        m = labels == code
        data.append({"type": "scattergl", "mode": "markers", "name": f"{name} ({int(m.sum())})",
                     "x": as_list(xy[m, 0]), "y": as_list(xy[m, 1]), "text": hover[m].tolist(),
                     "hovertemplate": "%{text}<extra>" + name + "</extra>",
                     "marker": {"color": color, "size": size, "opacity": 0.45 if code == -1 else 0.9}})
    return {"data": data, "layout": layout(title, "map axis 1", "map axis 2", height=520,
                                            legend={"orientation": "v", "x": 1.02, "y": 1})}


def baseline_bars(table, pcs: Sequence[str]) -> dict:
    """Mean component score of each method's selection (one bar group per method)."""
    data = []
    for i, col in enumerate(pcs):
        data.append({"type": "bar", "name": col.replace("mean ", ""), "x": table["method"].tolist(),
                     "y": as_list(table[col].to_numpy()),
                     "marker": {"color": series_color(i)}})
    return {"data": data, "layout": layout("How much of each orthogonal direction each selection covers",
                                            "", "mean component score (z units)", height=430, barmode="group",
                                            xaxis={"tickangle": -20}, legend={"orientation": "h", "y": -0.3},
                                            margin={"l": 70, "r": 20, "t": 45, "b": 110})}


def downstream_bars(summary) -> dict:
    """Validation perplexity (mean ± std over seeds) per selection method."""
    data = [{"type": "bar", "x": summary["method"].tolist(), "y": as_list(summary["val_ppl_mean"].to_numpy()),
             "error_y": {"type": "data", "array": as_list(summary["val_ppl_std"].to_numpy()), "visible": True},
             "marker": {"color": [ODIS_COLOR if str(m).startswith("odis") else BASELINE_COLOR
                                  for m in summary["method"]]},
             "hovertemplate": "%{x}: %{y:.1f}<extra></extra>"}]
    lo = float(np.min(summary["val_ppl_mean"] - summary["val_ppl_std"])) if len(summary) else 0.0
    hi = float(np.max(summary["val_ppl_mean"] + summary["val_ppl_std"])) if len(summary) else 1.0
    return {"data": data, "layout": layout("Downstream: held-out perplexity of the same model (lower is better)",
                                            "training selection", "validation perplexity", height=360,
                                            yaxis={"range": [max(0.0, lo - 0.1 * (hi - lo)), hi + 0.1 * (hi - lo)],
                                                   "title": {"text": "validation perplexity"}})}


def overlap_sweep_figure(summary: Sequence[dict]) -> dict:
    """Largest overlap against its independence null by budget fraction, one colour per corpus size."""
    sizes = sorted({int(r["n_docs"]) for r in summary}, reverse=True)
    traces = []
    for i, n in enumerate(sizes):
        rows = sorted((r for r in summary if int(r["n_docs"]) == n), key=lambda r: r["budget_fraction"])
        x = [r["budget_fraction"] for r in rows]
        color = series_color(i)
        traces.append({"type": "scatter", "mode": "lines+markers", "x": x, "y": [r["overlap_max"] for r in rows],
                       "name": f"{n:,} docs: largest overlap", "line": {"color": color},
                       "hovertemplate": "budget %{x:.0%}: %{y:.1%}<extra></extra>"})
        traces.append({"type": "scatter", "mode": "lines", "x": x, "y": [r["null_analytic"] for r in rows],
                       "name": f"{n:,} docs: independence null", "line": {"color": color, "dash": "dot"},
                       "hovertemplate": "null at %{x:.0%}: %{y:.1%}<extra></extra>"})
    xs = sorted({r["budget_fraction"] for r in summary})
    if xs:
        traces.append({"type": "scatter", "mode": "lines", "x": [xs[0], xs[-1]], "y": [0.02, 0.02],
                       "name": "2 % (the paper's bound)", "line": {"color": ROLE_COLORS["muted"], "dash": "dash"}})
    return {"data": traces,
            "layout": layout("Where 'under 2 %' holds: largest overlap and its null, by budget and corpus size",
                             height=380, xaxis={"title": {"text": "budget (share of the corpus)"}, "type": "log",
                                                "tickformat": ".0%", "tickvals": xs},
                             yaxis={"title": {"text": "overlap"}, "tickformat": ".0%", "rangemode": "tozero"})}
