"""The study's experiments as plain functions, and its one table of presets.

The default experiment: Householder vs SeFa vs GANSpace vs random directions, over seeds.
For each seed, two VAEs are trained on the same shapes set with the same budget: one whose
generator's first layer is a HouseholderProjector, one with an unconstrained nn.Linear.
Directions are then taken from each (the projector's own, SeFa and GANSpace of the linear
layer, random orthonormal for both) and scored by :func:`score_directions`. Every setting an
experiment, the page or a script uses by default is a named entry of :data:`PRESETS`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lab.householder.core import ganspace_directions, layer_directions, random_directions, sefa_directions
from lab.householder.layers import layer_inputs
from lab.householder.model import FactorRegressor, GeneratorConfig, ShapesVAE
from lab.householder.scoring import DirectionScores, prior_samples, score_directions
from lab.householder.shapes import ShapesData
from lab.householder.training import TrainConfig, train_vae
from lab.progress import Progress, ShouldStop, resolve

__all__ = ["PRESETS", "model_directions", "directions_of", "page_train_config", "MODEL_METHODS", "ComparisonResult",
           "compare_directions", "summarise"]

# Which direction methods apply to which first-layer kind.
MODEL_METHODS = {"householder": ("householder", "random"), "linear": ("sefa", "ganspace", "random")}

PRESETS: dict[str, dict] = {
    # The shipped comparison (scripts/make_householder_data.py) and `ortholab train householder`.
    "shipped": {"train": {"steps": 1500, "n_images": 12000}, "regressor_steps": 1000, "seeds": (0, 1, 2),
                "held_out_images": 3000, "held_out_seed": 1},
    # A generator trained on the page: small data, frequent logs and samples, a checkpoint
    # every quarter of the run (at least every 100 steps).
    "page": {"train": {"steps": 300, "n_images": 4000, "log_every": 10, "sample_every": 50}},
    # Fine-tuning a swapped-in projector (scripts/householder_finetune.py).
    "finetune": {"train": {"steps": 300}},
    # How directions are found and scored everywhere: GANSpace's PCA sample, the random
    # directions' seed offset (so they differ from any model seed), and the page's
    # direction x factor sensitivity.
    "directions": {"ganspace_samples": 4096, "random_seed_offset": 10_000},
    "sensitivity": {"n_samples": 16, "span": 2.0, "steps": 7},
}


def model_directions(vae: ShapesVAE, method: str, k: int | None = None, *,
                     seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
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
            n = PRESETS["directions"]["ganspace_samples"]
            return ganspace_directions(fc, k, n_samples=n, seed=seed, return_values=True)
        if method == "random":
            dirs = random_directions(cfg.latent_dim, k, seed=PRESETS["directions"]["random_seed_offset"] + seed)
            return dirs, torch.full((k,), float("nan"))
    raise ValueError(f"method: expected one of ('householder', 'sefa', 'ganspace', 'random'), got {method!r}")


def directions_of(vae: ShapesVAE, method: str, layer: str | None = None, k: int | None = None, *,
                  seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """((k, d) directions, (k,) values) of ``method`` at any linear ``layer`` of the generator.

    ``layer=None`` is the first layer (the directions move z; see :func:`model_directions`).
    For a deeper layer the directions live in that layer's input: GANSpace runs PCA on what the
    layer really receives under the prior.
    """
    if layer is None:
        return model_directions(vae, method, k, seed=seed)
    k = vae.config.rank if k is None else k
    gen = vae.generator
    inputs = None
    if method == "ganspace":
        n = PRESETS["directions"]["ganspace_samples"]
        inputs = layer_inputs(gen, layer, prior_samples(n, vae.config.latent_dim, seed=seed))
    layer_seed = PRESETS["directions"]["random_seed_offset"] + seed if method == "random" else seed
    with torch.no_grad():
        return layer_directions(gen, layer, method, k, seed=layer_seed, inputs=inputs)


def page_train_config(generator: GeneratorConfig, first_layer: str, steps: int | None = None) -> TrainConfig:
    """The "page" preset's training config for a generator like ``generator`` with ``first_layer``."""
    train = dict(PRESETS["page"]["train"])
    if steps is not None:
        train["steps"] = steps
    gen = GeneratorConfig(**{**generator.to_dict(), "first_layer": first_layer})
    return TrainConfig(generator=gen, checkpoint_every=max(100, train["steps"] // 4), **train).validate()


@dataclass
class ComparisonResult:
    table: pd.DataFrame  # one row per (seed, model, method): mig, sap, purity, path_length, ...
    sensitivity: dict  # (seed, model, method) -> (k, 6) sensitivity matrix
    models: dict  # (seed, model kind) -> trained ShapesVAE


def compare_directions(data: ShapesData, regressor: FactorRegressor, *, seeds=(0, 1, 2),
                       config: TrainConfig | None = None, eval_data: ShapesData | None = None,
                       root: str | Path | None = None, save_runs: bool = False,
                       progress: Progress | None = None, should_stop: ShouldStop | None = None,
                       score_kwargs: dict | None = None) -> ComparisonResult:
    """Train both layer kinds for every seed and score every applicable direction method."""
    config = config or TrainConfig()
    eval_data = eval_data or data
    progress, should_stop = resolve(progress, should_stop)
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
