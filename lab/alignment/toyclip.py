"""Toy contrastive image-text models ("toy CLIPs") and their training loop.

Two models of different architecture, trained from different seeds on the captioned shapes,
give two embedding spaces of the same images and captions; the alignment study asks how
well one orthogonal map relates them. Architectures are chosen by name in the config:

- image encoders: 'cnn' (three strided 3x3 convolutions, global average pool) or
  'mlp' (flattened pixels through two hidden layers)
- text encoders: 'bow' (mean of word embeddings through an MLP), 'concat' (the word
  embeddings in order, concatenated, through an MLP) or 'gru' (a GRU over the tokens,
  last state through a linear layer)

Training captions are chosen by name too (``TrainConfig.captions``): 'partial' (the default)
draws a fresh caption for every image of every batch that names the shape and each other
attribute with probability ``keep_prob``; 'full' uses each image's one full caption (the
pair shipped before issue 14). See Note [overlapping captions] in :mod:`lab.alignment.shapes`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from lab.alignment.shapes import (
    CAPTION_MODES,
    MAX_TOKENS,
    VOCAB,
    ShapesData,
    attribute_codes,
    caption_matches,
    draw_partial_captions,
)
from lab.checks import check_float, check_int
from lab.device import pick_device
from lab.progress import Progress, ShouldStop, resolve
from lab.runs import Run
from lab.seeding import seeded_init

__all__ = ["ToyClipConfig", "ToyClip", "TrainConfig", "train_toy_clip", "embed_shapes", "clip_loss"]


@dataclass
class ToyClipConfig:
    image_encoder: str = "cnn"  # 'cnn' or 'mlp'
    text_encoder: str = "bow"  # 'bow' (bag of words), 'concat' (ordered words) or 'gru'
    embed_dim: int = 32  # width of the shared image-text space (both models must agree to align)
    width: int = 64  # channels of the last conv / hidden units of the MLPs and GRU
    image_size: int = 24  # side of the square input images, pixels
    vocab_size: int = len(VOCAB)
    max_tokens: int = MAX_TOKENS
    init_temperature: float = 0.07  # softmax temperature at init; the model learns log(1/T)


class _CNNImage(nn.Module):
    def __init__(self, c: ToyClipConfig) -> None:
        super().__init__()
        w = c.width
        self.net = nn.Sequential(
            nn.Conv2d(3, w // 4, 3, stride=2, padding=1), nn.GELU(),
            nn.Conv2d(w // 4, w // 2, 3, stride=2, padding=1), nn.GELU(),
            nn.Conv2d(w // 2, w, 3, stride=2, padding=1), nn.GELU(),
        )
        self.proj = nn.Linear(w, c.embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (b, 3, s, s)
        h = self.net(x)  # (b, width, s/8, s/8)
        return self.proj(h.mean(dim=(2, 3)))  # (b, embed_dim)


class _MLPImage(nn.Module):
    def __init__(self, c: ToyClipConfig) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(), nn.Linear(3 * c.image_size**2, 4 * c.width), nn.GELU(),
            nn.Linear(4 * c.width, 2 * c.width), nn.GELU(), nn.Linear(2 * c.width, c.embed_dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (b, 3, s, s) -> (b, embed_dim)
        return self.net(x)


class _BowText(nn.Module):
    def __init__(self, c: ToyClipConfig) -> None:
        super().__init__()
        self.emb = nn.Embedding(c.vocab_size, c.width, padding_idx=0)
        self.mlp = nn.Sequential(nn.Linear(c.width, c.width), nn.GELU(), nn.Linear(c.width, c.embed_dim))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:  # (b, L) -> (b, embed_dim)
        mask = (tokens != 0).unsqueeze(-1).float()  # (b, L, 1)
        h = (self.emb(tokens) * mask).sum(1) / mask.sum(1).clamp_min(1.0)  # (b, width)
        return self.mlp(h)


class _GRUText(nn.Module):
    def __init__(self, c: ToyClipConfig) -> None:
        super().__init__()
        self.emb = nn.Embedding(c.vocab_size, c.width // 2, padding_idx=0)
        self.gru = nn.GRU(c.width // 2, c.width, batch_first=True)
        self.proj = nn.Linear(c.width, c.embed_dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:  # (b, L) -> (b, embed_dim)
        lengths = (tokens != 0).sum(1).clamp_min(1)  # (b,)
        out, _ = self.gru(self.emb(tokens))  # (b, L, width)
        last = out[torch.arange(tokens.shape[0], device=tokens.device), lengths - 1]  # (b, width)
        return self.proj(last)


class _ConcatText(nn.Module):
    def __init__(self, c: ToyClipConfig) -> None:
        super().__init__()
        self.emb = nn.Embedding(c.vocab_size, c.width // 4, padding_idx=0)
        self.mlp = nn.Sequential(nn.Linear(c.max_tokens * (c.width // 4), c.width), nn.GELU(),
                                 nn.Linear(c.width, c.embed_dim))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:  # (b, L) -> (b, embed_dim)
        h = self.emb(tokens)  # (b, L, width/4): word order is kept, unlike the bag of words
        return self.mlp(h.flatten(1))  # (b, L * width/4) -> (b, embed_dim)


_IMAGE = {"cnn": _CNNImage, "mlp": _MLPImage}
_TEXT = {"bow": _BowText, "gru": _GRUText, "concat": _ConcatText}


class ToyClip(nn.Module):
    """An image encoder and a text encoder into one L2-normalised ``embed_dim`` space."""

    def __init__(self, config: ToyClipConfig) -> None:
        super().__init__()
        if config.image_encoder not in _IMAGE:
            raise ValueError(f"image_encoder: expected one of {sorted(_IMAGE)}, got {config.image_encoder!r}")
        if config.text_encoder not in _TEXT:
            raise ValueError(f"text_encoder: expected one of {sorted(_TEXT)}, got {config.text_encoder!r}")
        self.config = config
        self.image = _IMAGE[config.image_encoder](config)
        self.text = _TEXT[config.text_encoder](config)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / config.init_temperature)))

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.image(images), dim=-1)  # (b, embed_dim)

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.text(tokens), dim=-1)  # (b, embed_dim)


def clip_loss(
    img: torch.Tensor, txt: torch.Tensor, logit_scale: torch.Tensor, caption_ids: torch.Tensor | None = None,
    *, matches: torch.Tensor | None = None,
) -> torch.Tensor:
    """Symmetric InfoNCE where every matching image-caption pair counts as a positive.

    Note [duplicate captions]: a batch often holds several images with the same caption;
    treating them as negatives of each other would push identical captions apart, so the
    target of each row is uniform over the rows sharing its caption (``caption_ids``).
    With partial captions the positives are ``matches`` instead: (b_img, b_txt) bool, image i
    has every attribute caption j names ("a circle" is a positive of every circle image).
    Each image row's target is uniform over its matching captions and each caption row's
    over its matching images; for full captions the two rules agree.
    """
    if (caption_ids is None) == (matches is None):
        raise ValueError("caption_ids, matches: give exactly one of them")
    logits = logit_scale.exp().clamp(max=100.0) * img @ txt.T  # (b, b)
    if matches is None:
        matches = caption_ids[:, None] == caption_ids[None, :]  # (b, b)
    pos = matches.to(logits.dtype)  # (b_img, b_txt); every row and column holds its own pair
    target_img = pos / pos.sum(1, keepdim=True)
    target_txt = pos.T / pos.T.sum(1, keepdim=True)
    return 0.5 * (F.cross_entropy(logits, target_img) + F.cross_entropy(logits.T, target_txt))


@dataclass
class TrainConfig:
    steps: int = 600  # optimiser steps
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0  # init, batch order and the partial captions drawn
    checkpoint_every: int = 200  # steps between checkpoints (resume picks up from the last one)
    captions: str = "partial"  # 'partial': shape + each other attribute with keep_prob, fresh per batch; 'full'
    keep_prob: float = 0.5  # chance that a partial caption names the size, the colour, the position (each)

    def __post_init__(self) -> None:
        if self.captions not in CAPTION_MODES:
            raise ValueError(f"captions: expected one of {CAPTION_MODES}, got {self.captions!r}")
        self.keep_prob = check_float("keep_prob", self.keep_prob, lo=0.0, hi=1.0)


def train_toy_clip(
    model_config: ToyClipConfig,
    data: ShapesData,
    train: TrainConfig | None = None,
    *,
    run: Run | None = None,
    name: str = "model",
    device: str | torch.device | None = None,
    progress: Progress | None = None,
    should_stop: ShouldStop | None = None,
) -> tuple[ToyClip, list[dict[str, Any]]]:
    """Train one toy CLIP on ``data``; returns the model and its loss history.

    With a ``run``, metrics go to its metrics.jsonl (tagged with ``name``), checkpoints to
    ``<name>.pt``, and an existing checkpoint of that name is resumed from.
    ``progress(fraction, message, step=..., loss=...)`` is called every few steps;
    ``should_stop()`` ends training early (the last checkpoint is written first).
    """
    train = train or TrainConfig()
    progress, should_stop = resolve(progress, should_stop)
    steps = check_int("steps", train.steps, lo=1)
    batch = check_int("batch_size", train.batch_size, lo=2, hi=len(data))
    dev = pick_device(device)
    gen = torch.Generator(device="cpu").manual_seed(int(train.seed))
    with seeded_init(int(train.seed)):
        model = ToyClip(model_config)
    model.to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=train.lr, weight_decay=train.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=train.lr, total_steps=steps, pct_start=0.1)
    start, history = 0, []
    if run is not None:
        ckpt = run.load_checkpoint(name, device=dev)
        if ckpt is not None:
            model.load_state_dict(ckpt["model"])
            opt.load_state_dict(ckpt["optimizer"])
            sched.load_state_dict(ckpt["scheduler"])
            gen.set_state(ckpt["generator"])
            start, history = int(ckpt["step"]), list(ckpt.get("history", []))

    def save(step: int) -> None:
        if run is not None:
            run.save_checkpoint({"model": model.state_dict(), "optimizer": opt.state_dict(),
                                 "scheduler": sched.state_dict(), "generator": gen.get_state(),
                                 "step": step, "history": history}, name=name)

    images, tokens = data.images, data.tokens
    cids = torch.as_tensor(data.caption_ids)
    codes = torch.from_numpy(attribute_codes(data.attributes))  # (n, 4) size, colour, shape, position
    model.train()
    step = start
    for step in range(start, steps):
        if should_stop():
            save(step)
            break
        idx = torch.randint(0, len(data), (batch,), generator=gen)
        img = model.encode_image(images[idx].to(dev))
        if train.captions == "partial":
            tok, _, named = draw_partial_captions(codes[idx], train.keep_prob, gen)  # a fresh caption per image
            txt = model.encode_text(tok.to(dev))
            loss = clip_loss(img, txt, model.logit_scale, matches=caption_matches(codes[idx], named).to(dev))
        else:
            txt = model.encode_text(tokens[idx].to(dev))
            loss = clip_loss(img, txt, model.logit_scale, cids[idx].to(dev))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % 20 == 0 or step == steps - 1:
            row = {"step": step, "loss": float(loss.detach()), "model": name}
            history.append(row)
            if run is not None:
                run.log_metrics(step, loss=row["loss"], model=name)
            progress((step + 1) / steps, f"{name}: step {step + 1}/{steps}, loss {row['loss']:.3f}", **row)
        if (step + 1) % train.checkpoint_every == 0:
            save(step + 1)
    else:
        step = steps
        save(steps)
    model.eval()
    return model, history


@torch.no_grad()
def embed_shapes(model: ToyClip, data: ShapesData, *, batch_size: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """(image embeddings (n, d), text embeddings of all_captions() order (300, d)) as float32."""
    from lab.alignment.shapes import all_captions, tokenize

    dev = next(model.parameters()).device
    model.eval()
    imgs = [model.encode_image(data.images[i : i + batch_size].to(dev)).cpu() for i in range(0, len(data), batch_size)]
    caps = tokenize(all_captions()["caption"].tolist()).to(dev)
    txt = model.encode_text(caps).cpu()
    return torch.cat(imgs).numpy().astype(np.float32), txt.numpy().astype(np.float32)


def config_dict(model_config: ToyClipConfig, train: TrainConfig) -> dict[str, Any]:
    return {"model": asdict(model_config), "train": asdict(train)}
