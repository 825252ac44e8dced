"""Where the project's own artifacts live (shipped checkpoints, cached scores, runs)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["data_dir", "runs_dir", "study_dir", "STUDIES"]

# The four studies, by the name of their package under lab/ and their folder under data/.
STUDIES = ("householder", "alignment", "threephase", "odis")

_REPO_DATA = Path(__file__).resolve().parent.parent / "data"


def data_dir() -> Path:
    """The data/ folder with shipped artifacts; ``ORTHOLAB_DATA`` overrides it."""
    return Path(os.environ.get("ORTHOLAB_DATA") or _REPO_DATA)


def runs_dir() -> Path:
    """Where new runs are written; ``ORTHOLAB_RUNS`` overrides (default: data/runs)."""
    return Path(os.environ.get("ORTHOLAB_RUNS") or (data_dir() / "runs"))


def study_dir(study: str) -> Path:
    """A study's shipped artifacts: ``data/<study>/`` (follows ``ORTHOLAB_DATA``)."""
    if study not in STUDIES:
        raise ValueError(f"study: expected one of {list(STUDIES)}, got {study!r}")
    return data_dir() / study
