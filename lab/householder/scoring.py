"""Ground-truth scores of codes against the shapes' six factors (generic: any codes, any directions).

- :func:`predict_factors` reads the factor regressor;
- :func:`purity` is each row of a (directions x factors) sensitivity matrix's share of its top entry;
- :func:`mig` (mutual information gap) and :func:`sap` (separated attribute predictability) score
  codes (n, k) against the factors (n, 6); DCI lives in :mod:`lab.householder.gan_metrics`.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import mutual_info_score

from lab.checks import as_array
from lab.device import to_numpy
from lab.householder.shapes import FACTORS, normalise_factors

__all__ = ["predict_factors", "purity", "discretize", "mutual_info_matrix", "mig", "sap_matrix", "sap"]


def _device_of(module: torch.nn.Module) -> torch.device:
    return next(module.parameters()).device


@torch.no_grad()
def predict_factors(regressor: torch.nn.Module, images: torch.Tensor,
                    batch: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """(continuous factors normalised to [0, 1] (n, 5), shape probabilities (n, 3))."""
    dev = _device_of(regressor)
    cs, ps = [], []
    for i in range(0, images.shape[0], batch):
        c, logits = regressor(images[i:i + batch].to(dev))
        cs.append(c.cpu())
        ps.append(torch.softmax(logits, dim=1).cpu())
    return torch.cat(cs).numpy().astype(np.float64), torch.cat(ps).numpy().astype(np.float64)


def purity(sensitivity) -> np.ndarray:
    """(k,) share of each direction's total sensitivity taken by its largest factor (1/f .. 1)."""
    S = as_array("sensitivity", sensitivity, dtype=np.float64)
    if S.ndim != 2 or 0 in S.shape:
        raise ValueError(f"sensitivity: expected a non-empty (k, factors) matrix, got shape {S.shape}")
    if not np.isfinite(S).all() or (S < 0).any():
        raise ValueError("sensitivity: expected finite, non-negative changes; got NaN, infinite or negative values")
    tot = S.sum(axis=1)
    return np.where(tot > 0, S.max(axis=1) / np.where(tot > 0, tot, 1.0), np.nan)


def discretize(x: np.ndarray, bins: int = 20) -> np.ndarray:
    """Equal-count (quantile) bins of a 1-D array -> integer labels."""
    x = np.asarray(x, dtype=np.float64)
    edges = np.quantile(x, np.linspace(0, 1, bins + 1)[1:-1])
    return np.searchsorted(edges, x, side="right")


def _factor_labels(factors: np.ndarray, bins: int = 10) -> np.ndarray:
    """(n, 6) integer labels: the shape as is, continuous factors in equal-width bins."""
    fn = normalise_factors(factors)
    out = np.empty(fn.shape, dtype=np.int64)
    out[:, 0] = np.round(factors[:, 0]).astype(np.int64)
    out[:, 1:] = np.clip((fn[:, 1:] * bins).astype(np.int64), 0, bins - 1)
    return out


def _codes_and_factors(codes, factors) -> tuple[np.ndarray, np.ndarray]:
    """(n, k) codes and (n, 6) factors as float64, checked: paired rows, finite values."""
    C = as_array("codes", to_numpy(codes) if isinstance(codes, torch.Tensor) else codes, dtype=np.float64)
    F = as_array("factors", factors, dtype=np.float64)
    if C.ndim != 2 or F.ndim != 2 or C.shape[0] != F.shape[0] or F.shape[1] != len(FACTORS):
        raise ValueError(f"codes, factors: expected (n, k) and (n, {len(FACTORS)}) with the same n, "
                         f"got {C.shape} and {F.shape}")
    if not np.isfinite(C).all():
        raise ValueError(f"codes: contains {int((~np.isfinite(C)).sum())} NaN or infinite value(s)")
    if not np.isfinite(F).all():
        raise ValueError("factors: contains NaN or infinite values")
    return C, F


def mutual_info_matrix(codes, factors, *, code_bins: int = 20, factor_bins: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """(k, 6) discrete mutual information (nats) between each code and factor, and the
    (6,) factor entropies."""
    C, F = _codes_and_factors(codes, factors)
    labels = _factor_labels(F, factor_bins)
    codes_d = [discretize(C[:, j], code_bins) for j in range(C.shape[1])]
    mi = np.array([[mutual_info_score(cd, labels[:, f]) for f in range(labels.shape[1])] for cd in codes_d])
    ent = np.array([mutual_info_score(labels[:, f], labels[:, f]) for f in range(labels.shape[1])])
    return mi, ent


def mig(codes, factors, **kw) -> tuple[float, np.ndarray]:
    """Mutual information gap: mean over factors of (top-1 - top-2 MI over codes) / H(factor).

    Returns (MIG, per-factor gaps (6,)). Needs at least 2 codes.
    """
    mi, ent = mutual_info_matrix(codes, factors, **kw)
    if mi.shape[0] < 2:
        raise ValueError(f"codes: MIG needs at least 2 codes (columns), got {mi.shape[0]}")
    top = np.sort(mi, axis=0)[::-1]  # (k, 6) descending per factor
    gaps = (top[0] - top[1]) / np.maximum(ent, 1e-12)
    return float(gaps.mean()), gaps


def sap_matrix(codes, factors) -> np.ndarray:
    """(k, 6) predictability of each factor from each single code, in [0, 1].

    Continuous factors: squared Pearson correlation (R^2 of a 1-D linear fit). The shape
    (categorical): the correlation ratio eta^2 = between-class / total variance of the code.
    """
    C, F = _codes_and_factors(codes, factors)
    k = C.shape[1]
    out = np.zeros((k, F.shape[1]))
    Cc = C - C.mean(0)
    var = (Cc ** 2).mean(0)
    shape = np.round(F[:, 0]).astype(int)
    for j in range(k):
        if var[j] <= 0:
            continue
        between = sum((shape == c).mean() * (C[shape == c, j].mean() - C[:, j].mean()) ** 2 for c in np.unique(shape))
        out[j, 0] = between / var[j]
        for f in range(1, F.shape[1]):
            r = np.corrcoef(C[:, j], F[:, f])[0, 1]
            out[j, f] = 0.0 if not np.isfinite(r) else r * r
    return out


def sap(codes, factors) -> tuple[float, np.ndarray]:
    """SAP: mean over factors of the gap between the two most predictive codes."""
    M = sap_matrix(codes, factors)
    if M.shape[0] < 2:
        raise ValueError(f"codes: SAP needs at least 2 codes (columns), got {M.shape[0]}")
    top = np.sort(M, axis=0)[::-1]
    gaps = top[0] - top[1]
    return float(gaps.mean()), gaps
