"""One place that decides where tensors live.

Every function in lab that takes tensors accepts numpy arrays too and returns torch tensors on
the chosen device. ``pick_device`` is that choice: CUDA when present, else CPU, unless the
caller names a device.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, Iterator

import numpy as np
import torch

__all__ = ["pick_device", "describe_device", "as_tensor", "to_numpy", "one_cpu_thread"]


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """Return ``device`` as a ``torch.device``; ``None`` means CUDA if available, else CPU.

    The environment variable ``ORTHOLAB_DEVICE`` overrides the automatic choice (not an
    explicit argument), so a whole run can be pinned to the CPU without code changes.
    """
    if device is None:
        device = os.environ.get("ORTHOLAB_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device: expected 'cpu', 'cuda' or 'cuda:N', got {device!r}") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device: {device!r} was requested but CUDA is not available on this machine")
    return dev


def describe_device(device: str | torch.device | None = None) -> str:
    """A human-readable name of the device experiments run on, e.g. 'NVIDIA H100 (cuda:0)'."""
    dev = pick_device(device)
    if dev.type == "cuda":
        index = dev.index if dev.index is not None else torch.cuda.current_device()
        return f"{torch.cuda.get_device_name(index)} (cuda:{index})"
    return f"CPU ({torch.get_num_threads()} threads)"


def as_tensor(
    x: Any,
    *,
    name: str = "x",
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Convert ``x`` (tensor, numpy array or nested sequence) to a floating tensor.

    A torch tensor stays on its own device unless ``device`` is given; anything else goes to
    :func:`pick_device`. Integer and boolean inputs become float32; float64 is kept, so tests
    can run in double precision end to end.
    """
    if isinstance(x, torch.Tensor):
        t = x if device is None else x.to(pick_device(device))
    else:
        try:
            arr = np.asarray(x)
        except Exception as exc:  # noqa: BLE001 - re-raised with the argument's name
            raise TypeError(f"{name}: expected an array or tensor, got {type(x).__name__}") from exc
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            raise TypeError(f"{name}: expected a numeric array, got dtype {arr.dtype}")
        t = torch.from_numpy(np.ascontiguousarray(arr)).to(pick_device(device))
    if t.is_complex():  # casting would drop the imaginary part silently
        raise TypeError(f"{name}: expected real numbers, got complex dtype {t.dtype}")
    if dtype is not None:
        t = t.to(dtype)
    elif not t.is_floating_point():
        t = t.to(torch.float32)
    return t


def to_numpy(x: Any) -> np.ndarray:
    """Detach a tensor (any device) into a numpy array; pass numpy arrays through."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


@contextlib.contextmanager
def one_cpu_thread(device: torch.device | None = None) -> Iterator[None]:
    """Run the block on one torch CPU thread (restored afterwards); nothing changes on CUDA.

    Note [small ops on one thread]: a loop of small factorisations (a 384 x 256 SVD takes
    20 ms) runs 10-30x slower when torch's two-thread pool competes with other work on a
    busy two-core machine; on one thread it does not contend. The setting is process-wide,
    so only short, CPU-bound blocks use it.
    """
    if device is not None and torch.device(device).type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
