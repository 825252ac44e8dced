"""Embed the default corpus with the three packaged text encoders (data/alignment/text_encoders.*).

    python scripts/make_alignment_encoders.py [--max-docs N]

The corpus is every distinct standard-library docstring and documentation topic of at least
200 characters (lab.corpus.stdlib_corpus), cut to its first 400 characters, de-duplicated
after the cut (preset "encoders-data" in lab.alignment.PRESETS). Each document is embedded by
MiniLM (384-d), multilingual-e5-small (384-d) and WordLlama (256-d), each model's own output
(not normalised here: the study's `normalize` switch does that). Stored as float16 with a
seeded anchor-pool mask; the document ids and the encoders' descriptions go to the .json.
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import numpy as np

from lab.alignment import ENCODERS, PRESETS, embed_with, encoder_corpus
from lab.command import printing_progress
from lab.paths import study_dir
from lab.runs import atomic_write_bytes, atomic_write_json

PROG = "make_alignment_encoders"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-docs", type=int, default=None, help="embed only the first N documents (a smoke run)")
    parser.add_argument("--out", type=Path, default=study_dir("alignment"), help="output folder")
    args = parser.parse_args(argv)
    cfg = PRESETS["encoders-data"]
    corpus = encoder_corpus()
    if args.max_docs is not None:
        corpus = corpus.iloc[: args.max_docs]
    texts = corpus["text"].tolist()
    arrays: dict[str, np.ndarray] = {}
    seconds: dict[str, float] = {}
    for name in cfg["encoders"]:
        t0 = time.time()
        emb = embed_with(name, texts, progress=printing_progress(f"{PROG} {name}"))
        seconds[name] = round(time.time() - t0, 1)
        arrays[name] = emb.astype(np.float16)
        print(f"{name}: {emb.shape} in {seconds[name]} s ({len(texts) / max(seconds[name], 1e-9):.1f} docs/s)")
    rng = np.random.default_rng(cfg["seed"])
    mask = np.zeros(len(texts), dtype=bool)
    mask[rng.permutation(len(texts))[: len(texts) // 2]] = True
    arrays["train_mask"] = mask
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(args.out / "text_encoders.npz", buf.getvalue())
    meta = {"doc_ids": corpus["doc_id"].tolist(), "encoders": {n: ENCODERS[n].description for n in cfg["encoders"]},
            "widths": {n: int(arrays[n].shape[1]) for n in cfg["encoders"]}, "seconds": seconds,
            "corpus": f"{len(texts)} distinct standard-library docstrings and topics, first {cfg['max_chars']} "
                      f"characters (lab.alignment.encoder_corpus)", "preset": {k: list(v) if isinstance(v, tuple)
                                                                            else v for k, v in cfg.items()}}
    atomic_write_json(args.out / "text_encoders.json", meta)
    print(f"wrote {args.out / 'text_encoders.npz'} ({len(texts)} documents)")


if __name__ == "__main__":
    main()
