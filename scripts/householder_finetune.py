"""The paper's protocol at small scale: swap a trained layer for a projector, then fine-tune.

    python scripts/householder_finetune.py [--steps 300] [--out benchmarks/results/householder_finetune.json]

Takes the shipped unconstrained-first-layer VAE (data/householder/vae_linear.safetensors),
replaces ``generator.fc`` by ``HouseholderProjector.from_linear(fc, rank)`` (SVD + QR), scores
the projector's directions right after the swap and after fine-tuning the whole model for
``--steps`` steps, beside SeFa on the original layer. One seed (the shipped model).
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    from lab.householder import PRESETS

    ap.add_argument("--steps", type=int, default=PRESETS["finetune"]["train"]["steps"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "householder_finetune.json"))
    a = ap.parse_args(argv)
    import torch

    from lab.householder import (
        GeneratorConfig,
        TrainConfig,
        load_artifacts,
        make_shapes,
        model_directions,
        score_directions,
        swap_for_projector,
        train_vae,
    )

    torch.set_num_threads(a.threads)
    art = load_artifacts()
    lin, reg = art.models["linear"], art.regressor
    held = make_shapes(PRESETS["shipped"]["held_out_images"], seed=PRESETS["shipped"]["held_out_seed"])
    train = make_shapes(art.results["train_config"]["n_images"], seed=0)
    rows = []

    def score(name, vae, method):
        dirs, _ = model_directions(vae, method)
        rows.append({"variant": name, **score_directions(vae, reg, dirs, held, seed=0).summary()})
        print(rows[-1], flush=True)

    score("linear + SeFa (before swap)", lin, "sefa")
    swapped = copy.deepcopy(lin)
    swap_for_projector(swapped.generator, "fc", swapped.config.rank)
    swapped.config = GeneratorConfig(**{**lin.config.to_dict(), "first_layer": "householder"})
    swapped.generator.config = swapped.config
    score("swapped projector, no fine-tuning", swapped, "householder")
    cfg = TrainConfig(**{**{k: v for k, v in art.results["train_config"].items() if k != "generator"},
                         "generator": swapped.config, "steps": a.steps, "seed": 0})
    res = train_vae(cfg, data=train, save_run=False, init_model=swapped)
    score(f"swapped projector, fine-tuned {a.steps} steps", res.model, "householder")
    rows[-1]["recon_after"] = res.history[-1]["recon"]
    Path(a.out).write_text(json.dumps({"rows": rows, "steps": a.steps, "seed": 0}, indent=2))
    print("wrote", a.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
