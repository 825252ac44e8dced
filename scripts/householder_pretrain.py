"""Pretrain the Householder study's style-based GAN on the shapes, one checkpoint per seed.

    python scripts/householder_pretrain.py [--seeds 0 1 2] [--steps N] [--threads 1] [--out data/householder]

For every seed: a StyleGenerator + Discriminator (lab.householder.GanConfig defaults) trained
from scratch on the 12,000 training shapes (data seed 0) with the "pretrain" preset of
lab.householder.PRESETS; writes ``gan_seed<s>.safetensors`` (the EMA generator and the
discriminator, with their configs) and ``gan_seed<s>.json`` (settings, wall time, loss log).
Nothing is downloaded. Run it in the background with one thread per process, e.g.
``nohup python scripts/householder_pretrain.py --seeds 0 > /tmp/hh_pretrain0.log 2>&1 &``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from lab.paths import study_dir


def main(argv: list[str] | None = None) -> int:
    from lab.householder import PRESETS

    pre = PRESETS["pretrain"]
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=list(PRESETS["seeds"]))
    p.add_argument("--steps", type=int, default=pre["steps"])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=str(study_dir("householder")))
    args = p.parse_args(argv)

    import torch

    from lab.device import describe_device
    from lab.householder import GanConfig, GanTrainConfig, make_shapes, save_gan, train_gan

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = make_shapes(PRESETS["data"]["n_train"], seed=PRESETS["data"]["train_seed"])
    for seed in args.seeds:
        cfg = GanConfig()
        train = GanTrainConfig(**{**pre, "steps": args.steps, "seed": seed})
        t0 = time.time()

        def report(frac, msg="", **row):
            print(f"seed {seed} [{frac:5.1%}] {msg} ({time.time() - t0:.0f} s)", flush=True)

        state = train_gan(cfg, train, data, device="cpu", progress=report)
        seconds = time.time() - t0
        save_gan(out / f"gan_seed{seed}.safetensors", state.generator, state.discriminator, seed=seed,
                 steps=state.step)
        info = {"seed": seed, "gan_config": cfg.to_dict(), "train_config": train.to_dict(),
                "seconds": round(seconds, 1),
                "threads": args.threads, "device": describe_device("cpu"), "history": state.history}
        (out / f"gan_seed{seed}.json").write_text(json.dumps(info, indent=1))
        print(f"seed {seed}: {state.step} steps in {seconds:.0f} s -> {out / f'gan_seed{seed}.safetensors'}",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
