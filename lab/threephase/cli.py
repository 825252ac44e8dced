"""Headless training: ``ortholab train threephase [options]`` (also ``python -m lab.threephase.cli``).

Examples::

    ortholab train threephase --preset 5.5M --steps 300                 # 3PT, N=3, stdlib corpus
    ortholab train threephase --preset 5.5M --baseline --steps 300      # RoPE-only baseline
    ortholab train threephase --corpus my.jsonl --text-column body      # any text file/folder/table
    ortholab train threephase --corpus hf:roneneldan/TinyStories        # when online
    ortholab train threephase --resume data/runs/threephase/<run-id>    # continue a run
    torchrun --nproc_per_node 8 -m lab.threephase.cli --preset 123M   # multi-GPU (DDP)
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace

from lab.command import EXIT_OK, EXIT_UNFINISHED, printing_progress, run_command
from lab.progress import no_progress
from lab.threephase.experiment import PRESETS, VARIANTS
from lab.threephase.model import INITS, ModelConfig, count_parameters
from lab.threephase.training import DECAY_POLICIES, TrainConfig

__all__ = ["main", "build_parser"]

PROG = "ortholab train threephase"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Train the 3PT model or its RoPE-only baseline.")
    p.add_argument("--preset", choices=sorted(PRESETS), default="5.5M",
                   help="model shape preset, lab.threephase.PRESETS (default 5.5M)")
    p.add_argument("--baseline", action="store_true",
                   help="train the paper's RoPE-only baseline (three_phase=False; same as --variant baseline-paper)")
    p.add_argument("--variant", choices=sorted(VARIANTS), default=None,
                   help="a named model variant, lab.threephase.VARIANTS (default 3pt-reference)")
    p.add_argument("--init", choices=list(INITS), default=None,
                   help="weight init: 'reference' = PyTorch defaults (default), 'small' = N(0, 0.02)")
    p.add_argument("--embed-scale", choices=["auto", "on", "off"], default="auto",
                   help="scale the embedding by sqrt(d_model): auto = without the horn only (the reference)")
    p.add_argument("--decay", choices=list(DECAY_POLICIES), default=TrainConfig.decay,
                   help="weight decay on every parameter (the reference) or on matrices only")
    p.add_argument("--n-phases", type=int, default=None, help="number of phases N (default: the preset's)")
    for name in ("d-model", "n-layers", "n-heads", "n-kv-heads", "d-ff"):
        p.add_argument(f"--{name}", type=int, default=None, help=f"override the preset's {name.replace('-', '_')}")
    for name in ("rotation", "phase-norm", "horn"):
        p.add_argument(f"--no-{name}", action="store_true", help=f"ablation: switch the 3PT {name} off")
    p.add_argument("--corpus", "--text", default="stdlib",
                   help="'stdlib' (default, offline), a text file/folder, .jsonl/.parquet/.csv, or hf:<name>")
    p.add_argument("--text-column", default="text", help="text column of a table corpus")
    p.add_argument("--max-docs", type=int, default=None, help="use only the first documents of the corpus")
    p.add_argument("--tokenizer", choices=["word", "byte"], default="word")
    p.add_argument("--vocab-size", type=int, default=10_000, help="word vocabulary size (default 10000)")
    p.add_argument("--steps", type=int, default=None,
                   help="optimizer steps (default 300; with --resume: the run's own, or a new total to train to)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--seq-len", type=int, default=0, help="0 = the model's context length")
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--eval-every", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None)
    p.add_argument("--amp", choices=["auto", "bf16", "off"], default="auto")
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument("--name", default=None, help="run name (default: baseline / 3pt-N<n>)")
    p.add_argument("--resume", default=None, help="a run directory to continue (its model and tokenizer are reused)")
    return p


def _load_texts(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    from lab.corpus import load_corpus, split_corpus

    # the built-in and hub corpora can stop reading early; files are cut after loading
    stops_early = args.corpus == "stdlib" or args.corpus.startswith("hf:")
    kw = {"max_docs": args.max_docs} if args.max_docs and stops_early else {}
    df = load_corpus(args.corpus, text_column=args.text_column, **kw)
    if args.max_docs:
        df = df.iloc[: args.max_docs]
    train, val = split_corpus(df, val_fraction=0.1, seed=0)
    return train["text"].tolist(), val["text"].tolist()


def _eval_line(partial: dict) -> str:
    row = partial.get("row")
    if row is None:
        return ""
    drift = ", ".join(f"{d:.3f}" for d in row["drift_l2"])
    return (f"step {row['step']:>6}  val_loss {row['val_loss']:.4f}  val_ppl {row['val_ppl']:.2f}  "
            f"val_bpb {row['val_bpb']:.4f}  drift [{drift}]")


def _train(args: argparse.Namespace) -> int:
    from lab.runs import Run
    from lab.threephase.data import build_token_data, tokenizer_from_json
    from lab.threephase.training import Trainer

    texts_train, texts_val = _load_texts(args)
    if args.resume:
        saved = Run.open(args.resume).config
        tok = tokenizer_from_json(saved["tokenizer"])
        data = build_token_data(texts_train, texts_val, tokenizer=tok)
        trainer = Trainer.resume(args.resume, data, **({"steps": args.steps} if args.steps else {}))
    else:
        data = build_token_data(texts_train, texts_val, kind=args.tokenizer, vocab_size=args.vocab_size)
        shape = dict(PRESETS[args.preset].model)
        for key in ("d_model", "n_layers", "n_heads", "n_kv_heads", "d_ff", "n_phases"):
            val = getattr(args, key)
            if val is not None:
                shape[key] = val
        if args.seq_len:
            shape["max_seq_len"] = max(shape["max_seq_len"], args.seq_len)
        if args.baseline and args.variant not in (None, "baseline-paper"):
            raise ValueError(f"variant: --baseline is the baseline-paper variant; got also --variant {args.variant}")
        variant = VARIANTS["baseline-paper" if args.baseline else (args.variant or "3pt-reference")]
        mcfg = ModelConfig(**{**shape, **variant})
        mcfg = replace(mcfg, vocab_size=data.vocab_size,
                       rotation=False if args.no_rotation else mcfg.rotation,
                       phase_norm=False if args.no_phase_norm else mcfg.phase_norm,
                       horn=False if args.no_horn else mcfg.horn,
                       init=args.init or mcfg.init,
                       embed_scale={"auto": mcfg.embed_scale, "on": True, "off": False}[args.embed_scale])
        tcfg = TrainConfig(steps=args.steps or 300, batch_size=args.batch_size, seq_len=args.seq_len, lr=args.lr,
                           warmup=args.warmup, eval_every=args.eval_every, seed=args.seed, device=args.device,
                           amp=args.amp, compile=args.compile, decay=args.decay)
        name = args.name or ("baseline" if not mcfg.three_phase else f"3pt-N{mcfg.n_phases}")
        trainer = Trainer(mcfg, tcfg, data, name=name).setup()
    if trainer.rank == 0:
        print(f"run: {trainer.run_handle.path if trainer.run_handle else '-'}  "
              f"params: {count_parameters(trainer.model):,}  data: {json.dumps(data.describe())}", flush=True)
    progress = printing_progress(PROG, row=_eval_line) if trainer.rank == 0 else no_progress
    result = trainer.run(progress=progress)
    if trainer.world > 1:
        import torch.distributed as dist

        dist.destroy_process_group()
    return EXIT_OK if result.final or trainer.rank != 0 else EXIT_UNFINISHED


def main(argv: list[str] | None = None) -> int:
    """``ortholab train threephase``: exit codes as in :mod:`lab.command`."""
    return run_command(PROG, build_parser(), _train, argv)


if __name__ == "__main__":
    raise SystemExit(main())
