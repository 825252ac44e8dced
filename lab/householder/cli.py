"""Headless training for the Householder study: ``ortholab train householder [options]``.

Pretrains the style-based GAN on the shapes (one seed) and writes one safetensors file (the EMA
generator and the discriminator); with ``--finetune-rank`` it then applies the paper's protocol
(swap every block's first style affine for a HouseholderProjector of that rank, fine-tune for
``--finetune-steps``, default 2 % of the pretraining steps) and writes the fine-tuned generator
beside it. ``scripts/householder_pretrain.py`` and ``scripts/householder_experiment.py`` make the
shipped checkpoints and results.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lab.command import EXIT_OK, EXIT_UNFINISHED, printing_progress, run_command
from lab.householder.experiment import PRESETS

__all__ = ["main", "build_parser"]

PROG = "ortholab train householder"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=PRESETS["pretrain"]["steps"],
                   help=f"pretraining steps (default {PRESETS['pretrain']['steps']}, the shipped checkpoints')")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=PRESETS["pretrain"]["batch_size"])
    p.add_argument("--n-images", type=int, default=PRESETS["data"]["n_train"])
    p.add_argument("--out", required=True, help="the safetensors file to write (a .safetensors path)")
    p.add_argument("--finetune-rank", type=int, default=None, help="then swap in projectors of this rank")
    p.add_argument("--finetune-steps", type=int, default=None, help="default: 2 %% of --steps")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    return p


def _train(args: argparse.Namespace) -> int:
    import torch

    from lab.householder.experiment import finetune_steps
    from lab.householder.gan import GanConfig
    from lab.householder.gan_training import GanTrainConfig, finetune_swapped, save_gan, train_gan
    from lab.householder.shapes import make_shapes

    out = Path(args.out)
    if out.suffix != ".safetensors":
        raise ValueError(f"out: expected a path ending in .safetensors, got {args.out!r}")
    if args.threads:
        torch.set_num_threads(args.threads)
    data = make_shapes(args.n_images, seed=PRESETS["data"]["train_seed"])
    train = GanTrainConfig(steps=args.steps, batch_size=args.batch_size, seed=args.seed).validate()
    state = train_gan(GanConfig(), train, data, progress=printing_progress(PROG, every_s=1.0))
    out.parent.mkdir(parents=True, exist_ok=True)
    save_gan(out, state.generator, state.discriminator, seed=args.seed, steps=state.step)
    print(f"pretrained: {state.step} steps -> {out}")
    if state.stopped:
        return EXIT_UNFINISHED
    if args.finetune_rank is not None:
        steps = args.finetune_steps if args.finetune_steps is not None else finetune_steps(state.step)
        ft = finetune_swapped(state.generator, state.discriminator, args.finetune_rank, data, steps=steps,
                              train=train, progress=printing_progress(PROG, every_s=1.0))
        path = out.with_name(f"{out.stem}_rank{args.finetune_rank}_finetuned.safetensors")
        save_gan(path, ft.generator, seed=args.seed, steps=ft.step, pretrain_steps=state.step)
        print(f"fine-tuned rank {args.finetune_rank}: {ft.step} steps -> {path}")
        if ft.stopped:
            return EXIT_UNFINISHED
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """``ortholab train householder``: exit codes as in :mod:`lab.command`."""
    return run_command(PROG, build_parser(), _train, argv)


if __name__ == "__main__":
    raise SystemExit(main())
