"""Figure helpers every study's ``<study>_figures.py`` shares: one layout, one palette.

Figures are plain Plotly figure dicts (no plotly import, no panel): pure functions of lab
results, so they can be tested as data and rendered anywhere. Every figure carries
``uirevision`` so a user's zoom survives in-place updates.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["ROLE_COLORS", "SERIES_COLORS", "FONT", "layout", "empty_figure", "image_figure", "as_list", "series_color"]

# One colour per role, the same on every page: before/after, model A/B, baseline/method.
ROLE_COLORS = {
    "a": "#1f77b4",
    "b": "#d62728",
    "after": "#2ca02c",
    "muted": "#7f7f7f",
    "accent": "#9467bd",
    "method": "#3b5b92",  # the study's own method in a comparison of methods
    "baseline": "#9e9e9e",  # every baseline bar
    "unselected": "#c7c7c7",
}
# Note [images in notebooks]: served pages send image traces as one PNG ``source`` string (small
# and cheap to validate); in a Jupyter output the Plotly pane fails to update such a trace (the
# browser logs "Cannot read properties of null (reading 'height')" and the figure keeps its first
# image), so widgets.notebook.setup_notebook() switches image figures back to ``z`` arrays.
IMAGES_AS_PNG = True

# Colours of numbered series (phases, components, directions), in order.
SERIES_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
FONT = {"family": "Inter, Helvetica, Arial, sans-serif", "size": 12}


def series_color(i: int) -> str:
    """The colour of series ``i`` (cycles after eight)."""
    return SERIES_COLORS[i % len(SERIES_COLORS)]


def layout(title: str, x: str = "", y: str = "", *, height: int = 340, **extra: Any) -> dict[str, Any]:
    """The one figure layout: title top left, white template, horizontal legend below.

    ``extra`` entries replace the defaults (``xaxis={...}`` replaces the titled x axis).
    """
    lay: dict[str, Any] = {
        "title": {"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 14}},
        "font": FONT,
        "template": "plotly_white",
        "xaxis": {"title": {"text": x}},
        "yaxis": {"title": {"text": y}},
        "margin": {"l": 60, "r": 20, "t": 60, "b": 50},  # room for a title with a subtitle line
        "height": height,
        "legend": {"orientation": "h", "y": -0.22},
        "uirevision": "keep",
    }
    lay.update(extra)
    return lay


def empty_figure(title: str, note: str = "", *, height: int = 340) -> dict[str, Any]:
    """A titled placeholder with a note in the middle and no axes (no fake ticks before data)."""
    annotations = [{"text": note, "showarrow": False, "x": 0.5, "y": 0.5, "xref": "paper", "yref": "paper",
                    "font": {"color": ROLE_COLORS["muted"]}}] if note else []
    return {"data": [], "layout": layout(title, height=height, annotations=annotations,
                                         xaxis={"visible": False}, yaxis={"visible": False})}


def image_figure(img: Any, title: str, *, height: int = 300, **extra: Any) -> dict[str, Any]:
    """One RGB image (h, w, 3) of uint8 as a figure with hidden axes."""
    img = np.asarray(img)
    if img.ndim != 3 or img.shape[-1] != 3:
        raise ValueError(f"img: expected an RGB image of shape (h, w, 3), got shape {img.shape}")
    return {"data": [{"type": "image", "z": img.tolist(), "hoverinfo": "skip"}],
            "layout": layout(title, height=height, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                             xaxis={"visible": False}, yaxis={"visible": False}, **extra)}


def as_list(x: Any) -> list:
    """Plotly-friendly data: numpy/torch arrays to lists, inf to NaN (a gap in the trace)."""
    arr = np.asarray(x.detach().cpu() if hasattr(x, "detach") else x)
    if arr.dtype.kind == "f":
        return np.where(np.isfinite(arr), arr, np.nan).tolist()
    return arr.tolist()
