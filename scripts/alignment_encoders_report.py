"""The real encoder pairs' report: anchor curves, calibrated scores, scoring and map switches.

    python scripts/alignment_encoders_report.py [--seeds 3] [--smoke]

Reads data/alignment/text_encoders.npz (scripts/make_alignment_encoders.py) and writes
data/alignment/encoder_report.json, which notebook 02, the README and data/alignment/README.md
quote. For each pair (lab.alignment.ENCODER_PAIRS):

- anchor curve: instance top-1 on the held-back documents after the orthogonal map, minimum-norm
  least squares and cross-validated ridge, at PRESETS["encoder-report"]["counts"] anchors up to
  the whole pool, mean and std over anchor seeds;
- calibrated scores at the pool-wide fit: each score with its permutation null and bootstrap
  interval (lab.alignment.calibrate);
- switches at the same fit: normalise on/off, centred vs raw scoring frame, and for unequal
  widths the least-squares semi-orthogonal map vs the polar factor;
- each encoder's anisotropy (mean pairwise cosine of its rows).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd
import torch

from lab.alignment import ENCODER_PAIRS, PRESETS, calibrate, load_shipped, run_alignment
from lab.paths import study_dir

CFG = PRESETS["encoder-report"]
TOP1 = "retrieval top-1 (instance)"


def _scores(res) -> dict[str, float]:
    m = res.metrics.set_index("metric")
    return {"top1_before": float(m.loc[TOP1, "before"]), "top1_after": float(m.loc[TOP1, "after"]),
            "cosine_after": float(m.loc["mean cosine", "after"]), "cka_after": float(m.loc["linear CKA", "after"]),
            "knn_after": float(m.loc["mutual 10-NN overlap", "after"])}


def _anisotropy(x: np.ndarray) -> float:
    """Mean cosine over all pairs of distinct rows (0 for an isotropic encoder; e5 is known for about 0.8)."""
    u = x.astype(np.float64) / np.linalg.norm(x.astype(np.float64), axis=1, keepdims=True)
    s = u.sum(0)
    n = len(u)
    return float((s @ s - n) / (n * (n - 1)))


def report_pair(name: str, seeds: list[int], counts: list[int], calib: dict) -> dict:
    data = load_shipped(name)
    pool = int(data.train_mask.sum())
    counts = sorted({min(c, pool) for c in counts} | {pool})
    rows = []
    for k in counts:
        for mt in CFG["maps"]:
            for seed in seeds if k < pool else seeds[:1]:  # the whole pool is the same anchors for every seed
                t0 = time.time()
                res = run_alignment(data, n_anchor_classes=k, map_type=mt, seed=seed)
                rows.append({"n_anchors": k, "map_type": mt, "seed": seed, "seconds": time.time() - t0,
                             **_scores(res)})
                print(f"{name}: {k} anchors, {mt}, seed {seed}: top-1 {rows[-1]['top1_after']:.3f}", flush=True)
    curve = pd.DataFrame(rows)
    agg = curve.groupby(["map_type", "n_anchors"])[["top1_after", "cosine_after", "cka_after"]].agg(["mean", "std"])
    agg.columns = [f"{a}_{b}" for a, b in agg.columns]
    agg = agg.reset_index().fillna({"top1_after_std": 0.0, "cosine_after_std": 0.0, "cka_after_std": 0.0})
    full = run_alignment(data, n_anchor_classes=pool)
    table = calibrate(full, **calib)
    switches = {}
    for label, kw in (("default (normalise, centred frame)", {}), ("no normalisation", {"normalize": False}),
                      ("raw frame (mean added back)", {"centered_scoring": False}),
                      ("no normalisation, raw frame", {"normalize": False, "centered_scoring": False})):
        switches[label] = _scores(run_alignment(data, n_anchor_classes=pool, **kw))
    if not data.same_width:
        for mode in ("least_squares", "polar"):
            res = run_alignment(data, n_anchor_classes=pool, semi_orthogonal=mode)
            switches[f"semi-orthogonal: {mode}"] = {**_scores(res), "n_iter": int(res.aligner.n_iter_)}
    return {
        "spaces": list(data.spaces), "widths": [data.dim, data.dim_y], "n_documents": data.n, "pool": pool,
        "n_scored": int(full.eval_rows.size),
        "anisotropy": {"A": _anisotropy(data.x), "B": _anisotropy(data.y)},
        "curve": agg.to_dict(orient="records"), "curve_rows": curve.to_dict(orient="records"),
        "calibrated": table.to_dict(orient="records"), "switches": switches,
        "before": {"top1": float(full.metrics.set_index("metric").loc[TOP1, "before"])},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="alignment_encoders_report", description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=CFG["seeds"])
    ap.add_argument("--smoke", action="store_true", help="two counts, one pair, few permutations (a quick check)")
    ap.add_argument("--out", default=str(study_dir("alignment") / "encoder_report.json"))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.time()
    seeds = list(range(args.seeds))
    counts = list(CFG["counts"][:2]) if args.smoke else list(CFG["counts"])
    calib = {"n_permutations": 20, "n_bootstrap": 20} if args.smoke else dict(CFG["calibration"])
    pairs = list(ENCODER_PAIRS)[:1] if args.smoke else list(ENCODER_PAIRS)
    out = {"seeds": seeds, "counts": counts, "calibration": calib, "maps": list(CFG["maps"]), "pairs": {}}
    for name in pairs:
        out["pairs"][name] = report_pair(name, seeds, counts, calib)
    out["seconds"] = round(time.time() - t0, 1)
    with open(args.out, "w") as fh:
        json.dump(out, fh, indent=1, default=float)
    print(f"wrote {args.out} ({out['seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
