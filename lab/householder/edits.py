"""Latent directions of the style-based GAN and edits along them in w+.

A direction n lives in w (width ``w_dim``). An edit moves chosen *slots* of w+ (one slot per
style affine, :data:`~lab.householder.gan.SLOTS_PER_BLOCK` per block): the paper edits the slot
of the layer whose projector the direction comes from (:func:`block_slots` with
``which="first"``); a page may move all slots of a range of blocks.

Direction methods (:data:`GAN_METHODS`), for block b's first style affine:

- ``householder``: the projector's own directions (needs a swapped generator);
- ``within_span``: the projector's directions rotated by a random k x k rotation (Haar): the
  control that the loss cannot tell apart from them (Note [gauge freedom]);
- ``sefa``: SeFa of the pretrained affine's weight;
- ``ganspace``: PCA of w under the mapping network (the same for every block);
- ``random``: random orthonormal directions of w.

Edit sizes are in units of sigma_n, the standard deviation of w along n under the mapping
network (:func:`direction_scales`), so a step means the same for every method.
"""

from __future__ import annotations

import numpy as np
import torch

from lab.checks import check_int, check_matrix
from lab.device import as_tensor
from lab.householder.core import HouseholderProjector, random_directions, sefa_directions
from lab.householder.gan import SLOTS_PER_BLOCK, StyleGenerator

__all__ = ["GAN_METHODS", "METHOD_NEEDS_PROJECTOR", "block_slots", "sample_ws", "w_samples", "style_directions",
           "random_rotation", "direction_scales", "edit_ws", "traverse_ws", "render_edit"]

GAN_METHODS = ("householder", "within_span", "sefa", "ganspace", "random")
METHOD_NEEDS_PROJECTOR = {"householder": True, "within_span": True, "sefa": False, "ganspace": False,
                          "random": False}
SLOT_CHOICES = ("first", "block", "all")


def _check_generator(generator) -> StyleGenerator:
    if not isinstance(generator, StyleGenerator):
        raise TypeError(f"generator: expected a StyleGenerator, got {type(generator).__name__}")
    return generator


def block_slots(generator: StyleGenerator, blocks, which: str = "first") -> list[int]:
    """w+ slot indices moved by an edit of ``blocks`` (an int or (first, last) inclusive).

    ``which``: 'first' = each block's first style affine only (the paper's edit), 'block' =
    all three slots (conv0, conv1, torgb) of each block, 'all' = every slot of w+.
    """
    G = _check_generator(generator)
    n_blocks = len(G.blocks)
    if which not in SLOT_CHOICES:
        raise ValueError(f"which: expected one of {SLOT_CHOICES}, got {which!r}")
    if which == "all":
        return list(range(G.config.num_ws))
    lo, hi = (blocks, blocks) if isinstance(blocks, (int, np.integer)) else tuple(blocks)
    lo = check_int("blocks", lo, lo=0, hi=n_blocks - 1)
    hi = check_int("blocks", hi, lo=lo, hi=n_blocks - 1)
    per = (0,) if which == "first" else tuple(range(SLOTS_PER_BLOCK))
    return [SLOTS_PER_BLOCK * b + j for b in range(lo, hi + 1) for j in per]


def _param_of(generator: StyleGenerator) -> torch.nn.Parameter:
    return next(generator.parameters())


def w_samples(generator: StyleGenerator, n: int, seed: int) -> torch.Tensor:
    """(n, w_dim) codes w = mapping(z), z ~ N(0, I) seeded."""
    G = _check_generator(generator)
    p = _param_of(G)
    g = torch.Generator().manual_seed(int(seed))
    z = torch.randn(check_int("n", n, lo=1), G.config.z_dim, generator=g).to(p.device, p.dtype)
    with torch.no_grad():
        return G.mapping(z)


def sample_ws(generator: StyleGenerator, n: int, seed: int) -> torch.Tensor:
    """(n, num_ws, w_dim): w+ with the same w in every slot."""
    w = w_samples(generator, n, seed)
    return w[:, None, :].expand(-1, generator.config.num_ws, -1).contiguous()


def random_rotation(k: int, seed: int, dtype=torch.float64) -> torch.Tensor:
    """(k, k) Haar-distributed orthogonal matrix (QR of a Gaussian with the R-diagonal sign fix)."""
    k = check_int("k", k, lo=1)
    g = torch.Generator().manual_seed(int(seed))
    A = torch.randn(k, k, generator=g, dtype=torch.float64)
    Q, R = torch.linalg.qr(A)
    return (Q * torch.sign(torch.diagonal(R))).to(dtype)


def style_directions(generator: StyleGenerator, method: str, block: int, k: int, *, seed: int = 0,
                     n_samples: int = 4096) -> torch.Tensor:
    """(k, w_dim) orthonormal directions of ``method`` for block ``block``'s first style affine.

    ``seed`` picks the random directions, the within-span rotation and GANSpace's samples.
    """
    G = _check_generator(generator)
    block = check_int("block", block, lo=0, hi=len(G.blocks) - 1)
    affine = G.blocks[block].conv0.affine
    width = G.config.w_dim
    k = check_int("k", k, lo=1, hi=width)
    if method not in GAN_METHODS:
        raise ValueError(f"method: expected one of {GAN_METHODS}, got {method!r}")
    is_proj = isinstance(affine, HouseholderProjector)
    if METHOD_NEEDS_PROJECTOR[method] and not is_proj:
        raise ValueError(f"method: {method!r} needs a generator whose first style affines are HouseholderProjectors "
                         "(swap them in with swap_style_affines / finetune_swapped); this one has plain Linear layers")
    with torch.no_grad():
        if method in ("householder", "within_span"):
            k = check_int("k", k, lo=1, hi=affine.rank)
            D = affine.directions().detach()  # (rank, w_dim)
            if method == "within_span":
                # Note [gauge freedom]: A = U_r V_r^T is unchanged by U_r R, V_r R for R in O(r), so
                # any orthonormal basis of the span is as much "the projector's" as its own.
                R = random_rotation(affine.rank, seed, dtype=D.dtype).to(D.device)
                D = R.T @ D  # (rank, w_dim): rows are an orthonormal basis of the same span
            return D[:k].contiguous()
        if method == "sefa":
            return sefa_directions(affine.weight.detach(), k)
        if method == "ganspace":
            W = w_samples(G, n_samples, seed).double()  # (n, w_dim)
            Wc = W - W.mean(0)
            _, _, Vh = torch.linalg.svd(Wc, full_matrices=False)
            D = Vh[:k]
            pivot = D.abs().argmax(dim=1)
            D = D * torch.sign(D.gather(1, pivot[:, None]))
            return D.to(_param_of(G).dtype)
        p = _param_of(G)
        return random_directions(width, k, seed=10_000 + 97 * seed + block, dtype=p.dtype, device=p.device)


def direction_scales(generator: StyleGenerator, directions, *, n: int = 4096, seed: int = 12_345) -> torch.Tensor:
    """(k,) standard deviation of w along each direction under the mapping network (sigma_n)."""
    D = _directions(generator, directions)
    W = w_samples(generator, n, seed)  # (n, w_dim)
    return (W @ D.T).std(dim=0)  # (k,)


def _directions(generator: StyleGenerator, directions) -> torch.Tensor:
    G = _check_generator(generator)
    p = _param_of(G)
    D = check_matrix("directions", as_tensor(directions, name="directions"), cols=G.config.w_dim)
    return D.to(p.device, p.dtype)


def edit_ws(ws: torch.Tensor, directions: torch.Tensor, coords: torch.Tensor, slots) -> torch.Tensor:
    """w+ moved by ``coords @ directions`` at ``slots``: ws (n, S, w), directions (k, w), coords (n, k)."""
    if ws.ndim != 3:
        raise ValueError(f"ws: expected (n, slots, w_dim), got {tuple(ws.shape)}")
    if coords.ndim != 2 or coords.shape[0] not in (1, ws.shape[0]) or coords.shape[1] != directions.shape[0]:
        raise ValueError(f"coords: expected (n or 1, {directions.shape[0]}), got {tuple(coords.shape)}")
    slots = list(slots)
    if not slots or min(slots) < 0 or max(slots) >= ws.shape[1]:
        raise ValueError(f"slots: expected indices in 0..{ws.shape[1] - 1}, got {slots}")
    move = coords @ directions  # (n, w)
    out = ws.clone()
    out[:, slots] = out[:, slots] + move[:, None, :]
    return out


@torch.no_grad()
def traverse_ws(generator: StyleGenerator, directions, slots, *, ws=None, n: int = 1, span: float = 2.0,
                steps: int = 7, seed: int = 0, scales=None) -> torch.Tensor:
    """Images (n, k, steps, 3, R, R) in [-1, 1]: w+ moved by t * sigma_j * n_j at ``slots``, t in [-span, span].

    ``scales`` (k,) defaults to :func:`direction_scales` (pass ones for unit steps in w).
    """
    G = _check_generator(generator)
    D = _directions(G, directions)  # (k, w)
    steps = check_int("steps", steps, lo=1, hi=64)
    ws = sample_ws(G, n, seed) if ws is None else ws.to(D.device, D.dtype)
    sig = direction_scales(G, D) if scales is None else as_tensor(scales, name="scales").to(D.device, D.dtype)
    k, n = D.shape[0], ws.shape[0]
    t = torch.linspace(-float(span), float(span), steps, device=D.device, dtype=D.dtype)  # (steps,)
    eye = torch.eye(k, device=D.device, dtype=D.dtype)
    coords = eye[:, None, :] * (t[None, :, None] * sig[:, None, None])  # (k, steps, k): row j moves n_j only
    coords = coords[None].expand(n, -1, -1, -1).reshape(n * k * steps, k)
    big = ws[:, None, None].expand(-1, k, steps, -1, -1).reshape(n * k * steps, *ws.shape[1:])
    imgs = G.synthesis(edit_ws(big, D, coords, slots))
    return imgs.reshape(n, k, steps, *imgs.shape[1:])


@torch.no_grad()
def render_edit(generator: StyleGenerator, directions, offsets, slots, *, seed: int = 0, scales=None) -> torch.Tensor:
    """One image (3, R, R) in [-1, 1]: the sample of ``seed`` moved by sum_i offsets[i] sigma_i n_i at ``slots``."""
    G = _check_generator(generator)
    D = _directions(G, directions)
    off = as_tensor(offsets, name="offsets").to(D.device, D.dtype).reshape(1, -1)
    if off.shape[1] != D.shape[0]:
        raise ValueError(f"offsets: expected one value per direction ({D.shape[0]}), got {off.shape[1]}")
    sig = direction_scales(G, D) if scales is None else as_tensor(scales, name="scales").to(D.device, D.dtype)
    return G.synthesis(edit_ws(sample_ws(G, 1, seed), D, off * sig[None], slots))[0]
