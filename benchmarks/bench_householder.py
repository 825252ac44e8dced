"""Forward + backward of householder_product (compact WY) vs torch.linalg.householder_product.

    python -m benchmarks.bench_householder [--repeats 7] [--device cpu|cuda|all]

Both sides build the same matrix from the same reflectors (unit lower-triangular V, tau =
2 / |v|^2) and back-propagate the same random cotangent. The output is the first k columns of
Q = H(v_1)...H(v_k) (the whole Q when k = d). Median wall time over ``--repeats`` runs after a
warm-up; the ratio is baseline / ours in the same run. Writes benchmarks/results/householder.json.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import torch

from benchmarks.timing import median_ms
from lab.device import describe_device
from lab.householder import householder_product

REPO = Path(__file__).resolve().parent.parent
CASES = [(512, 512), (2048, 128)]
TARGETS = {(512, 512): {"cuda": 50.0, "cpu": 5.0}, (2048, 128): {"cuda": 20.0, "cpu": None}}


def bench(d: int, k: int, dev: torch.device, repeats: int, dtype=torch.float32) -> dict:
    g = torch.Generator().manual_seed(d + k)
    V0 = torch.tril(torch.randn(d, k, generator=g, dtype=dtype), diagonal=-1) + torch.eye(d, k, dtype=dtype)
    V0 = V0.to(dev)
    tau = (2.0 / (V0 * V0).sum(0)).detach()
    cot = torch.randn(d, k, generator=g, dtype=dtype).to(dev)

    def ours():
        V = V0.clone().requires_grad_(True)
        Q = householder_product(V, columns=k)  # (d, k)
        (Q * cot).sum().backward()
        return V.grad

    def baseline():
        A = V0.clone().requires_grad_(True)
        Q = torch.linalg.householder_product(A, tau)  # (d, k)
        (Q * cot).sum().backward()
        return A.grad

    # Same matrix, same gradient (up to float32 rounding), before timing anything.
    with torch.no_grad():
        err = float((householder_product(V0, columns=k) - torch.linalg.householder_product(V0, tau)).abs().max())
    g_ours, g_base = ours(), baseline()
    grad_err = float((torch.tril(g_ours, -1) - torch.tril(g_base, -1)).abs().max() / g_base.abs().max())
    t_ours = median_ms(ours, dev, repeats)[0]
    t_base = median_ms(baseline, dev, repeats)[0]
    return {"device": describe_device(dev), "device_type": dev.type, "d": d, "k": k, "dtype": str(dtype).split(".")[1],
            "ours_ms": round(t_ours, 3), "baseline_ms": round(t_base, 3), "speedup": round(t_base / t_ours, 2),
            "target": TARGETS[(d, k)][dev.type], "max_abs_diff_Q": err, "rel_diff_grad_below_diag": grad_err,
            "repeats": repeats}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--device", default="all", help="cpu, cuda or all (cuda only when available)")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "householder.json"))
    a = ap.parse_args(argv)
    devices = ["cpu", "cuda"] if a.device == "all" else [a.device]
    rows, notes = [], []
    for name in devices:
        if name == "cuda" and not torch.cuda.is_available():
            notes.append("cuda: not measured here (no GPU on this machine)")
            continue
        for d, k in CASES:
            rows.append(bench(d, k, torch.device(name), a.repeats))
    print(f"{'device':<28} {'d':>5} {'k':>5} {'ours ms':>10} {'torch ms':>10} {'speedup':>8} {'target':>7}")
    for r in rows:
        tgt = "-" if r["target"] is None else f">={r['target']:.0f}x"
        print(f"{r['device']:<28} {r['d']:>5} {r['k']:>5} {r['ours_ms']:>10.2f} {r['baseline_ms']:>10.2f} "
              f"{r['speedup']:>7.1f}x {tgt:>7}")
    for n in notes:
        print(n)
    out = {"benchmark": "householder_product forward+backward vs torch.linalg.householder_product",
           "torch": torch.__version__, "python": platform.python_version(), "threads": torch.get_num_threads(),
           "rows": rows, "notes": notes}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(out, indent=2))
    print("wrote", a.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
