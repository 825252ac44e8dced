"""The default experiment: Householder vs SeFa vs GANSpace vs random directions, over seeds.

For each seed, two VAEs are trained on the same shapes set with the same budget: one whose
generator's first layer is a HouseholderProjector, one with an unconstrained nn.Linear.
Directions are then taken from each (the projector's own, SeFa and GANSpace of the linear
layer, random orthonormal for both) and scored by :func:`score_directions`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch

from lab.householder.core import ganspace_directions, random_directions, sefa_directions
from lab.householder.model import FactorRegressor, ShapesVAE
from lab.householder.scoring import DirectionScores, score_directions
from lab.householder.shapes import ShapesData
from lab.householder.training import TrainConfig, train_vae

__all__ = ["model_directions", "MODEL_METHODS", "ComparisonResult", "compare_directions", "summarise"]

# Which direction methods apply to which first-layer kind.
MODEL_METHODS = {"householder": ("householder", "random"), "linear": ("sefa", "ganspace", "random")}


def model_directions(vae: ShapesVAE, method: str, k: int | None = None, *, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """((k, latent) directions, (k,) values) of a trained VAE's first layer by ``method``.

    Values: 1 for the projector's directions (its singular values), eigenvalues for SeFa,
    activation variances for GANSpace, NaN for random.
    """
    fc = vae.generator.fc
    cfg = vae.config
    k = cfg.rank if k is None else k
    with torch.no_grad():
        if method == "householder":
            if cfg.first_layer != "householder":
                raise ValueError("method: 'householder' needs a model whose first layer is a HouseholderProjector; "
                                 f"this one is {cfg.first_layer!r} (use 'sefa', 'ganspace' or 'random')")
            dirs = fc.directions()[:k]
            return dirs, torch.ones(dirs.shape[0])
        if method == "sefa":
            return sefa_directions(fc.weight, k, return_values=True)
        if method == "ganspace":
            return ganspace_directions(fc, k, n_samples=4096, seed=seed, return_values=True)
        if method == "random":
            dirs = random_directions(cfg.latent_dim, k, seed=10_000 + seed)
            return dirs, torch.full((k,), float("nan"))
    raise ValueError(f"method: expected one of ('householder', 'sefa', 'ganspace', 'random'), got {method!r}")


@dataclass
class ComparisonResult:
    table: pd.DataFrame  # one row per (seed, model, method): mig, sap, purity, path_length, ...
    sensitivity: dict  # (seed, model, method) -> (k, 6) sensitivity matrix
    models: dict  # (seed, model kind) -> trained ShapesVAE


def compare_directions(data: ShapesData, regressor: FactorRegressor, *, seeds=(0, 1, 2),
                       config: TrainConfig | None = None, eval_data: ShapesData | None = None,
                       root: str | Path | None = None, save_runs: bool = False,
                       progress: Callable | None = None, should_stop: Callable[[], bool] | None = None,
                       score_kwargs: dict | None = None) -> ComparisonResult:
    """Train both layer kinds for every seed and score every applicable direction method."""
    config = config or TrainConfig()
    eval_data = eval_data or data
    progress = progress or (lambda *a, **k: None)
    should_stop = should_stop or (lambda: False)
    rows, sens, models = [], {}, {}
    jobs = [(s, kind) for s in seeds for kind in ("householder", "linear")]
    for j, (seed, kind) in enumerate(jobs):
        if should_stop():
            break
        cfg = copy.deepcopy(config)
        cfg.seed, cfg.generator.first_layer = int(seed), kind

        def sub(frac, msg="", **partial):
            progress((j + frac) / len(jobs), f"seed {seed} {kind}: {msg}", **partial)

        res = train_vae(cfg, data=data, root=root, save_run=save_runs, progress=sub, should_stop=should_stop)
        vae = res.model
        models[(seed, kind)] = vae
        final = res.history[-1] if res.history else {}
        for method in MODEL_METHODS[kind]:
            dirs, _ = model_directions(vae, method, seed=seed)
            sc: DirectionScores = score_directions(vae, regressor, dirs, eval_data, seed=seed, **(score_kwargs or {}))
            sens[(seed, kind, method)] = sc.sensitivity
            rows.append({"seed": seed, "model": kind, "method": method, **sc.summary(),
                         "recon": final.get("recon", np.nan), "kl": final.get("kl", np.nan),
                         "orth_error": final.get("orth_error", np.nan), "steps": res.step})
    return ComparisonResult(table=pd.DataFrame(rows), sensitivity=sens, models=models)


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation over seeds per (model, method)."""
    metrics = [c for c in ("mig", "sap", "purity", "max_sensitivity", "path_length", "recon") if c in table]
    g = table.groupby(["model", "method"])[metrics]
    out = g.mean().add_suffix("_mean").join(g.std(ddof=1).add_suffix("_std")).join(g.size().rename("n_seeds"))
    return out.reset_index()
