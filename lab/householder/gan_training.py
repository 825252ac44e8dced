"""Training the style-based GAN, and the paper's fine-tuning after the projector swap.

:func:`train_gan` pretrains a :class:`~lab.householder.gan.StyleGenerator` and its
:class:`~lab.householder.gan.Discriminator` on the shapes with the non-saturating loss and a
lazy R1 penalty on real images (StyleGAN2's recipe: Adam lr 0.002, betas (0, 0.99), R1 every
``r1_every`` steps, style mixing, an exponential moving average of the generator's weights).
:func:`finetune_swapped` is the paper's protocol: swap each block's first style affine for a
HouseholderProjector of rank ``rank`` and go on training for a small share of the pretraining
steps with the same optimiser settings. Both take ``progress`` / ``should_stop`` callbacks.
"""

from __future__ import annotations

import copy
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional as F

from lab.checks import TrainingDiverged, check_float, check_int
from lab.device import pick_device
from lab.householder.core import HouseholderProjector, orthogonality_error
from lab.householder.gan import Discriminator, GanConfig, StyleGenerator, swap_style_affines
from lab.householder.shapes import ShapesData
from lab.progress import Progress, ShouldStop, resolve
from lab.runs import atomic_save_tensors
from lab.seeding import seeded_init

__all__ = ["GanTrainConfig", "GanState", "train_gan", "finetune_swapped", "save_gan", "load_gan",
           "FINETUNE_TRAINABLE"]

FINETUNE_TRAINABLE = ("all", "projectors")


@dataclass
class GanTrainConfig:
    steps: int = 2000  # pretraining optimiser steps (G and D one each per step)
    batch_size: int = 32
    lr: float = 0.002  # Adam, both networks (StyleGAN2's and the paper's fine-tuning value)
    beta1: float = 0.0  # Adam betas (0, 0.99): StyleGAN2's
    beta2: float = 0.99
    mapping_lr_mult: float = 0.01  # StyleGAN2 trains the mapping MLP 100x slower
    r1_gamma: float = 0.1  # weight of the R1 penalty gamma/2 |grad D(x)|^2 on real images
    r1_every: int = 4  # lazy R1: every this many steps, scaled by it
    mixing_prob: float = 0.5  # style mixing: share of batches whose w+ switches code at a random slot
    ema_decay: float = 0.995  # weight EMA of the generator (the model that is shipped and scored)
    seed: int = 0  # initialisation, noise and batch order
    log_every: int = 25

    def validate(self) -> "GanTrainConfig":
        for name in ("steps", "batch_size", "r1_every", "log_every"):
            check_int(name, getattr(self, name), lo=1)
        if self.batch_size < 2:
            raise ValueError(f"batch_size: expected at least 2 (the minibatch-std channel), got {self.batch_size}")
        check_float("lr", self.lr, lo=1e-6, hi=1.0)
        check_float("beta1", self.beta1, lo=0.0, hi=0.999)
        check_float("beta2", self.beta2, lo=0.0, hi=0.99999)
        check_float("mapping_lr_mult", self.mapping_lr_mult, lo=0.0, hi=1.0)
        check_float("r1_gamma", self.r1_gamma, lo=0.0, hi=1000.0)
        check_float("mixing_prob", self.mixing_prob, lo=0.0, hi=1.0)
        check_float("ema_decay", self.ema_decay, lo=0.0, hi=1.0)
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "GanTrainConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


@dataclass
class GanState:
    generator: StyleGenerator  # the EMA generator (eval mode): the model scored and shipped
    discriminator: Discriminator
    raw_generator: StyleGenerator  # the generator the optimiser trained
    step: int  # steps completed
    stopped: bool  # True when should_stop() ended it early
    history: list  # logged rows: step, loss_g, loss_d, r1 (and orth_error when projectors are in)


def _mixed_ws(G: StyleGenerator, z: torch.Tensor, gen: torch.Generator, prob: float) -> torch.Tensor:
    ws = G.ws(z)  # (n, num_ws, w_dim)
    if prob <= 0:
        return ws
    n, slots = ws.shape[:2]
    z2 = torch.randn(z.shape, generator=gen, device=z.device)
    ws2 = G.ws(z2)
    cut = torch.randint(1, slots, (n,), generator=gen, device=z.device)  # first slot of the second code
    use = torch.rand(n, generator=gen, device=z.device) < prob
    cut = torch.where(use, cut, torch.full_like(cut, slots))
    mask = torch.arange(slots, device=z.device)[None, :] >= cut[:, None]  # (n, slots)
    return torch.where(mask[:, :, None], ws2, ws)


def _optimisers(G, D, cfg: GanTrainConfig, trainable: str = "all"):
    betas = (cfg.beta1, cfg.beta2)
    # Lazy R1 rescales D's Adam settings as StyleGAN2 does (c = k / (k + 1)).
    c = cfg.r1_every / (cfg.r1_every + 1)
    d_opt = torch.optim.Adam(D.parameters(), lr=cfg.lr * c, betas=(cfg.beta1 ** c, cfg.beta2 ** c))
    if trainable == "projectors":
        params = [p for m in G.modules() if isinstance(m, HouseholderProjector) for p in m.reflectors()]
        for p in G.parameters():
            p.requires_grad_(False)
        for p in params:
            p.requires_grad_(True)
        return torch.optim.Adam(params, lr=cfg.lr, betas=betas), d_opt
    mapping = list(G.mapping.parameters())
    ids = {id(p) for p in mapping}
    rest = [p for p in G.parameters() if id(p) not in ids]
    g_opt = torch.optim.Adam([{"params": rest}, {"params": mapping, "lr": cfg.lr * cfg.mapping_lr_mult}],
                             lr=cfg.lr, betas=betas)
    return g_opt, d_opt


def _projector_error(G: StyleGenerator) -> float:
    errs = [orthogonality_error(m.weight.detach()) for m in G.modules() if isinstance(m, HouseholderProjector)]
    return max(errs) if errs else float("nan")


def _run(G: StyleGenerator, D: Discriminator, G_ema: StyleGenerator, data: ShapesData, cfg: GanTrainConfig,
         steps: int, progress: Progress, should_stop: ShouldStop, trainable: str = "all", dev=None) -> GanState:
    reals = data.images.to(dev) * 2.0 - 1.0  # (n, 3, R, R) in [-1, 1]
    if reals.shape[-1] != G.config.resolution:
        raise ValueError(f"data: images are {reals.shape[-1]} px, the generator makes {G.config.resolution} px")
    g_opt, d_opt = _optimisers(G, D, cfg, trainable)
    gen = torch.Generator(device=dev).manual_seed(cfg.seed * 7919 + 11)
    history: list[dict] = []
    step, stopped = 0, False
    G.train()
    D.train()
    z_dim = G.config.z_dim
    with_projectors = any(isinstance(m, HouseholderProjector) for m in G.modules())
    while step < steps:
        if should_stop():
            stopped = True
            break
        idx = torch.randint(0, reals.shape[0], (cfg.batch_size,), generator=gen, device=dev)
        real = reals[idx]
        # --- discriminator: softplus(D(fake)) + softplus(-D(real)), lazy R1 on reals
        z = torch.randn(cfg.batch_size, z_dim, generator=gen, device=dev)
        with torch.no_grad():
            fake = G.synthesis(_mixed_ws(G, z, gen, cfg.mixing_prob))
        loss_d = F.softplus(D(fake)).mean() + F.softplus(-D(real)).mean()
        r1 = torch.zeros(())
        if cfg.r1_gamma > 0 and step % cfg.r1_every == 0:
            real_r = real.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(D(real_r).sum(), real_r, create_graph=True)
            r1 = grad.pow(2).sum(dim=(1, 2, 3)).mean()
            loss_d = loss_d + 0.5 * cfg.r1_gamma * cfg.r1_every * r1
        d_opt.zero_grad(set_to_none=True)
        loss_d.backward()
        d_opt.step()
        # --- generator: non-saturating softplus(-D(G(z)))
        z = torch.randn(cfg.batch_size, z_dim, generator=gen, device=dev)
        loss_g = F.softplus(-D(G.synthesis(_mixed_ws(G, z, gen, cfg.mixing_prob)))).mean()
        g_opt.zero_grad(set_to_none=True)
        loss_g.backward()
        g_opt.step()
        if not (torch.isfinite(loss_g.detach()) and torch.isfinite(loss_d.detach())):
            raise TrainingDiverged(f"lr: the GAN diverged at step {step + 1} (loss_g {float(loss_g)}, loss_d "
                                   f"{float(loss_d)}); lower the learning rate")
        with torch.no_grad():
            w = G.mapping(z)
            G.mapping.w_avg.lerp_(w.mean(0), 0.005)
            for p_ema, p in zip(G_ema.parameters(), G.parameters()):
                p_ema.lerp_(p, 1.0 - cfg.ema_decay)
            for b_ema, b in zip(G_ema.buffers(), G.buffers()):
                b_ema.copy_(b)
        step += 1
        if step % cfg.log_every == 0 or step == steps:
            row = {"step": step, "loss_g": float(loss_g.detach()), "loss_d": float(loss_d.detach()),
                   "r1": float(r1.detach())}
            if with_projectors:
                row["orth_error"] = _projector_error(G)
            history.append(row)
            progress(step / steps, f"step {step}/{steps}, loss G {row['loss_g']:.2f} D {row['loss_d']:.2f}", **row)
    G.eval()
    D.eval()
    G_ema.eval()
    return GanState(generator=G_ema, discriminator=D, raw_generator=G, step=step, stopped=stopped, history=history)


def train_gan(config: GanConfig, train: GanTrainConfig, data: ShapesData, *, device=None,
              progress: Progress | None = None, should_stop: ShouldStop | None = None) -> GanState:
    """Pretrain a generator and discriminator from scratch (seeded by ``train.seed``)."""
    config, train = config.validate(), train.validate()
    progress, should_stop = resolve(progress, should_stop)
    dev = pick_device(device)
    with seeded_init(train.seed):
        G, D = StyleGenerator(config), Discriminator(config)
    G, D = G.to(dev), D.to(dev)
    G_ema = copy.deepcopy(G).requires_grad_(False)
    return _run(G, D, G_ema, data, train, train.steps, progress, should_stop, dev=dev)


def finetune_swapped(generator: StyleGenerator, discriminator: Discriminator, rank: int, data: ShapesData, *,
                     steps: int, train: GanTrainConfig | None = None, trainable: str = "all", ema: bool = False,
                     device=None, progress: Progress | None = None,
                     should_stop: ShouldStop | None = None) -> GanState:
    """The paper's protocol on copies of a pretrained pair: swap each block's first style affine
    for ``HouseholderProjector.from_linear(affine, rank)``, then train ``steps`` more steps.

    ``trainable``: 'all' (the whole generator and the discriminator, the default) or
    'projectors' (only the reflection vectors; the discriminator still trains). ``ema``: return
    the moving average of the fine-tuned generator (default: the fine-tuned generator itself;
    over ~1 % of the steps an EMA would mostly return the swap). ``steps=0`` returns the swap.
    """
    if trainable not in FINETUNE_TRAINABLE:
        raise ValueError(f"trainable: expected one of {FINETUNE_TRAINABLE}, got {trainable!r}")
    steps = check_int("steps", steps, lo=0)
    train = (train or GanTrainConfig()).validate()
    progress, should_stop = resolve(progress, should_stop)
    dev = pick_device(device)
    G = copy.deepcopy(generator).to(dev).requires_grad_(True)
    D = copy.deepcopy(discriminator).to(dev).requires_grad_(True)
    swap_style_affines(G, rank)
    G_ema = copy.deepcopy(G).requires_grad_(False)
    if steps == 0:
        G.eval()
        return GanState(generator=G.requires_grad_(False), discriminator=D.eval(), raw_generator=G, step=0,
                        stopped=False, history=[])
    state = _run(G, D, G_ema, data, train, steps, progress, should_stop, trainable=trainable, dev=dev)
    if not ema:
        state.generator = state.raw_generator
    state.generator.requires_grad_(False)
    return state


# --------------------------------------------------------------------------- files
def save_gan(path: str | Path, generator: StyleGenerator, discriminator: Discriminator | None = None,
             **meta: Any) -> Path:
    """Write a generator (and optionally its discriminator) with the GanConfig, atomically (safetensors).

    A generator whose first affines are projectors records their rank, so :func:`load_gan`
    rebuilds the same modules.
    """
    tensors = {f"G.{k}": v for k, v in generator.state_dict().items()}
    if discriminator is not None:
        tensors.update({f"D.{k}": v for k, v in discriminator.state_dict().items()})
    ranks = [m.rank for m in generator.first_affines() if isinstance(m, HouseholderProjector)]
    metadata = {"gan_config": json.dumps(generator.config.to_dict()), "projector_rank": json.dumps(
        ranks[0] if ranks else None), **{k: json.dumps(v) for k, v in meta.items()}}
    return atomic_save_tensors(path, {k: v.detach().contiguous() for k, v in tensors.items()}, metadata)


def load_gan(path: str | Path, device=None) -> tuple[StyleGenerator, Discriminator | None, dict]:
    """Read a file written by :func:`save_gan` (no pickle): (generator, discriminator or None, metadata)."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: no GAN file at {str(path)!r}; run scripts/householder_pretrain.py")
    with safe_open(str(path), "pt") as f:
        meta = f.metadata() or {}
    if "gan_config" not in meta:
        raise ValueError(f"path: {str(path)!r} has no gan_config metadata; not a householder GAN file")
    meta = {k: json.loads(v) for k, v in meta.items()}
    cfg = GanConfig(**meta["gan_config"])
    tensors = load_file(str(path))
    G = StyleGenerator(cfg)
    if meta.get("projector_rank"):
        swap_style_affines(G, int(meta["projector_rank"]))
    G.load_state_dict({k[2:]: v for k, v in tensors.items() if k.startswith("G.")})
    D = None
    if any(k.startswith("D.") for k in tensors):
        D = Discriminator(cfg)
        D.load_state_dict({k[2:]: v for k, v in tensors.items() if k.startswith("D.")})
        D = D.to(pick_device(device)).eval()
    return G.to(pick_device(device)).eval().requires_grad_(False), D, meta
