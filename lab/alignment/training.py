"""Training the toy-CLIP pair end to end: draw the shapes, train both models, embed, package.

Used by scripts/make_alignment_data.py (the shipped default), ``ortholab train alignment``
and the dashboard's retrain button. Each model's training is one named checkpoint in the
run directory, so a stopped run resumes where it stopped.

``PairConfig()`` is the shipped pair: both models trained on partial captions (the shape
plus a random subset of size, colour and position, drawn fresh per batch; Note [overlapping
captions] in :mod:`lab.alignment.shapes`), long enough that each model's own image->text
retrieval on unseen images is high. :func:`own_retrieval` measures it and
:func:`train_pair` records it in the pair's metadata (``meta["own_retrieval"]``).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lab.alignment.metrics import retrieval_top1
from lab.alignment.shapes import CAPTION_MODES, all_captions, class_names, make_shapes
from lab.alignment.sources import AlignmentData, from_arrays
from lab.alignment.toyclip import ToyClipConfig, TrainConfig, embed_shapes, train_toy_clip
from lab.checks import check_float
from lab.progress import Progress, ShouldStop, resolve, scaled
from lab.runs import Run, atomic_write_bytes, atomic_write_json

__all__ = ["PairConfig", "train_pair", "save_toy_npz", "toy_arrays", "own_retrieval"]


@dataclass
class PairConfig:
    """Everything that defines the shipped toy-CLIP pair (the defaults are the shipped pair)."""

    n_train: int = 100000  # captioned images the two models are trained on
    n_eval: int = 1500  # fresh images embedded for the study (half become the anchor pool)
    image_size: int = 20
    embed_dim: int = 32
    width: int = 64
    steps: int = 10000  # optimiser steps per model
    batch_size: int = 128
    lr: float = 3e-3
    data_seed: int = 0  # the training images; the evaluation images use data_seed + 1
    # Training captions: 'partial' names the shape and each other attribute with keep_prob, drawn
    # fresh for every batch (Note [overlapping captions] in shapes); 'full' is the one full caption.
    captions: str = "partial"
    keep_prob: float = 0.5
    # The two models differ in architecture and seed: model A a CNN + bag of words, model B an MLP
    # + ordered words (the study asks whether models built differently still share one geometry).
    model_a: dict[str, Any] = field(default_factory=lambda: {"image_encoder": "cnn", "text_encoder": "bow",
                                                             "seed": 1})
    model_b: dict[str, Any] = field(default_factory=lambda: {"image_encoder": "mlp", "text_encoder": "concat",
                                                             "seed": 2})

    def __post_init__(self) -> None:
        if self.captions not in CAPTION_MODES:
            raise ValueError(f"captions: expected one of {CAPTION_MODES}, got {self.captions!r}")
        self.keep_prob = check_float("keep_prob", self.keep_prob, lo=0.0, hi=1.0)


def _model_config(cfg: PairConfig, spec: dict[str, Any]) -> tuple[ToyClipConfig, TrainConfig]:
    mc = ToyClipConfig(image_encoder=spec["image_encoder"], text_encoder=spec["text_encoder"],
                       embed_dim=cfg.embed_dim, width=cfg.width, image_size=cfg.image_size)
    tc = TrainConfig(steps=cfg.steps, batch_size=cfg.batch_size, lr=cfg.lr, seed=int(spec["seed"]),
                     checkpoint_every=max(1, cfg.steps // 4), captions=cfg.captions, keep_prob=cfg.keep_prob)
    return mc, tc


def toy_arrays(cfg: PairConfig, models: dict[str, Any]) -> dict[str, np.ndarray]:
    """Embed fresh evaluation images and all captions with both models."""
    ev = make_shapes(cfg.n_eval, seed=cfg.data_seed + 1, image_size=cfg.image_size)
    ia, ta = embed_shapes(models["a"], ev)
    ib, tb = embed_shapes(models["b"], ev)
    caps = all_captions()
    rng = np.random.default_rng(cfg.data_seed)
    mask = np.zeros(len(ev), dtype=bool)
    mask[rng.permutation(len(ev))[: len(ev) // 2]] = True
    return {"x": ia, "y": ib, "labels": ev.labels, "caption_ids": ev.caption_ids, "x2": ta, "y2": tb,
            "labels2": caps["label"].to_numpy().astype(np.int64), "train_mask": mask}


def own_retrieval(arrays: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """Each model's own image->text top-1 on the evaluation images against the 300 full captions.

    ``arrays``: what :func:`toy_arrays` returns. Per model ('a', 'b'): 'caption' counts the
    nearest caption correct when it is the image's own full caption, 'class' when it names
    the image's shape and colour. None of these images was seen in training.
    """
    n_caps = len(arrays["labels2"])
    out = {}
    for key, img, txt in (("a", arrays["x"], arrays["x2"]), ("b", arrays["y"], arrays["y2"])):
        out[key] = {
            "caption": retrieval_top1(img, txt, query_labels=arrays["caption_ids"], gallery_labels=np.arange(n_caps)),
            "class": retrieval_top1(img, txt, query_labels=arrays["labels"], gallery_labels=arrays["labels2"]),
        }
    return out


def _spaces(cfg: PairConfig) -> list[str]:
    a, b = cfg.model_a, cfg.model_b
    return [f"model A ({a['image_encoder']} + {a['text_encoder']})",
            f"model B ({b['image_encoder']} + {b['text_encoder']})"]


def train_pair(
    cfg: PairConfig | None = None,
    *,
    run: Run | None = None,
    device: Any = None,
    progress: Progress | None = None,
    should_stop: ShouldStop | None = None,
) -> tuple[AlignmentData | None, dict[str, Any]]:
    """Train model A then model B and return (AlignmentData, info); data is None if stopped.

    ``progress`` receives the overall fraction, a message, and ``loss``/``model``/``step``
    partials from the training loops. With a ``run``, both models checkpoint there, the
    embeddings are saved as ``embeddings.safetensors`` and the run is marked finished.
    """
    cfg = cfg or PairConfig()
    progress, should_stop = resolve(progress, should_stop)
    train = make_shapes(cfg.n_train, seed=cfg.data_seed, image_size=cfg.image_size)
    models, histories = {}, {}
    for i, (key, spec) in enumerate((("a", cfg.model_a), ("b", cfg.model_b))):
        mc, tc = _model_config(cfg, spec)
        sub = scaled(progress, i / 2, (i + 1) / 2)  # model A's steps fill the first half; its events name it
        models[key], histories[key] = train_toy_clip(mc, train, tc, run=run, name=f"model_{key}", device=device,
                                                     progress=sub, should_stop=should_stop)
        if should_stop():
            if run is not None:
                run.set_status("stopped", model=key)
            return None, {"histories": histories, "stopped": True}
    arrays = toy_arrays(cfg, models)
    meta = {"label_names": class_names(), "spaces": _spaces(cfg), "config": asdict(cfg),
            "final_loss": {k: h[-1]["loss"] for k, h in histories.items() if h},
            "own_retrieval": own_retrieval(arrays)}
    if run is not None:
        import torch

        run.save_tensors("embeddings", {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()})
        run.save_json("meta", meta)
        run.set_status("finished")
    data = from_arrays(arrays["x"], arrays["y"], labels=arrays["labels"], x2=arrays["x2"], y2=arrays["y2"],
                       labels2=arrays["labels2"], train_mask=arrays["train_mask"], name="toyclip (retrained)",
                       label_names=meta["label_names"], spaces=tuple(meta["spaces"]), meta=meta,
                       description="Two toy CLIPs trained in this session")
    return data, {"histories": histories, "models": models, "meta": meta, "arrays": arrays}


def save_toy_npz(arrays: dict[str, np.ndarray], meta: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write the shipped toy-CLIP embeddings (.npz, float16 matrices) and its .json beside it."""
    import io

    path = Path(path)
    packed = {k: (v.astype(np.float16) if v.dtype.kind == "f" else v) for k, v in arrays.items()}
    buf = io.BytesIO()
    np.savez_compressed(buf, **packed)
    atomic_write_bytes(path, buf.getvalue())
    atomic_write_json(path.with_suffix(".json"), meta)
    return path
