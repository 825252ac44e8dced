"""3PT speed: training-step time of 3PT vs our RoPE-only baseline, measured in the same run.

    python -m benchmarks.bench_threephase [--repeats 7] [--cpu-batch 8] [--compile]

Rows
* cpu / 5.5M config (d_model 192, 4 layers, 6/3 heads, d_ff 512, vocab 10k, context 128):
  one AdamW training step (forward, backward, clip, step), baseline and 3PT interleaved,
  median over repeats; the ratio 3PT / baseline is the number to read.
* cpu / phase_rotate on (batch, 128, 192): the broadcast implementation vs a loop over phases.
* cuda / 123M config (d_model 768, 12 layers, 12/3 heads, d_ff 2048, vocab 32000), batch
  8 x 1024, bf16 autocast, fused AdamW: step ms, tokens/s, model FLOP utilisation, the target
  (3PT <= 42 ms and within 5% of the baseline). Written only when CUDA is present; otherwise
  the row says it was not measured. Both ratios are against the matched baseline.

Writes benchmarks/results/threephase.json.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path

import torch

from lab.device import describe_device
from lab.threephase import PRESETS, ModelConfig, Transformer, count_parameters, phase_rotate, side_by_side_configs

REPO = Path(__file__).resolve().parent.parent
MATCHED = "baseline-matched"  # the baseline the speed targets compare against

# dense bf16 tensor-core peaks (FLOP/s) used for model FLOP utilisation
PEAK_BF16 = {"H100": 989.4e12, "H200": 989.4e12, "A100": 312e12}


def flops_per_token(model: Transformer, seq_len: int) -> float:
    """Training FLOPs per token: 6 x (parameters outside the embedding table) + attention 12*L*d*T."""
    c = model.config
    n = count_parameters(model) - model.embed.weight.numel()
    return 6.0 * n + 12.0 * c.n_layers * c.d_model * seq_len


def make_step(model: Transformer, batch: int, seq: int, device: torch.device, bf16: bool, compile_: bool):
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, betas=(0.9, 0.95), weight_decay=0.1,
                            fused=device.type == "cuda" or None)
    fwd = torch.compile(model) if compile_ else model
    g = torch.Generator(device="cpu").manual_seed(0)
    x = torch.randint(0, model.config.vocab_size, (batch, seq + 1), generator=g).to(device)
    inp, tgt = x[:, :-1], x[:, 1:]

    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            _, loss = fwd(inp, tgt)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()

    return step


def time_pair(cfgs: dict[str, ModelConfig], batch: int, seq: int, device: torch.device, repeats: int, warmup: int,
              bf16: bool = False, compile_: bool = False) -> tuple[dict[str, list[float]], dict[str, Transformer]]:
    steps = {}
    models = {}
    for name, cfg in cfgs.items():
        torch.manual_seed(0)
        models[name] = Transformer(cfg).to(device)
        steps[name] = make_step(models[name], batch, seq, device, bf16, compile_)
        for _ in range(warmup):
            steps[name]()
    times: dict[str, list[float]] = {n: [] for n in cfgs}
    for _ in range(repeats):  # interleaved, so load changes hit both alike
        for name in cfgs:
            t0 = time.perf_counter()
            steps[name]()
            times[name].append(time.perf_counter() - t0)
    return times, models


def rotate_loop(x: torch.Tensor, theta: torch.Tensor, n: int) -> torch.Tensor:
    """The naive alternative: one slice per phase, in a Python loop."""
    dp = x.shape[-1] // n
    out = []
    for i in range(n):
        s = x[..., i * dp : (i + 1) * dp].reshape(*x.shape[:-1], dp // 2, 2)
        a = theta + 2 * math.pi * i / n
        c, si = torch.cos(a), torch.sin(a)
        turned = torch.stack((s[..., 0] * c - s[..., 1] * si, s[..., 0] * si + s[..., 1] * c), -1)
        out.append(turned.reshape(*x.shape[:-1], dp))
    return torch.cat(out, -1)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--cpu-batch", type=int, default=8)
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--threads", type=int, default=1,
                    help="CPU threads for the CPU rows (1 is steadier on a shared machine)")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "threephase.json"))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    rows = []
    cpu = torch.device("cpu")
    seq = PRESETS["5.5M"].model["max_seq_len"]
    # the matched baseline: 3PT's own embedding, so the ratio is the cost of the 3PT operations alone
    times, _ = time_pair(side_by_side_configs("5.5M", baseline=MATCHED), a.cpu_batch, seq, cpu, a.repeats, warmup=2)
    med = {n: statistics.median(v) for n, v in times.items()}
    rows.append({"device": describe_device("cpu"), "config": "5.5M", "baseline": MATCHED,
                 "batch": f"{a.cpu_batch}x{seq}",
                 "baseline_ms": 1e3 * med["baseline"], "3pt_ms": 1e3 * med["3pt"],
                 "ratio_3pt_over_baseline": med["3pt"] / med["baseline"],
                 "baseline_ms_all": [1e3 * t for t in times["baseline"]], "3pt_ms_all": [1e3 * t for t in times["3pt"]],
                 "repeats": a.repeats})
    # phase_rotate: broadcast vs loop over phases
    x = torch.randn(a.cpu_batch, 128, 192)
    th = torch.rand(32)
    for fn in (phase_rotate, rotate_loop):
        fn(x, th, 3)
    rt = {"broadcast": [], "loop": []}
    for _ in range(max(5, a.repeats)):
        for name, fn in (("broadcast", phase_rotate), ("loop", rotate_loop)):
            t0 = time.perf_counter()
            for _ in range(20):
                fn(x, th, 3)
            rt[name].append((time.perf_counter() - t0) / 20)
    rmed = {k: statistics.median(v) for k, v in rt.items()}
    rows.append({"device": describe_device("cpu"), "config": "phase_rotate (8,128,192), N=3",
                 "broadcast_ms": 1e3 * rmed["broadcast"], "loop_ms": 1e3 * rmed["loop"],
                 "ratio_loop_over_broadcast": rmed["loop"] / rmed["broadcast"]})
    if torch.cuda.is_available():
        dev = torch.device("cuda")
        times, models = time_pair(side_by_side_configs("123M", baseline=MATCHED), 8, 1024, dev, max(a.repeats, 20),
                                  warmup=5, bf16=True,
                                  compile_=a.compile)
        med = {n: statistics.median(v) for n, v in times.items()}
        name = torch.cuda.get_device_name()
        peak = next((v for k, v in PEAK_BF16.items() if k in name), None)
        row = {"device": describe_device("cuda"), "config": "123M", "baseline": MATCHED, "batch": "8x1024",
               "bf16": True, "compile": a.compile}
        for n in ("baseline", "3pt"):
            tok_s = 8 * 1024 / med[n]
            row[f"{n}_ms"] = 1e3 * med[n]
            row[f"{n}_tokens_per_s"] = tok_s
            row[f"{n}_mfu"] = flops_per_token(models[n], 1024) * tok_s / peak if peak else None
        row["ratio_3pt_over_baseline"] = med["3pt"] / med["baseline"]
        row["target_3pt_le_42ms"] = row["3pt_ms"] <= 42.0
        row["target_within_5pct"] = row["ratio_3pt_over_baseline"] <= 1.05
        rows.append(row)
    else:
        rows.append({"device": "cuda", "config": "123M", "batch": "8x1024", "note": "not measured here (no GPU)"})
    out = {"rows": rows, "torch": torch.__version__, "threads": torch.get_num_threads(),
           "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(out, indent=1))
    for r in rows:
        shown = {k: v for k, v in r.items() if not k.endswith("_all")}
        print(" | ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in shown.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
