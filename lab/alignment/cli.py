"""Headless training of the alignment study's toy CLIP pair: ``ortholab train alignment``.

    ortholab train alignment [--steps N] [--n-train N] [--n-eval N] [--smoke]
                             [--resume RUN_DIR] [--out data/alignment/toyclip_embeddings.npz]

Trains model A and model B, writes a run (config, metrics, checkpoints, embeddings) under
the runs folder, prints before/after alignment scores, and with ``--out`` also writes the
embeddings in the shipped format the dashboard reads.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Sequence

from lab.alignment.experiment import PRESETS
from lab.command import EXIT_OK, EXIT_UNFINISHED, printing_progress, run_command

__all__ = ["main", "build_parser"]

PROG = "ortholab train alignment"


def build_parser() -> argparse.ArgumentParser:
    d = PRESETS["shipped-pair"]
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=None, help=f"optimiser steps per model (default {d.steps})")
    p.add_argument("--n-train", type=int, default=None, help=f"training images (default {d.n_train})")
    p.add_argument("--n-eval", type=int, default=None, help=f"evaluation images (default {d.n_eval})")
    p.add_argument("--smoke", action="store_true", help="a tiny configuration that finishes in seconds")
    p.add_argument("--resume", default=None, help="a run directory to continue (its config is reused)")
    p.add_argument("--out", default=None, help="also write the embeddings here in the shipped .npz format")
    p.add_argument("--device", default=None, help="'cpu', 'cuda' or 'cuda:N' (default: CUDA when present)")
    n = PRESETS["report"]["anchor_classes"]
    p.add_argument("--anchors", type=int, default=n, help=f"anchor classes for the printed summary (default {n})")
    return p


def _train(args: argparse.Namespace) -> int:
    import torch

    from lab.alignment.experiment import run_alignment
    from lab.alignment.training import PairConfig, save_toy_npz, train_pair
    from lab.runs import Run

    if args.resume:
        run = Run.open(args.resume)
        # A run recorded before the caption switch existed trained on full captions: resume it so.
        cfg = PairConfig(**{"captions": "full", **run.config["pair"]})
    else:
        cfg = PRESETS["smoke-pair" if args.smoke else "shipped-pair"]
        given = {"steps": args.steps, "n_train": args.n_train, "n_eval": args.n_eval}
        cfg = dataclasses.replace(cfg, **{k: v for k, v in given.items() if v is not None})
        run = Run.create("alignment", {"pair": dataclasses.asdict(cfg)}, name="toyclip-pair")
    torch.set_num_threads(max(1, min(4, torch.get_num_threads())))
    try:
        data, info = train_pair(cfg, run=run, device=args.device, progress=printing_progress(PROG))
    except BaseException as exc:
        run.set_status("failed", error=f"{type(exc).__name__}: {exc}")
        raise
    if data is None:
        print(f"stopped; resume with --resume {run.path}")
        return EXIT_UNFINISHED
    res = run_alignment(data, n_anchor_classes=min(args.anchors, data.n_classes))
    print(res.metrics.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    run.save_json("alignment_summary", res.metrics.to_dict(orient="records"))
    if args.out:
        print(f"wrote {save_toy_npz(info['arrays'], info['meta'], args.out)}")
    print(f"run: {run.path}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """``ortholab train alignment``: exit codes as in :mod:`lab.command`."""
    return run_command(PROG, build_parser(), _train, argv)


if __name__ == "__main__":
    raise SystemExit(main())
