"""Householder products, the low-rank orthogonal projector, and the closed-form baselines.

- :func:`householder_product` multiplies k Householder reflections through the compact WY
  form (matrix products and one triangular solve).
- :class:`HouseholderProjector` is the layer A = Q(U) S Q(V)^T of rank ``rank`` whose nonzero
  singular values are all 1, for any (in, out) shape.
- :func:`sefa_directions` (closed-form factorisation of a trained weight) and
  :func:`ganspace_directions` (PCA of sampled activations) are the baselines.
- :func:`get_submodule_by_name`, :func:`layer_directions`, :func:`swap_for_projector` point
  the study at any ``nn.Linear`` in a user's model by its dotted name.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from lab.checks import check_finite, check_int, check_matrix
from lab.device import as_tensor

__all__ = [
    "householder_product",
    "householder_vectors_from_frame",
    "HouseholderProjector",
    "sefa_directions",
    "ganspace_directions",
    "random_directions",
    "orthogonality_error",
    "train_only_reflectors",
    "get_submodule_by_name",
    "layer_directions",
    "swap_for_projector",
    "DIRECTION_METHODS",
]

DIRECTION_METHODS = ("householder", "sefa", "ganspace", "random")
# The widest layer a HouseholderProjector accepts: a full d x d frame of float32 is 1 GiB here.
MAX_FEATURES = 16_384


# --------------------------------------------------------------------------- the product
def householder_product(V, *, columns: int | None = None) -> torch.Tensor:
    """Q = H(v_1) H(v_2) ... H(v_k) with H(v) = I - 2 v v^T / (v^T v).

    Parameters
    ----------
    V : tensor or array, shape (..., d, k)
        Reflection vectors as columns, any nonzero norm, 1 <= k <= d. Leading dimensions
        are batch dimensions.
    columns : int, optional
        Return only the first ``columns`` columns of Q, shape (..., d, columns); this is
        what a rank-r projector needs and costs O(d k r) instead of O(d^2 k).

    Returns
    -------
    Q : tensor, shape (..., d, d) (or (..., d, columns)), orthogonal, same dtype and device
        as ``V``; differentiable with respect to ``V``.

    Examples
    --------
    >>> import torch
    >>> V = torch.randn(5, 3, dtype=torch.float64)
    >>> Q = householder_product(V)
    >>> bool(torch.allclose(Q.T @ Q, torch.eye(5, dtype=torch.float64)))
    True
    >>> tuple(householder_product(V, columns=2).shape)
    (5, 2)
    """
    V = as_tensor(V, name="V")
    if V.dtype not in (torch.float32, torch.float64):  # the triangular solve has no half-precision kernel
        raise TypeError(f"V: expected float32 or float64 reflection vectors, got {V.dtype}")
    if V.ndim < 2:
        raise ValueError(f"V: expected shape (..., d, k) with the reflection vectors as columns, got {tuple(V.shape)}")
    d, k = V.shape[-2], V.shape[-1]
    if k < 1 or d < 1 or k > d:
        raise ValueError(f"V: expected 1 <= k <= d for shape (..., d, k), got d={d}, k={k}")
    ncol = d if columns is None else check_int("columns", columns, lo=1, hi=d)
    norms2 = (V * V).sum(dim=-2)  # (..., k)
    if not torch.isfinite(V).all():
        raise ValueError("V: contains NaN or infinite values")
    if bool((norms2 <= 0).any()):
        raise ValueError("V: every reflection vector (column) needs a nonzero norm; got a zero column")
    # Note [compact WY]: H(v_1)...H(v_k) = I - V T V^T with T upper triangular and
    # T^{-1} = S := strict_upper(V^T V) + diag(v_i^T v_i) / 2 (Joffrain, Low, Quintana-Orti,
    # van de Geijn and Van Zee, "Accumulating Householder transformations, revisited").
    # So Q = I - V X with X = S^{-1} V^T: one Gram matrix, one triangular solve, one product,
    # all batched and differentiable, no loop over reflections.
    gram = V.transpose(-1, -2) @ V  # (..., k, k)
    S = torch.triu(gram, diagonal=1) + torch.diag_embed(0.5 * norms2)  # (..., k, k) upper triangular
    Vt_cols = V[..., :ncol, :].transpose(-1, -2)  # (..., k, ncol): rows of V for the wanted columns
    X = torch.linalg.solve_triangular(S, Vt_cols, upper=True)  # (..., k, ncol)
    eye = torch.eye(d, ncol, dtype=V.dtype, device=V.device)
    return eye - V @ X  # (..., d, ncol)


def householder_vectors_from_frame(frame) -> tuple[torch.Tensor, torch.Tensor]:
    """Reflection vectors whose product's first r columns equal ``frame`` up to column signs.

    Parameters
    ----------
    frame : (d, r) orthonormal columns.

    Returns
    -------
    vectors : (d, r) reflection vectors (columns), from ``torch.geqrf`` of ``frame``.
    signs : (r,) entries +-1 with ``householder_product(vectors)[:, :r] == frame * signs``.
    """
    frame = check_matrix("frame", as_tensor(frame, name="frame"))
    d, r = frame.shape
    if r > d:
        raise ValueError(f"frame: expected (d, r) with r <= d, got {tuple(frame.shape)}")
    a, tau = torch.geqrf(frame)  # a: (d, r) R above, reflectors below; tau: (r,)
    vectors = torch.tril(a, diagonal=-1)
    idx = torch.arange(r, device=frame.device)
    vectors[idx, idx] = 1.0
    # Note [tau = 0]: LAPACK leaves a column untouched (H = I, tau = 0) when its part below
    # the diagonal is already zero. The identity is not a reflection, so that column gets
    # v = e_i (a sign flip) instead; the sign is absorbed in ``signs`` below.
    flat = tau.abs() <= torch.finfo(frame.dtype).eps
    if bool(flat.any()):
        vectors[:, flat] = 0.0
        vectors[idx[flat], idx[flat]] = 1.0
    Q = householder_product(vectors, columns=r)  # (d, r)
    signs = torch.sign((Q * frame).sum(dim=0))
    signs[signs == 0] = 1.0
    return vectors, signs


def orthogonality_error(weight) -> float:
    """max |sigma_i - 1| over the nonzero singular values (those > 1e-6 of the largest).

    0 for a perfect low-rank orthogonal map; what the page shows as the layer's error.
    """
    W = check_matrix("weight", as_tensor(weight, name="weight"))
    s = torch.linalg.svdvals(W.detach().double())
    if s.numel() == 0 or float(s[0]) == 0.0:
        return float("nan")
    s = s[s > 1e-6 * s[0]]
    return float((s - 1.0).abs().max())


# --------------------------------------------------------------------------- the projector
class HouseholderProjector(nn.Module):
    """A = Q(U) S Q(V)^T: an (out, in) weight of rank ``rank`` with singular values all 1.

    Q(U) and Q(V) are the Householder products of the trainable reflection vectors; S is
    (out, in) with ``signs`` on its first ``rank`` diagonal entries (all +1 unless set by
    :meth:`from_linear`). Any shapes work: 512->256, 96->300, square, 1->1.

    Parameters
    ----------
    in_features : int
        Width of the input x, shape (..., in_features).
    out_features : int
        Width of the output, shape (..., out_features).
    rank : int
        Number of directions, 1 <= rank <= min(in_features, out_features).
    bias : bool, default False
        Add a learnt bias of shape (out_features,).
    device, dtype : optional
        Where and in which precision the parameters are created.

    Attributes
    ----------
    u_vectors : nn.Parameter of shape (out_features, rank)
        Reflection vectors of the output frame Q(U).
    v_vectors : nn.Parameter of shape (in_features, rank)
        Reflection vectors of the input frame Q(V); its first ``rank`` columns are the directions.
    signs : buffer of shape (rank,)
        +-1 per rank-one term.
    bias : nn.Parameter of shape (out_features,) or None

    Examples
    --------
    >>> import torch
    >>> layer = HouseholderProjector(8, 16, 3, dtype=torch.float64)
    >>> tuple(layer(torch.randn(4, 8, dtype=torch.float64)).shape)
    (4, 16)
    >>> orthogonality_error(layer.weight.detach()) < 1e-12
    True
    >>> tuple(layer.directions().shape)
    (3, 8)
    """

    def __init__(self, in_features: int, out_features: int, rank: int, *, bias: bool = False,
                 device=None, dtype=None) -> None:
        super().__init__()
        # The frames are d x rank, but a full Q (d x d) is built for weight and directions:
        # above MAX_FEATURES that is gigabytes, so it is refused before anything is allocated.
        self.in_features = check_int("in_features", in_features, lo=1, hi=MAX_FEATURES)
        self.out_features = check_int("out_features", out_features, lo=1, hi=MAX_FEATURES)
        hi = min(self.in_features, self.out_features)
        self.rank = check_int("rank", rank, lo=1, hi=hi)
        factory = {"device": device, "dtype": dtype}
        # Random reflection vectors give a uniformly spread random frame on each side.
        self.u_vectors = nn.Parameter(torch.randn(self.out_features, self.rank, **factory))
        self.v_vectors = nn.Parameter(torch.randn(self.in_features, self.rank, **factory))
        # +-1 per rank-one term; fixed (a buffer), so A keeps singular values exactly 1.
        self.register_buffer("signs", torch.ones(self.rank, **factory))
        if bias:
            bound = 1.0 / math.sqrt(self.in_features)
            self.bias = nn.Parameter(torch.empty(self.out_features, **factory).uniform_(-bound, bound))
        else:
            self.register_parameter("bias", None)

    # Note [directions = forward]: both the forward map and the reported directions are
    # built from the same two frames, U_r = Q(U)[:, :r] and V_r = Q(V)[:, :r], with
    # A = U_r diag(signs) V_r^T. The directions are the rows of V_r^T: the forward map is
    # zero on their orthogonal complement and an isometry on their span. (The authors'
    # code multiplied the reflections in opposite orders for the two uses.)
    def frames(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(U_r (out, rank), V_r (in, rank)), both with orthonormal columns."""
        U_r = householder_product(self.u_vectors, columns=self.rank)  # (out, rank)
        V_r = householder_product(self.v_vectors, columns=self.rank)  # (in, rank)
        return U_r, V_r

    @property
    def weight(self) -> torch.Tensor:
        """The (out_features, in_features) weight A = U_r diag(signs) V_r^T."""
        U_r, V_r = self.frames()
        return (U_r * self.signs) @ V_r.T  # (out, in)

    def directions(self) -> torch.Tensor:
        """(rank, in_features) orthonormal rows: the latent directions the forward pass uses.

        Direction i moves the output along ``self.output_directions()[i]`` with unit gain.
        """
        return self.frames()[1].T  # (rank, in)

    def output_directions(self) -> torch.Tensor:
        """(rank, out_features): the image of each direction, ``weight @ directions()[i]``."""
        U_r, _ = self.frames()
        return (U_r * self.signs).T  # (rank, out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x: expected a tensor (..., {self.in_features}), got {type(x).__name__}")
        if x.dtype != self.v_vectors.dtype:
            raise TypeError(f"x: expected dtype {self.v_vectors.dtype} (the projector's), got {x.dtype}; "
                            f"convert with x.to({self.v_vectors.dtype}) or the module with .to(dtype)")
        if x.ndim < 1:
            raise ValueError(f"x: expected shape (..., {self.in_features}), got a scalar")
        if x.shape[-1] != self.in_features:
            raise ValueError(f"x: expected last dimension {self.in_features}, got shape {tuple(x.shape)}")
        U_r, V_r = self.frames()
        # Two thin products (x V_r) then (. U_r^T): O(rank (in + out)) per row, not O(in out).
        h = (x @ V_r) * self.signs  # (..., rank)
        y = h @ U_r.T  # (..., out)
        return y if self.bias is None else y + self.bias

    def reflectors(self) -> list[nn.Parameter]:
        """The trainable reflection vectors (U side, V side)."""
        return [self.u_vectors, self.v_vectors]

    @classmethod
    def from_linear(cls, linear: nn.Linear, rank: int, *, bias: bool | None = None) -> "HouseholderProjector":
        """A projector whose weight is U_r V_r^T from the SVD W = U diag(s) V^T of ``linear``.

        The reflection vectors come from a QR (``torch.geqrf``) of U_r and V_r, so the new
        layer spans the same top-``rank`` input and output subspaces as the trained layer
        (its singular values are replaced by 1). The bias is copied when kept.
        """
        if not isinstance(linear, nn.Linear):
            raise TypeError(f"linear: expected an nn.Linear, got {type(linear).__name__}")
        W = linear.weight.detach()
        if not torch.isfinite(W).all():
            raise ValueError("linear: its weight contains NaN or infinite values; no SVD exists to start from")
        out_f, in_f = W.shape
        rank = check_int("rank", rank, lo=1, hi=min(out_f, in_f))
        keep_bias = (linear.bias is not None) if bias is None else bool(bias)
        proj = cls(in_f, out_f, rank, bias=keep_bias, device=W.device, dtype=W.dtype)
        U, _, Vh = torch.linalg.svd(W.double(), full_matrices=False)
        U_r, V_r = U[:, :rank], Vh[:rank].T  # (out, rank), (in, rank)
        u_vec, u_sign = householder_vectors_from_frame(U_r)
        v_vec, v_sign = householder_vectors_from_frame(V_r)
        with torch.no_grad():
            proj.u_vectors.copy_(u_vec.to(W.dtype))
            proj.v_vectors.copy_(v_vec.to(W.dtype))
            # Q(U)[:, :r] = U_r diag(u_sign) and Q(V)[:, :r] = V_r diag(v_sign), so
            # A = U_r diag(u_sign * signs * v_sign) V_r^T equals U_r V_r^T for this choice.
            proj.signs.copy_((u_sign * v_sign).to(W.dtype))
            if keep_bias:
                if linear.bias is not None:
                    proj.bias.copy_(linear.bias.detach())
                else:
                    proj.bias.zero_()
        return proj

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, rank={self.rank}, "
                f"bias={self.bias is not None}")


def train_only_reflectors(model: nn.Module) -> list[nn.Parameter]:
    """Freeze every parameter of ``model`` except the projectors' reflection vectors.

    Returns the parameters left trainable (pass them to the optimiser).
    """
    for p in model.parameters():
        p.requires_grad_(False)
    params: list[nn.Parameter] = []
    for m in model.modules():
        if isinstance(m, HouseholderProjector):
            for p in m.reflectors():
                p.requires_grad_(True)
                params.append(p)
    if not params:
        raise ValueError("model: contains no HouseholderProjector, so there are no reflectors to train")
    return params


# --------------------------------------------------------------------------- baselines
def sefa_directions(weight, k: int, *, return_values: bool = False):
    """Closed-form factorisation (SeFa) of a weight W of shape (out, in).

    Each row of W (one output unit's weights) is normalised to unit length; the directions
    are the eigenvectors of W^T W, largest eigenvalue first.

    Returns (k, in) orthonormal rows, and the k eigenvalues when ``return_values``.

    Examples
    --------
    >>> import torch
    >>> W = torch.randn(16, 8, dtype=torch.float64)
    >>> dirs, eigenvalues = sefa_directions(W, 3, return_values=True)
    >>> tuple(dirs.shape), bool(torch.allclose(dirs @ dirs.T, torch.eye(3, dtype=torch.float64)))
    ((3, 8), True)
    >>> bool((eigenvalues[:-1] >= eigenvalues[1:]).all())
    True
    """
    W = check_matrix("weight", as_tensor(weight, name="weight"))
    check_finite("weight", W)
    out_f, in_f = W.shape
    k = check_int("k", k, lo=1, hi=in_f)
    norms = W.norm(dim=1, keepdim=True)  # (out, 1)
    Wn = W / norms.clamp_min(torch.finfo(W.dtype).tiny)
    evals, evecs = torch.linalg.eigh(Wn.T @ Wn)  # ascending; (in,), (in, in)
    order = torch.argsort(evals, descending=True)[:k]
    dirs = evecs[:, order].T.contiguous()  # (k, in)
    # Note [eigenvector sign]: an eigenvector's sign is arbitrary; fix it so the entry of
    # largest magnitude is positive, which makes runs reproducible.
    pivot = dirs.abs().argmax(dim=1)
    sign = torch.sign(dirs.gather(1, pivot[:, None]))
    dirs = dirs * sign
    return (dirs, evals[order]) if return_values else dirs


def ganspace_directions(layer, k: int, *, n_samples: int = 4096, seed: int = 0,
                        latents=None, return_values: bool = False):
    """GANSpace-style PCA: principal directions of a layer's activations, mapped to the input.

    Latent codes z ~ N(0, I) (or ``latents`` (n, in)) go through ``layer`` (any callable
    (n, in) -> (n, out)); PCA of the outputs gives k components; each component's score is
    regressed on z by least squares, and the regression vector (normalised) is the latent
    direction. Returns (k, in) unit rows (orthonormalised), and the explained variances.
    """
    if latents is None:
        in_f = _in_features(layer)
        p = next(iter(layer.parameters()), None) if isinstance(layer, nn.Module) else None
        dev = p.device if p is not None else None
        dt = p.dtype if p is not None else torch.float32
        g = torch.Generator().manual_seed(int(seed))
        Z = torch.randn(check_int("n_samples", n_samples, lo=2), in_f, generator=g, dtype=dt).to(dev or "cpu")
    else:
        Z = check_finite("latents", check_matrix("latents", as_tensor(latents, name="latents"), min_rows=2))
        expected = _in_features(layer) if isinstance(layer, nn.Module) else None
        if expected is not None and Z.shape[1] != expected:
            raise ValueError(f"latents: expected {expected} columns (the layer's input width), got shape "
                             f"{tuple(Z.shape)}")
        p = next(iter(layer.parameters()), None) if isinstance(layer, nn.Module) else None
        if p is not None:
            Z = Z.to(device=p.device, dtype=p.dtype)
    in_f = Z.shape[1]
    k = check_int("k", k, lo=1, hi=in_f)
    with torch.no_grad():
        Y = layer(Z)  # (n, out)
    Yc = Y - Y.mean(dim=0)
    _, s, Vh = torch.linalg.svd(Yc, full_matrices=False)
    comps = Vh[:k]  # (k, out)
    scores = Yc @ comps.T  # (n, k)
    Zc = Z - Z.mean(dim=0)
    coef = torch.linalg.lstsq(Zc, scores).solution  # (in, k)
    dirs, R = torch.linalg.qr(coef)  # (in, k) orthonormal, keeps the PCA order
    sign = torch.sign(torch.diagonal(R))
    dirs = dirs * torch.where(sign == 0, torch.ones_like(sign), sign)  # keep each regression vector's sign
    var = s[:k] ** 2 / (Z.shape[0] - 1)
    return (dirs.T.contiguous(), var) if return_values else dirs.T.contiguous()


def random_directions(in_features: int, k: int, *, seed: int = 0, dtype=torch.float32,
                      device=None) -> torch.Tensor:
    """(k, in_features) random orthonormal rows (QR of a Gaussian matrix), seeded."""
    in_features = check_int("in_features", in_features, lo=1)
    k = check_int("k", k, lo=1, hi=in_features)
    g = torch.Generator().manual_seed(int(seed))
    G = torch.randn(in_features, k, generator=g, dtype=torch.float64)
    Q, R = torch.linalg.qr(G)
    Q = Q * torch.sign(torch.diagonal(R))
    return Q.T.contiguous().to(dtype=dtype, device=device or "cpu")


# --------------------------------------------------------------------------- any model
def _in_features(layer) -> int:
    if isinstance(layer, (nn.Linear, HouseholderProjector)):
        return layer.in_features
    raise TypeError("layer: expected an nn.Linear or HouseholderProjector when latents are not given, "
                    f"got {type(layer).__name__}")


def get_submodule_by_name(model: nn.Module, name: str) -> nn.Module:
    """``model.get_submodule(name)`` with an error that lists the linear layers available."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"name: expected a dotted module name such as 'decoder.fc', got {name!r}")
    try:
        return model.get_submodule(name)
    except AttributeError:
        options = [n for n, m in model.named_modules() if isinstance(m, (nn.Linear, HouseholderProjector))]
        raise ValueError(f"name: no submodule {name!r}; linear layers in this model: {options}") from None


def layer_directions(model: nn.Module, name: str, method: str, k: int, *, seed: int = 0,
                     inputs=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Directions of the layer ``name`` in ``model`` by ``method``.

    ``method``: 'householder' (a projector's own directions, values all 1), 'sefa'
    (eigenvectors, values = eigenvalues), 'ganspace' (PCA, values = variances), 'random'
    (values = NaN). Returns ((k, in) rows, (k,) values) on the layer's device.
    ``inputs`` (n, in): samples of what the layer receives, for GANSpace on a layer deeper than
    the first (default: N(0, I), right only for a layer fed the latent code itself; see
    :func:`lab.householder.layers.layer_inputs`).
    """
    layer = get_submodule_by_name(model, name)
    if not isinstance(layer, (nn.Linear, HouseholderProjector)):
        raise TypeError(f"name: {name!r} is a {type(layer).__name__}; expected an nn.Linear or HouseholderProjector")
    W = layer.weight.detach()
    in_f = W.shape[1]
    if method == "householder":
        if not isinstance(layer, HouseholderProjector):
            raise ValueError(f"method: 'householder' needs a HouseholderProjector at {name!r}; "
                             "swap it in first with swap_for_projector, or use 'sefa'")
        k = check_int("k", k, lo=1, hi=layer.rank)
        with torch.no_grad():
            dirs = layer.directions()[:k]
        return dirs, torch.ones(k, dtype=W.dtype, device=W.device)
    if method == "sefa":
        return sefa_directions(W, k, return_values=True)
    if method == "ganspace":
        return ganspace_directions(layer, k, seed=seed, latents=inputs, return_values=True)
    if method == "random":
        dirs = random_directions(in_f, k, seed=seed, dtype=W.dtype, device=W.device)
        return dirs, torch.full((dirs.shape[0],), float("nan"), dtype=W.dtype, device=W.device)
    raise ValueError(f"method: expected one of {DIRECTION_METHODS}, got {method!r}")


def swap_for_projector(model: nn.Module, name: str, rank: int) -> HouseholderProjector:
    """Replace the ``nn.Linear`` at ``name`` in ``model`` (in place) by a projector from it."""
    layer = get_submodule_by_name(model, name)
    if not isinstance(layer, nn.Linear):
        raise TypeError(f"name: {name!r} is a {type(layer).__name__}; expected an nn.Linear")
    proj = HouseholderProjector.from_linear(layer, rank)
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, proj)
    return proj
