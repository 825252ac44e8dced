"""The 3PT study's experiments at CPU scale; writes benchmarks/results/threephase_experiments.json.

    nice python scripts/threephase_experiments.py [--steps 200] [--seeds 0 1 2] [--depth-steps 300]

1. depth: the per-block theta drift profile over training at 12 and at 4 layers (3PT, N=3,
   6 Q / 3 KV heads, the paper's head ratio), logged every ``--eval-every`` steps;
2. sweep: the RoPE-only baseline and 3PT with N in {1, 2, 3, 4, 6} (12 Q / 12 KV heads) over
   several seeds: final validation perplexity and bits per byte.

Runs are written metrics-only under --root. The JSON is rewritten after every run, so a
partial result survives an interruption.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from lab.device import describe_device
from lab.threephase import (
    PRESETS,
    default_token_data,
    drift_profile,
    load_run,
    preset_model,
    preset_train,
    run_sweep,
    shipped_token_data,
    summarize,
    variant_configs,
)

REPO = Path(__file__).resolve().parent.parent
SWEEP, DRIFT = "cpu-5.5M", "cpu-drift"  # the presets of the two experiments


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=PRESETS[SWEEP].train["steps"])
    p.add_argument("--depth-steps", type=int, default=PRESETS[DRIFT].train["steps"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--depth-seeds", type=int, nargs="+", default=[0])
    p.add_argument("--n-values", type=int, nargs="+", default=[1, 2, 3, 4, 6])
    p.add_argument("--eval-every", type=int, default=PRESETS[SWEEP].train["eval_every"])
    p.add_argument("--lr", type=float, default=PRESETS[SWEEP].train["lr"])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--root", default="/tmp/threephase_runs")
    p.add_argument("--skip-depth", action="store_true")
    p.add_argument("--depth-layers", type=int, nargs="+", default=[12, 4], help="depths of the drift-profile runs")
    p.add_argument("--skip-sweep", action="store_true")
    p.add_argument("--ablations", nargs="*", default=[], choices=["horn", "rotation", "phase_norm"],
                   help="instead of the N sweep, train 3PT N=3 with each named operation switched off")
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "threephase_experiments.json"))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    try:  # the shipped streams are the same default corpus, already tokenised (4,096 words)
        data = shipped_token_data()
        if data.vocab_size != PRESETS[SWEEP].model["vocab_size"]:
            raise FileNotFoundError
    except FileNotFoundError:
        data = default_token_data(vocab_size=PRESETS[SWEEP].model["vocab_size"])
    out = {
        "machine": {"device": describe_device("cpu"), "torch_threads": args.threads, "platform": platform.platform(),
                    "note": "shared 2-core CPU, other jobs running; timings are noisy"},
        "data": data.describe(),
        "args": vars(args),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "depth": [],
        "sweep": [],
    }

    def write():
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(out, indent=1, default=float))

    overrides = dict(lr=args.lr, eval_every=args.eval_every)
    if not args.skip_depth:
        depth_variants = {f"3pt-N3-L{L}": preset_model(DRIFT, n_layers=L) for L in args.depth_layers}
        tc = preset_train(DRIFT, steps=args.depth_steps, **overrides)

        def on_depth(row):
            hist = load_run(row["run_path"])["history"]
            steps, prof = drift_profile(hist)
            _, mean_angle = drift_profile(hist, "mean_angle")
            keep = ("variant", "seed", "n_layers", "val_ppl", "val_bpb", "elapsed_s", "run_path")
            out["depth"].append({**{k: row[k] for k in keep}, "steps": steps.tolist(), "drift_l2": prof.tolist(),
                                 "mean_angle": mean_angle.tolist()})
            write()
            final = [round(x, 3) for x in row["drift_l2"]]
            print(f"[depth] {row['variant']} seed {row['seed']}: final drift {final}", flush=True)

        run_sweep(depth_variants, args.depth_seeds, tc, data, root=args.root, on_result=on_depth)
    if not args.skip_sweep:
        tc = preset_train(SWEEP, steps=args.steps, **overrides)

        def on_row(row):
            out["sweep"].append({k: v for k, v in row.items()})
            import pandas as pd

            df = pd.DataFrame(out["sweep"])
            out["summary_ppl"] = summarize(df, "val_ppl").to_dict("records")
            out["summary_bpb"] = summarize(df, "val_bpb").to_dict("records")
            write()
            print(f"[sweep] {row['variant']} seed {row['seed']}: ppl {row['val_ppl']:.2f} bpb {row['val_bpb']:.4f} "
                  f"({row['elapsed_s']:.0f}s)", flush=True)

        if args.ablations:
            from dataclasses import replace

            full = preset_model(SWEEP)
            variants = {f"3pt-N3-no-{op}": replace(full, **{op: False}) for op in args.ablations}
        else:
            variants = variant_configs(PRESETS[SWEEP].model, args.n_values)
        run_sweep(variants, args.seeds, tc, data, root=args.root, on_result=on_row)
    out["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    write()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
