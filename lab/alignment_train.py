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
import sys
from typing import Sequence

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    from lab.alignment.pipeline import PairConfig

    d = PairConfig()
    p = argparse.ArgumentParser(prog="ortholab train alignment", description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=None, help=f"optimiser steps per model (default {d.steps})")
    p.add_argument("--n-train", type=int, default=None, help=f"training images (default {d.n_train})")
    p.add_argument("--n-eval", type=int, default=None, help=f"evaluation images (default {d.n_eval})")
    p.add_argument("--smoke", action="store_true", help="a tiny configuration that finishes in seconds")
    p.add_argument("--resume", default=None, help="a run directory to continue (its config is reused)")
    p.add_argument("--out", default=None, help="also write the embeddings here in the shipped .npz format")
    p.add_argument("--device", default=None, help="'cpu', 'cuda' or 'cuda:N' (default: CUDA when present)")
    p.add_argument("--anchors", type=int, default=10, help="anchor classes for the printed summary (default 10)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(list(argv) if argv is not None else None)
    import torch

    from lab.alignment.experiment import run_alignment
    from lab.alignment.pipeline import SMOKE_PAIR, PairConfig, save_toy_npz, train_pair
    from lab.runs import Run

    if args.resume:
        run = Run.open(args.resume)
        cfg = PairConfig(**run.config["pair"])
    else:
        cfg = SMOKE_PAIR if args.smoke else PairConfig()
        given = {"steps": args.steps, "n_train": args.n_train, "n_eval": args.n_eval}
        cfg = dataclasses.replace(cfg, **{k: v for k, v in given.items() if v is not None})
        run = Run.create("alignment", {"pair": dataclasses.asdict(cfg)}, name="toyclip-pair")
    torch.set_num_threads(max(1, min(4, torch.get_num_threads())))
    last = [-1.0]

    def progress(fraction: float, message: str = "", **_: object) -> None:
        if fraction - last[0] >= 0.05 or fraction >= 1.0:
            last[0] = fraction
            print(f"[{fraction:5.1%}] {message}", flush=True)

    try:
        data, info = train_pair(cfg, run=run, device=args.device, progress=progress)
    except Exception as exc:  # noqa: BLE001 - reported, and the run is marked failed
        run.set_status("failed", error=str(exc))
        print(f"ortholab train alignment: {exc}", file=sys.stderr)
        return 1
    if data is None:
        print(f"stopped; resume with --resume {run.path}")
        return 0
    res = run_alignment(data, n_anchor_classes=min(args.anchors, data.n_classes))
    print(res.metrics.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    run.save_json("alignment_summary", res.metrics.to_dict(orient="records"))
    if args.out:
        print(f"wrote {save_toy_npz(info['arrays'], info['meta'], args.out)}")
    print(f"run: {run.path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
