"""Scoring latent directions against the ground-truth factors of the shapes set.

- :func:`traverse` decodes z + t * n for every direction n and step t (or adds t * n to the
  input of any linear layer, see :mod:`lab.householder.layers`).
- :func:`sensitivity_matrix` measures, with the trained factor regressor, how much each
  factor changes along each direction: a (directions x factors) matrix; :func:`purity` is
  each row's share of its largest entry.
- :func:`mig` and :func:`sap` score encoder codes projected on the directions against the
  factors; :func:`path_length` is a perceptual-path-style smoothness per direction.
- :func:`score_directions` runs them all for one set of directions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn.metrics import mutual_info_score

from lab.checks import as_array, check_float, check_int, check_matrix
from lab.device import as_tensor, to_numpy
from lab.householder.layers import forward_with_input_shift, linear_layer
from lab.householder.shapes import FACTORS, ShapesData, normalise_factors

__all__ = ["traverse", "decode_offset", "predict_factors", "sensitivity_matrix", "purity", "discretize",
           "mutual_info_matrix", "mig", "sap_matrix", "sap", "path_length", "encode_codes", "DirectionScores",
           "score_directions"]


def _directions(directions, width: int) -> torch.Tensor:
    D = check_matrix("directions", as_tensor(directions, name="directions"))
    if D.shape[1] != width:
        raise ValueError(f"directions: expected (k, {width}) rows in the space they move (the latent code, "
                         f"or the chosen layer's input), got {tuple(D.shape)}")
    return D


def _device_of(module: torch.nn.Module) -> torch.device:
    return next(module.parameters()).device


def _dtype_of(module: torch.nn.Module) -> torch.dtype:
    return next(module.parameters()).dtype


def prior_samples(n: int, latent_dim: int, seed: int, device=None) -> torch.Tensor:
    """(n, latent_dim) draws from N(0, I), seeded."""
    g = torch.Generator().manual_seed(int(seed))
    return torch.randn(check_int("n", n, lo=1), latent_dim, generator=g).to(device or "cpu")


def _space_width(generator: torch.nn.Module, layer: str | None) -> int:
    """Width of the space the directions live in: the latent code, or the input of ``layer``."""
    return generator.config.latent_dim if layer is None else linear_layer(generator, layer).in_features


def _decode_moved(generator: torch.nn.Module, z: torch.Tensor, moves: torch.Tensor, layer: str | None) -> torch.Tensor:
    """Decode each row of ``z`` (m, latent) moved by ``moves`` (m, width): in latent space, or at ``layer``'s input."""
    if layer is None:
        return generator(z + moves)
    return forward_with_input_shift(generator, layer, z, moves)


@torch.no_grad()
def traverse(generator: torch.nn.Module, directions, *, z=None, n: int = 1, span: float = 3.0, steps: int = 7,
             seed: int = 0, layer: str | None = None) -> torch.Tensor:
    """Images along each direction: (n, k, steps, 3, H, W).

    Row i, direction j, step s decodes ``z_i + t_s * directions[j]`` with
    ``t = linspace(-span, span, steps)``; ``z`` (n, latent) defaults to ``n`` prior draws.
    With ``layer`` (a dotted name, see :mod:`lab.householder.layers`) the directions live in that
    layer's input space and ``t_s * directions[j]`` is added to what the layer receives for ``z_i``.
    """
    latent = generator.config.latent_dim
    dev, dt = _device_of(generator), _dtype_of(generator)
    D = _directions(directions, _space_width(generator, layer)).to(dev, dt)  # (k, width)
    steps = check_int("steps", steps, lo=1, hi=64)
    span = check_float("span", span, lo=0.0, hi=50.0)
    z = prior_samples(n, latent, seed, dev) if z is None else check_matrix("z", as_tensor(z, name="z"), cols=latent)
    z = z.to(dev, dt)
    t = torch.linspace(-span, span, steps, device=dev, dtype=dt)  # (steps,)
    moves = t[None, :, None] * D[:, None, :]  # (k, steps, width)
    zz = z[:, None, None, :].expand(-1, D.shape[0], steps, -1).reshape(-1, latent)  # (n*k*steps, latent)
    imgs = _decode_moved(generator, zz, moves.expand(z.shape[0], -1, -1, -1).reshape(zz.shape[0], -1), layer)
    return imgs.reshape(z.shape[0], D.shape[0], steps, *imgs.shape[1:])  # (n, k, steps, 3, H, W)


@torch.no_grad()
def decode_offset(generator: torch.nn.Module, directions, offsets, *, z, layer: str | None = None) -> torch.Tensor:
    """The image at ``z + sum_i offsets[i] * directions[i]``: (3, H, W).

    ``directions`` (k, width), ``offsets`` (k,) (one slider value per direction), ``z`` (1, latent).
    With ``layer`` the sum is added to that layer's input (width = its in_features), as in :func:`traverse`.
    """
    latent = generator.config.latent_dim
    dev, dt = _device_of(generator), _dtype_of(generator)
    D = _directions(directions, _space_width(generator, layer)).to(dev, dt)  # (k, width)
    off = as_tensor(offsets, name="offsets", device=dev, dtype=dt).reshape(-1)  # (k,)
    if off.shape[0] != D.shape[0]:
        raise ValueError(f"offsets: expected one value per direction ({D.shape[0]}), got {off.shape[0]}")
    z = check_matrix("z", as_tensor(z, name="z"), cols=latent).to(dev, dt)[:1]  # (1, latent)
    return _decode_moved(generator, z, (off @ D)[None], layer)[0]  # (3, H, W)


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


def sensitivity_matrix(generator: torch.nn.Module, regressor: torch.nn.Module, directions, *, n_samples: int = 32,
                       span: float = 2.0, steps: int = 7, seed: int = 0, layer: str | None = None) -> np.ndarray:
    """(k, 6) change of each factor (columns in FACTORS order) along each direction.

    For a continuous factor: the mean over prior samples of (max - min) over the traversal
    of the regressor's normalised prediction (1 = the factor's whole range). For the shape:
    the mean of the largest (max - min) of a class probability (1 = the class flips).
    ``layer``: traverse at that layer's input, as in :func:`traverse`.
    """
    imgs = traverse(generator, directions, n=n_samples, span=span, steps=steps, seed=seed,
                    layer=layer)  # (n, k, s, 3, H, W)
    n, k, s = imgs.shape[:3]
    cont, prob = predict_factors(regressor, imgs.reshape(n * k * s, *imgs.shape[3:]))
    cont = cont.reshape(n, k, s, -1)  # (n, k, steps, 5)
    prob = prob.reshape(n, k, s, -1)  # (n, k, steps, 3)
    rng_cont = (cont.max(axis=2) - cont.min(axis=2)).mean(axis=0)  # (k, 5)
    rng_shape = (prob.max(axis=2) - prob.min(axis=2)).max(axis=-1).mean(axis=0)  # (k,)
    return np.concatenate([rng_shape[:, None], rng_cont], axis=1)  # (k, 6)


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


@torch.no_grad()
def encode_codes(vae: torch.nn.Module, images: torch.Tensor, directions, batch: int = 1024) -> np.ndarray:
    """(n, k): posterior means of ``images`` projected on each direction."""
    dev = _device_of(vae)
    D = _directions(directions, vae.config.latent_dim).to(dev, torch.float32)
    mus = [vae.encoder(images[i:i + batch].to(dev))[0] for i in range(0, images.shape[0], batch)]
    return (torch.cat(mus) @ D.T).cpu().numpy().astype(np.float64)  # (n, k)


@torch.no_grad()
def path_length(generator: torch.nn.Module, directions, *, feature_fn=None, n_samples: int = 128, eps: float = 1e-2,
                seed: int = 0) -> np.ndarray:
    """(k,) perceptual-path-style length along each direction.

    Mean over prior samples z of ||f(G(z + eps n)) - f(G(z))||^2 / eps^2 after dropping
    values outside the 1st-99th percentiles (the PIPL recipe). ``f`` defaults to pixels;
    pass the factor regressor's ``features`` for a learned perceptual space.
    """
    latent = generator.config.latent_dim
    dev = _device_of(generator)
    D = _directions(directions, latent).to(dev, torch.float32)
    eps = check_float("eps", eps, lo=1e-6, hi=1.0)
    f = feature_fn or (lambda x: x.flatten(1))
    z = prior_samples(n_samples, latent, seed, dev)
    base = f(generator(z))  # (n, feat)
    out = []
    for j in range(D.shape[0]):
        moved = f(generator(z + eps * D[j]))
        d = ((moved - base) ** 2).sum(1).cpu().numpy().astype(np.float64) / eps ** 2  # (n,)
        lo, hi = np.percentile(d, [1, 99])
        keep = d[(d >= lo) & (d <= hi)]
        out.append(float(keep.mean()) if keep.size else float(d.mean()))
    return np.array(out)


@dataclass
class DirectionScores:
    sensitivity: np.ndarray  # (k, 6) factor change along each direction
    purity: np.ndarray  # (k,)
    mig: float
    mig_per_factor: np.ndarray  # (6,)
    sap: float
    sap_per_factor: np.ndarray  # (6,)
    path_length: np.ndarray  # (k,) in the regressor's feature space
    factors: tuple = field(default=FACTORS)

    def summary(self) -> dict:
        return {"mig": self.mig, "sap": self.sap, "purity": float(np.nanmean(self.purity)),
                "path_length": float(np.mean(self.path_length)),
                "max_sensitivity": float(self.sensitivity.max(axis=1).mean())}


def score_directions(vae: torch.nn.Module, regressor: torch.nn.Module, directions, data: ShapesData, *,
                     n_codes: int = 4000, n_samples: int = 32, span: float = 2.0, steps: int = 7,
                     seed: int = 0) -> DirectionScores:
    """All scores of one set of directions of one trained VAE."""
    n_codes = min(check_int("n_codes", n_codes, lo=10), len(data))
    S = sensitivity_matrix(vae.generator, regressor, directions, n_samples=n_samples, span=span, steps=steps, seed=seed)
    codes = encode_codes(vae, data.images[:n_codes], directions)
    m, mg = mig(codes, data.factors[:n_codes])
    s, sg = sap(codes, data.factors[:n_codes])
    pl = path_length(vae.generator, directions, feature_fn=regressor.features, seed=seed)
    return DirectionScores(sensitivity=S, purity=purity(S), mig=m, mig_per_factor=mg, sap=s, sap_per_factor=sg,
                           path_length=pl)
