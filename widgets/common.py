"""The base every study page shares: one error box, its background jobs, intro, device badge.

A study page is a :class:`StudyView`. Its state is ``param`` parameters (bounded, documented);
the controls are generated from them with ``pn.Param``; buttons are ``param.Action``s. Views
bind declaratively: methods decorated with ``@param.depends(...)`` return figure dicts (built
by ``widgets/<study>_figures.py``) and are bound into panes, so a pane updates whenever a
parameter it depends on changes. Side effects (starting a job) use
``@param.depends(..., watch=True)``. Results that arrive later (from a job) are parameters
too, so the figures that read them follow.

Errors: every callback that calls into lab goes through :meth:`StudyView.guard` (or the
:func:`keeps_last` decorator for figure methods), so a bad input shows as one message in the
page's one error box (never a traceback) and the view keeps whatever it already showed.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterable

import panel as pn

from lab.device import describe_device
from lab.paths import data_dir, runs_dir
from widgets.errors import ErrorBox, guarded
from widgets.figures import empty_figure
from widgets.jobs import BackgroundJob

__all__ = ["ErrorBox", "guarded", "keeps_last", "device_badge", "plotly_pane", "StudyView", "MAX_UPLOAD_BYTES",
           "allowed_dirs", "set_allowed_dirs"]

log = logging.getLogger("ortholab")

# The largest file a visitor may upload; the server's websocket limit is set from it.
MAX_UPLOAD_BYTES = 64 * 1024 * 1024

# Folders whose files a path typed into a page may name (`ortholab serve --data-dir`); empty
# means the defaults below. Set once when the server starts; see lab.files.confine.
_ALLOWED_DIRS: list[Path] = []


def allowed_dirs() -> list[Path]:
    """The folders typed paths are confined to: the --data-dir folders, else data/ and the uploads folder."""
    return list(_ALLOWED_DIRS) or [data_dir(), runs_dir() / "uploads"]


def set_allowed_dirs(dirs: Iterable[str | Path]) -> list[Path]:
    """Confine typed paths to ``dirs`` (each must be an existing folder); returns them resolved."""
    resolved = []
    for d in dirs:
        path = Path(d).expanduser().resolve()
        if not path.is_dir():
            raise ValueError(f"data_dir: {str(d)[:200]!r} is not a folder")
        resolved.append(path)
    _ALLOWED_DIRS[:] = resolved
    return resolved


def keeps_last(method: Callable[..., Any]) -> Callable[..., Any]:
    """For a view method that returns a figure: on error, show it and return the last good one.

    The view must be a :class:`StudyView` (it owns ``errors``). Use under ``@param.depends``.
    """
    key = method.__name__

    @functools.wraps(method)
    def inner(self: "StudyView", *args: Any, **kwargs: Any) -> Any:
        try:
            result = method(self, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - shown to the user, never raised into Bokeh
            self.errors.show(exc, source=key)
            if key in self._last_good:
                return self._last_good[key]
            return empty_figure("", "nothing to show yet")
        self._last_good[key] = result
        self.errors.clear(source=key)  # this figure's own earlier failure is mended
        return result

    return inner


def device_badge() -> pn.pane.Markdown:
    """'Experiments run on: <GPU name or CPU>' for a page header."""
    return pn.pane.Markdown(f"**Experiments run on:** {describe_device()}", margin=(0, 10))


def plotly_pane(fig: Any, **kwargs: Any) -> pn.pane.Plotly:
    """A Plotly pane over a figure dict or a bound method that returns one.

    ``uirevision`` (set by ``widgets.figures.layout``) keeps zoom across in-place updates.
    """
    if isinstance(fig, dict):
        fig.setdefault("layout", {}).setdefault("uirevision", "keep")
    kwargs.setdefault("sizing_mode", "stretch_width")
    kwargs.setdefault("config", {"displaylogo": False, "responsive": True})
    return pn.pane.Plotly(fig, **kwargs)


class StudyView(pn.viewable.Viewer):
    """One study page for one browser session (or one notebook).

    Subclasses set ``intro`` (markdown shown first) and implement :meth:`body`. They create
    their background jobs with :meth:`add_job`, so the page owns them: every job reports into the
    page's one error box, and :meth:`close` stops them all, which happens by itself when the
    browser session ends.
    """

    intro: ClassVar[str] = ""

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.errors = ErrorBox()
        self._jobs: list[BackgroundJob] = []
        self._last_good: dict[str, Any] = {}
        self._closed = False
        self._layout: pn.viewable.Viewable | None = None
        in_session = pn.state.curdoc is not None and pn.state.curdoc.session_context is not None
        # Note [work waits for a browser]: a plain GET (a crawler, curl) builds the page too; only
        # a browser that loads it gets background work, so requests alone cannot pile up threads.
        self._loaded = not in_session
        if in_session:
            pn.state.on_session_destroyed(self._on_session_destroyed)
            pn.state.onload(self._on_browser_load)

    # ------------------------------------------------------------------ jobs
    def add_job(self, label: str, *, errors_here: bool = False) -> BackgroundJob:
        """A background job owned by this page (stopped by close).

        It reports into the page's error box, or with ``errors_here`` into a box of its own,
        shown with its progress bar and Stop button, next to the controls that started it.
        It starts only once a browser shows the page and until the page closes; a start
        refused for that reason returns False (see :meth:`on_load` for work to begin then).
        """
        job = BackgroundJob(label, errors=None if errors_here else self.errors,
                            can_start=lambda: self._loaded and not self._closed, batch=self)
        self._jobs.append(job)
        return job

    @property
    def loaded(self) -> bool:
        """True once a browser shows the page (always, outside a served session)."""
        return self._loaded

    def _on_browser_load(self) -> None:
        self._loaded = True
        self.on_load()

    def on_load(self) -> None:
        """Start what the page computes in the background once a browser shows it (override)."""

    @classmethod
    def warm(cls, progress: Callable[..., None], should_stop: Callable[[], bool]) -> None:
        """Compute, once per server, what every visitor's first view of the page shares (override).

        The server runs it in the background when it starts, so the first visitors find the
        shared results ready instead of computing them at once (see lab's shared caches).
        """

    @property
    def jobs(self) -> tuple[BackgroundJob, ...]:
        return tuple(self._jobs)

    @property
    def closed(self) -> bool:
        """True once the page was closed: no new job starts after that."""
        return self._closed

    def close(self, timeout: float = 120.0) -> None:
        """Stop every job of this page and wait up to ``timeout`` seconds for each."""
        self._closed = True
        for job in self._jobs:
            if job.running:
                job.stop()
        for job in self._jobs:
            job.wait(timeout)

    def _on_session_destroyed(self, _context: Any) -> None:
        # On the event loop while the session goes away: ask, do not wait.
        running = [job.label for job in self._jobs if job.running]
        if running:
            log.info("session closed: stopping %s", ", ".join(running))
        self.close(timeout=0.0)

    # ------------------------------------------------------------------ errors
    def guard(self, fn: Callable[..., Any], errors: ErrorBox | None = None) -> Callable[..., Any]:
        """``fn`` wrapped so that an exception shows in an error box (returns None).

        ``errors`` is a box placed next to the control that calls ``fn`` (see :meth:`error_box`);
        by default the page's own, at the top.
        """
        return guarded(self.errors if errors is None else errors)(fn)

    def error_box(self) -> ErrorBox:
        """A new error box, to place next to the controls whose callbacks report into it."""
        return ErrorBox()

    # ------------------------------------------------------------------ layout
    def body(self) -> pn.viewable.Viewable:
        """The study's own controls and figures (below the intro, device badge and errors)."""
        raise NotImplementedError

    def __panel__(self) -> pn.viewable.Viewable:
        if self._layout is None:
            self._layout = pn.Column(
                pn.pane.Markdown(self.intro, sizing_mode="stretch_width"),
                device_badge(),
                self.errors,
                self.body(),
                sizing_mode="stretch_width",
            )
        return self._layout
