"""The alignment study's report numbers, from the shipped artifacts, over several seeds.

    python scripts/alignment_experiments.py [--seeds 5]

Seeds choose the anchor classes (the models themselves are the shipped pair). Prints the
tables and writes benchmarks/results/alignment_experiments.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd
import torch

from lab.alignment import PRESETS, anchor_curve, compare_maps, load_shipped, run_alignment

REPO = Path(__file__).resolve().parent.parent
REPORT = PRESETS["report"]


def _agg(df: pd.DataFrame, by: list[str], cols: list[str]) -> pd.DataFrame:
    cols = [c for c in cols if c in df]
    out = df.groupby(by)[cols].agg(["mean", "std"])
    out.columns = [f"{a}_{b}" for a, b in out.columns]
    return out.reset_index()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=REPORT["seeds"])
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "alignment_experiments.json"))
    a = ap.parse_args()
    torch.set_num_threads(1)
    seeds = tuple(range(a.seeds))
    t0 = time.time()
    results: dict = {"seeds": list(seeds)}
    toy = load_shipped("toyclip")
    rows = []
    k_main = REPORT["anchor_classes"]
    for s in seeds:
        r = run_alignment(toy, n_anchor_classes=k_main, seed=s)
        for rec in r.metrics.to_dict(orient="records"):
            rows.append({"seed": s, "n_anchors": len(r.anchors), **rec})
    before_after = pd.DataFrame(rows).groupby(["metric", "modality"])[["before", "after"]].agg(["mean", "std"])
    before_after.columns = [f"{x}_{y}" for x, y in before_after.columns]
    before_after = before_after.reset_index()
    print(f"toy CLIPs, orthogonal map on {k_main} anchor classes, scored on held-back images:")
    print(before_after.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    results[f"toy_before_after_{k_main}_classes"] = before_after.to_dict(orient="records")

    heads = ["image_top1", "image_class_top1", "text_top1", "zero_shot"]
    for k in REPORT["compare_classes"]:
        table = compare_maps(toy, n_anchor_classes=k, seeds=seeds)
        agg = _agg(table, ["map_type"], heads)
        print(f"\nheld-out classes, maps fitted on {k} anchor classes:")
        print(agg.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        results[f"toy_compare_maps_{k}_classes"] = agg.to_dict(orient="records")

    curve = anchor_curve(toy, counts=REPORT["curve_counts"], seeds=seeds)
    agg = _agg(curve, ["map_type", "n_anchor_classes"], heads)
    print("\nanchor curve (all held-back images):")
    print(agg.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    results["toy_anchor_curve"] = agg.to_dict(orient="records")

    for name in REPORT["minilm_sources"]:
        data = load_shipped(name)
        recs = []
        for mt in REPORT["minilm_maps"]:
            for k in REPORT["minilm_classes"]:
                for s in seeds:
                    r = run_alignment(data, n_anchor_classes=k, map_type=mt, seed=s)
                    m = r.metrics.set_index(["metric", "modality"])
                    recs.append({"map_type": mt, "n_anchor_classes": k, "seed": s, "n_anchors": len(r.anchors),
                                 "top1_before": m.loc[("retrieval top-1 (instance)", "sentence"), "before"],
                                 "top1_after": m.loc[("retrieval top-1 (instance)", "sentence"), "after"],
                                 "class_top1_after": m.loc[("retrieval top-1 (class)", "sentence"), "after"],
                                 "cosine_before": m.loc[("mean cosine", "sentence"), "before"],
                                 "cosine_after": m.loc[("mean cosine", "sentence"), "after"]})
        agg = _agg(pd.DataFrame(recs), ["map_type", "n_anchor_classes"],
                   ["n_anchors", "top1_before", "top1_after", "class_top1_after", "cosine_before", "cosine_after"])
        print(f"\n{name}:")
        print(agg.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        results[name] = agg.to_dict(orient="records")
    results["seconds"] = round(time.time() - t0, 1)
    Path(a.out).write_text(json.dumps(results, indent=2, default=float))
    print(f"\nwrote {a.out} ({results['seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
