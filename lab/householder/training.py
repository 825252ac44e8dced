"""Training and files of the factor regressor (the study's measuring instrument).

The GAN's own training lives in :mod:`lab.householder.gan_training`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from lab.checks import check_int
from lab.device import pick_device
from lab.householder.model import FactorRegressor
from lab.householder.shapes import ShapesData, normalise_factors
from lab.progress import Progress, ShouldStop, resolve
from lab.runs import atomic_save_tensors
from lab.seeding import seeded_init

__all__ = ["train_regressor", "save_regressor", "load_regressor", "regressor_accuracy"]


def _batch_indices(n: int, batch: int, seed: int, step: int) -> torch.Tensor:
    # Note [stateless batch order]: each step's batch comes from a generator seeded by
    # (seed, step), so the same seed draws the same batches.
    g = torch.Generator().manual_seed(seed * 1_000_003 + step)
    return torch.randint(0, n, (batch,), generator=g)


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
