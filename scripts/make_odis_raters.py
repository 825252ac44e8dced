"""Rater-style scores of the shipped ODiS corpus (lab.odis.raters): data/odis/rater_scores.parquet.

    python scripts/make_odis_raters.py [--reuse-embeddings]

Embeds every document of the default corpus with the packaged MiniLM (timed: documents per
second on this machine) and scores it on the eleven rubric criteria; writes the scores (doc_id +
one column per criterion) and data/odis/rater_report.json (the calibration table, the timing, the
correlation structure next to the text statistics', and the overlap of the ODiS selections on
the rater scores against their independence null). ``--reuse-embeddings`` scores the shipped
MiniLM embeddings instead of encoding again (the same encoder), for a quick rebuild.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from lab.corpus import stdlib_corpus
from lab.device import describe_device, pick_device
from lab.odis import RATER_CRITERIA, RubricRater, analyse, correlation, expected_overlap, load_default
from lab.paths import study_dir
from lab.runs import atomic_write_json


def _max_offdiag(m: np.ndarray) -> float:
    return float(np.abs(m[~np.eye(len(m), dtype=bool)]).max())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reuse-embeddings", action="store_true")
    args = ap.parse_args()
    out = study_dir("odis")
    shipped = load_default()
    rater = RubricRater()
    t0 = time.perf_counter()
    if args.reuse_embeddings:
        emb, timing = shipped.embeddings, None
    else:
        corpus = stdlib_corpus()
        if corpus["doc_id"].tolist() != shipped.docs["doc_id"].tolist():
            raise SystemExit("the corpus of this Python differs from the shipped one; rebuild data/odis first")
        from lab.embed import embed_texts

        emb = embed_texts(corpus["text"].tolist())
        timing = time.perf_counter() - t0
    t1 = time.perf_counter()
    scores = rater.score(embeddings=emb)
    scoring = time.perf_counter() - t1
    total = time.perf_counter() - t0
    table = pd.concat([shipped.docs[["doc_id"]].reset_index(drop=True), scores.astype(np.float32)], axis=1)
    tmp = out / "rater_scores.parquet.tmp"
    table.to_parquet(tmp, index=False, compression="zstd")
    tmp.replace(out / "rater_scores.parquet")
    n = len(table)
    a = analyse(scores, n_components=4, budget=max(8, n // 10))
    off = ~np.eye(4, dtype=bool)
    report = {
        "device": describe_device(str(pick_device(None))),
        "n_docs": n,
        "criteria": {k: {"group": c.group} for k, c in RATER_CRITERIA.items()},
        "calibration": rater.calibration.to_dict("records"),
        "seconds": {"embedding": timing, "scoring": scoring, "total": total},
        "docs_per_s": n / total if timing is not None else None,
        "raw_corr_max_abs_offdiag": _max_offdiag(correlation(scores)),
        "text_stats_corr_max_abs_offdiag": _max_offdiag(correlation(shipped.scores)),
        "explained_variance_ratio": a.selector.explained_variance_ratio_.tolist(),
        "overlap_budget": a.budget,
        "overlap_max": float(a.overlap_docs[off].max()),
        "overlap_mean": float(a.overlap_docs[off].mean()),
        "overlap_null": float(expected_overlap(a.quotas, n)[off].max()),
    }
    atomic_write_json(out / "rater_report.json", report)
    print(rater.calibration.round(3).to_string(index=False))
    print({k: report[k] for k in ("seconds", "docs_per_s", "raw_corr_max_abs_offdiag", "overlap_max",
                                  "overlap_null")})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
