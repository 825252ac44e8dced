"""A procedurally generated image set with known factors of variation (no downloads).

Each image is one coloured shape on a dark background, rendered with anti-aliased edges
from six factors:

=========  ===========================================  =========
factor     meaning                                      range
=========  ===========================================  =========
shape      0 square, 1 ellipse (2:1), 2 triangle         {0, 1, 2}
scale      circumradius as a fraction of the maximum     [0.5, 1]
rotation   angle in radians                              [0, pi/3)
x, y       centre in image coordinates (-1..1)           [-0.3, 0.3]
hue        HSV hue (saturation = value = 1)              [0, 0.75]
=========  ===========================================  =========

Note [rotation range]: the square repeats every pi/2, the triangle every 2 pi/3 and the
ellipse every pi, so rotation is identifiable for every shape only on [0, pi/3). Hue stops at
0.75 so that it is not circular (red at both ends).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from lab.checks import check_int

__all__ = ["FACTORS", "CONTINUOUS", "FACTOR_RANGES", "ShapesData", "sample_factors", "render", "make_shapes",
           "normalise_factors"]

FACTORS = ("shape", "scale", "rotation", "x", "y", "hue")
CONTINUOUS = ("scale", "rotation", "x", "y", "hue")
FACTOR_RANGES = {"shape": (0.0, 2.0), "scale": (0.5, 1.0), "rotation": (0.0, math.pi / 3), "x": (-0.3, 0.3),
                 "y": (-0.3, 0.3), "hue": (0.0, 0.75)}
N_SHAPES = 3
_MAX_RADIUS = 0.7  # circumradius at scale 1, in image units (the image spans -1..1)


@dataclass
class ShapesData:
    images: torch.Tensor  # (n, 3, size, size) float32 in [0, 1]
    factors: np.ndarray  # (n, 6) float64, columns in FACTORS order; shape stored as 0/1/2

    def __len__(self) -> int:
        return self.images.shape[0]


def sample_factors(n: int, seed: int = 0) -> np.ndarray:
    """(n, 6) factors drawn uniformly in their ranges, deterministically from ``seed``."""
    n = check_int("n", n, lo=1)
    rng = np.random.default_rng(seed)
    cols = [rng.integers(0, N_SHAPES, n).astype(np.float64)]
    for name in CONTINUOUS:
        lo, hi = FACTOR_RANGES[name]
        cols.append(rng.uniform(lo, hi, n))
    return np.stack(cols, axis=1)


def normalise_factors(factors: np.ndarray) -> np.ndarray:
    """Map each column to [0, 1] by its range (shape 0/1/2 -> 0/0.5/1)."""
    f = np.asarray(factors, dtype=np.float64)
    lo = np.array([FACTOR_RANGES[k][0] for k in FACTORS])
    hi = np.array([FACTOR_RANGES[k][1] for k in FACTORS])
    return (f - lo) / (hi - lo)


def _hue_to_rgb(h: torch.Tensor) -> torch.Tensor:
    """(n,) hue in [0, 1) -> (n, 3) RGB at full saturation and value."""
    k = torch.tensor([5.0, 3.0, 1.0], dtype=h.dtype)
    kk = (k[None, :] + 6.0 * h[:, None]) % 6.0  # (n, 3)
    return 1.0 - torch.clamp(torch.minimum(kk, 4.0 - kk), 0.0, 1.0)


def render(factors, size: int = 32) -> torch.Tensor:
    """Render (n, 6) factors into (n, 3, size, size) float32 images in [0, 1]."""
    size = check_int("size", size, lo=8, hi=256)
    f = torch.as_tensor(np.asarray(factors, dtype=np.float64))
    if f.ndim != 2 or f.shape[1] != len(FACTORS):
        raise ValueError(f"factors: expected shape (n, {len(FACTORS)}) in the order {FACTORS}, got {tuple(f.shape)}")
    if not torch.isfinite(f).all():
        raise ValueError("factors: contains NaN or infinite values")
    # Rotation and hue are periodic, so any value draws; the others have a meaning only in range.
    kinds = f[:, 0].round()
    if ((kinds < 0) | (kinds > N_SHAPES - 1)).any():
        raise ValueError(f"factors: shape (column 0) must round to one of 0..{N_SHAPES - 1}, got values from "
                         f"{float(f[:, 0].min()):.3g} to {float(f[:, 0].max()):.3g}")
    if ((f[:, 1] <= 0) | (f[:, 1] > 2)).any():
        raise ValueError("factors: scale (column 1) must lie in (0, 2]")
    if (f[:, 3:5].abs() > 1).any():
        raise ValueError("factors: x and y (columns 3, 4) must lie in [-1, 1], the image")
    shape, scale, rot, cx, cy, hue = (f[:, i] for i in range(6))
    ax = (torch.arange(size, dtype=torch.float64) + 0.5) / size * 2 - 1  # pixel centres in -1..1
    py, px = torch.meshgrid(-ax, ax, indexing="ij")  # (size, size); y points up
    dx = px[None] - cx[:, None, None]  # (n, size, size)
    dy = py[None] - cy[:, None, None]
    c, s = torch.cos(rot)[:, None, None], torch.sin(rot)[:, None, None]
    u, v = c * dx + s * dy, -s * dx + c * dy  # coordinates in the shape's own frame
    R = (_MAX_RADIUS * scale)[:, None, None]
    # Signed distances (negative inside), one per shape kind.
    half = R / math.sqrt(2.0)
    d_square = torch.maximum(u.abs(), v.abs()) - half
    a, b = R, 0.5 * R
    d_ellipse = (torch.sqrt((u / a) ** 2 + (v / b) ** 2) - 1.0) * b
    normal_angles = (math.pi / 2, math.pi / 2 + 2 * math.pi / 3, math.pi / 2 + 4 * math.pi / 3)  # one per edge
    normals = [(math.cos(t), math.sin(t)) for t in normal_angles]
    d_tri = torch.stack([nx * u + ny * v for nx, ny in normals]).amax(dim=0) - 0.5 * R
    kind = shape.round().long()[:, None, None]
    sdf = torch.where(kind == 0, d_square, torch.where(kind == 1, d_ellipse, d_tri))
    pixel = 2.0 / size
    mask = torch.sigmoid(-sdf / (0.35 * pixel))  # (n, size, size), anti-aliased edge
    rgb = _hue_to_rgb(hue)  # (n, 3)
    bg = 0.08
    img = bg + (rgb[:, :, None, None] - bg) * mask[:, None]  # (n, 3, size, size)
    return img.to(torch.float32)


def make_shapes(n: int = 12000, *, size: int = 32, seed: int = 0, chunk: int = 2048) -> ShapesData:
    """The default image set: ``n`` images with uniformly sampled factors."""
    factors = sample_factors(n, seed)
    parts = [render(factors[i:i + chunk], size) for i in range(0, len(factors), chunk)]
    return ShapesData(images=torch.cat(parts), factors=factors)
