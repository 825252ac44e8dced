"""The shipped artifacts of the default ODiS experiment (data/odis/), read-only and cached.

Produced by ``scripts/make_odis_data.py``; the formats are described in data/odis/README.md:

* ``corpus.parquet``   one row per document: doc_id, source, preview (first 400 characters),
                       n_chars, n_tokens, and one float64 column per raw dimension
* ``embeddings.npz``   ``minilm`` (n, 384) float16, rows in corpus order
* ``maps.npz``         ``umap`` and ``pca`` (n, 2) float32 document maps of the embeddings
* ``report.json``      the default experiment's numbers (see :func:`lab.odis.experiment.default_report`)
* ``downstream.json``  the downstream language-model check (see :mod:`lab.odis.training`)
* ``wordlist.json``    the English vocabulary behind ``real_word_share``
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lab.paths import study_dir

__all__ = ["OdisData", "load_default", "load_json_artifact", "load_rater_scores", "SCORE_SETS", "with_score_set"]

META_COLUMNS = ["doc_id", "source", "preview", "n_chars", "n_tokens"]


@dataclass(frozen=True)
class OdisData:
    """The scored default corpus. Treat the arrays as read-only (they are shared by sessions)."""

    docs: pd.DataFrame  # doc_id, source, preview, n_chars, n_tokens
    scores: pd.DataFrame  # (n, d) raw dimensions
    embeddings: np.ndarray | None  # (n, 384) float32, or None when not shipped
    maps: dict  # "umap" / "pca" -> (n, 2)

    @property
    def n(self) -> int:
        return len(self.docs)


@functools.lru_cache(maxsize=2)
def _load(folder: str) -> OdisData:
    root = Path(folder)
    table_path = root / "corpus.parquet"
    if not table_path.is_file():
        raise ValueError(f"data: {str(table_path)!r} is missing; build it with `python scripts/make_odis_data.py`")
    table = pd.read_parquet(table_path)
    docs = table[[c for c in META_COLUMNS if c in table.columns]].copy()
    scores = table.drop(columns=[c for c in META_COLUMNS if c in table.columns]).astype(np.float64)
    emb = None
    if (root / "embeddings.npz").is_file():
        with np.load(root / "embeddings.npz", allow_pickle=False) as z:
            emb = z["minilm"].astype(np.float32)
        emb.setflags(write=False)
    maps = {}
    if (root / "maps.npz").is_file():
        with np.load(root / "maps.npz", allow_pickle=False) as z:
            for k in z.files:
                arr = z[k].astype(np.float64)
                arr.setflags(write=False)
                maps[k] = arr
    return OdisData(docs, scores, emb, maps)


def load_default(folder: str | Path | None = None) -> OdisData:
    """The shipped, scored default corpus (cached per folder)."""
    return _load(str(Path(folder) if folder is not None else study_dir("odis")))


def load_json_artifact(name: str, folder: str | Path | None = None) -> dict | None:
    """A JSON artifact of data/odis (``report``, ``downstream``), or None when absent."""
    p = (Path(folder) if folder is not None else study_dir("odis")) / f"{name}.json"
    return json.loads(p.read_text()) if p.is_file() else None


@functools.lru_cache(maxsize=2)
def _rater_table(path: str) -> pd.DataFrame | None:
    p = Path(path)
    return pd.read_parquet(p) if p.is_file() else None


def load_rater_scores(folder: str | Path | None = None) -> pd.DataFrame | None:
    """The shipped rater-style scores (scripts/make_odis_raters.py), in the corpus' row order; None if absent."""
    root = Path(folder) if folder is not None else study_dir("odis")
    table = _rater_table(str(root / "rater_scores.parquet"))
    if table is None:
        return None
    base = load_default(root)
    if table["doc_id"].astype(str).tolist() != base.docs["doc_id"].astype(str).tolist():
        raise ValueError(f"data: {str(root / 'rater_scores.parquet')!r} does not match corpus.parquet's documents; "
                         "rebuild it with `python scripts/make_odis_raters.py`")
    return table.drop(columns=["doc_id"]).astype(np.float64)


# What the ODiS pipeline scores the shipped corpus with.
SCORE_SETS = ("text statistics", "rater-style (MiniLM rubric)", "both")


def with_score_set(data: OdisData, score_set: str, folder: str | Path | None = None) -> OdisData:
    """The shipped corpus scored by ``score_set`` (the text statistics, the rubric raters, or both side by side)."""
    if score_set not in SCORE_SETS:
        raise ValueError(f"score_set: expected one of {SCORE_SETS}, got {score_set!r}")
    if score_set == SCORE_SETS[0]:
        return data
    raters = load_rater_scores(folder)
    if raters is None:
        raise ValueError("score_set: no rater-style scores are shipped; build them with "
                         "`python scripts/make_odis_raters.py`")
    raters = raters.add_prefix("rater_")
    scores = raters if score_set == SCORE_SETS[1] else pd.concat([data.scores, raters], axis=1)
    return OdisData(data.docs, scores, data.embeddings, data.maps)
