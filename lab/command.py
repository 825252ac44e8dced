"""The one exit-code rule of every ``ortholab train <study>`` command.

    0    the work finished
    1    the work ran but did not finish (stopped early; diverged: a message says where it stopped)
    2    bad input: a one-line message naming what was wrong, on stderr; no traceback
    130  interrupted (Ctrl-C or SIGTERM); what was saved is kept

Each study's ``lab/<study>/cli.py`` builds its parser and a ``body(args) -> int``, and hands
both to :func:`run_command`; :func:`printing_progress` is the progress callback they print with.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from typing import Any, Callable, Sequence

from lab.checks import TrainingDiverged

__all__ = ["EXIT_OK", "EXIT_UNFINISHED", "EXIT_BAD_INPUT", "EXIT_INTERRUPTED", "run_command", "printing_progress"]

EXIT_OK, EXIT_UNFINISHED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130

# Errors that mean "the input was wrong": the user gets the message, not a traceback.
BAD_INPUT = (ValueError, TypeError, FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError)


def _sigterm_as_interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def run_command(prog: str, parser: argparse.ArgumentParser, body: Callable[[argparse.Namespace], int | None],
                argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run ``body(args)`` and map its outcome to the exit codes above."""
    try:
        args = parser.parse_args(None if argv is None else list(argv))
    except SystemExit as exc:  # argparse: --help is 0, a usage error 2 (it printed the message)
        return int(exc.code or 0)
    previous = None
    try:
        previous = signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    except ValueError:  # not the main thread: leave signals alone
        previous = None
    try:
        return int(body(args) or EXIT_OK)
    except TrainingDiverged as exc:  # it ran and stopped at its last good checkpoint: unfinished, not bad input
        print(f"{prog}: {exc}", file=sys.stderr)
        return EXIT_UNFINISHED
    except BAD_INPUT as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; what was saved is kept", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def printing_progress(prog: str, *, every_s: float = 2.0,
                      row: Callable[[dict[str, Any]], str] | None = None) -> Callable[..., None]:
    """A progress callback that prints ``[prog]  42%  message`` at most every ``every_s`` seconds.

    With ``row``, each event's ``partial`` (when it has any) is also printed as ``row(partial)``,
    unthrottled: those are the rows a user wants to see (an evaluation, a finished stage).
    """
    last = [float("-inf")]

    def progress(fraction: float, message: str = "", **partial: Any) -> None:
        if row is not None and partial:
            line = row(partial)
            if line:
                print(line, flush=True)
                return
        now = time.monotonic()
        if now - last[0] >= every_s or fraction >= 1.0:
            last[0] = now
            print(f"[{prog}] {100 * float(fraction):5.1f}%  {message}", flush=True)

    return progress
