"""Training the shapes VAE and the factor regressor: progress, stop, runs on disk, resume.

Both trainers take ``progress(fraction, message="", **partial)`` and ``should_stop()``
callbacks. :func:`train_vae` writes a :class:`lab.runs.Run` (config, metrics.jsonl, periodic
checkpoints, final safetensors) and resumes from the run's checkpoint when given one.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from lab.checks import TrainingDiverged, check_float, check_int
from lab.device import pick_device
from lab.householder.model import FactorRegressor, GeneratorConfig, ShapesVAE
from lab.householder.shapes import ShapesData, make_shapes, normalise_factors
from lab.progress import Progress, ShouldStop, resolve
from lab.runs import Run, atomic_save_tensors
from lab.seeding import seeded_init

__all__ = ["TrainConfig", "TrainResult", "train_vae", "train_regressor", "save_vae", "load_vae",
           "save_regressor", "load_regressor", "regressor_accuracy", "STUDY"]

STUDY = "householder"


@dataclass
class TrainConfig:
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    steps: int = 1500  # optimiser steps (the training budget; equal for both layer kinds)
    batch_size: int = 64
    lr: float = 2e-3  # Adam learning rate (reflection vectors included)
    beta: float = 0.3  # weight of the KL term (1 = plain VAE; lower keeps more shape detail)
    seed: int = 0  # model initialisation, sampling noise and batch order
    n_images: int = 12000  # size of the generated training set
    data_seed: int = 0  # seed of the image set's factors (shared by every model)
    log_every: int = 25  # metrics.jsonl row and progress call every this many steps
    sample_every: int = 200  # streamed sample images every this many steps
    checkpoint_every: int = 500  # resumable checkpoint every this many steps

    def validate(self) -> "TrainConfig":
        self.generator.validate()
        for name in ("steps", "batch_size", "n_images", "log_every", "sample_every", "checkpoint_every"):
            check_int(name, getattr(self, name), lo=1)
        check_float("lr", self.lr, lo=1e-6, hi=1.0)
        check_float("beta", self.beta, lo=0.0, hi=100.0)
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        d = dict(d)
        gen = GeneratorConfig(**d.pop("generator", {}))
        known = {f.name for f in fields(cls)}
        return cls(generator=gen, **{k: v for k, v in d.items() if k in known})


@dataclass
class TrainResult:
    model: ShapesVAE
    run: Run | None
    step: int  # steps completed
    stopped: bool  # True when should_stop() ended it early
    history: list[dict]  # the logged rows of this call


def _batch_indices(n: int, batch: int, seed: int, step: int) -> torch.Tensor:
    # Note [stateless batch order]: each step's batch comes from a generator seeded by
    # (seed, step), so a resumed run draws exactly the batches an uninterrupted run would.
    g = torch.Generator().manual_seed(seed * 1_000_003 + step)
    return torch.randint(0, n, (batch,), generator=g)


def train_vae(config: TrainConfig, *, data: ShapesData | None = None, run: Run | None = None,
              root: str | Path | None = None, save_run: bool = True, device=None,
              progress: Progress | None = None, should_stop: ShouldStop | None = None,
              n_samples: int = 8, init_model: ShapesVAE | None = None) -> TrainResult:
    """Train a :class:`ShapesVAE`; resume from ``run``'s checkpoint when it has one.

    ``progress`` receives partial results ``step``, ``loss``, ``recon``, ``kl``,
    ``orth_error`` and, every ``sample_every`` steps, ``samples`` ((n_samples, 3, 32, 32)
    numpy images decoded from fixed prior draws). ``init_model`` starts from a copy of an
    existing model (fine-tuning, e.g. after :func:`~lab.householder.core.swap_for_projector`);
    its config must equal ``config.generator``.
    """
    config = config.validate()
    progress, should_stop = resolve(progress, should_stop)
    dev = pick_device(device)
    data = data if data is not None else make_shapes(config.n_images, seed=config.data_seed)
    images = data.images.to(dev)
    with seeded_init(config.seed):  # parameter init only; the run draws from its own generators later
        model = ShapesVAE(config.generator)
    model = model.to(dev)
    if init_model is not None:
        if init_model.config.to_dict() != config.generator.to_dict():
            raise ValueError(f"init_model: its config {init_model.config.to_dict()} differs from "
                             f"config.generator {config.generator.to_dict()}")
        model.load_state_dict(init_model.state_dict())
        model.requires_grad_(True)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    start = 0
    if run is None and save_run:
        run = Run.create(STUDY, config.to_dict(), name=f"vae-{config.generator.first_layer}-s{config.seed}", root=root)
    elif run is not None:
        ckpt = run.load_checkpoint(device=dev)
        if ckpt is not None:
            model.load_state_dict(ckpt["model"])
            opt.load_state_dict(ckpt["optimizer"])
            start = int(ckpt["step"])
        run.truncate_metrics(start)  # rows logged after the checkpoint are logged again (Note in lab.runs)
        run.set_status("running", step=start)
    fixed_z = torch.randn(n_samples, config.generator.latent_dim, generator=torch.Generator().manual_seed(1234)).to(dev)
    history: list[dict] = []
    step, stopped = start, False
    last_checkpoint = start
    model.train()
    try:
        while step < config.steps:
            if should_stop():
                stopped = True
                break
            idx = _batch_indices(len(images), config.batch_size, config.seed, step).to(dev)
            noise_g = torch.Generator(device=dev).manual_seed(config.seed * 7919 + step)
            loss, parts = model.loss(images[idx], config.beta, generator=noise_g)
            if not torch.isfinite(loss.detach()):  # no step on it: the weights stay those of the last finite step
                raise TrainingDiverged(
                    f"lr: training diverged at step {step + 1} (loss {float(loss.detach())}); the run keeps its last "
                    f"checkpoint (step {last_checkpoint}); lower the learning rate")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            if step % config.log_every == 0 or step == config.steps:
                row = {"step": step, "loss": float(loss.detach()), **parts,
                       "orth_error": _orth_error(model)}
                history.append(row)
                partial = dict(row)
                if step % config.sample_every == 0 or step == config.steps:
                    with torch.no_grad():
                        partial["samples"] = model.generator(fixed_z).cpu().numpy()
                if run is not None:
                    run.log_metrics(step, **{k: v for k, v in row.items() if k != "step"})
                progress(step / config.steps, f"step {step}/{config.steps}, loss {row['loss']:.1f}", **partial)
            if run is not None and (step % config.checkpoint_every == 0):
                run.save_checkpoint({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step})
                last_checkpoint = step
    except TrainingDiverged as exc:
        if run is not None:
            run.set_status("stopped", step=last_checkpoint, reason=str(exc))
        raise
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM through lab.command: a stop, not a failure
        if run is not None:
            run.set_status("stopped", step=last_checkpoint, reason="interrupted")
        raise
    except BaseException as exc:
        if run is not None:
            run.set_status("failed", step=step, error=f"{type(exc).__name__}: {exc}")
        raise
    model.eval()
    if run is not None:
        run.save_checkpoint({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step})
        save_vae(model, run.path / "model.safetensors", step=step)
        run.set_status("stopped" if stopped else "finished", step=step)
    return TrainResult(model=model, run=run, step=step, stopped=stopped, history=history)


def _orth_error(model: ShapesVAE) -> float:
    from lab.householder.core import orthogonality_error

    with torch.no_grad():
        return orthogonality_error(model.generator.fc.weight)


def train_regressor(data: ShapesData, *, steps: int = 1500, batch_size: int = 128, lr: float = 2e-3, seed: int = 0,
                    device=None, progress: Progress | None = None,
                    should_stop: ShouldStop | None = None) -> FactorRegressor:
    """Fit a :class:`FactorRegressor` on (images, factors): MSE on normalised continuous
    factors plus cross-entropy on the shape."""
    steps = check_int("steps", steps, lo=1)
    progress, should_stop = resolve(progress, should_stop)
    dev = pick_device(device)
    with seeded_init(seed):
        reg = FactorRegressor()
    reg = reg.to(dev)
    opt = torch.optim.Adam(reg.parameters(), lr=lr)
    x = data.images.to(dev)
    fn = torch.as_tensor(normalise_factors(data.factors), dtype=torch.float32, device=dev)  # (n, 6)
    cont, shape = fn[:, 1:], data.factors[:, 0]
    shape_t = torch.as_tensor(shape, dtype=torch.long, device=dev)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    reg.train()
    for step in range(steps):
        if should_stop():
            break
        idx = _batch_indices(len(x), batch_size, seed + 17, step).to(dev)
        pc, logits = reg(x[idx])
        loss = F.mse_loss(pc, cont[idx]) * 5 + F.cross_entropy(logits, shape_t[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if (step + 1) % 50 == 0:
            progress((step + 1) / steps, f"regressor step {step + 1}/{steps}", loss=float(loss.detach()))
    reg.eval()
    return reg


# --------------------------------------------------------------------------- files
def save_vae(model: ShapesVAE, path: str | Path, **meta: Any) -> Path:
    """Write the model's weights and its GeneratorConfig to one safetensors file (atomically)."""
    metadata = {"generator_config": json.dumps(model.config.to_dict()), **{k: json.dumps(v) for k, v in meta.items()}}
    return atomic_save_tensors(path, model.state_dict(), metadata)


def load_vae(path: str | Path, device=None) -> ShapesVAE:
    """Load a model written by :func:`save_vae` (no pickle)."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: no model file at {str(path)!r}; run scripts/make_householder_data.py")
    with safe_open(str(path), "pt") as f:
        meta = f.metadata() or {}
    if "generator_config" not in meta:
        raise ValueError(f"path: {str(path)!r} has no generator_config metadata; not a householder VAE file")
    model = ShapesVAE(GeneratorConfig(**json.loads(meta["generator_config"])))
    model.load_state_dict(load_file(str(path)))
    return model.to(pick_device(device)).eval()


def save_regressor(reg: FactorRegressor, path: str | Path) -> Path:
    """Write the regressor's weights, with its width in the metadata, atomically."""
    channels = reg.conv[0].out_channels
    return atomic_save_tensors(path, reg.state_dict(), {"channels": str(channels)})


def load_regressor(path: str | Path, device=None) -> FactorRegressor:
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: no regressor file at {str(path)!r}; run scripts/make_householder_data.py")
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        meta = f.metadata() or {}
    reg = FactorRegressor(channels=int(meta.get("channels", 16)))  # files without metadata used the default
    reg.load_state_dict(load_file(str(path)))
    return reg.to(pick_device(device)).eval()


def regressor_accuracy(reg: FactorRegressor, data: ShapesData) -> dict[str, float]:
    """Held-out quality of the instrument: R^2 per continuous factor and shape accuracy."""
    from lab.householder.shapes import CONTINUOUS

    with torch.no_grad():
        pc, logits = reg(data.images.to(next(reg.parameters()).device))
    fn = normalise_factors(data.factors)
    out = {}
    pc = pc.cpu().numpy()
    for j, name in enumerate(CONTINUOUS):
        y = fn[:, j + 1]
        out[f"r2_{name}"] = float(1 - np.mean((pc[:, j] - y) ** 2) / np.var(y))
    out["acc_shape"] = float((logits.argmax(1).cpu().numpy() == data.factors[:, 0]).mean())
    return out
