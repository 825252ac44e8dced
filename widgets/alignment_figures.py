"""Plotly figure dicts for the alignment page (pure functions of lab results; no math here)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from widgets.figures import ROLE_COLORS, as_list, empty_figure, layout

__all__ = ["scatter_figure", "metrics_figure", "calibration_figure", "curve_figure", "with_marker", "spectrum_figure",
           "compare_figure", "loss_figure"]

_MAP_COLORS = {"orthogonal": ROLE_COLORS["after"], "linear": ROLE_COLORS["accent"], "ridge": "#d4a017",
               "mlp": "#ff7f0e"}


def _links(a: np.ndarray, b: np.ndarray) -> tuple[list, list]:
    """Line segments a_i -> b_i as one trace: x = [a0, b0, None, a1, b1, None, ...]."""
    xs: list = []
    ys: list = []
    for (ax, ay), (bx, by) in zip(a.tolist(), b.tolist()):
        xs += [ax, bx, None]
        ys += [ay, by, None]
    return xs, ys


def scatter_figure(coords: dict[str, np.ndarray], hover: Sequence[str], *, spaces: Sequence[str], method: str,
                   map_type: str) -> dict[str, Any]:
    """Two panels, before and after: space A (blue / green), space B (red), pairs linked in grey."""
    data = []
    label = "UMAP" if method == "umap" else "PCA of space B"
    for panel, (key, colour, name) in enumerate(
        [("before", ROLE_COLORS["a"], f"{spaces[0]} (raw)"), ("after", ROLE_COLORS["after"], f"{spaces[0]} mapped")]
    ):
        ax = "" if panel == 0 else "2"
        a, b = coords[key], coords[f"target_{key}"]
        lx, ly = _links(a, b)
        data += [
            {"type": "scattergl", "mode": "lines", "x": lx, "y": ly, "xaxis": f"x{ax}", "yaxis": f"y{ax}",
             "line": {"color": "rgba(120,120,120,0.25)", "width": 1}, "hoverinfo": "skip", "showlegend": False,
             "name": "pairs"},
            {"type": "scattergl", "mode": "markers", "x": as_list(b[:, 0]), "y": as_list(b[:, 1]), "xaxis": f"x{ax}",
             "yaxis": f"y{ax}", "name": spaces[1], "legendgroup": "b", "showlegend": panel == 0,
             "marker": {"color": ROLE_COLORS["b"], "size": 6, "opacity": 0.75}, "text": list(hover),
             "hovertemplate": "%{text}<extra>" + spaces[1] + "</extra>"},
            {"type": "scattergl", "mode": "markers", "x": as_list(a[:, 0]), "y": as_list(a[:, 1]), "xaxis": f"x{ax}",
             "yaxis": f"y{ax}", "name": name, "marker": {"color": colour, "size": 6, "opacity": 0.75,
                                                           "symbol": "diamond"},
             "text": list(hover), "hovertemplate": "%{text}<extra>" + name + "</extra>"},
        ]
    lay = layout(
        f"Both spaces in 2-D ({label}), before and after the {map_type} map"
        "<br><sup>grey lines join the two embeddings of the same item</sup>",
        xaxis={"domain": [0, 0.48], "title": {"text": "before alignment" + (
            " (A in its own axes: the widths differ)" if coords.get("before_own_axes") else "")}, "zeroline": False},
        yaxis={"zeroline": False},
        xaxis2={"domain": [0.52, 1], "title": {"text": "after alignment"}, "zeroline": False},
        yaxis2={"anchor": "x2", "zeroline": False,
                "matches": "y" if method == "pca" and not coords.get("before_own_axes") else None},
        height=430,
    )
    return {"data": data, "layout": lay}


def _nan_to_none(values: np.ndarray) -> list:
    return [None if not np.isfinite(v) else float(v) for v in np.asarray(values, dtype=float)]


def metrics_figure(metrics: pd.DataFrame) -> dict[str, Any]:
    """Horizontal bars: every score before (grey) and after (green) the map (undefined scores left out)."""
    labels = [f"{mod}: {m}" for m, mod in zip(metrics["metric"], metrics["modality"])][::-1]
    data = [
        {"type": "bar", "orientation": "h", "y": labels, "x": _nan_to_none(metrics["before"].to_numpy()[::-1]),
         "name": "before", "marker": {"color": "#b0b0b0"}, "texttemplate": "%{x:.2f}", "textposition": "outside",
         "cliponaxis": False},
        {"type": "bar", "orientation": "h", "y": labels, "x": _nan_to_none(metrics["after"].to_numpy()[::-1]),
         "name": "after", "marker": {"color": ROLE_COLORS["after"]}, "texttemplate": "%{x:.2f}",
         "textposition": "outside", "cliponaxis": False},
    ]
    lay = layout("Scores before and after the map<br><sup>on held-back items, never used as anchors</sup>",
                     barmode="group", xaxis={"title": {"text": "score"},
                                             "range": [min(0.0, float(np.nanmin(metrics[["before", "after"]].to_numpy(
                                                 dtype=float), initial=0.0))) - 0.02, 1.12]},
                     yaxis={"automargin": True}, height=430, margin={"l": 20, "r": 40, "t": 60, "b": 50})
    return {"data": data, "layout": lay}


def calibration_figure(table: pd.DataFrame | None, *, note: str = "computing in the background…") -> dict[str, Any]:
    """Each score after the map with its 95 % interval, over its permutation null's 95 % band (grey).

    Without a table it is a placeholder that says ``note``.
    """
    title = ("Is it more than chance?<br><sup>after the map, with its 95 % interval (bootstrap; CKA: half-samples);"
             "<br>grey: the null band, 95 % of scores with B's rows shuffled</sup>")
    if table is None or table.empty:
        return empty_figure(title, note, height=380)
    t = table.iloc[::-1]
    labels = list(t["metric"])
    lo, hi = t["null_lo"].to_numpy(dtype=float), t["null_hi"].to_numpy(dtype=float)
    value = t["value"].to_numpy(dtype=float)
    hover = [f"{m}: {v:.3f} [{a:.3f}, {b:.3f}]; null {nm:.3f} [{c:.3f}, {d:.3f}]; p = {p:.3g}; n = {n}"
             for m, v, a, b, nm, c, d, p, n in zip(t["metric"], value, t["ci_lo"], t["ci_hi"], t["null_mean"], lo, hi,
                                                    t["p_value"], t["n"])]
    data = [
        {"type": "bar", "orientation": "h", "y": labels, "base": _nan_to_none(lo), "x": _nan_to_none(hi - lo),
         "name": "null 95 % band", "marker": {"color": "rgba(150,150,150,0.45)"}, "hoverinfo": "skip", "width": 0.5},
        {"type": "scatter", "mode": "markers", "y": labels, "x": _nan_to_none(value), "name": "after the map",
         "marker": {"color": ROLE_COLORS["after"], "size": 10, "symbol": "diamond"},
         "error_x": {"type": "data", "symmetric": False, "array": _nan_to_none(t["ci_hi"].to_numpy() - value),
                     "arrayminus": _nan_to_none(value - t["ci_lo"].to_numpy()), "visible": True},
         "text": hover, "hovertemplate": "%{text}<extra></extra>"},
    ]
    lay = layout(title, xaxis={"title": {"text": "score"}, "range": [min(-0.05, float(np.nanmin(lo, initial=0)) - 0.02),
                                                                       1.05]},
                 yaxis={"automargin": True}, height=380, showlegend=True, margin={"l": 20, "r": 20, "t": 70, "b": 50})
    return {"data": data, "layout": lay}


def _mean_std(df: pd.DataFrame, by: list[str], col: str) -> pd.DataFrame:
    g = df.groupby(by, sort=True)[col]
    return pd.DataFrame({"mean": g.mean(), "std": g.std(ddof=0).fillna(0.0)}).reset_index()


def curve_figure(curve: pd.DataFrame, current: int, unit: str, modalities: Sequence[str], *,
                 note: str = "computing…") -> dict[str, Any]:
    """Top-1 retrieval against the number of anchors, per map type (mean ± std over seeds).

    Without rows it is a placeholder that says ``note`` (what the sweep is doing), no axes.
    """
    title = f"How many anchor {unit} does the map need?<br><sup>top-1 on held-back items, mean ± std over 3 seeds</sup>"
    if curve is None or curve.empty:
        return empty_figure(title, note, height=400)
    data = []
    cols = [("image_top1", modalities[0], "solid"), ("text_top1", modalities[1], "dash")]
    for mt in curve["map_type"].unique():
        sub = curve[curve["map_type"] == mt]
        for col, mod, dash in cols:
            if col not in sub:
                continue
            s = _mean_std(sub, ["n_anchor_classes"], col)
            data.append({"type": "scatter", "mode": "lines+markers", "x": as_list(s["n_anchor_classes"].to_numpy()),
                         "y": as_list(s["mean"].to_numpy()), "name": f"{mt} map, {mod}",
                         "error_y": {"type": "data", "array": as_list(s["std"].to_numpy()), "visible": True},
                         "line": {"color": _MAP_COLORS.get(mt, "#333"), "dash": dash}})
    lay = layout(title, xaxis={"title": {"text": f"anchor {unit} used to fit the map"}},
                     yaxis={"title": {"text": "top-1 retrieval after the map"}, "range": [0, 1.05]}, height=400,
                     shapes=[{"type": "line", "x0": current, "x1": current, "y0": 0, "y1": 1, "yref": "paper",
                              "line": {"color": "#444", "dash": "dot", "width": 1}}])
    return {"data": data, "layout": lay}


def with_marker(fig: dict[str, Any], current: int) -> dict[str, Any]:
    """``fig`` (a curve figure) with its dotted marker at ``current`` anchors; ``fig`` is not changed."""
    if not fig.get("data"):
        return fig
    lay = dict(fig["layout"])
    lay["shapes"] = [{**shape, "x0": current, "x1": current} for shape in lay.get("shapes", [])]
    return {"data": fig["data"], "layout": lay}


# Singular values below this fraction of the largest are numerically zero (rank deficiency).
_ZERO_SV = 1e-9


def spectrum_figure(singular_values: np.ndarray) -> dict[str, Any]:
    """Bars of the nonzero singular values on a log axis (powers of ten); the zero ones are counted, not drawn."""
    sv = np.asarray(singular_values, dtype=float)
    idx = np.arange(1, sv.size + 1)
    nonzero = sv > (sv.max(initial=0.0) * _ZERO_SV)
    zero = int((~nonzero).sum())
    sub = "small values: directions the anchors barely pin down"
    if zero:
        sub = (f"{int(nonzero.sum())} of {sv.size} nonzero; {zero} are ≈ 0 (not drawn):<br>directions the anchors "
               "do not pin down at all")
    data = [{"type": "bar", "x": as_list(idx[nonzero]), "y": as_list(sv[nonzero]),
             "marker": {"color": ROLE_COLORS["accent"]}, "name": "singular value",
             "hovertemplate": "σ%{x} = %{y:.3g}<extra></extra>"}]
    lay = layout(f"Singular values of Xcᵀ Yc on the anchors<br><sup>{sub}</sup>",
                 xaxis={"title": {"text": "index"}, "range": [0.5, sv.size + 0.5]},
                 yaxis={"title": {"text": "singular value"}, "type": "log", "exponentformat": "power",
                        "dtick": 1},
                 height=340, showlegend=False, margin={"l": 60, "r": 20, "t": 80 if zero else 60, "b": 50})
    return {"data": data, "layout": lay}


def compare_figure(table: pd.DataFrame, modalities: Sequence[str], n_anchor: int, unit: str, *,
                   note: str = "computing…") -> dict[str, Any]:
    """Grouped bars per map (mean, error bar = std); the value is printed inside each bar's base,
    so a label never sits on its error bar."""
    title = f"Held-out classes: which map generalises?<br><sup>fitted on {n_anchor} anchor {unit}, scored on the " \
            "other classes;<br>mean ± std over 3 seeds</sup>"
    if table is None or table.empty:
        return empty_figure(title, note)
    data = []
    for col, mod, colour in (("image_top1", modalities[0], ROLE_COLORS["a"]),
                             ("image_class_top1", f"{modalities[0]} (class)", "#6baed6"),
                             ("text_top1", modalities[1], ROLE_COLORS["b"])):
        if col not in table:
            continue
        s = _mean_std(table, ["map_type"], col)
        data.append({"type": "bar", "x": list(s["map_type"]), "y": as_list(s["mean"].to_numpy()), "name": mod,
                     "error_y": {"type": "data", "array": as_list(s["std"].to_numpy())},
                     "marker": {"color": colour}, "texttemplate": "%{y:.2f}", "textposition": "inside",
                     "insidetextanchor": "start", "textfont": {"color": "white"},
                     "hovertemplate": "%{x}: %{y:.3f} ± %{error_y.array:.3f}<extra>" + mod + "</extra>"})
    lay = layout(title, barmode="group", yaxis={"title": {"text": "top-1 retrieval"}, "range": [0, 1.1]},
                 height=340, uniformtext={"minsize": 8, "mode": "hide"}, margin={"l": 60, "r": 20, "t": 80, "b": 50})
    return {"data": data, "layout": lay}


def loss_figure(history: list[dict[str, Any]]) -> dict[str, Any]:
    """The two models' contrastive losses by step; a placeholder (no axes) before the first logged step."""
    title = "Contrastive loss while retraining"
    if not history:
        return empty_figure(title, "waiting for the first logged training step…", height=260)
    data = []
    for key, colour in (("model_a", ROLE_COLORS["a"]), ("model_b", ROLE_COLORS["b"])):
        pts = [h for h in history if h.get("model") == key]
        data.append({"type": "scatter", "mode": "lines", "x": [p["step"] for p in pts], "y": [p["loss"] for p in pts],
                     "name": key.replace("_", " "), "line": {"color": colour}})
    return {"data": data, "layout": layout("Contrastive loss while retraining", height=260,
                                            xaxis={"title": {"text": "step"}}, yaxis={"title": {"text": "loss"}})}
