"""The shipped artifacts of data/householder/ and small image helpers for displaying them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from lab.householder.model import FactorRegressor
from lab.householder.training import load_regressor
from lab.paths import study_dir

__all__ = ["Artifacts", "load_artifacts", "image_grid", "to_uint8_image", "FILES"]

FILES = {"regressor": "regressor.safetensors", "results": "results.json"}


def pretrained_name(seed: int) -> str:
    return f"gan_seed{seed}.safetensors"


def finetuned_name(seed: int, rank: int) -> str:
    return f"gan_seed{seed}_rank{rank}_finetuned.safetensors"


@dataclass
class Artifacts:
    pretrained: dict  # seed -> (StyleGenerator, Discriminator) in eval mode (treat as read-only)
    regressor: FactorRegressor
    results: dict  # results.json (may be empty before the experiment script ran)
    finetuned: dict = field(default_factory=dict)  # (seed, rank) -> fine-tuned StyleGenerator


def load_artifacts(folder: str | Path | None = None) -> Artifacts:
    """Load the shipped GAN checkpoints, regressor and results (FileNotFoundError names what is missing)."""
    from lab.householder.gan_training import load_gan

    folder = Path(folder) if folder is not None else study_dir("householder")
    gans = sorted(folder.glob("gan_seed*.safetensors"))
    pre = [p for p in gans if "_rank" not in p.name]
    missing = [n for n in (FILES["regressor"],) if not (folder / n).is_file()]
    if not pre:
        missing.append("gan_seed<s>.safetensors")
    if missing:
        raise FileNotFoundError(f"folder: {str(folder)!r} lacks {missing}; run "
                                "`python scripts/householder_pretrain.py` and "
                                "`python scripts/householder_experiment.py`")
    pretrained = {}
    for p in pre:
        G, D, meta = load_gan(p, device="cpu")
        pretrained[int(meta.get("seed", p.stem.removeprefix("gan_seed")))] = (G, D)
    finetuned = {}
    for p in gans:
        if "_rank" in p.name:
            G, _, meta = load_gan(p, device="cpu")
            finetuned[(int(meta["seed"]), int(meta["projector_rank"]))] = G
    reg = load_regressor(folder / FILES["regressor"], device="cpu").requires_grad_(False)
    res_path = folder / FILES["results"]
    results = json.loads(res_path.read_text()) if res_path.is_file() else {}
    return Artifacts(pretrained=pretrained, regressor=reg, results=results, finetuned=finetuned)


def to_uint8_image(img) -> np.ndarray:
    """(3, H, W) floats in [0, 1] -> (H, W, 3) uint8."""
    a = img.detach().cpu().numpy() if isinstance(img, torch.Tensor) else np.asarray(img)
    if a.ndim != 3 or a.shape[0] != 3:
        raise ValueError(f"img: expected (3, H, W), got shape {a.shape}")
    return (np.clip(a, 0, 1) * 255).round().astype(np.uint8).transpose(1, 2, 0)  # (H, W, 3)


def image_grid(images, gap: int = 2, fill: int = 255) -> np.ndarray:
    """(rows, cols, 3, H, W) floats in [0, 1] -> one (rows*(H+gap)-gap, cols*(W+gap)-gap, 3) uint8 mosaic."""
    a = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if a.ndim != 5 or a.shape[2] != 3:
        raise ValueError(f"images: expected (rows, cols, 3, H, W), got shape {a.shape}")
    r, c, _, h, w = a.shape
    out = np.full((r * (h + gap) - gap, c * (w + gap) - gap, 3), fill, dtype=np.uint8)
    tiles = (np.clip(a, 0, 1) * 255).round().astype(np.uint8).transpose(0, 1, 3, 4, 2)  # (r, c, H, W, 3)
    for i in range(r):
        for j in range(c):
            out[i * (h + gap): i * (h + gap) + h, j * (w + gap): j * (w + gap) + w] = tiles[i, j]
    return out
