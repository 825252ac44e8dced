"""The study's experiments as plain functions: variant sweeps, summaries, drift profiles, saved runs.

Everything returns DataFrames / arrays so a script, a notebook or the page can show it.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, replace
from pathlib import Path
from typing import Callable, Iterable, Mapping

import numpy as np
import pandas as pd

from lab.paths import data_dir, runs_dir
from lab.runs import Run
from lab.threephase import ModelConfig, count_parameters
from lab.threephase_data import TokenData
from lab.threephase_trainer import STUDY, TrainConfig, Trainer, TrainResult, train_model

__all__ = ["train_side_by_side", "SCALED_5_5M", "variant_configs", "run_sweep", "summarize", "drift_profile", "load_run", "list_study_runs",
           "shipped_runs_dir"]

# The paper's 5.5M shape (d_model 192, 4 layers, d_ff 512, context 128) scaled to what a shared
# 2-core CPU trains in about a minute: half the width, half the context, a 4,096-word vocabulary,
# and 12 query / 12 KV heads so that every N in {1, 2, 3, 4, 6} can be phase-aligned
# (the paper's 6 Q / 3 KV heads only admit N in {1, 3}).
SCALED_5_5M = dict(vocab_size=4096, d_model=96, n_layers=4, n_heads=12, n_kv_heads=12, d_ff=256, max_seq_len=64)


def variant_configs(base: Mapping, n_values: Iterable[int] = (1, 2, 3, 4, 6), *, baseline: bool = True) -> dict[str, ModelConfig]:
    """'baseline' plus '3pt-N<n>' model configs over ``base`` (a dict of ModelConfig fields)."""
    out: dict[str, ModelConfig] = {}
    if baseline:
        out["baseline"] = ModelConfig(**{**base, "n_phases": 1}, three_phase=False)
    for n in n_values:
        out[f"3pt-N{n}"] = ModelConfig(**{**base, "n_phases": int(n)}, three_phase=True).validate()
    return out


def run_sweep(variants: Mapping[str, ModelConfig], seeds: Iterable[int], train_config: TrainConfig, data: TokenData, *,
              root: str | os.PathLike | None = None, keep_weights: bool = False,
              progress: Callable[..., None] | None = None, should_stop: Callable[[], bool] | None = None,
              on_result: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """Train every (variant, seed); one row per run with its final validation metrics and drift."""
    seeds = list(seeds)
    jobs = [(name, cfg, s) for s in seeds for name, cfg in variants.items()]
    rows = []
    for j, (name, cfg, seed) in enumerate(jobs):
        if should_stop is not None and should_stop():
            break

        def sub(fraction, message="", **partial):
            if progress:
                progress((j + fraction) / len(jobs), f"{name} seed {seed}: {message}")

        res = train_model(replace(cfg, vocab_size=max(cfg.vocab_size, data.vocab_size)), replace(train_config, seed=seed),
                          data, name=f"{name}-s{seed}", root=root, keep_weights=keep_weights, progress=sub,
                          should_stop=should_stop, extra_config={"variant": name})
        f = res.final
        row = {"variant": name, "seed": seed, "n_layers": cfg.n_layers, "n_phases": cfg.n_phases if cfg.three_phase else 0,
               "params": count_parameters(res.model), "steps": f["step"], "val_loss": f["val_loss"],
               "val_ppl": f["val_ppl"], "val_bpb": f["val_bpb"], "train_loss": f["train_loss"],
               "elapsed_s": f["elapsed_s"], "drift_l2": f["drift_l2"], "run_path": res.run_path}
        rows.append(row)
        if on_result:
            on_result(row)
    return pd.DataFrame(rows)


def summarize(results: pd.DataFrame, metric: str = "val_ppl") -> pd.DataFrame:
    """Mean, std (ddof=1), min, max and count of ``metric`` per variant, in first-seen order."""
    if metric not in results.columns:
        raise ValueError(f"metric: {metric!r} is not a column; columns are {list(results.columns)}")
    order = list(dict.fromkeys(results["variant"]))
    g = results.groupby("variant", sort=False)[metric]
    out = pd.DataFrame({"mean": g.mean(), "std": g.std(ddof=1), "min": g.min(), "max": g.max(), "n": g.count()})
    return out.loc[order].reset_index()


def drift_profile(history: pd.DataFrame, key: str = "drift_l2") -> tuple[np.ndarray, np.ndarray]:
    """Steps (k,) and the per-block profile over training time (k, n_layers) from a run's history."""
    if key not in history.columns:
        raise ValueError(f"key: {key!r} is not logged in this history; columns are {list(history.columns)}")
    rows = [(int(s), v) for s, v in zip(history["step"], history[key]) if isinstance(v, (list, tuple, np.ndarray)) and len(v)]
    if not rows:
        return np.zeros(0, dtype=int), np.zeros((0, 0))
    return np.array([s for s, _ in rows]), np.array([np.asarray(v, dtype=float) for _, v in rows])


def shipped_runs_dir() -> Path:
    return data_dir() / "threephase" / "runs"


def load_run(path: str | os.PathLike) -> dict:
    """A run's config, status and metrics history (DataFrame) from its directory."""
    run = Run.open(path)
    return {"path": str(run.path), "id": run.id, "config": run.config, "status": run.status, "history": run.metrics()}


def list_study_runs(roots: Iterable[str | os.PathLike] | None = None) -> pd.DataFrame:
    """3PT runs under the shipped folder and the user's runs folder: id, variant, layers, N, steps, path."""
    if roots is None:
        roots = [shipped_runs_dir(), runs_dir() / STUDY]
    rows = []
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            continue
        for d in sorted(root.iterdir()):
            if not (d / "config.json").is_file():
                continue
            cfg = json.loads((d / "config.json").read_text())
            m = cfg.get("model", {})
            status = Run(d).status
            rows.append({"id": d.name, "variant": cfg.get("variant") or ("3pt" if m.get("three_phase") else "baseline"),
                         "n_layers": m.get("n_layers"), "n_phases": m.get("n_phases") if m.get("three_phase") else 0,
                         "state": status.get("state"), "step": status.get("step"), "path": str(d),
                         "source": "shipped" if root == shipped_runs_dir() else str(root)})
    return pd.DataFrame(rows, columns=["id", "variant", "n_layers", "n_phases", "state", "step", "path", "source"])


def train_side_by_side(configs: Mapping[str, ModelConfig], train_config: TrainConfig, data: TokenData, *,
                       save: bool = True, root: str | os.PathLike | None = None,
                       progress: Callable[..., None] | None = None,
                       should_stop: Callable[[], bool] | None = None) -> dict[str, TrainResult]:
    """Train several models in lock-step (one step each in turn) on the same batches.

    ``progress`` receives, at every step, ``step``, ``curves`` ({name: {"step": [...], "loss":
    [...]}}, per-step training losses so far) and ``history`` ({name: [evaluation rows so far]}),
    cumulative so that a view polling only the latest partial still draws the whole curves.
    Runs are written metrics-only (no weights) unless ``save`` is False.
    """
    if not configs:
        raise ValueError("configs: expected at least one named ModelConfig, got none")
    trainers = {name: Trainer(cfg, train_config, data, name=name, root=root, save=save, keep_weights=False,
                              extra_config={"variant": name}).setup() for name, cfg in configs.items()}
    steps = train_config.steps
    curves: dict[str, dict[str, list]] = {name: {"step": [], "loss": []} for name in trainers}
    for t in trainers.values():
        t.evaluate()

    def snapshot() -> dict:
        # cumulative copies: a view may see only the latest partial, so each one carries everything
        return {"curves": {n: {"step": list(c["step"]), "loss": list(c["loss"])} for n, c in curves.items()},
                "history": {n: list(t.history) for n, t in trainers.items()}}

    if progress:
        progress(0.0, "step 0", step=0, **snapshot())
    stopped = False
    for step in range(1, steps + 1):
        if should_stop is not None and should_stop():
            stopped = True
            break
        for name, t in trainers.items():
            loss = t.train_step()
            curves[name]["step"].append(step)
            curves[name]["loss"].append(loss)
            if step % train_config.eval_every == 0 or step == steps:
                t.evaluate()
        if progress:
            msg = "  ".join(f"{n} {c['loss'][-1]:.3f}" for n, c in curves.items())
            progress(step / steps, f"step {step}/{steps}  {msg}", step=step, **snapshot())
    out = {}
    for name, t in trainers.items():
        if t.history and t.history[-1]["step"] != t.step:
            t.evaluate()
        if t.run_handle is not None:
            t.run_handle.set_status("stopped" if stopped else "finished", step=t.step)
        out[name] = TrainResult(t.model, pd.DataFrame(t.history), t.history[-1], str(t.run_handle.path) if t.run_handle else None, stopped)
    return out
