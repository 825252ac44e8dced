"""A procedurally drawn captioned-image set: coloured shapes with a size and a position.

Every image shows one shape (circle, square, triangle, cross or ring) in one of six colours,
small or large, at one of five places, on a noisy grey background, with small random
jitter in place, size and hue. Its full caption names the four attributes, e.g.
"a large red circle on the left" (300 distinct full captions). Generation is deterministic
given the seed and needs no download. The class of an image (for anchor selection and
class-level retrieval) is its (shape, colour) pair: 5 x 6 = 30 classes.

Partial captions (the toy CLIPs' default training captions, see
:func:`draw_partial_captions`) always name the shape and name each other attribute only
with a given probability, e.g. "a circle", "a red circle", "a large circle at the top":
630 distinct captions (:func:`partial_captions`), of which the 300 full ones are a subset.

Note [overlapping captions]: with one exact caption per image, contrastive training fixes
only how each image sits against its own caption; how non-matching captions sit relative to
each other is left free, so two models trained apart have no reason to share that geometry.
Captions that overlap ("a circle" describes every circle image, "a red circle" every red
one) tie every caption to many images and so pin the shared geometry.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import numpy as np
import pandas as pd
import torch

from lab.checks import check_int
from lab.seeding import numpy_rng

__all__ = ["SHAPES", "COLOURS", "SIZES", "POSITIONS", "VOCAB", "CAPTION_MODES", "ShapesData", "make_shapes",
           "all_captions", "partial_captions", "attribute_codes", "draw_partial_captions", "caption_matches",
           "tokenize", "class_names"]

SHAPES = ("circle", "square", "triangle", "cross", "ring")
COLOURS = {
    "red": (0.9, 0.15, 0.15),
    "green": (0.15, 0.75, 0.2),
    "blue": (0.15, 0.3, 0.95),
    "yellow": (0.95, 0.85, 0.1),
    "purple": (0.6, 0.2, 0.8),
    "cyan": (0.1, 0.8, 0.85),
}
SIZES = ("small", "large")
POSITIONS = {  # phrase, centre as a fraction of the image side (x, y), y downwards
    "left": ("on the left", (0.27, 0.5)),
    "right": ("on the right", (0.73, 0.5)),
    "top": ("at the top", (0.5, 0.27)),
    "bottom": ("at the bottom", (0.5, 0.73)),
    "middle": ("in the middle", (0.5, 0.5)),
}
_WORDS = ["<pad>", "a", "on", "the", "at", "in", *SIZES, *COLOURS, *SHAPES, "left", "right", "top", "bottom", "middle"]
VOCAB = {w: i for i, w in enumerate(_WORDS)}
MAX_TOKENS = 7  # "a large red circle on the left" is the longest caption
CAPTION_MODES = ("partial", "full")  # training captions: shape + a random subset of the rest, or all four
_SLOTS = (len(SIZES) + 1, len(COLOURS) + 1, len(SHAPES), len(POSITIONS) + 1)  # values per caption slot, 0 = absent


def class_names() -> list[str]:
    """The 30 class names 'colour shape', indexed by class id = shape * 6 + colour."""
    return [f"{c} {s}" for s in SHAPES for c in COLOURS]


def _caption(shape: str, colour: str, size: str, position: str) -> str:
    return f"a {size} {colour} {shape} {POSITIONS[position][0]}"


def all_captions() -> pd.DataFrame:
    """Every distinct caption (300) with its attributes and class id, in a fixed order."""
    rows = []
    for (si, shape), (ci, colour), size, position in product(enumerate(SHAPES), enumerate(COLOURS), SIZES, POSITIONS):
        rows.append({"caption": _caption(shape, colour, size, position), "shape": shape, "colour": colour,
                     "size": size, "position": position, "label": si * len(COLOURS) + ci})
    return pd.DataFrame(rows)


def partial_captions() -> pd.DataFrame:
    """Every caption that names the shape and any subset of size, colour and position (630).

    Row i is the caption of key i (see :func:`draw_partial_captions`); absent attributes are
    None. The full captions are the rows where all four are named.
    """
    rows = []
    for key in range(int(np.prod(_SLOTS))):
        s, c, k, p = np.unravel_index(key, _SLOTS)
        size = SIZES[s - 1] if s else None
        colour = list(COLOURS)[c - 1] if c else None
        position = list(POSITIONS)[p - 1] if p else None
        words = ["a", size, colour, SHAPES[k], POSITIONS[position][0] if position else None]
        rows.append({"caption": " ".join(w for w in words if w), "shape": SHAPES[k], "colour": colour, "size": size,
                     "position": position})
    return pd.DataFrame(rows)


_PARTIAL_TOKENS: torch.Tensor | None = None


def _partial_tokens() -> torch.Tensor:
    """(630, MAX_TOKENS) token ids of :func:`partial_captions`, built once."""
    global _PARTIAL_TOKENS
    if _PARTIAL_TOKENS is None:
        _PARTIAL_TOKENS = tokenize(partial_captions()["caption"].tolist())
    return _PARTIAL_TOKENS


def attribute_codes(attributes: pd.DataFrame) -> np.ndarray:
    """(n, 4) int64 indices of (size, colour, shape, position) in SIZES, COLOURS, SHAPES, POSITIONS."""
    return np.stack([
        attributes["size"].map(SIZES.index).to_numpy(),
        attributes["colour"].map(list(COLOURS).index).to_numpy(),
        attributes["shape"].map(SHAPES.index).to_numpy(),
        attributes["position"].map(list(POSITIONS).index).to_numpy(),
    ], axis=1).astype(np.int64)


def draw_partial_captions(
    codes: torch.Tensor, keep_prob: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Draw one partial caption per image: the shape always, each other attribute with ``keep_prob``.

    ``codes``: (n, 4) from :func:`attribute_codes`. Returns (tokens (n, MAX_TOKENS), keys (n,)
    rows of :func:`partial_captions`, named (n, 4) caption attributes with -1 where absent).
    Deterministic for the generator's state.
    """
    codes = torch.as_tensor(codes, dtype=torch.long)
    keep = torch.rand(codes.shape, generator=generator) < keep_prob  # (n, 4)
    keep[:, 2] = True  # the shape is always named
    named = torch.where(keep, codes, torch.full_like(codes, -1))  # (n, 4)
    slot = named + 1  # (n, 4): 0 = absent
    slot[:, 2] = codes[:, 2]  # the shape slot has no "absent" value
    keys = ((slot[:, 0] * _SLOTS[1] + slot[:, 1]) * _SLOTS[2] + slot[:, 2]) * _SLOTS[3] + slot[:, 3]  # (n,)
    return _partial_tokens()[keys], keys, named


def caption_matches(codes: torch.Tensor, named: torch.Tensor) -> torch.Tensor:
    """(n_images, n_captions) bool: image i has every attribute caption j names (-1 = not named)."""
    codes, named = torch.as_tensor(codes), torch.as_tensor(named)
    ok = (named[None, :, :] == -1) | (named[None, :, :] == codes[:, None, :])  # (n_img, n_cap, 4)
    return ok.all(dim=-1)


def tokenize(captions: list[str]) -> torch.Tensor:
    """(n, MAX_TOKENS) token ids, right-padded with 0; unknown words are a ValueError."""
    out = torch.zeros(len(captions), MAX_TOKENS, dtype=torch.long)
    for i, text in enumerate(captions):
        words = text.split()
        if len(words) > MAX_TOKENS:
            raise ValueError(f"captions: caption {i} has {len(words)} words, at most {MAX_TOKENS} fit: {text!r}")
        for j, w in enumerate(words):
            if w not in VOCAB:
                raise ValueError(f"captions: unknown word {w!r} in caption {i}; the vocabulary is {sorted(VOCAB)}")
            out[i, j] = VOCAB[w]
    return out


@dataclass
class ShapesData:
    """Images, captions and attributes of one generated split."""

    images: torch.Tensor  # (n, 3, size, size) float32 in [0, 1]
    tokens: torch.Tensor  # (n, MAX_TOKENS) caption token ids
    captions: list[str]  # (n,) caption text
    caption_ids: np.ndarray  # (n,) row of the caption in all_captions()
    labels: np.ndarray  # (n,) class id = shape * 6 + colour
    attributes: pd.DataFrame  # (n, 4) shape, colour, size, position

    def __len__(self) -> int:
        return self.images.shape[0]


def _masks(kind: np.ndarray, dx: np.ndarray, dy: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Boolean (n, s, s) masks; dx, dy: (n, s, s) offsets from the centre; r: (n, 1, 1) radius."""
    dist = np.sqrt(dx**2 + dy**2)
    k = kind[:, None, None]
    circle = dist <= r
    square = np.maximum(np.abs(dx), np.abs(dy)) <= 0.8 * r
    triangle = (dy <= 0.8 * r) & (dy >= -r) & (np.abs(dx) <= 0.55 * (dy + r))
    cross = ((np.abs(dx) <= 0.3 * r) & (np.abs(dy) <= r)) | ((np.abs(dy) <= 0.3 * r) & (np.abs(dx) <= r))
    ring = (dist <= r) & (dist >= 0.55 * r)
    return np.select([k == 0, k == 1, k == 2, k == 3, k == 4], [circle, square, triangle, cross, ring])


def make_shapes(n: int, *, seed: int = 0, image_size: int = 24) -> ShapesData:
    """Draw ``n`` captioned images (deterministic for a given seed and size)."""
    n = check_int("n", n, lo=1)
    image_size = check_int("image_size", image_size, lo=12, hi=128)
    rng = numpy_rng(seed)
    caps = all_captions()
    cid = rng.integers(0, len(caps), size=n)  # (n,) uniform over the 300 captions
    rows = caps.iloc[cid].reset_index(drop=True)
    kind = np.array([SHAPES.index(s) for s in rows["shape"]])
    centres = np.array([POSITIONS[p][1] for p in rows["position"]]) * image_size  # (n, 2)
    centres = centres + rng.uniform(-1.5, 1.5, size=(n, 2))
    radius = np.where(rows["size"].to_numpy() == "large", 0.24, 0.15) * image_size
    radius = radius * rng.uniform(0.9, 1.1, size=n)
    grid = np.arange(image_size) + 0.5
    dx = grid[None, None, :] - centres[:, 0, None, None]  # (n, 1, s)
    dy = grid[None, :, None] - centres[:, 1, None, None]  # (n, s, 1)
    dx, dy = np.broadcast_arrays(dx, dy)  # (n, s, s)
    mask = _masks(kind, dx, dy, radius[:, None, None])  # (n, s, s)
    colour = np.array([COLOURS[c] for c in rows["colour"]]) + rng.uniform(-0.08, 0.08, size=(n, 3))
    background = rng.uniform(0.25, 0.45, size=(n, 1, 1, 1)) + 0.06 * rng.standard_normal((n, 1, image_size, image_size))
    img = np.broadcast_to(background, (n, 3, image_size, image_size)).copy()  # (n, 3, s, s)
    img = np.where(mask[:, None], colour[:, :, None, None], img)
    img = np.clip(img + 0.03 * rng.standard_normal(img.shape), 0.0, 1.0).astype(np.float32)
    captions = rows["caption"].tolist()
    return ShapesData(
        images=torch.from_numpy(img),
        tokens=tokenize(captions),
        captions=captions,
        caption_ids=cid.astype(np.int64),
        labels=rows["label"].to_numpy().astype(np.int64),
        attributes=rows[["shape", "colour", "size", "position"]].copy(),
    )
