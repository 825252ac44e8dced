"""Produce all of the Householder study's shipped artifacts in data/householder/, in order.

    python scripts/make_householder_data.py [--seeds 0 1 2] [--threads 1]

1. The factor regressor (the measuring instrument; kept when regressor.safetensors exists),
   trained on the 12,000 training shapes (seed 0), scored on 3,000 held-out shapes (seed 1).
2. scripts/householder_pretrain.py: one pretrained style GAN per seed (gan_seed<s>.*).
3. scripts/householder_experiment.py: the paper's protocol and every metric per seed
   (results_seed<s>.json; seed 0's fine-tuned generators), then ``--merge`` -> results.json.

The steps can run separately (and seeds in parallel processes); see data/householder/README.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path

from lab.paths import study_dir

HERE = Path(__file__).resolve().parent


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    from lab.householder import PRESETS

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=list(PRESETS["seeds"]))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--regressor-steps", type=int, default=1000)
    p.add_argument("--out", default=str(study_dir("householder")))
    args = p.parse_args(argv)

    import torch

    from lab.command import printing_progress
    from lab.householder import make_shapes, regressor_accuracy, save_regressor, train_regressor

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    reg_path = out / "regressor.safetensors"
    if not reg_path.is_file():
        d = PRESETS["data"]
        train = make_shapes(d["n_train"], seed=d["train_seed"])
        reg = train_regressor(train, steps=args.regressor_steps, seed=0,
                              progress=printing_progress("regressor", every_s=10.0))
        save_regressor(reg, reg_path)
        held = make_shapes(d["n_held_out"], seed=d["held_out_seed"])
        print("regressor held-out:", json.dumps(regressor_accuracy(reg, held)), flush=True)
    common = ["--threads", str(args.threads), "--out", str(out)]
    seeds = [str(s) for s in args.seeds]
    _script("householder_pretrain").main(["--seeds", *seeds, *common])
    experiment = _script("householder_experiment")
    experiment.main(["--seeds", *seeds, *common])
    return experiment.main(["--merge", "--out", str(out)])


if __name__ == "__main__":
    raise SystemExit(main())
