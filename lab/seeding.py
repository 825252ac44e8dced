"""Explicit, local randomness.

Nothing here seeds at import. Experiments take a ``seed`` and build their own generators, so
two runs in one process (a dashboard with two sessions) never disturb each other.
"""

from __future__ import annotations

import contextlib
import random
import threading
from typing import Iterator

import numpy as np
import torch

__all__ = ["torch_generator", "numpy_rng", "seed_everything", "seeded_init"]

# torch's module constructors draw from the process-wide CPU generator. Two dashboard sessions
# building models in their own threads would interleave those draws; this lock serialises the
# (short) construction so each gets exactly the weights its seed gives.
_INIT_LOCK = threading.Lock()


def torch_generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A torch generator seeded with ``seed`` on ``device``."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"seed: expected an int, got {type(seed).__name__}")
    g = torch.Generator(device=torch.device(device))
    g.manual_seed(int(seed))
    return g


def numpy_rng(seed: int) -> np.random.Generator:
    """A numpy Generator seeded with ``seed``."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"seed: expected an int, got {type(seed).__name__}")
    return np.random.default_rng(int(seed))


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch global RNGs (CPU and CUDA).

    For training scripts whose libraries draw from global state (weight init, dropout).
    Library code should prefer :func:`torch_generator` / :func:`numpy_rng`.
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"seed: expected an int, got {type(seed).__name__}")
    random.seed(int(seed))
    np.random.seed(int(seed) % (2**32))
    torch.manual_seed(int(seed))


@contextlib.contextmanager
def seeded_init(seed: int) -> Iterator[None]:
    """Build modules with the global CPU generator seeded to ``seed``, then restore it.

    ``with seeded_init(0): model = Net()`` gives the same weights on every call, leaves the
    caller's RNG state as it was, and is safe when several threads build models at once.
    Build on the CPU and move the model afterwards: only the CPU generator is seeded.
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"seed: expected an int, got {type(seed).__name__}")
    with _INIT_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        yield
