"""Run the paper's protocol on the pretrained GAN checkpoints and write the study's results.

    python scripts/householder_experiment.py --seeds 0 [--threads 1] [--out data/householder]
    python scripts/householder_experiment.py --merge        # combine results_seed<s>.json into results.json

For every seed with a ``gan_seed<s>.safetensors`` (made by scripts/householder_pretrain.py):
swap every block's first style affine for a HouseholderProjector of each rank in
PRESETS['finetune']['ranks'], fine-tune for 2 % of the pretraining steps, and score every
variant (lab.householder.VARIANTS) with every metric (lab.householder.evaluate_seed). Writes
``results_seed<s>.json`` and, for seed 0, the fine-tuned generators
``gan_seed0_rank<r>_finetuned.safetensors`` that the /householder page shows. ``--merge``
writes ``results.json`` (per-seed tables, mean/std summaries, paired differences, seed-0
sensitivity matrices). Seeds may run as parallel processes (one thread each).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from lab.paths import study_dir


def main(argv: list[str] | None = None) -> int:
    from lab.householder import PRESETS

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=list(PRESETS["seeds"]))
    p.add_argument("--ranks", type=int, nargs="+", default=list(PRESETS["finetune"]["ranks"]))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=str(study_dir("householder")))
    p.add_argument("--merge", action="store_true", help="combine the per-seed files into results.json")
    p.add_argument("--within-span-only", type=int, default=None, metavar="ROTATIONS",
                   help="score only the within-span control, with this many random rotations per seed and rank; "
                        "writes within_span_seed<s>.json, whose rows replace that seed's within-span rows on --merge")
    args = p.parse_args(argv)
    out = Path(args.out)
    if args.merge:
        return merge(out)

    import numpy as np
    import torch

    from lab.device import describe_device
    from lab.householder import evaluate_seed, load_gan, load_regressor, make_shapes, regressor_accuracy, save_gan

    torch.set_num_threads(args.threads)
    d = PRESETS["data"]
    train = make_shapes(d["n_train"], seed=d["train_seed"])
    held = make_shapes(d["n_held_out"], seed=d["held_out_seed"])
    reg = load_regressor(out / "regressor.safetensors")
    if args.within_span_only is not None:
        PRESETS["within_span_rotations"] = int(args.within_span_only)
    for seed in args.seeds:
        t0 = time.time()
        G, D, meta = load_gan(out / f"gan_seed{seed}.safetensors", device="cpu")
        steps = int(meta["steps"])

        def report(frac, msg="", **_):
            print(f"[{frac:5.1%}] {msg} ({time.time() - t0:.0f} s)", flush=True)

        variants = ("within_span",) if args.within_span_only is not None else None
        res = evaluate_seed(G, D, reg, train, held, seed=seed, pretrain_steps=steps, ranks=tuple(args.ranks),
                            progress=report, **({"variants": variants} if variants else {}))
        if variants:
            extra = {"seed": seed, "rotations": args.within_span_only, "directions": res["directions"],
                     "seconds": {**res["seconds"], "total": round(time.time() - t0, 1)}}
            (out / f"within_span_seed{seed}.json").write_text(json.dumps(extra, indent=1, default=float))
            print(f"seed {seed}: wrote within_span_seed{seed}.json in {time.time() - t0:.0f} s", flush=True)
            continue
        if seed == 0:
            for rank, Gft in res["finetuned"].items():
                save_gan(out / f"gan_seed0_rank{rank}_finetuned.safetensors", Gft, seed=seed,
                         steps=res["finetune_steps"], pretrain_steps=steps)
        part = {
            "seed": seed, "device": describe_device("cpu"), "threads": args.threads, "pretrain_steps": steps,
            "finetune_steps": res["finetune_steps"], "ranks": list(args.ranks), "presets": PRESETS,
            "regressor_heldout": regressor_accuracy(reg, held), "matched_change_targets": res["targets"],
            "generators": res["generators"], "directions": res["directions"],
            "sensitivity": {f"{r}/{v}": [np.asarray(S).tolist() for S in mats] for (r, v), mats in
                            res["sensitivity"].items()},
            "seconds": {**res["seconds"], "total": round(time.time() - t0, 1)},
        }
        (out / f"results_seed{seed}.json").write_text(json.dumps(part, indent=1, default=float))
        print(f"seed {seed}: wrote results_seed{seed}.json in {time.time() - t0:.0f} s", flush=True)
    return 0


def merge(out: Path) -> int:
    import pandas as pd

    from lab.householder import PRESETS, paired_differences, summarise

    parts = [json.loads(p.read_text()) for p in sorted(out.glob("results_seed*.json"))]
    if not parts:
        raise SystemExit(f"no results_seed<s>.json in {out}")
    directions = pd.DataFrame([r for p in parts for r in p["directions"]])
    rotations = {}
    for path in sorted(out.glob("within_span_seed*.json")):  # more rotations of the control replace the one
        extra = json.loads(path.read_text())
        keep = ~((directions["seed"] == extra["seed"]) & (directions["variant"] == "within_span"))
        directions = pd.concat([directions[keep], pd.DataFrame(extra["directions"])], ignore_index=True)
        rotations[str(extra["seed"])] = extra["rotations"]
    generators = pd.DataFrame([r for p in parts for r in p["generators"]])
    gen_summary = summarise(generators, keys=("generator", "rank"))
    dir_summary = summarise(directions)
    paired = []
    for rank in sorted(directions["rank"].unique()):
        for other in ("within_span", "swap", "sefa", "ganspace", "random"):
            for metric in ("mig", "dci_d", "sap", "purity", "pipl_matched"):
                if metric in directions and other in set(directions["variant"]):
                    paired.append({"rank": int(rank), "a": "householder", "b": other, "metric": metric,
                                   **paired_differences(directions, "householder", other, metric, int(rank))})
    first = next((p for p in parts if p["seed"] == 0), parts[0])
    pretrain = {}
    for p in sorted(out.glob("gan_seed*.json")):
        info = json.loads(p.read_text())
        pretrain[str(info["seed"])] = {"seconds": info["seconds"], "steps": info["train_config"]["steps"],
                                       "threads": info["threads"], "device": info["device"]}
    result = {
        "seeds": [p["seed"] for p in parts], "device": first["device"], "presets": PRESETS,
        "pretrain": pretrain, "pretrain_steps": first["pretrain_steps"], "finetune_steps": first["finetune_steps"],
        "ranks": first["ranks"], "regressor_heldout": first["regressor_heldout"],
        "directions": directions.to_dict(orient="records"), "generators": generators.to_dict(orient="records"),
        "summary": dir_summary.to_dict(orient="records"), "generator_summary": gen_summary.to_dict(orient="records"),
        "paired": paired, "sensitivity_seed0": first["sensitivity"], "within_span_rotations": rotations,
        "seconds": {str(p["seed"]): p["seconds"] for p in parts},
    }
    (out / "results.json").write_text(json.dumps(result, indent=1, default=float))
    cols = [c for c in dir_summary.columns if c.endswith("_mean") or c in ("rank", "variant")]
    print(dir_summary[cols].round(3).to_string())
    print(gen_summary.round(3).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
