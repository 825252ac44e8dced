"""The shipped artifacts of data/householder/ and small image helpers for displaying them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lab.householder.model import FactorRegressor
from lab.householder.training import load_regressor, load_vae
from lab.paths import study_dir

__all__ = ["Artifacts", "load_artifacts", "image_grid", "to_uint8_image"]

FILES = {"householder": "vae_householder.safetensors", "linear": "vae_linear.safetensors",
         "regressor": "regressor.safetensors", "results": "results.json"}


@dataclass
class Artifacts:
    models: dict  # first-layer kind -> ShapesVAE (eval mode; treat as read-only)
    regressor: FactorRegressor
    results: dict  # results.json: per-seed table, summary, seed-0 sensitivity matrices


def load_artifacts(folder: str | Path | None = None) -> Artifacts:
    """Load the shipped models, regressor and results (FileNotFoundError names what is missing)."""
    folder = Path(folder) if folder is not None else study_dir("householder")
    missing = [name for name in FILES.values() if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"folder: {str(folder)!r} lacks {missing}; "
                                "run `python scripts/make_householder_data.py`")
    models = {k: load_vae(folder / FILES[k], device="cpu") for k in ("householder", "linear")}
    for m in models.values():
        m.requires_grad_(False)
    reg = load_regressor(folder / FILES["regressor"], device="cpu").requires_grad_(False)
    results = json.loads((folder / FILES["results"]).read_text())
    return Artifacts(models=models, regressor=reg, results=results)


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
