"""Validation of user input with messages that name the argument and what was expected.

Library code calls these instead of ``assert`` so that bad input is a ``ValueError`` or
``TypeError`` a view can show as a message.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

__all__ = [
    "NotFittedError",
    "TrainingDiverged",
    "check_fitted",
    "check_matrix",
    "check_finite",
    "check_same_rows",
    "check_int",
    "check_float",
    "check_bool",
    "check_labels",
    "check_dtype",
    "as_array",
]


def check_matrix(name: str, x: torch.Tensor, *, cols: int | None = None, min_rows: int = 1) -> torch.Tensor:
    """Require a 2-D tensor with at least ``min_rows`` rows (and exactly ``cols`` columns)."""
    if x.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array (n, d), got shape {tuple(x.shape)}")
    if x.shape[0] < min_rows:
        raise ValueError(f"{name}: expected at least {min_rows} rows, got {x.shape[0]}")
    if x.shape[1] < 1:
        raise ValueError(f"{name}: expected at least one column, got shape {tuple(x.shape)}")
    if cols is not None and x.shape[1] != cols:
        raise ValueError(f"{name}: expected {cols} columns, got shape {tuple(x.shape)}")
    return x


def check_finite(name: str, x: torch.Tensor) -> torch.Tensor:
    """Require every entry to be finite (no NaN or inf)."""
    if not torch.isfinite(x).all():
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"{name}: contains {bad} NaN or infinite value(s); clean or drop those rows first")
    return x


def check_same_rows(name_a: str, a: torch.Tensor, name_b: str, b: torch.Tensor) -> None:
    """Require paired inputs to have the same number of rows."""
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"{name_a} and {name_b}: expected paired rows (the same count), got {a.shape[0]} and {b.shape[0]}"
        )


def check_int(name: str, value: Any, *, lo: int | None = None, hi: int | None = None) -> int:
    """Require an integer in ``[lo, hi]`` (bounds inclusive, either may be open)."""
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__} {value!r}")
    v = int(value)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        lo_s = "-inf" if lo is None else str(lo)
        hi_s = "inf" if hi is None else str(hi)
        raise ValueError(f"{name}: expected an int in [{lo_s}, {hi_s}], got {v}")
    return v


def check_float(name: str, value: Any, *, lo: float | None = None, hi: float | None = None,
                finite: bool = True) -> float:
    """Require a real number in ``[lo, hi]`` (and finite, unless ``finite=False``)."""
    if isinstance(value, bool):
        raise TypeError(f"{name}: expected a number, got bool")
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: expected a number, got {type(value).__name__} {value!r}") from exc
    if v != v or (finite and math.isinf(v)) or (lo is not None and v < lo) or (hi is not None and v > hi):
        raise ValueError(f"{name}: expected a number in [{lo}, {hi}], got {value!r}")
    return v


class TrainingDiverged(ValueError):
    """A training loss became NaN or infinite; the trainer took no step on it and kept its last checkpoint."""


class NotFittedError(ValueError, AttributeError):
    """An estimator was used before ``fit`` (a ValueError, and an AttributeError as in scikit-learn)."""


def check_fitted(estimator: Any, *attributes: str, fit_call: str = "fit") -> None:
    """Require ``estimator`` to carry every fitted attribute named (``rotation_``, ...).

    The message names the estimator and the call that fits it, e.g.
    ``ProcrustesAligner: not fitted; call fit(X, Y) first``.
    """
    if not attributes:
        raise ValueError("attributes: expected at least one fitted attribute name")
    missing = [a for a in attributes if getattr(estimator, a, None) is None]
    if missing:
        raise NotFittedError(f"{type(estimator).__name__}: not fitted; call {fit_call} first")


def check_bool(name: str, value: Any) -> bool:
    """Require a real bool (a string like "no" is truthy, so it is refused rather than guessed)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected True or False, got {type(value).__name__} {value!r:.60}")
    return bool(value)


def check_dtype(name: str, value: Any, allowed: tuple = (torch.float32, torch.float64)) -> Any:
    """Require None or one of the ``allowed`` torch dtypes (a string such as "float32" is refused)."""
    if value is not None and value not in allowed:
        raise TypeError(f"{name}: expected None or one of {[str(d) for d in allowed]}, got {value!r:.60}")
    return value


def check_labels(name: str, labels: Any, n: int) -> np.ndarray:
    """Require ``n`` labels that are integers or strings, none missing (NaN or None)."""
    arr = np.asarray(labels)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{name}: expected {n} labels in a 1-D sequence, got shape {arr.shape}")
    if arr.dtype == object:
        if any(v is None or (isinstance(v, float) and v != v) for v in arr.tolist()):
            raise ValueError(f"{name}: some labels are missing (None or NaN); give every row a label")
    elif arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise ValueError(f"{name}: some labels are missing (NaN); give every row a label")
        if not np.all(arr == np.round(arr)):
            raise ValueError(f"{name}: expected integer or string labels, got fractional values")
    elif arr.dtype.kind == "c":
        raise TypeError(f"{name}: expected integer or string labels, got complex values")
    return arr


def as_array(name: str, value: Any, dtype: Any = None) -> np.ndarray:
    """``np.asarray(value, dtype)``, with ragged lists, objects and strings refused by name."""
    try:
        arr = np.asarray(value, dtype=dtype)
    except (ValueError, TypeError) as exc:  # ragged nesting, strings where numbers belong, ...
        raise TypeError(f"{name}: expected an array of numbers, got {type(value).__name__} that is not one "
                        f"({str(exc).split('.')[0][:80]})") from exc
    if arr.dtype == object or arr.dtype.kind in "USV":
        raise TypeError(f"{name}: expected an array of numbers, got {arr.dtype} values")
    return arr
