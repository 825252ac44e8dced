"""How similar two representations are: CKA, retrieval, mutual k-NN, cosine, shape distance.

Nearest-neighbour searches are tiled: a block of queries against a block of the gallery at a
time, keeping a running best per query, so a 100k x 100k search never holds the full
similarity matrix anywhere (on the host or the device).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from lab.checks import check_finite, check_int, check_labels, check_matrix, check_same_rows
from lab.device import as_tensor

__all__ = [
    "linear_cka",
    "unbiased_cka",
    "retrieval_top1",
    "nearest_neighbors",
    "mutual_knn_alignment",
    "mean_pairwise_cosine",
    "procrustes_distance",
]


def _pair(X: Any, Y: Any, *, same_width: bool = False, min_rows: int = 1, device=None):
    X = check_matrix("X", as_tensor(X, name="X", device=device), min_rows=min_rows)
    Y = check_matrix("Y", as_tensor(Y, name="Y", device=X.device), min_rows=min_rows)
    check_same_rows("X", X, "Y", Y)
    if same_width and X.shape[1] != Y.shape[1]:
        raise ValueError(f"X, Y: expected the same width, got shapes {tuple(X.shape)} and {tuple(Y.shape)}")
    check_finite("X", X)
    check_finite("Y", Y)
    dtype = torch.promote_types(X.dtype, Y.dtype)
    return X.to(dtype), Y.to(dtype)


# ----------------------------------------------------------------------------- CKA
def linear_cka(X: Any, Y: Any) -> float:
    """Linear centred kernel alignment between paired rows X (n, d_x) and Y (n, d_y).

    CKA = ||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F), computed in feature space so the
    cost is O(n d^2) and no n x n kernel is built. 1.0 for identical inputs; invariant to
    orthogonal maps and isotropic scaling of either side.
    """
    X, Y = _pair(X, Y, min_rows=2)
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    cross = torch.linalg.matrix_norm(Yc.T @ Xc) ** 2  # (d_y, d_x) -> scalar
    norm_x = torch.linalg.matrix_norm(Xc.T @ Xc)
    norm_y = torch.linalg.matrix_norm(Yc.T @ Yc)
    if norm_x == 0 or norm_y == 0:
        raise ValueError("X, Y: linear CKA is undefined when a side is constant (all rows equal)")
    return float(cross / (norm_x * norm_y))


def _unbiased_hsic(K: torch.Tensor, L: torch.Tensor) -> torch.Tensor:
    # Note [unbiased HSIC]: the estimator of Song et al. (2012) on kernels with zeroed
    # diagonals: [tr(K L) + 1^T K 1 1^T L 1 / ((n-1)(n-2)) - 2/(n-2) 1^T K L 1] / (n(n-3)).
    n = K.shape[0]
    K = K - torch.diag(torch.diagonal(K))
    L = L - torch.diag(torch.diagonal(L))
    ones = torch.ones(n, 1, dtype=K.dtype, device=K.device)
    term1 = (K * L).sum()  # tr(K L) for symmetric K, L
    term2 = (ones.T @ K @ ones) * (ones.T @ L @ ones) / ((n - 1) * (n - 2))
    term3 = 2.0 / (n - 2) * (ones.T @ K @ (L @ ones))
    return ((term1 + term2 - term3) / (n * (n - 3))).squeeze()


def unbiased_cka(X: Any, Y: Any) -> float:
    """Linear CKA with the unbiased HSIC estimator (needs n >= 4; builds n x n kernels).

    Unlike :func:`linear_cka`, it is not pulled up by the dimension-to-sample ratio: for
    independent random X and Y it is close to 0 even when d is comparable to n.
    """
    X, Y = _pair(X, Y, min_rows=4)
    K, L = X @ X.T, Y @ Y.T  # (n, n) each
    hxy, hxx, hyy = _unbiased_hsic(K, L), _unbiased_hsic(K, K), _unbiased_hsic(L, L)
    denom = torch.sqrt(hxx * hyy)
    if not torch.isfinite(denom) or denom <= 0:
        raise ValueError("X, Y: unbiased CKA is undefined here (a side has no variance the estimator can see)")
    return float(hxy / denom)


# ----------------------------------------------------------------------------- neighbours
def _unit_rows(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize(x, dim=-1)


def nearest_neighbors(
    queries: Any,
    gallery: Any,
    *,
    k: int = 1,
    exclude_self: bool = False,
    tile: int = 4096,
    device: str | torch.device | None = None,
) -> torch.Tensor:
    """Indices (n_q, k) of the k most cosine-similar gallery rows for each query, best first.

    Tiled over queries and gallery (``tile`` rows of each at a time); the largest similarity
    block ever held is (tile, tile + k). ``exclude_self`` skips gallery row i for query i
    (queries and gallery are the same set). Ties go to the lower gallery index.
    """
    q = check_matrix("queries", as_tensor(queries, name="queries", device=device))
    g = check_matrix("gallery", as_tensor(gallery, name="gallery", device=q.device))
    if q.shape[1] != g.shape[1]:
        raise ValueError(f"queries, gallery: expected the same width, got {q.shape[1]} and {g.shape[1]}")
    check_finite("queries", q)
    check_finite("gallery", g)
    k = check_int("k", k, lo=1, hi=g.shape[0] - (1 if exclude_self else 0))
    tile = check_int("tile", tile, lo=1)
    if exclude_self and q.shape[0] != g.shape[0]:
        raise ValueError(f"exclude_self: needs queries and gallery of equal length, got {q.shape[0]} and {g.shape[0]}")
    dtype = torch.promote_types(q.dtype, g.dtype)
    q, g = _unit_rows(q.to(dtype)), _unit_rows(g.to(dtype))
    out = torch.empty(q.shape[0], k, dtype=torch.long, device=q.device)
    for qs in range(0, q.shape[0], tile):
        qb = q[qs : qs + tile]  # (tq, d)
        best_s = torch.full((qb.shape[0], 0), -math.inf, dtype=dtype, device=q.device)
        best_i = torch.empty((qb.shape[0], 0), dtype=torch.long, device=q.device)
        for gs in range(0, g.shape[0], tile):
            sims = qb @ g[gs : gs + tile].T  # (tq, tg)
            if exclude_self and gs < qs + qb.shape[0] and qs < gs + sims.shape[1]:  # block meets the diagonal
                r = torch.arange(qs, qs + qb.shape[0], device=q.device).unsqueeze(1)  # (tq, 1) global rows
                c = torch.arange(gs, gs + sims.shape[1], device=q.device).unsqueeze(0)  # (1, tg) global cols
                sims = sims.masked_fill(r == c, -math.inf)
            if k == 1:
                # Fast path: a running maximum; strict '>' keeps the earlier (lower) index on ties.
                vals, arg = sims.max(dim=1, keepdim=True)  # (tq, 1) each
                if best_s.shape[1] == 0:
                    best_s, best_i = vals, arg + gs
                else:
                    better = vals > best_s
                    best_s = torch.where(better, vals, best_s)
                    best_i = torch.where(better, arg + gs, best_i)
                continue
            idx = torch.arange(gs, gs + sims.shape[1], device=q.device).expand(sims.shape[0], -1)
            # Candidates so far first, so a stable sort keeps the lower index on ties.
            cand_s = torch.cat([best_s, sims], dim=1)  # (tq, k + tg)
            cand_i = torch.cat([best_i, idx], dim=1)
            kk = min(k, cand_s.shape[1])
            order = torch.sort(cand_s, dim=1, descending=True, stable=True).indices[:, :kk] if kk > 1 else \
                cand_s.argmax(dim=1, keepdim=True)
            best_s = torch.gather(cand_s, 1, order)
            best_i = torch.gather(cand_i, 1, order)
        out[qs : qs + qb.shape[0]] = best_i
    return out


def _labels(name: str, labels: Any, n: int) -> np.ndarray:
    # A missing label (NaN, None) would never match, or match another missing one: refused.
    return check_labels(name, labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else labels, n)


def retrieval_top1(
    queries: Any,
    gallery: Any,
    *,
    query_labels: Any = None,
    gallery_labels: Any = None,
    tile: int = 4096,
    device: str | torch.device | None = None,
) -> float:
    """Fraction of queries whose cosine nearest gallery row is a hit.

    Without labels (instance level) queries and gallery are paired rows and the hit is the
    same row index. With labels (class level) the hit is a gallery row with the query's
    label; both label arrays must be given.
    """
    if (query_labels is None) != (gallery_labels is None):
        raise ValueError("query_labels, gallery_labels: give both (class-level retrieval) or neither (instance level)")
    q = as_tensor(queries, name="queries", device=device)
    g = as_tensor(gallery, name="gallery", device=q.device)
    if q.ndim == 2 and g.ndim == 2 and query_labels is None and q.shape[0] != g.shape[0]:
        raise ValueError(
            f"queries, gallery: instance-level retrieval needs paired rows, got {q.shape[0]} and {g.shape[0]}; "
            "pass query_labels and gallery_labels for class-level retrieval"
        )
    nn = nearest_neighbors(q, g, k=1, tile=tile)[:, 0]  # (n_q,)
    if query_labels is None:
        hits = nn == torch.arange(q.shape[0], device=nn.device)
        return float(hits.double().mean())
    ql = _labels("query_labels", query_labels, q.shape[0])
    gl = _labels("gallery_labels", gallery_labels, g.shape[0])
    return float(np.mean(gl[nn.cpu().numpy()] == ql))


def mutual_knn_alignment(X: Any, Y: Any, *, k: int = 10, tile: int = 4096) -> float:
    """Mean overlap |N_X(i) ∩ N_Y(i)| / k of each row's k nearest neighbours in X and in Y.

    Neighbours by cosine similarity within each space, excluding the row itself. 1.0 when the
    two spaces order neighbours the same way; about k / (n - 1) for unrelated spaces.
    """
    X, Y = _pair(X, Y, min_rows=2)
    k = check_int("k", k, lo=1, hi=X.shape[0] - 1)
    nx = nearest_neighbors(X, X, k=k, exclude_self=True, tile=tile)  # (n, k)
    ny = nearest_neighbors(Y, Y, k=k, exclude_self=True, tile=tile)
    overlap = (nx.unsqueeze(2) == ny.unsqueeze(1)).any(dim=2).sum(dim=1)  # (n,)
    return float(overlap.double().mean() / k)


def mean_pairwise_cosine(X: Any, Y: Any) -> float:
    """Mean cosine similarity between paired rows x_i and y_i."""
    X, Y = _pair(X, Y, same_width=True)
    return float(torch.nn.functional.cosine_similarity(X, Y, dim=1).mean())


def procrustes_distance(X: Any, Y: Any) -> float:
    """Angular Procrustes shape distance arccos(||Xc^T Yc||_* / (||Xc||_F ||Yc||_F)), in radians.

    0 when Y is an orthogonal map of X up to translation and scale; pi/2 at most.
    """
    X, Y = _pair(X, Y, min_rows=2)
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    nx, ny = torch.linalg.matrix_norm(Xc), torch.linalg.matrix_norm(Yc)
    if nx == 0 or ny == 0:
        raise ValueError("X, Y: the shape distance is undefined when a side is constant")
    nuc = torch.linalg.matrix_norm(Xc.T @ Yc, ord="nuc")
    return float(torch.arccos(torch.clamp(nuc / (nx * ny), -1.0, 1.0)))
