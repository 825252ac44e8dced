"""Maps between two embedding spaces fitted on paired rows: orthogonal, linear, MLP.

Every aligner follows the estimator habits of the lab: keyword-only hyper-parameters, no work
in ``__init__``, ``fit`` returns ``self``, fitted state ends in ``_``. All of them expose

    transform(X) -> (n, d_y)           X mapped into the target space
    fit(X, Y) or fit(chunks)           chunks: an iterable of (X_chunk, Y_chunk) pairs

The orthogonal and linear maps fit from sufficient statistics (row count, column sums,
X^T Y and, for the linear map, X^T X), so they stream over row chunks and N larger than
memory works. The MLP is a small baseline and needs the rows in memory.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np
import torch

from lab.alignment.stiefel import semi_orthogonal_lstsq
from lab.checks import (
    as_array,
    check_bool,
    check_dtype,
    check_finite,
    check_fitted,
    check_float,
    check_int,
    check_matrix,
    check_same_rows,
)
from lab.device import as_tensor, one_cpu_thread, pick_device

__all__ = [
    "ProcrustesAligner",
    "LinearMapAligner",
    "MLPAligner",
    "CrossStats",
    "cross_statistics",
    "orthogonality_error",
    "make_aligner",
    "MAP_TYPES",
    "SEMI_ORTHOGONAL",
    "RidgeCVAligner",
]

MAP_TYPES = ("orthogonal", "linear", "ridge", "mlp")
SEMI_ORTHOGONAL = ("least_squares", "polar")  # ProcrustesAligner's maps between spaces of different widths


# ----------------------------------------------------------------------------- statistics
@dataclass
class CrossStats:
    """Sufficient statistics of paired rows for the orthogonal and linear maps."""

    n: int  # rows seen so far
    sum_x: torch.Tensor  # (d_x,) column sums of X
    sum_y: torch.Tensor  # (d_y,) column sums of Y
    xty: torch.Tensor  # (d_x, d_y) X^T Y, uncentred
    xtx: torch.Tensor | None  # (d_x, d_x) X^T X, only when the linear map asks for it

    def centred_cross(self, center: bool) -> torch.Tensor:
        """(d_x, d_y) Xc^T Yc = X^T Y - n mu_x mu_y^T (or X^T Y when not centring)."""
        if not center:
            return self.xty
        # Note [centring after accumulation]: Xc^T Yc = X^T Y - sum_x sum_y^T / n. Exact in
        # arithmetic; in float32 it loses digits when |mean| >> spread, so the accumulators
        # run in the caller's dtype and tests use float64. For unit-norm embeddings the means
        # are O(1) and the loss is negligible at the precision Procrustes needs.
        return self.xty - torch.outer(self.sum_x, self.sum_y) / self.n

    def centred_gram(self, center: bool) -> torch.Tensor:
        assert self.xtx is not None  # internal: only the linear map calls this
        if not center:
            return self.xtx
        return self.xtx - torch.outer(self.sum_x, self.sum_x) / self.n


def _rows(name: str, a: Any) -> Any:
    """A chunk as something with rows (tensor or array), before it is sliced; scalars are refused."""
    if not isinstance(a, (torch.Tensor, np.ndarray)):
        a = as_array(name, a)
    if a.ndim < 1:
        raise ValueError(f"{name}: expected a 2-D array (n, d), got {type(a).__name__} of shape {tuple(a.shape)}")
    return a


def _pairs(X: Any, Y: Any) -> Iterable[tuple[Any, Any]]:
    """Normalise fit's two calling styles into an iterable of (X_chunk, Y_chunk)."""
    if Y is not None:
        return [(X, Y)]
    if isinstance(X, torch.Tensor) or hasattr(X, "__array__"):
        raise ValueError("Y: required when X is an array; pass fit(X, Y) or fit(chunks) with (X, Y) pairs")
    try:
        return iter(X)
    except TypeError as exc:
        raise TypeError(f"X: expected an array or an iterable of (X_chunk, Y_chunk), got {type(X).__name__}") from exc


def _in_memory(X: Any, Y: Any, device: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """fit's arguments as two checked tensors with paired rows (chunk pairs are concatenated)."""
    if Y is None:
        pairs = list(_pairs(X, None))
        X = torch.cat([as_tensor(a, name="X", device=device) for a, _ in pairs])
        Y = torch.cat([as_tensor(b, name="Y", device=X.device) for _, b in pairs])
    X = check_matrix("X", as_tensor(X, name="X", device=device))
    Y = check_matrix("Y", as_tensor(Y, name="Y", device=X.device, dtype=X.dtype))
    check_same_rows("X", X, "Y", Y)
    check_finite("X", X)
    check_finite("Y", Y)
    return X, Y


def _peek_widths(pairs: Iterable[tuple[Any, Any]]) -> tuple[Iterable[tuple[Any, Any]], tuple[int, int]]:
    """(the same pairs, (d_x, d_y) of the first pair); widths are 0 when they cannot be read."""
    it = iter(pairs)
    try:
        first = next(it)
    except StopIteration:
        return iter(()), (0, 0)
    try:
        widths = (int(first[0].shape[-1]), int(first[1].shape[-1]))
    except (AttributeError, IndexError, TypeError):
        widths = (0, 0)  # not arrays: cross_statistics names the problem
    return itertools.chain([first], it), widths


def cross_statistics(
    X: Any,
    Y: Any = None,
    *,
    with_gram: bool = False,
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
    chunk_rows: int = 65536,
) -> CrossStats:
    """Accumulate :class:`CrossStats` over paired rows or over an iterable of chunks.

    In-memory inputs are also processed ``chunk_rows`` rows at a time, so a numpy array that
    lives on the host is moved to the device one slice at a time.
    """
    chunk_rows = check_int("chunk_rows", chunk_rows, lo=1)
    stats: CrossStats | None = None
    dev = None if device is None else pick_device(device)
    for k, pair in enumerate(_pairs(X, Y)):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"X: chunk {k} should be an (X_chunk, Y_chunk) pair, got {type(pair).__name__}")
        xa, ya = _rows("X", pair[0]), _rows("Y", pair[1])
        n_rows = int(xa.shape[0])
        for start in range(0, max(n_rows, 1), chunk_rows):
            xs = as_tensor(xa[start : start + chunk_rows], name="X", device=dev, dtype=dtype)
            ys = as_tensor(ya[start : start + chunk_rows], name="Y", device=xs.device, dtype=dtype or xs.dtype)
            check_matrix("X", xs)
            check_matrix("Y", ys)
            check_same_rows("X", xs, "Y", ys)
            if stats is None:
                dx, dy = xs.shape[1], ys.shape[1]
                stats = CrossStats(
                    0,
                    xs.new_zeros(dx),
                    xs.new_zeros(dy),
                    xs.new_zeros(dx, dy),
                    xs.new_zeros(dx, dx) if with_gram else None,
                )
            if xs.shape[1] != stats.sum_x.shape[0] or ys.shape[1] != stats.sum_y.shape[0]:
                raise ValueError(
                    f"X, Y: chunk {k} has widths ({xs.shape[1]}, {ys.shape[1]}), earlier chunks had "
                    f"({stats.sum_x.shape[0]}, {stats.sum_y.shape[0]})"
                )
            stats.n += xs.shape[0]
            stats.sum_x += xs.sum(0)
            stats.sum_y += ys.sum(0)
            stats.xty += xs.T @ ys  # (d_x, d_y)
            if with_gram:
                stats.xtx += xs.T @ xs  # (d_x, d_x)
    if stats is None or stats.n == 0:
        raise ValueError("X: expected at least one row, got an empty input")
    # Note [finiteness from the statistics]: a NaN or inf anywhere in X or Y reaches the column
    # sums and X^T Y, so checking the small accumulated statistics replaces two full passes
    # over the inputs (the largest cost after the matmul at N = 100k).
    for name, t in (("X", stats.sum_x), ("Y", stats.sum_y)):
        if not torch.isfinite(t).all():
            raise ValueError(f"{name}: contains NaN or infinite values; clean or drop those rows first")
    if not torch.isfinite(stats.xty).all() or (stats.xtx is not None and not torch.isfinite(stats.xtx).all()):
        raise ValueError("X, Y: contain NaN/infinite values or values so large that X^T Y overflows; "
                         "clean or rescale the rows first")
    return stats


def orthogonality_error(R: Any) -> float:
    """||R^T R - I||_F (or ||R R^T - I||_F for a wide R): 0 for an orthogonal map.

    For a (d_x, d_y) map with d_x != d_y the Gram matrix of the smaller side is used, so a
    semi-orthogonal map (orthonormal columns or rows) also scores 0.
    """
    R = as_tensor(R, name="R")
    check_matrix("R", R)
    gram = R.T @ R if R.shape[0] >= R.shape[1] else R @ R.T  # (k, k), k = min(d_x, d_y)
    eye = torch.eye(gram.shape[0], dtype=gram.dtype, device=gram.device)
    return float(torch.linalg.matrix_norm(gram - eye))


# ----------------------------------------------------------------------------- orthogonal
class ProcrustesAligner:
    """The orthogonal map that best carries X onto Y (orthogonal Procrustes).

    Y ~ (X - mean_x_) @ rotation_ + mean_y_ with rotation_ orthogonal. With M = Xc^T Yc and
    its SVD M = U S V^T, the minimiser of ||Xc R - Yc||_F over orthogonal R is R = U V^T.

    Parameters
    ----------
    center : bool, default True
        Subtract each side's own mean before fitting (else the means are zero).
    allow_reflection : bool, default True
        True fits over O(d); False restricts to SO(d) (det R = +1).
    semi_orthogonal : {"least_squares", "polar"}, default "least_squares"
        The map when space A is wider than space B (d_x > d_y; R has orthonormal columns).
        "least_squares" minimises ||Xc R - Yc|| over such maps (an iterative solver,
        :func:`lab.alignment.stiefel.semi_orthogonal_lstsq`, started from the polar factor);
        "polar" takes the polar factor U V^T of Xc^T Yc, which is the least-squares map only
        when d_x <= d_y (Note [polar factor is not the least-squares map]). Equal widths and
        d_x < d_y ignore it: there both are the same map.
    tol : float, default 1e-4
        The least-squares solver stops when its Riemannian gradient is below ``tol`` times
        ||Xc^T Yc|| (on real 384 -> 256 embeddings, 1e-2 already fixes retrieval top-1 to the
        last item and 1e-4 the loss to 1e-5 relative).
    normalize : bool, default False
        L2-normalise every row of X and Y before anything else (the paper's habit for
        contrastive embeddings). Off by default so the map is the plain Procrustes fit.
    device, dtype : torch.device or str, torch.dtype, optional
        Where and in what precision to fit; default: the input's own.
    chunk_rows : int, default 65536
        Rows moved to the device at a time when streaming.

    Attributes
    ----------
    rotation_ : Tensor of shape (d_x, d_y)
        Orthogonal when d_x == d_y, else orthonormal on the smaller side.
    mean_x_, mean_y_ : Tensor of shape (d_x,) and (d_y,)
        Anchor means (zeros when ``center=False``).
    singular_values_ : Tensor of shape (min(d_x, d_y),)
        Singular values of Xc^T Yc, descending.
    n_samples_ : int
        Rows the fit saw.
    n_iter_ : int
        Newton steps of the semi-orthogonal solver (0 when the map is closed-form).
    converged_ : bool
        Whether that solver met its tolerance (True for closed-form maps).

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> X = torch.randn(200, 6, dtype=torch.float64, generator=g)
    >>> Q, _ = torch.linalg.qr(torch.randn(6, 6, dtype=torch.float64, generator=g))
    >>> aligner = ProcrustesAligner().fit(X, X @ Q + 3.0)
    >>> bool(torch.allclose(aligner.rotation_, Q))
    True
    >>> bool(torch.allclose(aligner.transform(X), X @ Q + 3.0))
    True
    """

    def __init__(self, *, center: bool = True, allow_reflection: bool = True,
                 semi_orthogonal: str = "least_squares", tol: float = 1e-4, normalize: bool = False,
                 device: str | torch.device | None = None, dtype: torch.dtype | None = None,
                 chunk_rows: int = 65536) -> None:
        self.center = center
        self.allow_reflection = allow_reflection
        self.semi_orthogonal = semi_orthogonal
        self.tol = tol
        self.normalize = normalize
        self.device = device
        self.dtype = dtype
        self.chunk_rows = chunk_rows

    def _prep(self, chunks: Iterable[tuple[Any, Any]]) -> Iterable[tuple[Any, Any]]:
        for xa, ya in chunks:
            xa = as_tensor(xa, name="X", device=self.device, dtype=self.dtype)
            ya = as_tensor(ya, name="Y", device=xa.device, dtype=self.dtype or xa.dtype)
            yield (torch.nn.functional.normalize(xa, dim=-1), torch.nn.functional.normalize(ya, dim=-1))

    def fit(self, X: Any, Y: Any = None) -> "ProcrustesAligner":
        """Fit the map on paired rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, d_x), or an iterable of (X_chunk, Y_chunk) pairs
            Rows of the first space (streamed chunk by chunk when an iterable is given).
        Y : array-like of shape (n_samples, d_y), optional
            The paired rows of the second space; omitted when ``X`` yields chunk pairs.

        Returns
        -------
        self : ProcrustesAligner
        """
        center = check_bool("center", self.center)
        allow_reflection = check_bool("allow_reflection", self.allow_reflection)
        check_bool("normalize", self.normalize)
        check_dtype("dtype", self.dtype)
        if self.semi_orthogonal not in SEMI_ORTHOGONAL:
            raise ValueError(f"semi_orthogonal: expected one of {SEMI_ORTHOGONAL}, got {self.semi_orthogonal!r}")
        pairs = _pairs(X, Y)
        if self.normalize:
            pairs = self._prep(pairs)
        # The Gram matrix X^T X is only needed by the least-squares map of a wider space A, and
        # the widths are known from the first chunk; a square fit never pays for it.
        pairs, (d_x, d_y) = _peek_widths(pairs)
        gram = self.semi_orthogonal == "least_squares" and d_x > d_y
        stats = cross_statistics(pairs, with_gram=gram, device=self.device, dtype=self.dtype,
                                 chunk_rows=self.chunk_rows)
        M = stats.centred_cross(center)  # (d_x, d_y)
        if M.dtype in (torch.float16, torch.bfloat16):  # no half-precision SVD: fit in float32
            M = M.float()
        U, S, Vh = torch.linalg.svd(M, full_matrices=False)  # U (d_x, k), S (k,), Vh (k, d_y)
        self.n_iter_, self.converged_ = 0, True
        if not allow_reflection:
            if M.shape[0] != M.shape[1]:
                raise ValueError(
                    f"allow_reflection: SO(d) needs square maps, got X width {M.shape[0]} and Y width {M.shape[1]}"
                )
            # Note [SO(d) by flipping the last singular vector]: if det(U V^T) = -1, the best
            # rotation flips the direction with the smallest singular value, the cheapest one
            # to get wrong: R = U diag(1, ..., 1, -1) V^T.
            if torch.linalg.det(U @ Vh) < 0:
                U = U.clone()
                U[:, -1] = -U[:, -1]
        # Note [tied singular values]: when M has repeated (or zero) singular values, e.g.
        # fewer anchors than dimensions, U and V are not unique and neither is R; every choice
        # gives the same residual on the anchors but differs off them. torch's choice is kept.
        self.rotation_ = U @ Vh  # (d_x, d_y)
        if stats.xtx is not None:  # space A is wider: the least-squares map (Note in stiefel)
            G = stats.centred_gram(center).to(M.dtype)  # (d_x, d_x)
            with one_cpu_thread(M.device):
                fit = semi_orthogonal_lstsq(G, M, init=self.rotation_, tol=check_float("tol", self.tol, lo=0.0))
            self.rotation_, self.n_iter_, self.converged_ = fit.R, fit.n_iter, fit.converged
        self.singular_values_ = S
        self.n_samples_ = stats.n
        if self.center:
            self.mean_x_ = stats.sum_x / stats.n
            self.mean_y_ = stats.sum_y / stats.n
        else:
            self.mean_x_ = torch.zeros_like(stats.sum_x)
            self.mean_y_ = torch.zeros_like(stats.sum_y)
        return self

    def transform(self, X: Any) -> torch.Tensor:
        """(n, d_x) -> (n, d_y): (X - mean_x_) @ rotation_ + mean_y_ on X's device."""
        check_fitted(self, "rotation_", fit_call="fit(X, Y)")
        X = as_tensor(X, name="X", device=self.device)
        check_finite("X", check_matrix("X", X, cols=self.rotation_.shape[0]))
        if self.normalize:
            X = torch.nn.functional.normalize(X, dim=-1)
        R = self.rotation_.to(X.device, X.dtype)
        return (X - self.mean_x_.to(X)) @ R + self.mean_y_.to(X)

    def inverse_transform(self, Y: Any) -> torch.Tensor:
        """(n, d_y) -> (n, d_x): the map back, (Y - mean_y_) @ rotation_.T + mean_x_."""
        check_fitted(self, "rotation_", fit_call="fit(X, Y)")
        Y = as_tensor(Y, name="Y", device=self.device)
        check_matrix("Y", Y, cols=self.rotation_.shape[1])
        R = self.rotation_.to(Y.device, Y.dtype)
        return (Y - self.mean_y_.to(Y)) @ R.T + self.mean_x_.to(Y)

    @property
    def matrix_(self) -> torch.Tensor:
        """The linear part of the map (shared name across aligners)."""
        check_fitted(self, "rotation_", fit_call="fit(X, Y)")
        return self.rotation_


# ----------------------------------------------------------------------------- linear
class LinearMapAligner:
    """The unconstrained least-squares map: argmin_W ||Xc W - Yc||^2 + ridge ||W||^2.

    The baseline the orthogonal map is compared with. With fewer anchors than dimensions and
    ``ridge=0`` the problem is underdetermined and the minimum-norm solution (pseudo-inverse)
    is returned.

    Parameters
    ----------
    center : bool, default True
        Subtract each side's own mean before fitting.
    ridge : float, default 0.0
        L2 penalty on W (0 = plain least squares, minimum-norm when underdetermined).
    device, dtype, chunk_rows : as in :class:`ProcrustesAligner`
        Where and in what precision to fit (default: the input's own), and the rows moved
        to the device at a time when streaming.

    Attributes
    ----------
    weight_ : Tensor of shape (d_x, d_y)
    mean_x_, mean_y_ : Tensor of shape (d_x,) and (d_y,)
    n_samples_ : int

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> X = torch.randn(100, 4, dtype=torch.float64, generator=g)
    >>> W = torch.randn(4, 3, dtype=torch.float64, generator=g)
    >>> lin = LinearMapAligner().fit(X, X @ W)
    >>> bool(torch.allclose(lin.weight_, W))
    True
    """

    def __init__(self, *, center: bool = True, ridge: float = 0.0, device: str | torch.device | None = None,
                 dtype: torch.dtype | None = None, chunk_rows: int = 65536) -> None:
        self.center = center
        self.ridge = ridge
        self.device = device
        self.dtype = dtype
        self.chunk_rows = chunk_rows

    def fit(self, X: Any, Y: Any = None) -> "LinearMapAligner":
        """Solve for ``weight_`` on paired rows; returns self.

        Parameters
        ----------
        X, Y : array-like of shape (n_samples, d_x) and (n_samples, d_y)
            Paired rows of the two spaces; or chunk pairs streamed as in :meth:`ProcrustesAligner.fit`.
        """
        ridge = check_float("ridge", self.ridge, lo=0.0)
        stats = cross_statistics(X, Y, with_gram=True, device=self.device, dtype=self.dtype, chunk_rows=self.chunk_rows)
        center = check_bool("center", self.center)
        G = stats.centred_gram(center)  # (d_x, d_x)
        C = stats.centred_cross(center)  # (d_x, d_y)
        if ridge > 0:
            G = G + ridge * torch.eye(G.shape[0], dtype=G.dtype, device=G.device)
        # Note [minimum-norm least squares]: pinv(G) C is the minimum-norm minimiser even when
        # G is singular (n < d); the relative cutoff drops directions the anchors never span.
        self.weight_ = torch.linalg.pinv(G, hermitian=True, rtol=1e-10 if G.dtype == torch.float64 else 1e-5) @ C
        self.n_samples_ = stats.n
        zero_x, zero_y = torch.zeros_like(stats.sum_x), torch.zeros_like(stats.sum_y)
        self.mean_x_ = stats.sum_x / stats.n if center else zero_x
        self.mean_y_ = stats.sum_y / stats.n if center else zero_y
        return self

    def transform(self, X: Any) -> torch.Tensor:
        """(n, d_x) -> (n, d_y): (X - mean_x_) @ weight_ + mean_y_."""
        check_fitted(self, "weight_", fit_call="fit(X, Y)")
        X = as_tensor(X, name="X", device=self.device)
        check_finite("X", check_matrix("X", X, cols=self.weight_.shape[0]))
        return (X - self.mean_x_.to(X)) @ self.weight_.to(X) + self.mean_y_.to(X)

    @property
    def matrix_(self) -> torch.Tensor:
        """(d_x, d_y): the linear part of the map, W itself."""
        check_fitted(self, "weight_", fit_call="fit(X, Y)")
        return self.weight_


# ----------------------------------------------------------------------------- ridge
class RidgeCVAligner(LinearMapAligner):
    """The ridge map argmin_W ||Xc W - Yc||^2 + alpha ||W||^2, alpha chosen by k-fold cross-validation.

    The baseline beside the minimum-norm least-squares map: with about as many anchors as
    dimensions, plain least squares interpolates noise and its held-out error peaks (the dip
    near n = d); a ridge map with a cross-validated alpha does not, so "orthogonal beats
    linear" is judged against this map too. One alpha serves every output column (the one
    with the lowest mean squared error over the folds, each fold weighted equally). It is a
    :class:`LinearMapAligner` with its own fit: ``transform`` and ``matrix_`` are that class's.

    Parameters
    ----------
    alphas : sequence of float, optional
        Candidates; default 13 values from 1e-4 to 1e2 times tr(Xc^T Xc) / d_x (the mean
        eigenvalue of the anchors' Gram matrix), so the grid follows the data's scale.
    cv : int, default 5
        Folds (shuffled with ``seed``); at most the number of anchors.
    center : bool, default True
        Each fold, and the final fit, centre by their own training rows' means.
    seed : int, default 0
    device : torch.device or str, optional

    Attributes
    ----------
    weight_ : Tensor of shape (d_x, d_y)
    alpha_ : float
        The chosen alpha.
    alphas_ : ndarray of shape (n_alphas,)
    cv_mse_ : ndarray of shape (n_alphas,)
        Mean held-out squared error per row and column, over the folds.
    mean_x_, mean_y_ : Tensor of shape (d_x,) and (d_y,)

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> X = torch.randn(60, 5, dtype=torch.float64, generator=g)
    >>> W = torch.randn(5, 2, dtype=torch.float64, generator=g)
    >>> ridge = RidgeCVAligner(cv=3).fit(X, X @ W + 0.01 * torch.randn(60, 2, dtype=torch.float64, generator=g))
    >>> bool(torch.allclose(ridge.weight_, W, atol=0.05))
    True
    """

    def __init__(self, *, alphas: Any = None, cv: int = 5, center: bool = True, seed: int = 0,
                 device: str | torch.device | None = None) -> None:
        self.alphas = alphas
        self.cv = cv
        self.center = center
        self.seed = seed
        self.device = device

    @staticmethod
    def _solve(Xtr: torch.Tensor, Ytr: torch.Tensor, alphas: np.ndarray, center: bool):
        """Per alpha, the ridge weights of one training split via one eigendecomposition."""
        mx = Xtr.mean(0) if center else torch.zeros_like(Xtr[0])
        my = Ytr.mean(0) if center else torch.zeros_like(Ytr[0])
        Xc, Yc = Xtr - mx, Ytr - my
        evals, V = torch.linalg.eigh(Xc.T @ Xc)  # (d_x,), (d_x, d_x)
        VtC = V.T @ (Xc.T @ Yc)  # (d_x, d_y)
        evals = evals.clamp_min(0)
        return mx, my, [V @ (VtC / (evals + float(a))[:, None]) for a in alphas]

    def fit(self, X: Any, Y: Any = None) -> "RidgeCVAligner":
        """Choose alpha by cross-validation on the paired rows, then fit on all of them; returns self.

        Parameters
        ----------
        X, Y : array-like of shape (n_samples, d_x) and (n_samples, d_y)
            Paired rows of the two spaces (chunk pairs are concatenated: the folds need the rows).
        """
        from sklearn.model_selection import KFold

        X, Y = _in_memory(X, Y, self.device)
        center = check_bool("center", self.center)
        n = X.shape[0]
        if n < 3:
            raise ValueError(f"X: ridge cross-validation needs at least 3 paired rows, got {n}")
        cv = check_int("cv", self.cv, lo=2)
        cv = min(cv, n)
        if self.alphas is None:
            Xc = X - X.mean(0) if center else X
            base = float(torch.sum(Xc * Xc)) / X.shape[1] or 1.0
            alphas = base * np.logspace(-4, 2, 13)
        else:
            alphas = np.asarray(self.alphas, dtype=np.float64).ravel()
            if alphas.size == 0 or not np.all(np.isfinite(alphas)) or np.any(alphas <= 0):
                raise ValueError(f"alphas: expected positive finite values, got {self.alphas!r}")
        mse = np.zeros(alphas.size)
        folds = KFold(n_splits=cv, shuffle=True, random_state=int(self.seed)).split(np.arange(n))
        with one_cpu_thread(X.device):
            for train, test in folds:
                tr, te = torch.as_tensor(train, device=X.device), torch.as_tensor(test, device=X.device)
                mx, my, weights = self._solve(X[tr], Y[tr], alphas, center)
                Xte, Yte = X[te] - mx, Y[te] - my
                mse += np.array([float(torch.mean((Xte @ W - Yte) ** 2)) for W in weights]) / cv
            best = int(np.argmin(mse))
            mx, my, (W,) = self._solve(X, Y, alphas[best:best + 1], center)
        self.alphas_, self.cv_mse_, self.alpha_ = alphas, mse, float(alphas[best])
        self.weight_, self.mean_x_, self.mean_y_ = W, mx, my
        self.n_samples_ = n
        return self


# ----------------------------------------------------------------------------- MLP
class MLPAligner:
    """A small MLP baseline x -> y trained with Adam on the mean squared error (full batch).

    Parameters
    ----------
    hidden : int, default 128
        Hidden units of the one hidden layer (GELU).
    steps : int, default 300
        Full-batch Adam steps.
    lr, weight_decay : float
        Adam's learning rate and weight decay.
    seed : int, default 0
        Seeds the initial weights (independent of the global RNG).
    device : torch.device or str, optional

    Attributes
    ----------
    model_ : nn.Sequential
        The trained network on centred inputs.
    loss_ : float
        The final training loss.
    mean_x_, mean_y_ : Tensor of shape (d_x,) and (d_y,)
    matrix_ : Tensor of shape (d_x, d_y)
        The Jacobian at the anchor mean, so its orthogonality error can be reported too.

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> X = torch.randn(64, 3, generator=g)
    >>> mlp = MLPAligner(hidden=16, steps=200).fit(X, 2 * X)
    >>> mlp.transform(X).shape
    torch.Size([64, 3])
    >>> mlp.loss_ < 0.05
    True
    """

    def __init__(self, *, hidden: int = 128, steps: int = 300, lr: float = 3e-3, weight_decay: float = 1e-4,
                 seed: int = 0, device: str | torch.device | None = None) -> None:
        self.hidden = hidden
        self.steps = steps
        self.lr = lr
        self.weight_decay = weight_decay
        self.seed = seed
        self.device = device

    def fit(self, X: Any, Y: Any = None) -> "MLPAligner":
        """Train the network on paired rows, full batch; returns self.

        Parameters
        ----------
        X, Y : array-like of shape (n_samples, d_x) and (n_samples, d_y)
            Paired rows of the two spaces (chunk pairs are concatenated: the MLP trains in memory).
        """
        X, Y = _in_memory(X, Y, self.device)
        hidden = check_int("hidden", self.hidden, lo=1)
        steps = check_int("steps", self.steps, lo=1)
        gen = torch.Generator(device="cpu").manual_seed(int(self.seed))
        model = torch.nn.Sequential(
            torch.nn.Linear(X.shape[1], hidden), torch.nn.GELU(), torch.nn.Linear(hidden, Y.shape[1])
        ).to(device=X.device, dtype=X.dtype)
        with torch.no_grad():  # seeded init, independent of the global RNG
            for p in model.parameters():
                bound = 1.0 / math.sqrt(p.shape[-1] if p.ndim > 1 else hidden)
                p.copy_((torch.rand(p.shape, generator=gen, dtype=p.dtype) * 2 - 1).to(p.device) * bound)
        self.mean_x_, self.mean_y_ = X.mean(0), Y.mean(0)
        Xc, Yc = X - self.mean_x_, Y - self.mean_y_
        opt = torch.optim.Adam(model.parameters(), lr=float(self.lr), weight_decay=float(self.weight_decay))
        loss = torch.zeros(())
        for _ in range(steps):
            opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.mse_loss(model(Xc), Yc)
            loss.backward()
            opt.step()
        self.model_ = model.eval()
        self.loss_ = float(loss.detach())
        self.n_samples_ = X.shape[0]
        return self

    def transform(self, X: Any) -> torch.Tensor:
        """(n, d_x) -> (n, d_y) through the trained network."""
        check_fitted(self, "model_", fit_call="fit(X, Y)")
        X = as_tensor(X, name="X", device=self.device)
        check_finite("X", check_matrix("X", X, cols=self.mean_x_.shape[0]))
        with torch.no_grad():
            return self.model_(X.to(self.mean_x_.dtype) - self.mean_x_) + self.mean_y_

    @property
    def matrix_(self) -> torch.Tensor:
        """(d_x, d_y): the network's Jacobian at the anchor mean (its linear part there)."""
        check_fitted(self, "model_", fit_call="fit(X, Y)")
        x0 = torch.zeros(1, self.mean_x_.shape[0], dtype=self.mean_x_.dtype, device=self.mean_x_.device)
        jac = torch.autograd.functional.jacobian(lambda v: self.model_(v), x0)  # (1, d_y, 1, d_x)
        return jac[0, :, 0, :].T.detach()  # (d_x, d_y)


def make_aligner(map_type: str, *, center: bool = True, allow_reflection: bool = True,
                 semi_orthogonal: str = "least_squares", seed: int = 0, device: str | torch.device | None = None):
    """An unfitted aligner by name: 'orthogonal', 'linear' (minimum-norm least squares), 'ridge' or 'mlp'."""
    if map_type == "orthogonal":
        return ProcrustesAligner(center=center, allow_reflection=allow_reflection, semi_orthogonal=semi_orthogonal,
                                 device=device)
    if map_type == "linear":
        return LinearMapAligner(center=center, device=device)
    if map_type == "ridge":
        return RidgeCVAligner(center=center, seed=seed, device=device)
    if map_type == "mlp":
        return MLPAligner(seed=seed, device=device)
    raise ValueError(f"map_type: expected one of {MAP_TYPES}, got {map_type!r}")
