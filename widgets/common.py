"""Pieces every study view shares: the error alert, the device badge, figure helpers.

Callbacks that call into lab go through :func:`guarded`, so a bad input shows as a message on
the page (never a traceback) and the view keeps whatever it already showed.
"""

from __future__ import annotations

import functools
import logging
from typing import Any, Callable

import numpy as np
import panel as pn

from lab.device import describe_device

__all__ = ["ErrorBox", "guarded", "device_badge", "plotly_pane", "as_list", "STUDY_COLORS"]

log = logging.getLogger("ortholab")

# One colour per role, used consistently across studies (before/after, model A/B, ...).
STUDY_COLORS = {"a": "#1f77b4", "b": "#d62728", "after": "#2ca02c", "muted": "#7f7f7f", "accent": "#9467bd"}


class ErrorBox:
    """An alert that is hidden until something goes wrong; ``show``/``clear`` it."""

    def __init__(self) -> None:
        self.alert = pn.pane.Alert("", alert_type="danger", visible=False, sizing_mode="stretch_width")

    def show(self, exc_or_text: BaseException | str) -> None:
        if isinstance(exc_or_text, BaseException):
            exc = exc_or_text
            if isinstance(exc, (ValueError, TypeError, FileNotFoundError, ImportError)):
                text = str(exc)
            else:  # unexpected: keep the page usable, put the details in the server log
                log.exception("unexpected error in a view", exc_info=exc)
                text = f"Unexpected error ({type(exc).__name__}): {exc}"
        else:
            text = exc_or_text
        self.alert.object = text
        self.alert.visible = True

    def clear(self) -> None:
        self.alert.visible = False
        self.alert.object = ""

    @property
    def message(self) -> str:
        return self.alert.object if self.alert.visible else ""

    def __panel__(self):
        return self.alert


def guarded(errors: ErrorBox) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator for view callbacks: clear the alert, run, and show any exception in it.

    The wrapped callback returns ``None`` on failure, so the caller keeps its old state.
    """

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            try:
                result = fn(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - shown to the user, never raised into Bokeh
                errors.show(exc)
                return None
            errors.clear()
            return result

        return inner

    return wrap


def device_badge() -> pn.pane.Markdown:
    """'Experiments run on: <GPU name or CPU>' for a page header."""
    return pn.pane.Markdown(f"**Experiments run on:** {describe_device()}", margin=(0, 10))


def as_list(x: Any) -> list:
    """Plotly-friendly data: numpy/torch arrays to lists, NaN to None."""
    arr = np.asarray(x.detach().cpu() if hasattr(x, "detach") else x)
    if arr.dtype.kind == "f":
        return np.where(np.isfinite(arr), arr, np.nan).tolist()
    return arr.tolist()


def plotly_pane(fig: dict, **kwargs: Any) -> pn.pane.Plotly:
    """A Plotly pane over a figure dict; ``uirevision`` keeps zoom across in-place updates."""
    fig.setdefault("layout", {}).setdefault("uirevision", "keep")
    kwargs.setdefault("sizing_mode", "stretch_width")
    kwargs.setdefault("config", {"displaylogo": False, "responsive": True})
    return pn.pane.Plotly(fig, **kwargs)
