"""ODiS speed: vectorised scoring vs a per-document pandas .apply, and embedding + component scoring.

    python -m benchmarks.bench_odis [--docs 2000] [--repeats 5] [--embed-docs 512]

Rows (each compared with its named baseline in the same run, as a ratio):

* score_dimensions on ~1 KB documents (stdlib corpus text cut into 1,000-character pieces)
  vs ``pd.Series(texts).apply(score_one)``, the straightforward per-document version of the
  same scorers (targets: >= 2,000 docs/s and >= 10x the .apply). Two rows: the default
  (threads = CPU count, at most 8) and ``workers=1`` (one thread). The three are timed in
  interleaved rounds, so a slow spell of a shared machine hits all of them alike;
* embedding (MiniLM, fp16 on CUDA / fp32 on CPU) + per-component ridge prediction, docs/s
  (target on a GPU: >= 5,000 docs/s); measured on whatever device this machine has.

Prints a table and writes benchmarks/results/odis.json. Timings are medians over repeats.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lab.corpus import stdlib_corpus
from lab.device import describe_device, pick_device
from lab.odis import ComponentRegressor, OrthogonalSelector, default_workers, score_dimensions, score_one

REPO = Path(__file__).resolve().parent.parent


def kb_docs(n: int, size: int = 1000) -> list[str]:
    big = "\n\n".join(stdlib_corpus()["text"])
    docs = [big[i : i + size] for i in range(0, len(big) - size, size)]
    while len(docs) < n:
        docs = docs + docs
    return docs[:n]


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--docs", type=int, default=2000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--embed-docs", type=int, default=512)
    p.add_argument("--skip-embed", action="store_true",
                   help="only the scoring rows (the CPU embedding row takes ~1 min)")
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "odis.json"))
    args = p.parse_args(argv)
    texts = kb_docs(args.docs)
    series = pd.Series(texts)
    threads = default_workers()
    variants = {f"score_dimensions (vectorised, {threads} threads)": lambda: score_dimensions(texts),
                "score_dimensions (vectorised, 1 thread)": lambda: score_dimensions(texts, workers=1)}
    baseline = lambda: pd.DataFrame(series.apply(score_one).tolist())  # noqa: E731
    reference = baseline().to_numpy()
    # Agreement with the per-document reference, as in the tests (sums in another order: <= 1e-12);
    # computing it also warms the variants up.
    max_diff = {name: float(np.abs(fn().to_numpy() - reference).max()) for name, fn in variants.items()}
    runs = {name: [] for name in [*variants, "baseline"]}
    for _ in range(args.repeats):  # interleaved rounds
        for name, fn in [*variants.items(), ("baseline", baseline)]:
            runs[name].extend(timed(fn, 1))
    a_rate = args.docs / statistics.median(runs["baseline"])
    rows = []
    for name in variants:
        v_rate = args.docs / statistics.median(runs[name])
        rows.append({"name": name, "docs": args.docs, "median_s": statistics.median(runs[name]),
                     "docs_per_s": v_rate, "baseline": "pandas .apply(score_one)", "baseline_docs_per_s": a_rate,
                     "ratio": v_rate / a_rate, "target": ">= 2000 docs/s and >= 10x",
                     "max_abs_diff_vs_baseline": max_diff[name], "results_equal": max_diff[name] <= 1e-12,
                     "runs_s": runs[name], "baseline_runs_s": runs["baseline"]})
    if not args.skip_embed:
        rows.append(embedding_row(texts, args))
    _report(rows, args.out)
    return 0


def embedding_row(texts: list[str], args) -> dict:
    """MiniLM embeddings + per-component ridge prediction, docs/s on this machine's device."""
    dev = pick_device()
    sub = texts[: args.embed_docs]
    scores = score_dimensions(texts)
    sel = OrthogonalSelector(4).fit(scores)
    from lab.embed import embed_texts

    emb = embed_texts(sub[:64])  # warm-up (model load)
    reg = ComponentRegressor(features="precomputed").fit(embed_texts(texts[:400]), sel.transform(scores[:400]).cpu())

    def embed_and_score():
        e = embed_texts(sub, batch_size=128)
        return reg.predict(e)

    er = timed(embed_and_score, max(1, args.repeats // 2))
    del emb
    rate = len(sub) / statistics.median(er)
    return {"name": f"MiniLM embed + component ridge ({'fp16' if dev.type == 'cuda' else 'fp32'}, {dev.type})",
            "docs": len(sub), "median_s": statistics.median(er), "docs_per_s": rate,
            "baseline": "-", "baseline_docs_per_s": None, "ratio": None,
            "target": ">= 5000 docs/s on a GPU" + ("" if dev.type == "cuda" else " (not measured here: no GPU)"),
            "runs_s": er}


def _report(rows: list[dict], out: str) -> None:
    meta = {"device": describe_device(), "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
            "machine": platform.machine(), "cpu_count": os.cpu_count(), "doc_chars": 1000,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    print(f"device: {meta['device']}")
    print(f"{'benchmark':58s} {'docs':>6s} {'docs/s':>10s} {'baseline docs/s':>16s} {'ratio':>7s}  target")
    for r in rows:
        base = f"{r['baseline_docs_per_s']:.0f}" if r["baseline_docs_per_s"] else "-"
        ratio = f"{r['ratio']:.1f}x" if r["ratio"] else "-"
        print(f"{r['name']:58s} {r['docs']:6d} {r['docs_per_s']:10.0f} {base:>16s} {ratio:>7s}  {r['target']}")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))


if __name__ == "__main__":
    raise SystemExit(main())
