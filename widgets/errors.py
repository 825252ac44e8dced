"""The page's one error box, and the guard that routes a callback's exception into it.

Messages echo user input (file names, typed paths), so they are escaped (never live HTML)
and capped before they are shown.
"""

from __future__ import annotations

import functools
import html
import logging
from typing import Any, Callable

import panel as pn

__all__ = ["ErrorBox", "guarded", "MAX_MESSAGE_CHARS"]

log = logging.getLogger("ortholab")

# Messages echo user input (file names, paths); keep what the page shows short.
MAX_MESSAGE_CHARS = 600


class ErrorBox:
    """An alert that is hidden until something goes wrong; ``show``/``clear`` it."""

    def __init__(self) -> None:
        self.alert = pn.pane.Alert("", alert_type="danger", visible=False, sizing_mode="stretch_width")
        self.source: str | None = None  # what the shown message came from (see clear)

    def show(self, exc_or_text: BaseException | str, *, source: str | None = None) -> None:
        """Show an exception's message (or a text); ``source`` names what failed, for clear()."""
        if isinstance(exc_or_text, BaseException):
            exc = exc_or_text
            if isinstance(exc, (ValueError, TypeError, FileNotFoundError, ImportError)):
                text = str(exc)
            else:  # unexpected: keep the page usable, put the details in the server log
                log.exception("unexpected error in a view", exc_info=exc)
                text = f"Unexpected error ({type(exc).__name__}): {exc}"
        else:
            text = exc_or_text
        if len(text) > MAX_MESSAGE_CHARS:
            text = text[:MAX_MESSAGE_CHARS] + " …"
        self.alert.object = html.escape(text)
        self.alert.visible = True
        self.source = source

    def clear(self, *, source: str | None = None) -> None:
        """Hide the message; with ``source``, only if that is what the message came from."""
        if source is not None and self.source != source:
            return
        self.alert.visible = False
        self.alert.object = ""
        self.source = None

    @property
    def message(self) -> str:
        """The message shown (as text), or "" when the box is hidden."""
        return html.unescape(self.alert.object) if self.alert.visible else ""

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
