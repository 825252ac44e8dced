"""Headless training for the Householder study: ``ortholab train householder [options]``.

Trains the shapes VAE with a HouseholderProjector (or an unconstrained Linear) first layer,
writes the run (config, metrics, checkpoints, model.safetensors) under the runs folder, and
can resume an interrupted run. ``--compare`` trains both kinds for several seeds and prints
the direction-scoring table (needs the shipped factor regressor).
"""

from __future__ import annotations

import argparse

from lab.command import EXIT_OK, EXIT_UNFINISHED, printing_progress, run_command
from lab.householder.experiment import PRESETS

__all__ = ["main", "build_parser"]

PROG = "ortholab train householder"
SHIPPED = PRESETS["shipped"]["train"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    p.add_argument("--layer", choices=("householder", "linear", "both"), default="both",
                   help="first layer of the generator (default: both, one after the other)")
    p.add_argument("--steps", type=int, default=SHIPPED["steps"],
                   help=f"optimiser steps per model (default {SHIPPED['steps']}, the shipped models' budget)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rank", type=int, default=6, help="projector rank = number of directions (default 6)")
    p.add_argument("--latent-dim", type=int, default=8)
    p.add_argument("--n-images", type=int, default=SHIPPED["n_images"])
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--beta", type=float, default=0.3)
    p.add_argument("--root", default=None, help="runs folder (default: ORTHOLAB_RUNS or data/runs)")
    p.add_argument("--checkpoint-every", type=int, default=None,
                   help="steps between resumable checkpoints (default: TrainConfig's, 500; a run stopped or "
                        "killed resumes from its last checkpoint)")
    p.add_argument("--resume", default=None, help="path of a run directory to continue")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    return p


def _train(args: argparse.Namespace) -> int:
    import torch

    from lab.householder.model import GeneratorConfig
    from lab.householder.shapes import make_shapes
    from lab.householder.training import TrainConfig, train_vae
    from lab.runs import Run

    if args.threads:
        torch.set_num_threads(args.threads)
    report = printing_progress(PROG, every_s=1.0)
    if args.resume:
        run = Run.open(args.resume)
        cfg = TrainConfig.from_dict(run.config)
        data = make_shapes(cfg.n_images, seed=cfg.data_seed)
        res = train_vae(cfg, data=data, run=run, progress=report)
        print(f"{run.path}: {res.step} steps, {'stopped' if res.stopped else 'finished'}")
        return EXIT_UNFINISHED if res.stopped else EXIT_OK
    kinds = ("householder", "linear") if args.layer == "both" else (args.layer,)
    data = make_shapes(args.n_images, seed=0)
    for kind in kinds:
        every = {"checkpoint_every": args.checkpoint_every} if args.checkpoint_every is not None else {}
        cfg = TrainConfig(generator=GeneratorConfig(latent_dim=args.latent_dim, rank=args.rank, first_layer=kind),
                          steps=args.steps, seed=args.seed, n_images=args.n_images, lr=args.lr, beta=args.beta,
                          **every)
        res = train_vae(cfg, data=data, root=args.root, progress=report)
        last = res.history[-1] if res.history else {}
        print(f"{kind}: run {res.run.path} recon {last.get('recon', float('nan')):.2f} "
              f"kl {last.get('kl', float('nan')):.2f} orth_error {last.get('orth_error', float('nan')):.2e}")
        if res.stopped:
            return EXIT_UNFINISHED
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """``ortholab train householder``: exit codes as in :mod:`lab.command`."""
    return run_command(PROG, build_parser(), _train, argv)


if __name__ == "__main__":
    raise SystemExit(main())
