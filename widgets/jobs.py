"""Long work off the event loop: a background thread, a progress bar, a Stop button.

Lab functions that take time follow :mod:`lab.progress`: ``progress(fraction, message="",
**partial)`` and ``should_stop() -> bool``. :class:`BackgroundJob` runs such a function in a
thread. Every ``progress`` call is an event; on the session's event loop (a periodic callback)
the job hands the events' partial results to the view one by one, in the order they were
reported, and moves the progress bar to the newest fraction, so Bokeh models are only touched
from the loop's thread and nothing the worker reported is dropped or merged away.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable

import panel as pn
import param

from widgets.errors import ErrorBox

__all__ = ["BackgroundJob", "JobEvent"]

log = logging.getLogger("ortholab")

Work = Callable[[Callable[..., None], Callable[[], bool]], Any]

# Note [stop jobs at exit]: a daemon thread still inside a torch kernel when the interpreter
# finalises makes the process abort ("terminate called without an active exception", exit
# 134). At exit every live job is asked to stop and given a moment to reach its next
# should_stop() check. The set holds weak references only, so it keeps no session alive.
_LIVE_THREADS: "weakref.WeakSet[threading.Thread]" = weakref.WeakSet()
_LIVE_STOPS: "weakref.WeakValueDictionary[int, BackgroundJob]" = weakref.WeakValueDictionary()


@atexit.register
def _stop_live_jobs(timeout: float = 60.0) -> None:
    for job in list(_LIVE_STOPS.values()):
        job._stop.set()
    deadline = time.monotonic() + timeout
    for thread in list(_LIVE_THREADS):
        thread.join(max(0.0, deadline - time.monotonic()))


@dataclass(frozen=True)
class JobEvent:
    """One ``progress`` call of a worker: where it stands and what is new."""

    fraction: float
    message: str = ""
    partial: dict[str, Any] = field(default_factory=dict)


def _browser_connected() -> bool:
    """False while the current server session has no open websocket (its tab was closed).

    Note [closed tab]: Bokeh keeps a session for a while after its tab closes, and pushing
    updates into it then fails inside tornado ("WebSocketClosedError", logged as a task
    exception). Until the session ends (and the page stops its jobs), a poll pushes nothing.
    Outside a server session (tests, notebooks) there is nothing to check.
    """
    doc = pn.state.curdoc
    context = getattr(doc, "session_context", None) if doc is not None else None
    session = getattr(context, "_session", None)  # bokeh's ServerSession; no public accessor
    count = getattr(session, "connection_count", None)
    return count is None or count > 0


def _on_a_loop() -> bool:
    """True where a poll can run by itself: a server session, or a notebook kernel's running loop.

    Note [jobs in a notebook]: an IPython kernel runs its cells on a running asyncio loop, so
    a periodic callback added there polls between cells and while the kernel waits, and the
    views' updates reach the output over Panel's comms, as on a served page. A plain script or
    a test has no running loop: it calls :meth:`BackgroundJob.wait`, which delivers everything.
    """
    doc = pn.state.curdoc
    if doc is not None and doc.session_context is not None:
        return True
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class BackgroundJob(param.Parameterized):
    """Run one job at a time in a thread, with progress, partial results and Stop."""

    running = param.Boolean(default=False, doc="Whether a job is in flight.")
    fraction = param.Number(default=0.0, bounds=(0.0, 1.0), doc="Progress of the job in flight.")
    message = param.String(default="", doc="Last progress message.")

    def __init__(self, name: str = "job", poll_ms: int = 250, *, errors: ErrorBox | None = None,
                 can_start: Callable[[], bool] | None = None, batch: param.Parameterized | None = None,
                 **params: Any) -> None:
        super().__init__(**params)
        self.label = name
        # Note [one update per poll]: the events of one poll are handed over with the owner's
        # watchers batched, so a figure that reads the rows they append is rebuilt (and sent
        # to the browser) once per poll, not once per row; a replayed sweep of 57 rows is one update.
        self._batch = batch
        self._can_start = can_start  # the owner's say: e.g. no work before a browser shows the page
        self.poll_ms = poll_ms
        # A page has one error box: a view passes its own, and the job reports there.
        self._own_errors = errors is None
        self.errors = ErrorBox() if errors is None else errors
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._go = threading.Event()  # Note [first answer]
        self._thread: threading.Thread | None = None
        self._events: list[JobEvent] = []
        self._outcome: tuple[str, Any] | None = None
        self._on_partial: Callable[[dict], None] | None = None
        self._on_done: Callable[[Any], None] | None = None
        self._callback = None
        self._locked: list[Any] = []  # widgets disabled while a job runs (see locks)
        self.outcome = ""  # how the last job ended: "done", "stopped" or "error" ("" before any)
        self.progress_bar = pn.indicators.Progress(value=0, max=1000, visible=False, sizing_mode="stretch_width")
        self.status = pn.pane.Markdown("", margin=(0, 10))
        self.stop_button = pn.widgets.Button(label="Stop", color="warning", disabled=True, visible=False, width=90)
        self.stop_button.on_click(lambda _e: self.stop())

    def locks(self, *controls: Any) -> "BackgroundJob":
        """Disable ``controls`` (e.g. the button that starts this job) while a job runs.

        Each is a widget, or ``(parameterized, "name")`` for a parameter shown by ``pn.Param``
        (the parameter is made constant, which its widget shows as disabled). A second press of
        Train during a run would otherwise start nothing but still reset what the first press
        drew; disabled, it cannot be pressed at all.
        """
        self._locked.extend(controls)
        return self

    def _set_locked(self, disabled: bool) -> None:
        for control in self._locked:
            if isinstance(control, tuple):
                owner, name = control
                owner.param[name].constant = disabled  # an instance's own copy of the parameter
            else:
                control.disabled = disabled

    # ------------------------------------------------------------------ worker side
    def _progress(self, fraction: float, message: str = "", **partial: Any) -> None:
        event = JobEvent(max(0.0, min(1.0, float(fraction))), message, partial)
        with self._lock:
            self._events.append(event)

    def _run(self, work: Work) -> None:
        # Note [first answer]: on a served page the worker waits (a moment at most) until the
        # loop has sent "starting…" and the locked buttons: a worker that starts building models
        # at once holds the GIL while the loop serialises that answer, and the click feels slow.
        self._go.wait(0.25)
        try:
            result = work(self._progress, self._stop.is_set)
            outcome = ("stopped" if self._stop.is_set() else "done", result)
        except Exception as exc:  # noqa: BLE001 - reported on the page
            outcome = ("error", exc)
        with self._lock:
            self._outcome = outcome
        # The server log says when each job's thread ends, and how (the tab-close test reads it).
        log.info("job %r ended: %s", self.label, outcome[0])

    # ------------------------------------------------------------------ loop side
    def start(self, work: Work, *, on_partial: Callable[[dict], None] | None = None,
              on_done: Callable[[Any], None] | None = None) -> bool:
        """Start ``work(progress, should_stop)`` in a thread; False if one is already running.

        ``on_partial(partial)`` is called on the event loop once for every event that carried
        partial results, in the order the worker reported them; ``on_done(result)`` once at
        the end (also after Stop, with what the work returned when it stopped).
        """
        if self.running or (self._can_start is not None and not self._can_start()):
            return False
        log.info("job %r started", self.label)
        self.errors.clear()
        self._stop.clear()
        self._events, self._outcome = [], None
        self._on_partial, self._on_done = on_partial, on_done
        self.running, self.fraction, self.message = True, 0.0, "starting…"
        self.progress_bar.visible, self.progress_bar.value = True, 0
        self.stop_button.disabled, self.stop_button.visible = False, True
        self._set_locked(True)
        self.outcome = ""
        self.status.object = f"{self.label}: starting…"
        self._thread = threading.Thread(target=self._run, args=(work,), daemon=True, name=f"ortholab-{self.label}")
        _LIVE_THREADS.add(self._thread)
        _LIVE_STOPS[id(self)] = self
        self._go.clear()
        doc = pn.state.curdoc
        if doc is not None and doc.session_context is not None:
            doc.add_next_tick_callback(self._go.set)  # after this callback's changes went out
        else:
            self._go.set()
        self._thread.start()
        if _on_a_loop():
            self._callback = pn.state.add_periodic_callback(self.poll, period=self.poll_ms)
        return True

    def stop(self) -> None:
        """Ask the job to stop at its next ``should_stop()`` check (what it computed so far is kept)."""
        if not self.running:
            return
        self._stop.set()
        self.stop_button.disabled = True
        self.status.object = f"{self.label}: stopping…"

    def poll(self) -> None:
        """Deliver the events reported since the last poll, in order (runs on the event loop)."""
        if not _browser_connected():
            return  # Note [closed tab]: keep the events until a browser listens again (or the session ends)
        with self._lock:
            events, self._events = self._events, []
            outcome = self._outcome
        try:
            with contextlib.ExitStack() as batched:
                if events and self._batch is not None:
                    batched.enter_context(pn.io.hold())  # the document's changes go out as one message
                    batched.enter_context(param.parameterized.batch_call_watchers(self._batch))
                self._deliver(events)
        except Exception as exc:  # noqa: BLE001 - a watcher run at the batch's end; reported on the page
            self.errors.show(exc)
        if outcome is not None and self.running:
            self._finish(*outcome)

    def _deliver(self, events: list[JobEvent]) -> None:
        for event in events:
            if event.partial and self._on_partial is not None:
                try:
                    self._on_partial(event.partial)
                except Exception as exc:  # noqa: BLE001 - reported on the page
                    self.errors.show(exc)
        if events:
            last = events[-1]
            self.fraction, self.message = last.fraction, last.message
            self.progress_bar.value = int(1000 * self.fraction)
            shown = self.message or f"{self.fraction:.0%}"
            self.status.object = f"{self.label}: {shown}"

    def _finish(self, state: str, value: Any) -> None:
        if self._callback is not None:
            self._callback.stop()
            self._callback = None
        self.running = False
        self.outcome = state
        self.stop_button.disabled, self.stop_button.visible = True, False
        self.progress_bar.visible = False
        self._set_locked(False)
        if state == "error":
            self.errors.show(value)
            self.status.object = f"{self.label}: failed"
            return
        # Note [Stop]: Stop means one thing on every page: the work ends at its next check and
        # what it had computed is kept and shown, and the status says so (a view that would
        # replace something with a stopped result says what it kept instead).
        self.status.object = (f"{self.label}: stopped at {self.fraction:.0%}; what it computed so far is kept"
                              if state == "stopped" else f"{self.label}: finished")
        if self._on_done is not None:
            try:
                self._on_done(value)
            except Exception as exc:  # noqa: BLE001
                self.errors.show(exc)

    def wait(self, timeout: float = 600.0) -> None:
        """Block until the job ends and deliver its results (for tests and notebooks)."""
        deadline = time.monotonic() + timeout
        while self._thread is not None and self._thread.is_alive() and time.monotonic() < deadline:
            self._thread.join(0.05)
        self.poll()

    def __panel__(self):
        parts = [pn.Row(self.progress_bar, self.stop_button), self.status]
        if self._own_errors:
            parts.append(self.errors)
        return pn.Column(*parts, sizing_mode="stretch_width")
