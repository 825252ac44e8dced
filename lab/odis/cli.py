"""Headless ODiS runs: ``ortholab train odis [options]``.

Runs the downstream check (lab.odis.training): the same small RoPE-only language model
(lab.threephase baseline) trained on equal-size selections by ODiS, random, top-by-mean and
one single dimension, over several seeds, evaluated on one common validation set. Prints a
summary table and optionally writes the rows and the summary as JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lab.command import EXIT_OK, printing_progress, run_command
from lab.odis.experiment import PRESETS

__all__ = ["build_parser", "main"]

PROG = "ortholab train odis"
DEFAULTS = PRESETS["downstream"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    p.add_argument("--corpus", default=None, help="corpus spec for lab.corpus.load_corpus (default: stdlib docstrings)")
    p.add_argument("--text-column", default="text", help="text column of a table corpus")
    p.add_argument("--max-docs", type=int, default=None, help="keep the first N documents of the corpus")
    methods = ",".join(DEFAULTS["methods"])
    p.add_argument("--methods", default=methods, help=f"comma-separated subset of {methods}")
    p.add_argument("--single-dimension", default=DEFAULTS["single_dimension"],
                   help="raw dimension of the 'single' baseline")
    p.add_argument("--seeds", default=",".join(map(str, DEFAULTS["seeds"])), help="comma-separated seeds")
    p.add_argument("--budget-fraction", type=float, default=DEFAULTS["budget_fraction"],
                   help="share of the pool each method selects")
    p.add_argument("--components", type=int, default=DEFAULTS["n_components"], help="ODiS principal components")
    p.add_argument("--steps", type=int, default=DEFAULTS["steps"], help="training steps per run")
    p.add_argument("--batch-size", type=int, default=DEFAULTS["batch_size"])
    p.add_argument("--vocab-size", type=int, default=DEFAULTS["vocab_size"], help="shared word tokenizer size")
    p.add_argument("--device", default=None, help="cpu / cuda (default: CUDA when present)")
    p.add_argument("--resume", default=None, help="run directory of a stopped check to resume")
    p.add_argument("--json", default=None, help="write rows + summary to this JSON file")
    return p


def _run(args: argparse.Namespace) -> int:
    from lab.corpus import load_corpus
    from lab.odis.training import downstream_check, summarise_downstream

    corpus = None
    if args.corpus is not None:
        corpus = load_corpus(args.corpus, text_column=args.text_column)
        if args.max_docs:
            corpus = corpus.iloc[: args.max_docs]

    rows = downstream_check(corpus, methods=[m for m in args.methods.split(",") if m],
                            seeds=[int(s) for s in args.seeds.split(",") if s], budget_fraction=args.budget_fraction,
                            n_components=args.components, single_dimension=args.single_dimension, steps=args.steps,
                            batch_size=args.batch_size, vocab_size=args.vocab_size,
                            max_docs=args.max_docs if corpus is None else None, device=args.device,
                            resume=args.resume, progress=printing_progress(PROG))
    summary = summarise_downstream(rows)
    print(rows.to_string(index=False))
    print()
    print(summary.to_string(index=False))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"config": vars(args), "rows": rows.to_dict("records"),
                                               "summary": summary.to_dict("records")}, indent=2))
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """``ortholab train odis``: exit codes as in :mod:`lab.command`."""
    return run_command(PROG, build_parser(), _run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
