"""Decorrelate raw quality scores with PCA and select the top of each orthogonal dimension.

Choices the paper leaves open, made here and exposed as parameters:

* standardisation before PCA (``standardize=True``): raw dimensions live on different scales
  (shares in [0, 1], a grade in [0, 25]); without it the widest scale dominates the first
  component.
* what "better" means (``signs``): each raw dimension has a documented direction (its
  ``higher_is_better`` in :mod:`lab.odis.scorers`); the quality direction is the vector of
  those signs in standardised space. Note [component orientation]: an eigenvector is defined
  up to sign, so each component is flipped to have a non-negative dot product with the sign
  vector (ties broken by making its largest-magnitude loading positive). A higher component
  score then means "more of what the raw dimensions call better along this direction".
* the budget split (``weights``): equal by default; with weights w the quotas are
  budget * w / sum(w), rounded by largest remainder so that they sum to the budget.
* documents chosen by two dimensions (``duplicates``): ``"keep"`` (default, the paper's
  union of per-dimension top sets) lets a document sit in several selections, so the union
  can be smaller than the budget; ``"fill"`` assigns each document to one component only
  (components take turns, each taking its best document not yet taken), so the selections
  are disjoint and the union is exactly the budget.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from lab.checks import as_array, check_finite, check_fitted, check_int, check_matrix
from lab.device import as_tensor, pick_device, to_numpy
from lab.odis.scorers import dimension_signs
from lab.seeding import numpy_rng

__all__ = [
    "OrthogonalSelector",
    "overlap_matrix",
    "split_budget",
    "top_k",
    "select_baseline",
    "BASELINES",
    "union_of",
]

DUPLICATE_POLICIES = ("keep", "fill")


def _score_matrix(scores, name: str = "scores") -> tuple[np.ndarray, list[str] | None]:
    """(n, d) float64 array and the column names (None for a plain array)."""
    columns = None
    if isinstance(scores, pd.DataFrame):
        columns = [str(c) for c in scores.columns]
        non_numeric = [c for c in scores.columns if not pd.api.types.is_numeric_dtype(scores[c])]
        if non_numeric:
            raise TypeError(f"{name}: expected numeric columns only, got non-numeric {non_numeric}")
        scores = scores.to_numpy(dtype=np.float64)
    x = to_numpy(as_tensor(scores, name=name, device="cpu", dtype=torch.float64))
    check_matrix(name, torch.from_numpy(x), min_rows=1)
    check_finite(name, torch.from_numpy(x))
    return x, columns


def split_budget(budget: int, weights: Sequence[float]) -> np.ndarray:
    """Integer quotas proportional to ``weights`` that sum to ``budget`` (largest remainder).

    Ties in the remainders go to the lower component index.
    """
    budget = check_int("budget", budget, lo=0)
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or len(w) == 0:
        raise ValueError(f"weights: expected a non-empty 1-D sequence, got shape {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"weights: expected finite non-negative numbers with a positive sum, got {w.tolist()}")
    exact = budget * w / w.sum()
    quotas = np.floor(exact).astype(np.int64)
    left = budget - int(quotas.sum())
    order = np.lexsort((np.arange(len(w)), -(exact - quotas)))  # largest remainder first
    quotas[order[:left]] += 1
    return quotas


def top_k(values, k: int) -> np.ndarray:
    """Row indices of the ``k`` largest values, best first; ties go to the lower index."""
    v = np.asarray(values, dtype=np.float64)
    k = check_int("k", k, lo=0, hi=len(v))
    return np.argsort(-v, kind="stable")[:k]


class OrthogonalSelector:
    """Standardise raw scores, rotate them onto principal components, select per component.

    Parameters
    ----------
    n_components : int, default 4
        Principal components kept (the paper keeps about 4).
    standardize : bool, default True
        z-score each raw dimension before PCA (see the module notes).
    weights : sequence of float of shape (n_components,), optional
        Budget weight per component (default equal); see :func:`split_budget`.
    duplicates : {"keep", "fill"}, default "keep"
        The policy for documents chosen by two components.
    signs : array-like of shape (d,), optional
        +1/-1 per raw dimension defining "better"; default from the dimension registry when
        ``fit`` gets a DataFrame of known dimensions, else all +1.
    device : torch.device or str, optional
        Where the PCA runs (default: CUDA when present).

    Attributes
    ----------
    mean_, scale_ : ndarray of shape (d,)
        The standardisation (``scale_`` is 1 without ``standardize`` and for constant columns).
    components_ : ndarray of shape (n_components, d)
        Orthonormal rows, oriented so that higher means better.
    explained_variance_, explained_variance_ratio_ : ndarray of shape (n_components,)
    feature_names_ : list of str of length d, or None
        The columns of a DataFrame given to ``fit`` (None for a plain array).
    signs_ : ndarray of shape (d,)
        The +1/-1 direction of "better" per raw dimension.
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> scores = rng.standard_normal((300, 5)) @ rng.standard_normal((5, 5))
    >>> sel = OrthogonalSelector(3).fit(scores)
    >>> pcs = sel.transform(scores).numpy()
    >>> bool(np.allclose(np.corrcoef(pcs.T), np.eye(3), atol=1e-8))
    True
    >>> {k: len(v) for k, v in sel.select(pcs, 30).items()}
    {0: 10, 1: 10, 2: 10}
    """

    def __init__(self, n_components: int = 4, *, standardize: bool = True, weights: Sequence[float] | None = None,
                 duplicates: str = "keep", signs: Sequence[float] | None = None,
                 device: str | torch.device | None = None) -> None:
        self.n_components = n_components
        self.standardize = standardize
        self.weights = weights
        self.duplicates = duplicates
        self.signs = signs
        self.device = device

    # ------------------------------------------------------------------ fitting
    def fit(self, scores) -> "OrthogonalSelector":
        """Fit the standardisation and the principal components.

        Parameters
        ----------
        scores : DataFrame or array-like of shape (n_documents, d)
            Raw dimension scores, one row per document.

        Returns
        -------
        self : OrthogonalSelector
        """
        x, columns = _score_matrix(scores)
        n, d = x.shape
        k = check_int("n_components", self.n_components, lo=1, hi=d)
        if n < 2:
            raise ValueError(f"scores: expected at least 2 rows to fit a PCA, got {n}")
        if self.duplicates not in DUPLICATE_POLICIES:
            raise ValueError(f"duplicates: expected one of {DUPLICATE_POLICIES}, got {self.duplicates!r}")
        if self.signs is not None:
            signs = np.asarray(self.signs, dtype=np.float64)
            if signs.shape != (d,) or not np.all(np.isin(signs, (-1.0, 1.0))):
                raise ValueError(f"signs: expected {d} values each +1 or -1, got {np.asarray(self.signs).tolist()}")
        else:
            signs = dimension_signs(columns) if columns is not None else np.ones(d)
        dev = pick_device(self.device)
        xt = torch.from_numpy(x).to(dev)  # (n, d) float64
        mean = xt.mean(0)
        if self.standardize:
            scale = xt.std(0, correction=0)
            # Note [constant dimensions]: a dimension with zero spread carries no ranking
            # information; dividing by 1 keeps it at 0 after centring instead of NaN.
            scale = torch.where(scale > 0, scale, torch.ones_like(scale))
        else:
            scale = torch.ones_like(mean)
        z = (xt - mean) / scale  # (n, d)
        cov = z.T @ z / n  # (d, d), population covariance (ddof=0)
        evals, evecs = torch.linalg.eigh(cov)  # ascending
        evals, evecs = evals.flip(0).clamp_min(0.0), evecs.flip(1)
        comps = evecs.T[:k].clone()  # (k, d) rows = components
        s = torch.as_tensor(signs, dtype=comps.dtype, device=dev)
        dots = comps @ s  # (k,)
        biggest = comps.gather(1, comps.abs().argmax(1, keepdim=True)).squeeze(1)
        flip = torch.where(dots.abs() > 1e-12, torch.sign(dots), torch.sign(biggest))
        comps = comps * flip[:, None]
        total = evals.sum()
        self.mean_ = to_numpy(mean)
        self.scale_ = to_numpy(scale)
        self.components_ = to_numpy(comps)
        self.explained_variance_ = to_numpy(evals[:k])
        self.explained_variance_ratio_ = to_numpy(evals[:k] / total) if total > 0 else np.zeros(k)
        self.feature_names_ = columns
        self.signs_ = signs
        self.n_features_in_ = d
        return self

    def transform(self, scores) -> torch.Tensor:
        """Component scores, decorrelated on the fitting data.

        Parameters
        ----------
        scores : DataFrame or array-like of shape (n_documents, d)
            Raw dimension scores with the columns seen in ``fit``.

        Returns
        -------
        Tensor of shape (n_documents, n_components)
            float64, on the selector's device.
        """
        check_fitted(self, "components_", fit_call="fit(scores)")
        x, columns = _score_matrix(scores)
        if x.shape[1] != self.n_features_in_:
            raise ValueError(f"scores: expected {self.n_features_in_} columns (as in fit), got {x.shape[1]}")
        if columns is not None and self.feature_names_ is not None and columns != self.feature_names_:
            raise ValueError(f"scores: expected columns {self.feature_names_}, got {columns}")
        dev = pick_device(self.device)
        z = (torch.from_numpy(x).to(dev) - torch.from_numpy(self.mean_).to(dev)) / torch.from_numpy(self.scale_).to(dev)
        return z @ torch.from_numpy(self.components_).to(dev).T  # (n, k)

    def fit_transform(self, scores) -> torch.Tensor:
        return self.fit(scores).transform(scores)

    # ------------------------------------------------------------------ selection
    def quotas(self, budget: int, weights: Sequence[float] | None = None) -> np.ndarray:
        """Per-component quotas for ``budget`` documents (see :func:`split_budget`)."""
        k = check_int("n_components", self.n_components, lo=1)
        w = weights if weights is not None else (self.weights if self.weights is not None else np.ones(k))
        w = np.asarray(w, dtype=np.float64)
        if w.shape != (k,):
            raise ValueError(f"weights: expected {k} weights (one per component), got {w.tolist()}")
        return split_budget(budget, w)

    def select(self, pc_scores, budget: int, *, weights: Sequence[float] | None = None,
               duplicates: str | None = None) -> dict[int, np.ndarray]:
        """Top documents within each component: ``{component: row indices, best first}``.

        ``budget`` is the total number of selections; component c gets ``quotas(budget)[c]``
        of them. With ``duplicates="keep"`` each component takes its own top rows (the union
        has at most ``budget`` rows); with ``"fill"`` the selections are disjoint and the union
        has exactly ``budget`` rows.
        """
        p = pc_scores.detach().cpu().numpy() if isinstance(pc_scores, torch.Tensor) else pc_scores
        p, _ = _score_matrix(p, "pc_scores")
        n, k = p.shape
        if k != self.n_components:
            raise ValueError(f"pc_scores: expected {self.n_components} columns (one per component), "
                             f"got shape {p.shape}")
        budget = check_int("budget", budget, lo=1)
        if budget > n:
            raise ValueError(f"budget: expected at most the corpus size {n}, got {budget}")
        policy = self.duplicates if duplicates is None else duplicates
        if policy not in DUPLICATE_POLICIES:
            raise ValueError(f"duplicates: expected one of {DUPLICATE_POLICIES}, got {policy!r}")
        quotas = self.quotas(budget, weights)
        orders = [np.argsort(-p[:, c], kind="stable") for c in range(k)]  # best first, ties to lower index
        if policy == "keep":
            return {c: orders[c][: quotas[c]].copy() for c in range(k)}
        return _fill(orders, quotas, n)


def _fill(orders: list[np.ndarray], quotas: np.ndarray, n: int) -> dict[int, np.ndarray]:
    """Disjoint selections: in rounds, each component with quota left takes its best free row."""
    taken = np.zeros(n, dtype=bool)
    chosen: dict[int, list[int]] = {c: [] for c in range(len(orders))}
    cursor = [0] * len(orders)
    left = quotas.copy()
    while left.sum() > 0:
        for c in range(len(orders)):
            if left[c] == 0:
                continue
            order = orders[c]
            while taken[order[cursor[c]]]:
                cursor[c] += 1
            row = int(order[cursor[c]])
            taken[row] = True
            chosen[c].append(row)
            left[c] -= 1
    return {c: np.asarray(rows, dtype=np.int64) for c, rows in chosen.items()}


def union_of(selections: Mapping[int, np.ndarray]) -> np.ndarray:
    """Sorted distinct row indices over all selections."""
    parts = [np.asarray(v, dtype=np.int64) for v in selections.values()]
    return np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)


def _row_indices(key, rows) -> np.ndarray:
    """One selection's rows as unique int64 indices; floats, 2-D arrays and negatives are refused."""
    arr = as_array("selections", rows)
    if arr.ndim != 1:
        raise ValueError(f"selections: component {key!r} holds an array of shape {arr.shape}; expected 1-D row indices")
    if arr.size and arr.dtype.kind not in "iu":
        raise TypeError(f"selections: component {key!r} holds {arr.dtype} values; expected integer row indices")
    if arr.size and arr.min() < 0:
        raise ValueError(f"selections: component {key!r} holds negative row index {int(arr.min())}")
    return np.unique(arr.astype(np.int64))


def overlap_matrix(selections: Mapping, *, token_counts=None) -> np.ndarray:
    """(k, k) overlap of selections: |S_i ∩ S_j| / min(|S_i|, |S_j|), in the keys' order.

    With ``token_counts`` ((n,) tokens per row) the overlap is measured in tokens instead of
    documents: tokens(S_i ∩ S_j) / min(tokens(S_i), tokens(S_j)). A pair with an empty side
    has overlap 0. The diagonal is 1 for every non-empty selection.
    """
    if not isinstance(selections, Mapping):
        raise TypeError(f"selections: expected a dict component -> row indices, got {type(selections).__name__}")
    sets = [_row_indices(key, v) for key, v in selections.items()]
    k = len(sets)
    if k == 0:
        raise ValueError("selections: expected at least one selection, got an empty dict")
    if token_counts is None:
        weight = None
    else:
        weight = np.asarray(token_counts, dtype=np.float64)
        if weight.ndim != 1 or not np.all(np.isfinite(weight)) or np.any(weight < 0):
            raise ValueError(f"token_counts: expected a 1-D array of non-negative counts, got shape {weight.shape}")
        top = max((int(s.max()) for s in sets if len(s)), default=-1)
        if top >= len(weight):
            raise ValueError(f"token_counts: has {len(weight)} rows but a selection holds row {top}")
    n = max((int(s.max()) + 1 for s in sets if len(s)), default=0)
    if weight is not None:
        n = len(weight)
    member = np.zeros((k, n), dtype=np.float64)  # (k, n) indicator of each selection
    for i, s in enumerate(sets):
        member[i, s] = 1.0
    w = np.ones(n) if weight is None else weight
    inter = (member * w) @ member.T  # (k, k) weighted intersection sizes
    size = np.diag(inter).copy()
    denom = np.minimum(size[:, None], size[None, :])
    out = np.zeros((k, k))
    np.divide(inter, denom, out=out, where=denom > 0)
    return out


# --------------------------------------------------------------------------- baselines
BASELINES = ("random", "mean", "pc_average", "single")


def select_baseline(method: str, scores, budget: int, *, seed: int = 0, dimension: str | int | None = None,
                    pc_scores=None, signs: Sequence[float] | None = None) -> np.ndarray:
    """Row indices (``budget`` of them, best first) chosen by a baseline.

    * ``"random"``: uniform without replacement (numpy Generator seeded with ``seed``).
    * ``"mean"``: top by the mean of the z-scored, sign-oriented raw dimensions ("top by
      average score": what averaging correlated scores favours).
    * ``"single"``: top by one raw dimension ``dimension`` (name or column index), oriented
      by its sign.
    * ``"pc_average"``: the paper's "PC average top": top by the mean of the component scores
      ``pc_scores`` (n, k).
    """
    if method not in BASELINES:
        raise ValueError(f"method: expected one of {BASELINES}, got {method!r}")
    x, columns = _score_matrix(scores)
    n, d = x.shape
    budget = check_int("budget", budget, lo=1)
    if budget > n:
        raise ValueError(f"budget: expected at most the corpus size {n}, got {budget}")
    if method == "random":
        return np.sort(numpy_rng(seed).choice(n, size=budget, replace=False)).astype(np.int64)
    if method == "pc_average":
        if pc_scores is None:
            raise ValueError("pc_scores: required for the 'pc_average' baseline (OrthogonalSelector.transform output)")
        p = pc_scores.detach().cpu().numpy() if isinstance(pc_scores, torch.Tensor) else pc_scores
        p, _ = _score_matrix(p, "pc_scores")
        if p.shape[0] != n:
            raise ValueError(f"pc_scores: expected {n} rows (as scores), got {p.shape[0]}")
        return top_k(p.mean(1), budget)
    s = np.asarray(signs, dtype=np.float64) if signs is not None else (
        dimension_signs(columns) if columns is not None else np.ones(d))
    sd = x.std(0)
    z = (x - x.mean(0)) / np.where(sd > 0, sd, 1.0) * s  # (n, d) z-scored, higher = better
    if method == "mean":
        return top_k(z.mean(1), budget)
    if dimension is None:
        raise ValueError("dimension: required for the 'single' baseline (a column name or index)")
    if isinstance(dimension, str):
        if columns is None or dimension not in columns:
            raise ValueError(f"dimension: {dimension!r} is not a column; columns are {columns}")
        j = columns.index(dimension)
    else:
        j = check_int("dimension", dimension, lo=0, hi=d - 1)
    return top_k(z[:, j], budget)
