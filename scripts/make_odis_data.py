"""Build the shipped ODiS artifacts in data/odis/ (see data/odis/README.md).

    python scripts/make_odis_data.py                 # scores, embeddings, maps, report
    python scripts/make_odis_data.py --downstream    # + the downstream language-model check

Deterministic given the Python version (the default corpus is that version's standard
library). Runs on CPU in a few minutes; uses CUDA for the embeddings when present.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from lab.command import printing_progress
from lab.corpus import stdlib_corpus
from lab.odis import (
    PRESETS,
    default_report,
    downstream_check,
    embedding_map,
    english_vocabulary,
    minilm_vocabulary,
    score_dimensions,
    summarise_downstream,
    word_counts,
)
from lab.paths import study_dir
from lab.runs import atomic_write_bytes, atomic_write_json

PREVIEW_CHARS = PRESETS["shipped"]["preview_chars"]


def log(msg: str) -> None:
    print(f"[make_odis_data {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(study_dir("odis")), help="output folder (default data/odis)")
    p.add_argument("--max-docs", type=int, default=None, help="keep the first N documents (smaller artifacts)")
    p.add_argument("--downstream", action="store_true", help="also run the downstream check (minutes)")
    p.add_argument("--downstream-only", action="store_true", help="only run the downstream check")
    p.add_argument("--steps", type=int, default=PRESETS["downstream"]["steps"],
                   help="downstream training steps per run")
    p.add_argument("--seeds", default=",".join(map(str, PRESETS["downstream"]["seeds"])), help="downstream seeds")
    p.add_argument("--resume", default=None, help="run directory of a stopped downstream check to resume")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if not args.downstream_only:
        build_scores(out, args.max_docs)
    if args.downstream or args.downstream_only:
        log("downstream check…")
        rows = downstream_check(max_docs=args.max_docs, steps=args.steps,
                                seeds=[int(s) for s in args.seeds.split(",")], save=True, resume=args.resume,
                                progress=printing_progress("make_odis_data", every_s=0.0))
        summary = summarise_downstream(rows)
        print(summary.to_string(index=False))
        atomic_write_json(out / "downstream.json", {"steps": args.steps, "rows": rows.to_dict("records"),
                                                    "summary": summary.to_dict("records")})
    return 0


def build_scores(out: Path, max_docs: int | None) -> None:
    atomic_write_json(out / "wordlist.json", minilm_vocabulary())
    english_vocabulary.cache_clear()
    log("loading the stdlib corpus…")
    corpus = stdlib_corpus(max_docs=max_docs)
    texts = corpus["text"].tolist()
    log(f"{len(texts)} documents; scoring…")
    scores = score_dimensions(texts)
    table = pd.DataFrame({
        "doc_id": corpus["doc_id"].tolist(),
        "source": corpus["source"].tolist(),
        "preview": [t[:PREVIEW_CHARS] for t in texts],
        "n_chars": [len(t) for t in texts],
        "n_tokens": word_counts(texts),
    })
    table = pd.concat([table, scores], axis=1)
    tmp = out / "corpus.parquet.tmp"
    table.to_parquet(tmp, index=False, compression="zstd")
    tmp.replace(out / "corpus.parquet")
    log("embedding with MiniLM…")
    from lab.embed import embed_texts

    emb = embed_texts(texts, batch_size=PRESETS["shipped"]["embed_batch_size"])
    _save_npz(out / "embeddings.npz", minilm=emb.astype(np.float16))
    log("maps (PCA, UMAP)…")
    maps = {m: embedding_map(emb, method=m, **PRESETS["map"]).astype(np.float32) for m in ("pca", "umap")}
    _save_npz(out / "maps.npz", **maps)
    log("report…")
    report = default_report(scores, texts=texts, embeddings=emb, token_counts=table["n_tokens"].to_numpy())
    report["corpus"] = {"name": "stdlib docstrings + pydoc topics", "python": sys.version.split()[0],
                        "n_docs": len(texts), "mean_chars": float(np.mean([len(t) for t in texts]))}
    atomic_write_json(out / "report.json", report)
    log(json.dumps({k: report[k] for k in ("explained_variance_ratio", "raw_corr_max_abs_offdiag",
                                           "pc_corr_max_abs_offdiag", "regressor_r2")}, indent=1))
    for o in report["overlaps"]:
        log(f"budget {o['budget']}: doc overlap max {o['doc_overlap_max']:.3f} mean {o['doc_overlap_mean']:.3f}"
            f" token overlap max {o.get('token_overlap_max', float('nan')):.3f}")


def _save_npz(path: Path, **arrays) -> None:
    import io

    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


if __name__ == "__main__":
    raise SystemExit(main())
