"""Calibrated similarity: every score of a fit beside its permutation null and a bootstrap interval.

A similarity score means little on its own: 0.3 linear CKA can be far above chance for one
pair and at chance for another (CKA of unrelated high-dimensional rows is not 0), and a
retrieval top-1 of 0.05 over 50 items is chance. So each score of an
:class:`~lab.alignment.experiment.AlignmentResult` is reported with

- a permutation null: the same score with space B's rows shuffled against space A's (the
  pairing destroyed, each space's own geometry kept), its mean and central 95 % band, and the
  permutation p-value (1 + #{null >= value}) / (1 + n_permutations);
- a 95 % interval of the score's sampling spread (Note [what is resampled]).

Note [what is resampled]: scores that average a per-item quantity (retrieval hits, cosine,
each row's k-NN overlap) get a percentile bootstrap of that mean, items resampled with
replacement and the gallery and neighbour sets held fixed (duplicating a gallery row would
make a row its own nearest neighbour). CKA, a property of the whole set, is not
bootstrapped: duplicated rows inflate it (on MiniLM vs e5 the bootstrap CKAs sat 0.02 above
the estimate, and their percentile interval excluded it). Its spread comes from half-samples
instead (the delete-n/2 jackknife): CKA on random halves of the rows, drawn without
replacement, whose standard deviation estimates the full-sample one; the interval is the
estimate ± 1.96 of it.

Everything is computed from the rows exactly as the fit scored them (normalised if asked,
in its scoring frame), so the calibrated value equals the score the page shows.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from typing import Any

import numpy as np
import pandas as pd

from lab.checks import check_int
from lab.progress import Progress, ShouldStop, resolve

__all__ = ["calibrate", "shared_calibration", "CALIBRATED_METRICS"]

# The scores calibrated, as named in AlignmentResult.metrics (first modality).
CALIBRATED_METRICS = ("retrieval top-1 (instance)", "retrieval top-1 (same caption)", "retrieval top-1 (class)",
                      "mean cosine", "linear CKA", "unbiased CKA", "mutual 10-NN overlap")


def _unit(z: np.ndarray) -> np.ndarray:
    return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)


def _linear_cka(X: np.ndarray, Y: np.ndarray) -> float:
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    den = np.linalg.norm(Xc.T @ Xc) * np.linalg.norm(Yc.T @ Yc)
    return float(np.linalg.norm(Yc.T @ Xc) ** 2 / den) if den > 0 else float("nan")


def _unbiased_hsic(A: np.ndarray, B: np.ndarray) -> float:
    """Unbiased HSIC of the linear kernels of A and B, O(n d^2) (same estimator as lab.alignment.metrics)."""
    n = A.shape[0]
    a, b = np.einsum("ij,ij->i", A, A), np.einsum("ij,ij->i", B, B)
    sa, sb = A.sum(0), B.sum(0)
    t1 = float(np.sum((A.T @ B) ** 2) - a @ b)
    t2 = (float(sa @ sa) - a.sum()) * (float(sb @ sb) - b.sum()) / ((n - 1) * (n - 2))
    t3 = 2.0 / (n - 2) * float((A @ sa - a) @ (B @ sb - b))
    return (t1 + t2 - t3) / (n * (n - 3))


def _unbiased_cka(X: np.ndarray, Y: np.ndarray) -> float:
    hxx, hyy = _unbiased_hsic(X, X), _unbiased_hsic(Y, Y)
    if not np.isfinite(hxx * hyy) or hxx * hyy <= 0:
        return float("nan")
    return float(_unbiased_hsic(X, Y) / np.sqrt(hxx * hyy))


def _knn_sets(z: np.ndarray, k: int) -> np.ndarray:
    u = _unit(z)
    sims = u @ u.T
    np.fill_diagonal(sims, -np.inf)
    return np.argpartition(-sims, k - 1, axis=1)[:, :k]


def _unique_rows(groups: np.ndarray | None, n: int) -> np.ndarray:
    if groups is None:
        return np.ones(n, dtype=bool)
    _, inv, counts = np.unique(groups, return_inverse=True, return_counts=True)
    return counts[inv] == 1


def _per_item(x: np.ndarray, y: np.ndarray, labels: np.ndarray | None, groups: np.ndarray | None, k: int):
    """Per-item score functions of a pairing: each maps a permutation pi of B's rows to (n,) values.

    Item i of space A is paired with row pi[i] of space B (pi = identity: the true pairing).
    """
    n = x.shape[0]
    nn = np.argmax(_unit(x) @ _unit(y).T, axis=1)  # (n,) nearest B row of each A row
    ux, uy = _unit(x), _unit(y)
    unique = _unique_rows(groups, n)
    nx = _knn_sets(x, k) if n > k else None
    ny = _knn_sets(y, k) if n > k else None

    def inverse(pi: np.ndarray) -> np.ndarray:
        inv = np.empty_like(pi)
        inv[pi] = np.arange(len(pi))
        return inv

    fns: dict[str, Any] = {
        # B's row nn[i] belongs to item inv[nn[i]] under the pairing pi
        "retrieval top-1 (instance)": lambda pi: (inverse(pi)[nn] == np.arange(n))[unique],
        "mean cosine": lambda pi: np.sum(ux * uy[pi], axis=1),
    }
    if groups is not None:
        fns["retrieval top-1 (same caption)"] = lambda pi: groups[inverse(pi)[nn]] == groups
    if labels is not None:
        fns["retrieval top-1 (class)"] = lambda pi: labels[inverse(pi)[nn]] == labels
    if nx is not None:
        def knn(pi: np.ndarray) -> np.ndarray:
            own = inverse(pi)[ny[pi]]  # (n, k) items whose B rows neighbour item i's B row
            return (nx[:, :, None] == own[:, None, :]).any(axis=2).sum(axis=1) / k

        fns["mutual 10-NN overlap"] = knn
    return fns


def calibrate(
    result: Any,
    *,
    n_permutations: int = 100,
    n_bootstrap: int = 100,
    seed: int = 0,
    metrics: tuple[str, ...] = CALIBRATED_METRICS,
    progress: Progress | None = None,
    should_stop: ShouldStop | None = None,
) -> pd.DataFrame | None:
    """Permutation null and bootstrap interval of each first-modality score of ``result``.

    Parameters
    ----------
    result : AlignmentResult
        A fit from :func:`~lab.alignment.run_alignment` (it carries the rows as scored).
    n_permutations, n_bootstrap : int
        Shuffles of space B's rows, and resamples (bootstrap draws, or half-samples for CKA) (at least 10 each).
    seed : int
        Seeds both (the same seed gives the same table).
    metrics : tuple of str
        Which scores to calibrate (names as in ``result.metrics``); absent ones are skipped.

    Returns
    -------
    DataFrame with one row per score: metric, value, null_mean, null_lo, null_hi (the 2.5 and
    97.5 percentiles of the null), p_value, ci_lo, ci_hi (the 95 % interval, Note [what is
    resampled]), n (items); or None when stopped.
    """
    n_permutations = check_int("n_permutations", n_permutations, lo=10)
    n_bootstrap = check_int("n_bootstrap", n_bootstrap, lo=10)
    if getattr(result, "y_target", None) is None or getattr(result, "x_after", None) is None:
        raise TypeError(f"result: expected an AlignmentResult from run_alignment, got {type(result).__name__}")
    progress, should_stop = resolve(progress, should_stop)
    data = result.scored
    x = np.asarray(result.x_after, dtype=np.float64)  # (n, d_y) mapped A rows, scoring frame
    y = np.asarray(result.y_target, dtype=np.float64)  # (n, d_y) B rows, same frame
    n = x.shape[0]
    rows = result.eval_rows
    labels = data.labels[rows] if data is not None and data.labels is not None else None
    groups = data.groups[rows] if data is not None and data.groups is not None else None
    k = min(10, n - 1)
    rng = np.random.default_rng(seed)
    perms = [rng.permutation(n) for _ in range(n_permutations)]
    boots = [rng.integers(0, n, size=n) for _ in range(n_bootstrap)]
    halves = [rng.permutation(n)[: n // 2] for _ in range(n_bootstrap)]
    identity = np.arange(n)
    per_item = _per_item(x, y, labels, groups, k)
    set_level = {"linear CKA": _linear_cka}
    if n >= 5:
        set_level["unbiased CKA"] = _unbiased_cka
    wanted = [m for m in metrics if m in per_item or m in set_level]
    out, total = [], len(wanted)
    for i, name in enumerate(wanted):
        if should_stop():
            return None
        if name in per_item:
            fn = per_item[name]
            values = np.asarray(fn(identity), dtype=np.float64)
            value = float(values.mean()) if values.size else float("nan")
            null = np.array([np.mean(fn(p)) if values.size else np.nan for p in perms])
            if name == "retrieval top-1 (instance)":  # resample the items it is scored on
                boot = np.array([values[rng.integers(0, values.size, size=values.size)].mean() for _ in boots]) \
                    if values.size else np.full(len(boots), np.nan)
            else:
                boot = np.array([values[b].mean() for b in boots])
            n_items = int(values.size)
        else:
            fn = set_level[name]
            value = fn(x, y)
            null = np.array([fn(x, y[p]) for p in perms])
            half = np.array([fn(x[h], y[h]) for h in halves])
            sd = float(np.nanstd(half, ddof=1)) if np.isfinite(half).sum() > 1 else float("nan")
            boot = np.array([value - 1.959964 * sd, value + 1.959964 * sd])  # the interval's two ends
            n_items = n
        finite = null[np.isfinite(null)]
        out.append({
            "metric": name, "value": value,
            "null_mean": float(finite.mean()) if finite.size else float("nan"),
            "null_lo": float(np.percentile(finite, 2.5)) if finite.size else float("nan"),
            "null_hi": float(np.percentile(finite, 97.5)) if finite.size else float("nan"),
            "p_value": float((1 + np.sum(finite >= value)) / (1 + finite.size)) if finite.size else float("nan"),
            "ci_lo": float(np.nanpercentile(boot, 2.5)) if np.isfinite(boot).any() else float("nan"),
            "ci_hi": float(np.nanpercentile(boot, 97.5)) if np.isfinite(boot).any() else float("nan"),
            "n": n_items,
        })
        progress((i + 1) / total, f"calibrated {name}", row=out[-1])
    return pd.DataFrame(out)


# Note [one calibration per fit]: a fit's calibrated table depends only on the fit (and the
# fixed settings), and the fits of shared pairs are memoised and shared; so are their tables.
_TABLES: "OrderedDict[int, tuple[Any, pd.DataFrame]]" = OrderedDict()
_TABLES_MAX = 64
_TABLES_LOCK = threading.Lock()


def shared_calibration(result: Any, *, compute: bool = True, **settings: Any) -> pd.DataFrame | None:
    """:func:`calibrate` of ``result``, memoised per fit while the fit lives (``compute=False``: only look).

    ``settings`` (n_permutations, n_bootstrap, seed, progress, should_stop) as in
    :func:`calibrate`; a stopped run is not stored. The returned table is shared: read only.
    """
    key = id(result)
    with _TABLES_LOCK:
        hit = _TABLES.get(key)
        if hit is not None and hit[0]() is result:
            _TABLES.move_to_end(key)
            return hit[1]
    if not compute:
        return None
    table = calibrate(result, **settings)
    if table is not None:
        with _TABLES_LOCK:
            _TABLES[key] = (weakref.ref(result), table)
            while len(_TABLES) > _TABLES_MAX:
                _TABLES.popitem(last=False)
    return table
