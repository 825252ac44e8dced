"""Plotly figure dicts for the /householder page: pure functions of lab.householder results."""

from __future__ import annotations

import base64
import functools
import io
from typing import Any, Sequence

import numpy as np
import pandas as pd
from PIL import Image

from widgets import figures as _figures  # read at call time: Note [images in notebooks]
from widgets.figures import as_list, empty_figure, layout

__all__ = ["FACTOR_LABELS", "lean", "png_data_uri", "image_of", "png_image_figure", "sample_figure", "grid_figure",
           "sensitivity_figure", "loss_figure", "samples_figure", "results_table", "generator_table"]

FACTOR_LABELS = ["shape", "scale", "rotation", "x position", "y position", "hue"]
PNG_PREFIX = "data:image/png;base64,"


@functools.lru_cache(maxsize=1)
def _white_layout() -> dict:
    """The layout part of Plotly's "plotly_white" template, as a plain dict (read once)."""
    import plotly.io as pio  # plotly is only needed here, for the template's values

    return pio.templates["plotly_white"].layout.to_plotly_json()


def lean(fig: dict) -> dict:
    """``fig`` with the named "plotly_white" template replaced by its layout part.

    Note [lean template]: the Plotly pane turns every figure dict into a plotly Figure, which
    expands and validates the whole named template (its defaults for 40 trace types) on every
    update: most of a small figure's cost on the server, and 7 kB on the wire. The page's
    figures only need the template's layout (white background, grid and axis colours), which
    looks the same.
    """
    lay = fig.get("layout", {})
    if lay.get("template") == "plotly_white":
        lay["template"] = {"layout": _white_layout()}
    return fig


# Note [images as PNG]: an image trace with ``z`` carries every pixel as a JSON number, and
# the Plotly pane validates each of them (a 7 x 6 traversal mosaic is 143,000 numbers: about
# 1.5 s of validation and 700 kB per update). The same pixels as one PNG ``source`` string are
# a few kB, validated at once, and decoded by the browser; the image is lossless, so nothing
# shown changes.
def png_data_uri(img: np.ndarray) -> str:
    """(H, W, 3) uint8 -> a ``data:image/png;base64,...`` string (lossless)."""
    a = np.asarray(img)
    if a.ndim != 3 or a.shape[-1] != 3 or a.dtype != np.uint8:
        raise ValueError(f"img: expected an RGB image of shape (h, w, 3) and dtype uint8, got {a.shape} {a.dtype}")
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(a), mode="RGB").save(buf, format="PNG", compress_level=1)
    return PNG_PREFIX + base64.b64encode(buf.getvalue()).decode("ascii")


def image_of(fig: dict) -> np.ndarray:
    """The (H, W, 3) uint8 pixels an image figure shows (its PNG ``source`` or its ``z``)."""
    trace = fig["data"][0]
    if "source" in trace:
        raw = base64.b64decode(trace["source"][len(PNG_PREFIX):])
        return np.asarray(Image.open(io.BytesIO(raw)).convert("RGB"))
    return np.asarray(trace["z"], dtype=np.uint8)


def png_image_figure(img: np.ndarray, title: str, *, height: int = 300, **extra: Any) -> dict:
    """One RGB image (h, w, 3) uint8 as a figure with hidden axes, sent as a PNG (Note [images as PNG])."""
    img = np.asarray(img)
    h, w = img.shape[:2]
    pixels = {"source": png_data_uri(img)} if _figures.IMAGES_AS_PNG else {"z": img.tolist()}
    trace = {"type": "image", **pixels, "hoverinfo": "skip", "x0": 0, "y0": 0, "dx": 1, "dy": 1}
    lay = layout(title, height=height, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                 xaxis={"visible": False, "range": [-0.5, w - 0.5]},
                 yaxis={"visible": False, "range": [h - 0.5, -0.5], "scaleanchor": "x"})
    lay.update(extra)
    return lean({"data": [trace], "layout": lay})


def sample_figure(img: np.ndarray, offsets: Sequence[float]) -> dict:
    """The decoded sample (H, W, 3) uint8, titled with the offsets along each direction."""
    moved = ", ".join(f"{o:+.1f}σ·d{i + 1}" for i, o in enumerate(offsets) if o != 0) or "no offset"
    return png_image_figure(img, f"Sample w + ({moved})", height=380)


def grid_figure(mosaic: np.ndarray, *, rows: int, cols: int, tile: tuple[int, int], span: float,
                row_labels: Sequence[str], where: str, method: str, gap: int = 2) -> dict:
    """The traversal mosaic: row i decodes a move along direction i from -span to +span."""
    h, w = tile
    t = np.linspace(-span, span, cols)
    fig = png_image_figure(mosaic, f"Traversal grid: row i decodes {where} ({method})", height=100 + 70 * rows)
    mh, mw = np.asarray(mosaic).shape[:2]
    fig["layout"]["yaxis"] = {"visible": True, "tickmode": "array", "showgrid": False, "zeroline": False,
                              "range": [mh - 0.5, -0.5], "scaleanchor": "x",
                              "tickvals": [i * (h + gap) + h / 2 for i in range(rows)], "ticktext": list(row_labels)}
    fig["layout"]["xaxis"] = {"visible": True, "tickmode": "array", "showgrid": False, "zeroline": False,
                              "side": "top", "range": [-0.5, mw - 0.5],
                              "tickvals": [j * (w + gap) + w / 2 for j in range(cols)],
                              "ticktext": [f"t = {v:+.1f}" for v in t]}
    fig["layout"]["margin"] = {"l": 170, "r": 10, "t": 70, "b": 10}
    return fig


SENSITIVITY_TITLE = "Which factor moves along each direction"


def sensitivity_figure(S: np.ndarray | None, labels: Sequence[str] | None, *, n_samples: int, span: float,
                       note: str = "") -> dict:
    """Direction x factor sensitivity (k, 6); each row is labelled with its automatic label (top factor, purity).

    ``note`` (e.g. "updating…") is shown in the title while a newer matrix is being computed;
    with ``S`` None the figure is a text placeholder saying the note (no empty axes).
    """
    if S is None:
        return lean(empty_figure(SENSITIVITY_TITLE, note or "no directions yet", height=360))
    S = np.asarray(S, dtype=float)
    ylabels = [f"d{i + 1}: {lab}" for i, lab in enumerate(labels)]
    trace = {"type": "heatmap", "z": as_list(S), "x": FACTOR_LABELS, "y": ylabels, "colorscale": "Viridis",
             "zmin": 0, "zmax": max(0.5, float(S.max())), "texttemplate": "%{z:.2f}",
             "colorbar": {"title": {"text": "change"}}, "hovertemplate": "%{y}<br>%{x}: %{z:.3f}<extra></extra>"}
    title = (f"{SENSITIVITY_TITLE}{f' — <i>{note}</i>' if note else ''}<br><sub>range of the regressor's "
             f"prediction over t ∈ [−{span:g}σ, {span:g}σ], mean of {n_samples} samples</sub>")
    return lean({"data": [trace], "layout": layout(title, "ground-truth factor", height=360,
                                                   margin={"l": 120, "r": 10, "t": 60, "b": 40},
                                                   yaxis={"autorange": "reversed"})})


def loss_figure(steps: Sequence[int], loss_g: Sequence[float], loss_d: Sequence[float]) -> dict:
    """Generator and discriminator losses of a fine-tuning run on the page, as they stream in."""
    title = "Fine-tuning losses (non-saturating G, D with R1)"
    if not steps:
        return lean(empty_figure(title, "press 'Fine-tune' to start", height=260))
    traces = [{"type": "scatter", "mode": "lines+markers", "x": list(steps), "y": as_list(np.asarray(v)), "name": n}
              for n, v in (("generator", loss_g), ("discriminator", loss_d))]
    return lean({"data": traces, "layout": layout(title, "step", "loss", height=260)})


def samples_figure(mosaic: np.ndarray | None, note: str = "") -> dict:
    """Samples of the generator the page shows (a one-row mosaic)."""
    if mosaic is None:
        return lean(empty_figure("Samples", note or "no generator loaded", height=200))
    return png_image_figure(mosaic, f"Samples{f' — {note}' if note else ''}", height=200)


def _pm(mean: Any, std: Any, digits: str = ".3g") -> str:
    s = 0.0 if std is None or not np.isfinite(std) else float(std)
    return f"{float(mean):{digits}}±{s:.2g}"


DIRECTION_METRICS = (("mig", "MIG"), ("dci_d", "DCI-D"), ("sap", "SAP"), ("purity", "purity"),
                     ("pipl_matched", "PIPL@matched"))


def results_table(summary: Sequence[dict], rank: int | None = None) -> pd.DataFrame:
    """Direction metrics as a readable table: mean ± std over seeds per variant (at ``rank``, or every rank)."""
    df = pd.DataFrame(list(summary))
    if df.empty:
        return df
    if rank is not None and "rank" in df:
        df = df[df["rank"] == rank]
    out = pd.DataFrame({"rank": df["rank"].astype(int), "directions": df["variant"]})
    for m, name in DIRECTION_METRICS:
        if f"{m}_mean" in df:
            out[name] = [_pm(a, b) for a, b in zip(df[f"{m}_mean"], df[f"{m}_std"])]
    if "n_seeds" in df:
        out["seeds"] = df["n_seeds"].astype(int)
    return out.reset_index(drop=True)


def generator_table(summary: Sequence[dict]) -> pd.DataFrame:
    """KID / PPL per generator (pretrained, swap, fine-tuned per rank): mean ± std over seeds."""
    df = pd.DataFrame(list(summary))
    if df.empty:
        return df
    out = pd.DataFrame({"generator": [g if r == 0 else f"{g} (rank {int(r)})" for g, r in zip(df["generator"],
                                                                                              df["rank"])]})
    for m, name in (("kid", "KID"), ("ppl", "PPL"), ("coverage_x", "x coverage"), ("coverage_hue", "hue coverage")):
        if f"{m}_mean" in df:
            out[name] = [_pm(a, b) for a, b in zip(df[f"{m}_mean"], df[f"{m}_std"])]
    return out
