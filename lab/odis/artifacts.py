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

__all__ = ["OdisData", "load_default", "load_json_artifact"]

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
