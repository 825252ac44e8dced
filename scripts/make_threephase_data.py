"""Produce the 3PT study's shipped artifacts in data/threephase/ (small, no pickles).

    nice python scripts/make_threephase_data.py                       # tokens + train the shipped runs
    nice python scripts/make_threephase_data.py --copy-from DIR...    # tokens + copy finished runs
    python scripts/make_threephase_data.py --keep-tokens --copy-from /tmp/threephase_fidelity_runs/threephase

Writes:
* tokens.npz, tokenizer.json: the default corpus (stdlib docstrings) split 90/10 by document
  (seed 0) and tokenised with a 4,096-word vocabulary fitted on the training documents;
* runs/<run-id>/{config.json, metrics.jsonl, status.json}: metrics-only runs for the page's
  run browser, no weights. Trained here: the paper's baseline and the reference 3PT (N=3) at 4
  layers, the reference 3PT at 12 layers. Copied (the shipped set): seed 0 of
  scripts/threephase_fidelity.py's runs: the reference 3PT at 12 and 4 blocks under both decay
  policies, and the reference 3PT, the paper's baseline and the matched baseline at 4 blocks.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import torch

from lab.threephase import (
    ModelConfig,
    default_token_data,
    preset_model,
    preset_train,
    save_token_data,
    shipped_token_data,
    train_model,
    variant_model,
)

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "data" / "threephase"
KEEP = ("config.json", "metrics.jsonl", "status.json")


def shipped_variants() -> dict[str, ModelConfig]:
    """The runs the page ships, all on the "shipped" preset's shape."""
    return {
        "baseline-paper-L4": variant_model("shipped", "baseline-paper"),
        "3pt-reference-L4": variant_model("shipped", "3pt-reference"),
        "3pt-reference-L12": variant_model("shipped", "3pt-reference", n_layers=12),
    }


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=None, help="training steps (default: the 'shipped' preset's)")
    p.add_argument("--copy-from", nargs="+", default=None,
                   help="copy finished runs (config/metrics/status only) from these folders, e.g. the "
                        "<root>/threephase folders written by scripts/threephase_experiments.py")
    p.add_argument("--pattern", nargs="+",
                   default=["*3pt-reference-L12-decay-*-s0", "*3pt-reference-L4-decay-*-s0", "*3pt-reference-s0",
                            "*baseline-paper-s0", "*baseline-matched-s0"],
                   help="run-folder globs to copy with --copy-from")
    p.add_argument("--keep-tokens", action="store_true", help="leave tokens.npz and tokenizer.json as they are")
    args = p.parse_args()
    torch.set_num_threads(1)
    if not args.keep_tokens:
        data = default_token_data(vocab_size=preset_model("shipped").vocab_size)
        save_token_data(data, OUT)
    else:
        data = shipped_token_data()
    runs = OUT / "runs"
    if runs.exists():
        shutil.rmtree(runs)
    runs.mkdir(parents=True)
    if args.copy_from:
        for pat in args.pattern:
            for src in sorted(s for folder in args.copy_from for s in Path(folder).glob(pat)):
                if (src / "metrics.jsonl").is_file():
                    dst = runs / src.name
                    dst.mkdir()
                    for f in KEEP:
                        if (src / f).is_file():
                            shutil.copy2(src / f, dst / f)
                    print("copied", src.name)
    else:
        tc = preset_train("shipped", **({"steps": args.steps} if args.steps else {}))
        for name, cfg in shipped_variants().items():
            res = train_model(cfg, tc, data, name=name, root=runs.parent / "_tmp", keep_weights=False,
                              extra_config={"variant": name})
            src = Path(res.run_path)
            shutil.move(str(src), runs / src.name)
            print(name, f"val_ppl {res.final['val_ppl']:.2f}")
        shutil.rmtree(runs.parent / "_tmp", ignore_errors=True)
    total = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
    print(f"data/threephase: {total / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
