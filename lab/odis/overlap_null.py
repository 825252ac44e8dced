"""What the overlap of per-component selections would be if the components were independent.

The overlap |S_i ∩ S_j| / min(|S_i|, |S_j|) of two top-k selections means little without its
reference point: for independent scores the expected overlap of two selections of sizes k_i and
k_j out of n documents is k_i k_j / n / min(k_i, k_j) = max(k_i, k_j) / n, so it grows with the
budget and shrinks with the corpus. PCA makes the component scores uncorrelated, not
independent: what exceeds the null is dependence in the tails, which a linear decorrelation
leaves in place. This module gives the null two ways (analytic, and by shuffling each
component's scores on its own, which keeps every marginal and breaks the dependence), the
tail dependence that remains (rank correlation among each component's own top documents), and
a sweep over budget and corpus size.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from lab.checks import check_int
from lab.odis.selector import overlap_matrix
from lab.progress import Progress, ShouldStop, resolve

__all__ = ["expected_overlap", "shuffled_overlap", "tail_dependence", "overlap_sweep"]


def _quotas(quotas: Sequence[int], n: int) -> np.ndarray:
    q = np.asarray(quotas)
    if q.ndim != 1 or q.size == 0 or q.dtype.kind not in "iu":
        raise TypeError(f"quotas: expected a 1-D array of integer selection sizes, got {q.dtype} of shape {q.shape}")
    if q.min() < 0 or q.max() > n:
        raise ValueError(f"quotas: expected sizes in [0, n={n}], got {q.min()} to {q.max()}")
    return q.astype(np.int64)


def expected_overlap(quotas: Sequence[int], n: int) -> np.ndarray:
    """(k, k) expected overlap of top-``quotas`` selections out of ``n`` documents under independence.

    Off the diagonal max(k_i, k_j) / n (exact: E|S_i ∩ S_j| = k_i k_j / n for independent random
    subsets); 1 on the diagonal of a non-empty selection, 0 where a side is empty.
    """
    n = check_int("n", n, lo=1)
    q = _quotas(quotas, n).astype(np.float64)
    out = np.maximum(q[:, None], q[None, :]) / n
    out[(q[:, None] == 0) | (q[None, :] == 0)] = 0.0
    np.fill_diagonal(out, (q > 0).astype(np.float64))
    return out


def shuffled_overlap(pc_scores, quotas: Sequence[int], *, n_shuffles: int = 20,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std (k, k) of the overlap after permuting each component's scores on its own.

    Each shuffle keeps every component's distribution and breaks their dependence; the top
    ``quotas[c]`` of each shuffled column are selected as ODiS selects (``duplicates="keep"``).
    """
    p = np.asarray(pc_scores, dtype=np.float64)
    if p.ndim != 2 or not np.all(np.isfinite(p)):
        raise ValueError(f"pc_scores: expected a finite 2-D array (documents x components), got shape {p.shape}")
    n, k = p.shape
    q = _quotas(quotas, n)
    if len(q) != k:
        raise ValueError(f"quotas: expected {k} sizes (one per component), got {len(q)}")
    n_shuffles = check_int("n_shuffles", n_shuffles, lo=2, hi=100_000)
    rng = np.random.default_rng(seed)
    runs = []
    for _ in range(n_shuffles):
        shuffled = np.column_stack([rng.permutation(p[:, c]) for c in range(k)])
        order = np.argsort(-shuffled, axis=0, kind="stable")
        runs.append(overlap_matrix({c: order[: q[c], c] for c in range(k)}))
    runs_arr = np.stack(runs)
    return runs_arr.mean(0), runs_arr.std(0, ddof=1)


def tail_dependence(pc_scores, selections: dict[int, np.ndarray]) -> np.ndarray:
    """(k, k) Spearman correlation of components i and j among the documents component i selected.

    Row i is conditioned on i's own top documents only: selecting on one component leaves an
    independent one independent, so every entry is 0 on average under independence (taking
    the union of both tops instead would make it negative by the selection alone). PCA's zero
    correlation over the whole corpus does not make it zero in the tails. The diagonal is 1;
    NaN where a selection has fewer than three documents. Not symmetric.
    """
    p = np.asarray(pc_scores, dtype=np.float64)
    keys = list(selections)
    k = len(keys)
    if p.ndim != 2 or p.shape[1] != k:
        raise ValueError(f"pc_scores: expected one column per selection ({k}), got shape {p.shape}")
    out = np.eye(k)
    for a in range(k):
        rows = np.asarray(selections[keys[a]], dtype=np.int64)
        for b in range(k):
            if a != b:
                out[a, b] = stats.spearmanr(p[rows, a], p[rows, b]).statistic if len(rows) >= 3 else np.nan
    return out


def overlap_sweep(scores: pd.DataFrame, *, fractions: Iterable[float] = (0.01, 0.02, 0.05, 0.1, 0.2),
                  sizes: Iterable[int] | None = None, n_components: int = 4, seeds: Iterable[int] = (0, 1, 2),
                  n_shuffles: int = 10, progress: Progress | None = None,
                  should_stop: ShouldStop | None = None) -> pd.DataFrame:
    """Overlap against its null over budget fraction and corpus size (seeded subsamples of the rows).

    For every corpus size (default: the whole corpus, a half and a quarter) and seed, the
    selector is fitted on that subsample alone; per budget fraction one row with the largest and
    mean off-diagonal overlap, the analytic null, the shuffled null and the mean tail dependence.
    """
    from lab.odis.analysis import analyse

    progress, should_stop = resolve(progress, should_stop)
    if not isinstance(scores, pd.DataFrame):
        raise TypeError(f"scores: expected a DataFrame of raw dimension scores, got {type(scores).__name__}")
    n_all = len(scores)
    fractions = [float(f) for f in fractions]
    if not fractions or min(fractions) <= 0 or max(fractions) > 1:
        raise ValueError(f"fractions: expected budget fractions in (0, 1], got {fractions}")
    sizes = sorted({n_all, n_all // 2, n_all // 4} if sizes is None else {int(s) for s in sizes}, reverse=True)
    if min(sizes) < 4 * n_components or max(sizes) > n_all:
        raise ValueError(f"sizes: expected corpus sizes in [{4 * n_components}, {n_all}], got {sizes}")
    seeds = list(seeds)
    jobs = [(m, s) for m in sizes for s in (seeds if m < n_all else seeds[:1])]  # the whole corpus: one draw
    rows = []
    for j, (m, seed) in enumerate(jobs):
        if should_stop():
            break
        pick = np.sort(np.random.default_rng(seed).choice(n_all, size=m, replace=False))
        sub = scores.iloc[pick].reset_index(drop=True)
        for f in fractions:
            budget = max(n_components, int(round(f * m)))
            a = analyse(sub, n_components=n_components, budget=budget)
            off = ~np.eye(n_components, dtype=bool)
            null_mean, _ = shuffled_overlap(a.pc_scores, a.quotas, n_shuffles=n_shuffles, seed=seed)
            tails = tail_dependence(a.pc_scores, a.selections)[off]
            rows.append({"n_docs": m, "seed": seed, "budget_fraction": f, "budget": budget,
                         "overlap_max": float(a.overlap_docs[off].max()),
                         "overlap_mean": float(a.overlap_docs[off].mean()),
                         "null_analytic": float(expected_overlap(a.quotas, m)[off].max()),
                         "null_shuffled_max": float(null_mean[off].max()),
                         "null_shuffled_mean": float(null_mean[off].mean()),
                         "tail_spearman_mean": float(np.nanmean(tails)),
                         "tail_spearman_max_abs": float(np.nanmax(np.abs(tails)))})
        progress((j + 1) / len(jobs), f"{m} documents, seed {seed}", rows=list(rows))
    return pd.DataFrame(rows)
