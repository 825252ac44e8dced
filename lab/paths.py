"""Where the project's own artifacts live (shipped checkpoints, cached scores, runs)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["data_dir", "runs_dir"]

_REPO_DATA = Path(__file__).resolve().parent.parent / "data"


def data_dir() -> Path:
    """The data/ folder with shipped artifacts; ``ORTHOLAB_DATA`` overrides it."""
    return Path(os.environ.get("ORTHOLAB_DATA") or _REPO_DATA)


def runs_dir() -> Path:
    """Where new runs are written; ``ORTHOLAB_RUNS`` overrides (default: data/runs)."""
    return Path(os.environ.get("ORTHOLAB_RUNS") or (data_dir() / "runs"))
