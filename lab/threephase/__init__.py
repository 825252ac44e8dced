"""The Three-Phase Transformer study: 3PT against its RoPE-only baseline, and theta drift.

The public face: views, notebooks, scripts and benchmarks import from here only.

- model: :class:`ModelConfig`, :class:`Transformer`, :func:`phase_rotate`, :func:`theta_drift`
  and the other read-outs of the learned rotations;
- data: tokenizers and token streams of a text corpus;
- training: :class:`Trainer` (progress, stop, checkpoints, resume);
- experiment: sweeps, drift profiles, saved runs, the page's side-by-side run, and
  :data:`PRESETS`, the one table of named settings.
"""

from lab.threephase.data import (
    ByteTokenizer,
    TokenData,
    WordTokenizer,
    build_token_data,
    default_token_data,
    save_token_data,
    shipped_token_data,
    tokenizer_from_json,
)
from lab.threephase.experiment import (
    PRESETS,
    VARIANTS,
    Preset,
    angle_change_fit,
    drift_profile,
    list_study_runs,
    load_run,
    preset_model,
    preset_train,
    run_frame,
    run_sweep,
    shipped_runs_dir,
    side_by_side_configs,
    summarize,
    train_side_by_side,
    variant_configs,
    variant_model,
)
from lab.threephase.model import (
    INITS,
    ModelConfig,
    PhaseRMSNorm,
    RMSNorm,
    Transformer,
    count_parameters,
    horn_values,
    phase_means,
    phase_rotate,
    phasor,
    theta_drift,
    theta_init,
    theta_stats,
)
from lab.threephase.training import (
    DECAY_POLICIES,
    TrainConfig,
    Trainer,
    TrainingDiverged,
    TrainResult,
    lr_at,
    parameter_groups,
    train_language_model,
    train_model,
)

__all__ = [
    # model
    "ModelConfig", "INITS", "Transformer",
    "RMSNorm", "PhaseRMSNorm", "phase_rotate", "phasor", "theta_init", "horn_values",
    "theta_drift", "theta_stats", "phase_means", "count_parameters",
    # data
    "WordTokenizer", "ByteTokenizer", "TokenData", "build_token_data", "default_token_data", "save_token_data",
    "shipped_token_data", "tokenizer_from_json",
    # training
    "TrainConfig", "Trainer", "TrainResult", "TrainingDiverged", "lr_at", "train_model", "train_language_model",
    "parameter_groups", "DECAY_POLICIES",
    # experiment
    "PRESETS", "VARIANTS", "variant_model", "Preset",
    "preset_model", "preset_train", "side_by_side_configs", "train_side_by_side",
    "variant_configs", "run_sweep", "summarize", "drift_profile", "angle_change_fit", "run_frame", "load_run",
    "list_study_runs", "shipped_runs_dir",
]
