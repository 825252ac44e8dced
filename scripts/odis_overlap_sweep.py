"""Where does "overlap under 2 %" hold? The ODiS overlap against its independence null, by budget and corpus size.

    python scripts/odis_overlap_sweep.py [--scores PATH | --corpus PATH] [--fractions 0.01 0.02 0.05 0.1 0.2]

By default the shipped, scored corpus (data/odis/corpus.parquet); ``--scores`` takes any larger
scored corpus instead: a parquet or CSV file with one numeric column per quality dimension
(other columns such as ``doc_id`` are ignored); ``--corpus`` a corpus of text (jsonl, parquet,
text file or folder: ``lab.odis.read_corpus``), scored here on the text statistics. For the
whole corpus, a half and a quarter (seeded subsamples, the selector fitted on each alone) and
each budget fraction: the largest and mean overlap of the per-component selections, the
analytic null max(k_i, k_j) / n, the null by shuffling each component on its own, and the tail
dependence (Spearman among the selected).
Writes data/odis/overlap_sweep.json (what the /odis page and notebook 04 read).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from lab.command import printing_progress
from lab.odis import load_default, overlap_sweep, read_corpus, score_dimensions
from lab.paths import study_dir
from lab.runs import atomic_write_json


def _load_scores(path: str | None, corpus: str | None = None) -> tuple[pd.DataFrame, str]:
    if corpus is not None:
        docs = read_corpus(corpus)
        return score_dimensions(docs["text"].tolist()), f"{corpus} ({len(docs):,} documents, text statistics)"
    if path is None:
        return load_default().scores, "the shipped default corpus (data/odis/corpus.parquet)"
    p = Path(path)
    if p.suffix not in (".parquet", ".csv"):
        raise ValueError(f"--scores: expected a .parquet or .csv file, got {p.name!r}")
    table = pd.read_parquet(p) if p.suffix == ".parquet" else pd.read_csv(p)
    numeric = table.select_dtypes(include=[np.number]).drop(columns=["n_chars", "n_tokens"], errors="ignore")
    if numeric.shape[1] < 2:
        raise ValueError(f"--scores: expected at least two numeric score columns in {p.name!r}, "
                         f"got {list(numeric.columns)}")
    return numeric.astype(np.float64), str(p)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scores", default=None)
    ap.add_argument("--corpus", default=None)
    ap.add_argument("--fractions", type=float, nargs="+", default=[0.01, 0.02, 0.05, 0.1, 0.2])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--n-components", type=int, default=4)
    ap.add_argument("--shuffles", type=int, default=20)
    ap.add_argument("--out", default=str(study_dir("odis") / "overlap_sweep.json"))
    args = ap.parse_args()
    if args.scores and args.corpus:
        ap.error("--scores and --corpus: give one of them")
    scores, source = _load_scores(args.scores, args.corpus)
    t0 = time.perf_counter()
    rows = overlap_sweep(scores, fractions=args.fractions, seeds=args.seeds, n_components=args.n_components,
                         n_shuffles=args.shuffles, progress=printing_progress("overlap sweep"))
    summary = (rows.groupby(["n_docs", "budget_fraction"], sort=True)
               [["budget", "overlap_max", "overlap_mean", "null_analytic", "null_shuffled_max", "tail_spearman_mean"]]
               .mean().reset_index())
    out = {"source": source, "n_docs": len(scores), "dimensions": list(scores.columns), "args": vars(args),
           "rows": rows.to_dict("records"), "summary": summary.to_dict("records"),
           "seconds": time.perf_counter() - t0, "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    atomic_write_json(Path(args.out), out)
    print(summary.round(4).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
