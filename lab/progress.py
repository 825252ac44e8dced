"""The one contract every long computation in lab shares: progress and should-stop callbacks.

A long function takes two optional keyword arguments::

    progress(fraction, message="", **partial)   fraction in [0, 1]; partial: named results so far
    should_stop() -> bool                        polled between units of work

Each call to ``progress`` is one *event*: its ``partial`` holds what is new since the last
event (a row, a curve point), not a snapshot of everything so far. The dashboard delivers the
events to the view in order (see ``widgets.jobs``), so nothing has to be re-merged there.

``None`` means "nobody is listening"; :func:`resolve` turns it into the no-op defaults below,
so a function body never tests for it. :func:`scaled` hands a sub-task a callback that maps
its own [0, 1] onto a slice of the caller's range, with extra partial fields attached.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

__all__ = ["Progress", "ShouldStop", "no_progress", "never_stop", "resolve", "scaled"]


class Progress(Protocol):
    """``progress(fraction, message="", **partial)``: report one event of a long job."""

    def __call__(self, fraction: float, message: str = "", **partial: Any) -> None: ...


ShouldStop = Callable[[], bool]


def no_progress(fraction: float, message: str = "", **partial: Any) -> None:
    """The default progress callback: nobody is listening."""


def never_stop() -> bool:
    """The default should-stop callback: run to the end."""
    return False


def resolve(progress: Progress | None, should_stop: ShouldStop | None) -> tuple[Progress, ShouldStop]:
    """The callbacks a long function was given, with ``None`` replaced by the no-op defaults."""
    return (progress if progress is not None else no_progress,
            should_stop if should_stop is not None else never_stop)


def scaled(progress: Progress | None, lo: float, hi: float, **tag: Any) -> Progress:
    """A callback for a sub-task whose fraction 0..1 lands on ``lo..hi`` of the caller's range.

    ``tag`` fields are added to every event the sub-task reports (for example ``stage="curve"``),
    so the listener can tell the events of several sub-tasks apart; a field the sub-task
    reports itself wins over a tag of the same name.
    """
    if not 0.0 <= lo <= hi <= 1.0:
        raise ValueError(f"lo, hi: expected 0 <= lo <= hi <= 1, got {lo!r}, {hi!r}")
    target = progress if progress is not None else no_progress

    def sub(fraction: float, message: str = "", **partial: Any) -> None:
        f = min(1.0, max(0.0, float(fraction)))
        target(lo + (hi - lo) * f, message, **{**tag, **partial})

    return sub
