"""Wall-clock timing shared by the benchmark scripts (device-aware, median of repeats)."""

from __future__ import annotations

import statistics
import time
from typing import Callable

import torch

__all__ = ["median_ms"]


def _sync(dev: torch.device) -> None:
    # CUDA kernels run asynchronously: wait for them so the clock measures the work itself.
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def median_ms(fn: Callable[[], object], dev: torch.device, repeats: int) -> tuple[float, list[float]]:
    """Run ``fn`` once to warm up, then ``repeats`` times; (median ms, every time in ms)."""
    fn()
    _sync(dev)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        _sync(dev)
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times), times
