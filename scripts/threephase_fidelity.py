"""Which baseline does 3PT beat, and does the init decide it? Writes benchmarks/results/threephase_fidelity.json.

    nice python scripts/threephase_fidelity.py [--parts variants drift operations] [--steps 200] [--seeds 0 1 2]

variants: every variant of :data:`lab.threephase.VARIANTS` on the ``cpu-5.5M`` shape (N = 3), trained
with the reference's optimizer (AdamW, decay on every parameter, warmup then cosine) over the
same seeds and the same token stream; then, as the control that reproduces the study's earlier
verdict, the small-init pair with decay on matrices only (the earlier setup, exactly). Final
validation perplexity per run, and mean / std / n per variant.

drift: the reference 3PT at 12 and at 4 blocks (``cpu-drift`` shape, the paper's head ratio)
under both decay policies; per run, each block's mean-angle change against its initial angle
and the fitted line change = a - b * theta_init (lab.threephase.angle_change_fit). If decay
makes the U, b is clearly positive with decay on theta and near 0 without it.

operations: under the reference setup, longer (``--ops-steps``): the N sweep (N in 1, 2, 3, 4, 6),
both baselines, each 3PT operation switched off with everything else fixed, and each operation
alone added to the matched baseline (``--additions``). The horn's own switch leaves the embedding scale as 3PT's
(none), so "no horn" changes exactly one thing. Per variant: mean / std / n, and the paired
difference to the matched baseline on the same seed (same data order, same schedule).

The JSON keeps the parts not run this time, and is rewritten after every run, so a partial
result survives an interruption.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lab.device import describe_device
from lab.threephase import (
    PRESETS,
    VARIANTS,
    angle_change_fit,
    default_token_data,
    drift_profile,
    load_run,
    preset_train,
    run_sweep,
    shipped_token_data,
    summarize,
    variant_model,
)

REPO = Path(__file__).resolve().parent.parent
SHAPE, DRIFT = "cpu-5.5M", "cpu-drift"
# (name in the results, variant, decay policy)
# (name in the results, variant, switches on top of the variant): the N sweep and the ablations
OPERATIONS = [("3pt-reference", "3pt-reference", {})] + [
    (f"3pt-reference-N{n}", "3pt-reference", {"n_phases": n}) for n in (1, 2, 4, 6)] + [
    ("baseline-paper", "baseline-paper", {}),
    ("baseline-matched", "baseline-matched", {}),
    ("3pt-no-rotation", "3pt-reference", {"rotation": False}),
    ("3pt-no-phase-norm", "3pt-reference", {"phase_norm": False}),
    ("3pt-no-horn", "3pt-reference", {"horn": False, "embed_scale": False}),
]
ADDITIONS = [  # --additions: each operation alone on the matched baseline
    ("matched+rotation", "baseline-matched", {"rotation": True}),
    ("matched+phase-norm", "baseline-matched", {"phase_norm": True}),
    ("matched+horn", "baseline-matched", {"horn": True}),
]
SETUPS = [(v, v, "all") for v in VARIANTS] + [
    ("3pt-small-init+decay-matrices", "3pt-small-init", "matrices"),
    ("baseline-small-init+decay-matrices", "baseline-small-init", "matrices"),
]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parts", nargs="+", choices=["variants", "drift", "operations"],
                   default=["variants", "drift"])
    p.add_argument("--steps", type=int, default=PRESETS[SHAPE].train["steps"])
    p.add_argument("--drift-steps", type=int, default=PRESETS[DRIFT].train["steps"])
    p.add_argument("--ops-steps", type=int, default=400)
    p.add_argument("--ops-eval-every", type=int, default=100, help="operations: steps between evaluations")
    p.add_argument("--additions", action="store_true",
                   help="operations: also each operation alone on the matched baseline")
    p.add_argument("--drift-layers", type=int, nargs="+", default=[12, 4])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--root", default="/tmp/threephase_fidelity_runs")
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "threephase_fidelity.json"))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    try:  # the shipped stream is the default corpus, already tokenised
        data = shipped_token_data()
        if data.vocab_size != PRESETS[SHAPE].model["vocab_size"]:
            raise FileNotFoundError
    except FileNotFoundError:
        data = default_token_data(vocab_size=PRESETS[SHAPE].model["vocab_size"])
    path = Path(args.out)
    out = json.loads(path.read_text()) if path.is_file() else {}
    out.update({"machine": {"device": describe_device("cpu"), "torch_threads": args.threads,
                            "platform": platform.platform()},
                "data": data.describe(), "shape": dict(PRESETS[SHAPE].model),
                "drift_shape": dict(PRESETS[DRIFT].model)})
    out.setdefault("args", {})
    for part in args.parts:
        out["args"][part] = vars(args)
        out["runs" if part == "variants" else part] = []  # this part's rows start again
        if part == "operations":
            out["operations_summary"] = []

    def write() -> None:
        if out.get("runs"):
            df = pd.DataFrame(out["runs"])
            out["summary_ppl"] = summarize(df, "val_ppl").to_dict("records")
            out["summary_bpb"] = summarize(df, "val_bpb").to_dict("records")
        if out.get("operations"):
            out["operations_summary"] = operations_summary(pd.DataFrame(out["operations"]))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(out, indent=1, default=_plain))

    for name, variant, decay in SETUPS if "variants" in args.parts else []:
        tc = preset_train(SHAPE, steps=args.steps, decay=decay)

        def on_row(row, name=name, variant=variant, decay=decay):
            keep = ("seed", "val_ppl", "val_bpb", "elapsed_s")
            out["runs"].append({"variant": name, "model_variant": variant, "decay": decay,
                                **{k: row[k] for k in keep}})
            write()
            print(f"{name:38s} seed {row['seed']}: ppl {row['val_ppl']:8.2f}  ({row['elapsed_s']:.0f} s)", flush=True)

        run_sweep({name: variant_model(SHAPE, variant)}, args.seeds, tc, data, root=args.root, on_result=on_row)
    if "operations" in args.parts:
        tc = preset_train(SHAPE, steps=args.ops_steps, eval_every=args.ops_eval_every)

        def on_op(row):
            keep = ("variant", "seed", "n_phases", "params", "val_ppl", "val_bpb", "elapsed_s")
            out["operations"].append({k: row[k] for k in keep})
            write()
            print(f"{row['variant']:38s} seed {row['seed']}: ppl {row['val_ppl']:8.2f}  ({row['elapsed_s']:.0f} s)",
                  flush=True)

        models = {name: variant_model(SHAPE, variant, **switches) for name, variant, switches in
                  OPERATIONS + (ADDITIONS if args.additions else [])}
        run_sweep(models, args.seeds, tc, data, root=args.root, on_result=on_op)
    for layers in args.drift_layers if "drift" in args.parts else []:
        for decay in ("all", "matrices"):
            tc = preset_train(DRIFT, steps=args.drift_steps, decay=decay)
            name = f"3pt-reference-L{layers}-decay-{decay}"

            def on_drift(row, layers=layers, decay=decay, name=name):
                history = load_run(row["run_path"])["history"]
                fit = angle_change_fit(history)
                steps, drift = drift_profile(history)
                out["drift"].append({"variant": name, "n_layers": layers, "decay": decay, "seed": row["seed"],
                                     "val_ppl": row["val_ppl"], **fit, "steps": steps, "drift_l2": drift})
                write()
                print(f"{name:38s} seed {row['seed']}: change = {fit['a']:+.4f} - {fit['b']:.4f} theta_init "
                      f"(r2 {fit['r2']:.2f})", flush=True)

            run_sweep({name: variant_model(DRIFT, "3pt-reference", n_layers=layers)}, args.seeds, tc, data,
                      root=args.root, on_result=on_drift)
    out["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    write()
    if out.get("summary_ppl"):
        print(pd.DataFrame(out["summary_ppl"]).round(2).to_string(index=False))
    if out.get("operations_summary"):
        print(pd.DataFrame(out["operations_summary"]).round(2).to_string(index=False))
    if out.get("drift"):
        d = pd.DataFrame(out["drift"])
        print(d.groupby("variant", sort=False)[["a", "b", "r2"]].agg(["mean", "std"]).round(4).to_string())
    return 0


def operations_summary(runs: pd.DataFrame, reference: str = "baseline-matched") -> list[dict]:
    """Per variant: mean / std / n of the perplexity, and the paired difference to ``reference``.

    The difference is taken seed by seed (both runs saw the same batches in the same order);
    its interval is mean +- t(0.975, n-1) * sd / sqrt(n), so with 3 seeds a difference is
    resolved only when it is well beyond the seed-to-seed spread of the pairs.
    """
    from scipy import stats

    base = runs[runs["variant"] == reference].set_index("seed")["val_ppl"]
    rows = []
    for name, g in runs.groupby("variant", sort=False):
        ppl = g.set_index("seed")["val_ppl"]
        diff = (ppl - base).dropna()
        row = {"variant": name, "mean": ppl.mean(), "std": ppl.std(ddof=1), "n": int(ppl.count()),
               "diff_vs_" + reference: diff.mean() if len(diff) else float("nan")}
        if len(diff) >= 2 and name != reference:
            half = stats.t.ppf(0.975, len(diff) - 1) * diff.std(ddof=1) / np.sqrt(len(diff))
            row.update(diff_lo=diff.mean() - half, diff_hi=diff.mean() + half)
        rows.append(row)
    return rows


def _plain(value):
    return value.tolist() if hasattr(value, "tolist") else float(value)


if __name__ == "__main__":
    raise SystemExit(main())
