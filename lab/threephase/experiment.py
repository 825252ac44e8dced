"""The 3PT study's experiments as plain functions, and its one table of presets.

Variant sweeps, summaries, drift profiles, saved runs and the side-by-side run of the page:
everything returns DataFrames / arrays so a script, a notebook or the page can show it. Every
setting an experiment uses by default is a named entry of :data:`PRESETS`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import pandas as pd

from lab.checks import check_int
from lab.paths import runs_dir, study_dir
from lab.progress import Progress, ShouldStop, resolve
from lab.runs import Run, list_runs
from lab.threephase.data import TokenData
from lab.threephase.model import ModelConfig, count_parameters, horn_values, theta_init
from lab.threephase.training import STUDY, TrainConfig, Trainer, TrainResult, train_model

__all__ = ["Preset", "PRESETS", "VARIANTS", "variant_model", "preset_model", "preset_train", "side_by_side_configs",
           "train_side_by_side", "variant_configs", "run_sweep", "summarize", "drift_profile", "angle_change_fit",
           "run_frame", "load_run", "list_study_runs", "shipped_runs_dir"]


@dataclass(frozen=True)
class Preset:
    """A named setting: the model's shape and how it is trained."""

    model: Mapping[str, Any]  # ModelConfig fields; vocab_size is replaced by the data's where data decide it
    train: Mapping[str, Any] = field(default_factory=dict)  # TrainConfig fields beyond its defaults
    note: str = ""


# The paper's 5.5M shape (d_model 192, 4 layers, d_ff 512, context 128) scaled to what a shared
# 2-core CPU trains in about a minute: half the width, half the context, a 4,096-word vocabulary,
# and 12 query / 12 KV heads so that every N in {1, 2, 3, 4, 6} can be phase-aligned
# (the paper's 6 Q / 3 KV heads only admit N in {1, 3}).
_CPU_5_5M = dict(vocab_size=4096, d_model=96, n_layers=4, n_heads=12, n_kv_heads=12, d_ff=256, max_seq_len=64)
_CPU_TRAIN = dict(batch_size=16, lr=1e-3, warmup=20, eval_every=25, eval_windows=64, device="cpu")

PRESETS: dict[str, Preset] = {
    "5.5M": Preset(
        dict(vocab_size=10_000, d_model=192, n_layers=4, n_heads=6, n_kv_heads=3, d_ff=512, max_seq_len=128,
             n_phases=3),
        note="the paper's small model"),
    "123M": Preset(
        dict(vocab_size=32_000, d_model=768, n_layers=12, n_heads=12, n_kv_heads=3, d_ff=2048, max_seq_len=1024,
             n_phases=3),
        note="the paper's 123M model (a GPU job)"),
    "tiny": Preset(
        dict(vocab_size=512, d_model=48, n_layers=4, n_heads=6, n_kv_heads=3, d_ff=128, max_seq_len=64, n_phases=3),
        note="for tests"),
    "cpu-5.5M": Preset(
        {**_CPU_5_5M, "n_phases": 3}, {**_CPU_TRAIN, "steps": 200},
        note="the 5.5M shape scaled to a 2-core CPU; the N sweep and the ablations "
             "(scripts/threephase_experiments.py)"),
    "cpu-drift": Preset(
        {**_CPU_5_5M, "n_heads": 6, "n_kv_heads": 3, "n_phases": 3}, {**_CPU_TRAIN, "steps": 300},
        note="the drift-profile runs at the paper's 6 Q / 3 KV head ratio, at 12 and 4 layers"),
    "shipped": Preset(
        {**_CPU_5_5M, "n_heads": 6, "n_kv_heads": 3, "n_phases": 3}, {**_CPU_TRAIN, "steps": 300},
        note="the runs shipped in data/threephase/runs (scripts/make_threephase_data.py)"),
    "page": Preset(
        dict(vocab_size=4096, d_model=96, n_layers=4, n_heads=6, n_kv_heads=3, d_ff=256, max_seq_len=64, n_phases=3),
        dict(steps=150, batch_size=8, lr=3e-3, eval_every=10, eval_windows=16),
        note="the page's live side-by-side run (seconds on a CPU)"),
}


# Model variants trained side by side, named for what they are; each is a set of ModelConfig
# switches over a preset's shape. The defaults are the reference implementation's.
VARIANTS: dict[str, dict[str, Any]] = {
    # The reference 3PT: PyTorch's default init, no sqrt(d_model) scale, the horn on.
    "3pt-reference": dict(three_phase=True),
    # The paper's RoPE-only baseline ("Exp. 11 (A)"): nn.Embedding N(0, 1) times sqrt(d_model).
    "baseline-paper": dict(three_phase=False),
    # A matched baseline: 3PT's own embedding (no scale), without the horn or the other operations.
    "baseline-matched": dict(three_phase=False, embed_scale=False),
    # The study's earlier setting, kept to show what the init decides: N(0, 0.02) everywhere.
    "3pt-small-init": dict(three_phase=True, init="small"),
    "baseline-small-init": dict(three_phase=False, init="small"),
}


def variant_model(preset: str, variant: str, **overrides: Any) -> ModelConfig:
    """The preset's shape with the variant's switches (:data:`VARIANTS`) and ``overrides``."""
    if variant not in VARIANTS:
        raise ValueError(f"variant: expected one of {sorted(VARIANTS)}, got {variant!r}")
    return preset_model(preset, **{**VARIANTS[variant], **overrides})


def _preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ValueError(f"preset: expected one of {sorted(PRESETS)}, got {name!r}")
    return PRESETS[name]


def preset_model(name: str, **overrides: Any) -> ModelConfig:
    """The preset's ModelConfig, with ``overrides`` (any ModelConfig field) applied and validated."""
    return ModelConfig(**{**_preset(name).model, **overrides}).validate()


def preset_train(name: str, **overrides: Any) -> TrainConfig:
    """The preset's TrainConfig; warmup defaults to a tenth of the steps when the preset names none."""
    fields = {**_preset(name).train, **overrides}
    if "warmup" not in fields and "steps" in fields:
        fields["warmup"] = max(1, int(fields["steps"]) // 10)
    return TrainConfig(**fields).validate()


def side_by_side_configs(preset: str = "page", *, baseline: str = "baseline-paper", tpt: str = "3pt-reference",
                         **overrides: Any) -> dict[str, ModelConfig]:
    """A baseline and a 3PT variant (:data:`VARIANTS`) on the same shape: ``{"baseline": ..., "3pt": ...}``.

    By default the reference 3PT against the paper's baseline, as the published numbers compare.
    """
    return {"baseline": variant_model(preset, baseline, **overrides), "3pt": variant_model(preset, tpt, **overrides)}


def variant_configs(base: Mapping, n_values: Iterable[int] = (1, 2, 3, 4, 6), *,
                    baseline: bool = True) -> dict[str, ModelConfig]:
    """'baseline' plus '3pt-N<n>' model configs over ``base`` (a dict of ModelConfig fields)."""
    out: dict[str, ModelConfig] = {}
    if baseline:
        out["baseline"] = ModelConfig(**{**base, "n_phases": 1}, three_phase=False)
    for n in n_values:
        out[f"3pt-N{n}"] = ModelConfig(**{**base, "n_phases": int(n)}, three_phase=True).validate()
    return out


def run_sweep(variants: Mapping[str, ModelConfig], seeds: Iterable[int], train_config: TrainConfig, data: TokenData, *,
              root: str | os.PathLike | None = None, keep_weights: bool = False,
              progress: Progress | None = None, should_stop: ShouldStop | None = None,
              on_result: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """Train every (variant, seed); one row per run with its final validation metrics and drift.

    Each finished run is one progress event with its ``row``.
    """
    progress, should_stop = resolve(progress, should_stop)
    seeds = list(seeds)
    jobs = [(name, cfg, s) for s in seeds for name, cfg in variants.items()]
    rows = []
    for j, (name, cfg, seed) in enumerate(jobs):
        if should_stop():
            break

        def sub(fraction, message="", **_partial):
            progress((j + fraction) / len(jobs), f"{name} seed {seed}: {message}")

        res = train_model(replace(cfg, vocab_size=max(cfg.vocab_size, data.vocab_size)),
                          replace(train_config, seed=seed), data, name=f"{name}-s{seed}", root=root,
                          keep_weights=keep_weights, progress=sub, should_stop=should_stop,
                          extra_config={"variant": name})
        f = res.final
        row = {"variant": name, "seed": seed, "n_layers": cfg.n_layers,
               "n_phases": cfg.n_phases if cfg.three_phase else 0, "params": count_parameters(res.model),
               "steps": f["step"], "val_loss": f["val_loss"], "val_ppl": f["val_ppl"], "val_bpb": f["val_bpb"],
               "train_loss": f["train_loss"],
               "elapsed_s": f["elapsed_s"], "drift_l2": f["drift_l2"], "run_path": res.run_path}
        rows.append(row)
        progress((j + 1) / len(jobs), f"{name} seed {seed}: done", row=row)
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
    rows = [(int(s), v) for s, v in zip(history["step"], history[key])
            if isinstance(v, (list, tuple, np.ndarray)) and len(v)]
    if not rows:
        return np.zeros(0, dtype=int), np.zeros((0, 0))
    return np.array([s for s, _ in rows]), np.array([np.asarray(v, dtype=float) for _, v in rows])


def angle_change_fit(history: pd.DataFrame, k: int = -1) -> dict[str, Any]:
    """Each block's mean-angle change at evaluation ``k`` against its initial angle, and the line through them.

    Note [decay and the U]: with AdamW's decoupled decay on theta, every step pulls each angle
    toward 0 in proportion to its size, so with a push from the loss that is about the same in
    every block the change after training is about a - b * theta_init: positive in the early
    blocks (small theta_init), negative in the late ones, and its size U-shaped over depth.
    Returns ``theta_init`` and ``change`` (n_layers,), the least-squares ``a``, ``b`` and
    ``r2`` of change = a - b * theta_init, and the evaluation's ``step``.
    """
    steps, angles = drift_profile(history, "mean_angle")
    _, inits = drift_profile(history, "init_angle")
    if not len(steps):
        raise ValueError("history: no angles were logged (a baseline run, or no evaluation yet)")
    k = check_int("k", k, lo=-len(steps), hi=len(steps) - 1)
    theta0, change = inits[k], angles[k] - inits[k]
    if theta0.size < 2:
        raise ValueError("history: a line through the blocks needs at least 2 blocks")
    design = np.stack([np.ones_like(theta0), -theta0], axis=1)  # change = a * 1 + b * (-theta0)
    (a, b), *_ = np.linalg.lstsq(design, change, rcond=None)
    resid = change - design @ np.array([a, b])
    total = float(((change - change.mean()) ** 2).sum())
    r2 = 1.0 - float((resid ** 2).sum()) / total if total > 0 else float("nan")
    return {"step": int(steps[k]), "theta_init": theta0, "change": change, "a": float(a), "b": float(b), "r2": r2}


def run_frame(history: pd.DataFrame, k: int) -> dict[str, Any]:
    """What evaluation ``k`` of a run's history shows: its step, angles and horn witness.

    Returns ``step``; ``thetas`` (n_layers, n_angles) or None when no angles were logged, with
    ``theta_init`` (n_layers,), each block's initial angle; ``horn_mean`` (T,) and
    ``horn_phase_means`` (N, T) or None, with ``horn`` (T,) = 1/(p+1).
    """
    if len(history) == 0:
        raise ValueError("history: the run has no logged evaluations yet")
    k = min(max(0, int(k)), len(history) - 1)
    row = history.iloc[k]
    out: dict[str, Any] = {"step": int(row["step"]), "thetas": None, "theta_init": [], "horn_mean": None,
                           "horn_phase_means": None, "horn": None}
    theta = row.get("theta") if "theta" in history.columns else None
    if isinstance(theta, list) and theta:
        thetas = np.asarray(theta, dtype=float)  # (n_layers, d_phase / 2)
        n_layers = thetas.shape[0]
        out["thetas"] = thetas
        out["theta_init"] = [float(theta_init(b, n_layers, 1)[0]) for b in range(n_layers)]
    if "horn_mean" in history.columns and isinstance(row["horn_mean"], list):
        mean = np.asarray(row["horn_mean"], dtype=float)  # (T,)
        out["horn_mean"] = mean
        out["horn_phase_means"] = np.asarray(row.get("horn_phase_means"), dtype=float)  # (N, T)
        out["horn"] = horn_values(mean.size).numpy()
    return out


def shipped_runs_dir() -> Path:
    """The metrics-only runs shipped with the page: data/threephase/runs/."""
    return study_dir(STUDY) / "runs"


def load_run(path: str | os.PathLike) -> dict:
    """A run's config, status and metrics history (DataFrame) from its directory."""
    run = Run.open(path)
    return {"path": str(run.path), "id": run.id, "config": run.config, "status": run.status, "history": run.metrics()}


RUN_COLUMNS = ["id", "variant", "n_layers", "n_phases", "state", "step", "path", "source"]


def list_study_runs(roots: Iterable[str | os.PathLike] | None = None) -> pd.DataFrame:
    """3PT runs under the shipped folder and the user's runs folder: id, variant, layers, N, steps, path.

    ``roots`` are folders holding run directories directly (default: the shipped runs and
    ``<runs>/threephase``); the listing itself is :func:`lab.runs.list_runs`'.
    """
    if roots is None:
        roots = [shipped_runs_dir(), runs_dir() / STUDY]
    rows = []
    for root in map(Path, roots):
        if not root.is_dir():
            continue
        for r in list_runs(root.parent, root.name).sort_values("id").itertuples():
            run = Run(r.path)  # the listing gives id, path and state; the shape and step are the run's own
            cfg = run.config
            m = cfg.get("model", {})
            rows.append({"id": r.id, "variant": cfg.get("variant") or ("3pt" if m.get("three_phase") else "baseline"),
                         "n_layers": m.get("n_layers"), "n_phases": m.get("n_phases") if m.get("three_phase") else 0,
                         "state": r.state, "step": run.status.get("step"), "path": r.path,
                         "source": "shipped" if root == shipped_runs_dir() else str(root)})
    return pd.DataFrame(rows, columns=RUN_COLUMNS)


def train_side_by_side(configs: Mapping[str, ModelConfig], train_config: TrainConfig, data: TokenData, *,
                       save: bool = True, root: str | os.PathLike | None = None,
                       progress: Progress | None = None,
                       should_stop: ShouldStop | None = None) -> dict[str, TrainResult]:
    """Train several models in lock-step (one step each in turn) on the same batches.

    ``progress`` gets one event per step with what is new: ``step``, ``losses`` ({name: this
    step's training loss}) and, at evaluations, ``evals`` ({name: the evaluation row}); the
    first event (step 0) carries the evaluations before training. Runs are written
    metrics-only (no weights) unless ``save`` is False.
    """
    if not configs:
        raise ValueError("configs: expected at least one named ModelConfig, got none")
    progress, should_stop = resolve(progress, should_stop)
    trainers = {name: Trainer(cfg, train_config, data, name=name, root=root, save=save, keep_weights=False,
                              extra_config={"variant": name}).setup() for name, cfg in configs.items()}
    steps = train_config.steps
    progress(0.0, "step 0", step=0, losses={}, evals={name: t.evaluate() for name, t in trainers.items()})
    stopped = False
    for step in range(1, steps + 1):
        if should_stop():
            stopped = True
            break
        losses, evals = {}, {}
        for name, t in trainers.items():
            losses[name] = t.train_step()
            if step % train_config.eval_every == 0 or step == steps:
                evals[name] = t.evaluate()
        msg = "  ".join(f"{n} {loss:.3f}" for n, loss in losses.items())
        progress(step / steps, f"step {step}/{steps}  {msg}", step=step, losses=losses, evals=evals)
    out = {}
    for name, t in trainers.items():
        if t.history and t.history[-1]["step"] != t.step:
            t.evaluate()
        if t.run_handle is not None:
            t.run_handle.set_status("stopped" if stopped else "finished", step=t.step)
        out[name] = TrainResult(t.model, pd.DataFrame(t.history), t.history[-1],
                                str(t.run_handle.path) if t.run_handle else None, stopped)
    return out
