"""The study's long job, the downstream check: one small language model trained on equal-size selections.

Protocol (defaults chosen for a 2-core CPU; every knob is a parameter):

1. Split the corpus once into a selection pool and a common validation set
   (``lab.corpus.split_corpus``, document level, seed 0). Every run is evaluated on that
   same validation set.
2. Score the pool, fit the ODiS selector on it, and pick ``budget = budget_fraction * pool``
   documents with each method: ODiS (union of the per-component tops, ``duplicates="fill"``
   so the union is exactly the budget), random, top by mean score, and top by one raw
   dimension.
3. Train lab.threephase's RoPE-only baseline (``three_phase=False``, through
   ``lab.threephase.train_language_model``) on each selection with one shared word
   tokenizer (fitted on the pool) for ``steps`` steps, for each seed; report validation
   perplexity and bits per byte.

Each finished (method, seed) is logged to the run's metrics.jsonl, so a stopped check resumes
where it stopped (``resume=<run dir>``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from lab.checks import check_float, check_int
from lab.odis.experiment import PRESETS
from lab.progress import Progress, ShouldStop, resolve
from lab.runs import Run

__all__ = ["downstream_check", "summarise_downstream", "DOWNSTREAM_METHODS", "STUDY"]

STUDY = "odis"
DOWNSTREAM_METHODS = PRESETS["downstream"]["methods"]
_D = PRESETS["downstream"]


def _selection(method: str, scores: pd.DataFrame, budget: int, *, n_components: int, seed: int,
               single_dimension: str) -> np.ndarray:
    from lab.odis.selector import OrthogonalSelector, select_baseline, union_of

    if method == "odis":
        sel = OrthogonalSelector(n_components, duplicates="fill").fit(scores)
        return union_of(sel.select(sel.transform(scores), budget))
    if method == "random":
        return select_baseline("random", scores, budget, seed=seed)
    if method == "mean":
        return select_baseline("mean", scores, budget)
    return select_baseline("single", scores, budget, dimension=single_dimension)


def downstream_check(corpus: pd.DataFrame | None = None, *, methods: Sequence[str] = DOWNSTREAM_METHODS,
                     seeds: Sequence[int] = _D["seeds"], budget_fraction: float = _D["budget_fraction"],
                     n_components: int = _D["n_components"], single_dimension: str = _D["single_dimension"],
                     steps: int = _D["steps"], batch_size: int = _D["batch_size"], vocab_size: int = _D["vocab_size"],
                     val_fraction: float = _D["val_fraction"], max_docs: int | None = None,
                     model_config=None, device: str | None = None, save: bool = True, root=None,
                     resume: str | None = None, progress: Progress | None = None,
                     should_stop: ShouldStop | None = None) -> pd.DataFrame:
    """Train the same model on each method's selection for each seed; one row per run.

    Columns: method, seed, docs, train_tokens, val_loss, val_ppl, val_bpb, train_loss.
    """
    from lab.corpus import split_corpus, stdlib_corpus
    from lab.odis.scorers import score_dimensions
    from lab.threephase import WordTokenizer, train_language_model

    unknown = [m for m in methods if m not in DOWNSTREAM_METHODS]
    if unknown or not methods:
        raise ValueError(f"methods: expected a non-empty subset of {DOWNSTREAM_METHODS}, got {list(methods)}")
    if not seeds:
        raise ValueError("seeds: expected at least one seed")
    frac = check_float("budget_fraction", budget_fraction, lo=0.01, hi=1.0)
    check_int("steps", steps, lo=1)
    progress, should_stop = resolve(progress, should_stop)
    df = stdlib_corpus(max_docs=max_docs) if corpus is None else corpus
    if "text" not in df.columns or len(df) < 10:
        raise ValueError(f"corpus: expected a DataFrame with a 'text' column and at least 10 documents, got {len(df)}")
    pool, val = split_corpus(df, val_fraction=val_fraction, seed=0)
    scores = score_dimensions(pool["text"])
    if single_dimension not in scores.columns:
        raise ValueError(f"single_dimension: expected one of {list(scores.columns)}, got {single_dimension!r}")
    budget = max(1, int(round(frac * len(pool))))
    texts = pool["text"].tolist()
    val_texts = val["text"].tolist()
    tokenizer = WordTokenizer(vocab_size=vocab_size).fit(texts)
    config = {"methods": list(methods), "seeds": [int(s) for s in seeds], "budget_fraction": frac, "budget": budget,
              "pool_docs": len(pool), "val_docs": len(val), "n_components": n_components,
              "single_dimension": single_dimension, "steps": steps, "batch_size": batch_size,
              "vocab_size": vocab_size, "max_docs": max_docs}
    run = Run.open(resume) if resume else (Run.create(STUDY, config, name="downstream", root=root) if save else None)
    done = {}
    if run is not None and resume:
        m = run.metrics()
        if not m.empty:
            done = {(r["method"], int(r["seed"])): r for r in m.to_dict("records")}
    rows = []
    jobs = [(m, s) for s in seeds for m in methods]
    for j, (method, seed) in enumerate(jobs):
        if should_stop():
            break
        key = (method, int(seed))
        if key in done:
            rows.append({k: done[key][k] for k in done[key] if k != "step"})
            continue
        idx = _selection(method, scores, budget, n_components=n_components, seed=int(seed),
                         single_dimension=single_dimension)
        progress(j / len(jobs), f"training on {method} (seed {seed}, {len(idx)} docs)")
        res = train_language_model([texts[i] for i in idx], val_texts, config=model_config, steps=steps,
                                   seed=int(seed), tokenizer=tokenizer, batch_size=batch_size, device=device,
                                   save=False, should_stop=should_stop)
        if res.get("stopped"):
            break
        row = {"method": method, "seed": int(seed), "docs": int(len(idx)), "train_tokens": int(res["train_tokens"]),
               "val_loss": float(res["val_loss"]), "val_ppl": float(res["val_ppl"]), "val_bpb": float(res["val_bpb"]),
               "train_loss": float(res["train_loss"])}
        rows.append(row)
        if run is not None:
            run.log_metrics(j, **row)
        progress((j + 1) / len(jobs), f"{method} seed {seed}: val ppl {row['val_ppl']:.1f}", row=row)
    out = pd.DataFrame(rows, columns=["method", "seed", "docs", "train_tokens", "val_loss", "val_ppl", "val_bpb",
                                      "train_loss"])
    if run is not None:
        finished = len(out) == len(jobs)
        run.save_json("summary", summarise_downstream(out).to_dict("records"))
        run.set_status("finished" if finished else "stopped", runs=len(out))
    return out


def summarise_downstream(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean, std and count of validation perplexity / bits per byte per method."""
    if rows.empty:
        return pd.DataFrame(columns=["method", "runs", "val_ppl_mean", "val_ppl_std", "val_bpb_mean", "val_bpb_std",
                                     "train_tokens_mean"])
    g = rows.groupby("method", sort=False)
    out = g.agg(runs=("val_ppl", "size"), val_ppl_mean=("val_ppl", "mean"), val_ppl_std=("val_ppl", "std"),
                val_bpb_mean=("val_bpb", "mean"), val_bpb_std=("val_bpb", "std"),
                train_tokens_mean=("train_tokens", "mean")).reset_index()
    return out.fillna({"val_ppl_std": 0.0, "val_bpb_std": 0.0})
