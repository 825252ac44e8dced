"""Merge the experiment JSONs in benchmarks/results/threephase_*.json into one summary and print it.

    python scripts/threephase_report.py      # writes benchmarks/results/threephase_summary.json
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from lab.threephase import summarize

REPO = Path(__file__).resolve().parent.parent

RESULTS = REPO / "benchmarks" / "results"


def main() -> int:
    sweep, depth = [], []
    for f in sorted(RESULTS.glob("threephase_*.json")):
        if f.name in ("threephase_summary.json",):
            continue
        d = json.loads(f.read_text())
        sweep += d.get("sweep", [])
        depth += d.get("depth", [])
    out: dict = {"sources": sorted(p.name for p in RESULTS.glob("threephase_*.json")
                                   if p.name != "threephase_summary.json")}
    if sweep:
        df = pd.DataFrame(sweep)
        order = {v: (0 if v == "baseline" else 1 if "-no-" not in v else 2, v) for v in df["variant"].unique()}
        df = df.iloc[sorted(range(len(df)), key=lambda i: order[df["variant"].iloc[i]])].reset_index(drop=True)
        ppl, bpb = summarize(df, "val_ppl"), summarize(df, "val_bpb")
        base = ppl.set_index("variant")["mean"].get("baseline")
        if base is not None:
            ppl["vs_baseline_pct"] = 100 * (ppl["mean"] / base - 1)
        out["sweep_runs"] = df.drop(columns=["run_path"], errors="ignore").to_dict("records")
        out["summary_ppl"], out["summary_bpb"] = ppl.to_dict("records"), bpb.to_dict("records")
        print("validation perplexity (final step), mean / std over seeds")
        print(ppl.round(3).to_string(index=False))
        print("\nvalidation bits per byte")
        print(bpb.round(4).to_string(index=False))
    if depth:
        out["depth"] = []
        print("\nfinal per-block L2 drift")
        # runs of the same depth and length are pooled over seeds
        for L, last in sorted({(d["n_layers"], d["steps"][-1]) for d in depth}, reverse=True):
            runs = sorted((d for d in depth if d["n_layers"] == L and d["steps"][-1] == last), key=lambda d: d["seed"])
            finals = np.array([d["drift_l2"][-1] for d in runs])  # (seeds, L)
            mean = finals.mean(0)
            entry = {"n_layers": L, "seeds": [d["seed"] for d in runs], "final_drift_mean": mean.tolist(),
                     "final_drift_per_seed": finals.tolist(), "argmin_block": int(mean.argmin()),
                     "argmax_block": int(mean.argmax()),
                     "steps": runs[0]["steps"], "val_ppl": [d["val_ppl"] for d in runs],
                     "profile_over_time_first_seed": runs[0]["drift_l2"]}
            # did each block's mean angle grow past its initial value or shrink below it?
            init = np.array([(block + 1) * np.pi / (2 * L) for block in range(L)])
            moved = np.array([np.asarray(d["mean_angle"][-1]) - init for d in runs])  # (seeds, L)
            entry["mean_angle_change"] = moved.mean(0).tolist()
            # a U: the minimum is strictly inside and both ends are higher
            entry["u_shape"] = bool(0 < entry["argmin_block"] < L - 1)
            # ... and clearly so: both ends above the minimum by more than the seed-to-seed spread
            if len(runs) > 1:
                spread = float(finals.std(0, ddof=1).max())
                k = entry["argmin_block"]
                entry["max_seed_std"] = spread
                ends_above = min(mean[0], mean[-1]) - mean[k] > spread
                entry["u_shape_beyond_seed_spread"] = bool(entry["u_shape"] and ends_above)
            out["depth"].append(entry)
            print(f"L={L} steps={last} seeds={entry['seeds']}: " + ", ".join(f"{v:.4f}" for v in mean) +
                  f"  (min at block {entry['argmin_block']}, max at block {entry['argmax_block']}, "
                  f"U shape: {entry['u_shape']}, "
                  f"beyond seed spread: {entry.get('u_shape_beyond_seed_spread')})")
            print("      mean angle - init per block: " + ", ".join(f"{v:+.4f}" for v in entry["mean_angle_change"]))
    (RESULTS / "threephase_summary.json").write_text(json.dumps(out, indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
