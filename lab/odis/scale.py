"""Scoring and embedding a corpus partitioned as parquet shards, on a Dask cluster.

Every dimension scores each document on its own (:mod:`lab.odis.scorers`), and embeddings
are per document too, so the shard-by-shard result equals the in-memory result row for row.
By default a small in-process ``LocalCluster`` runs the shards; give ``scheduler`` (an
address such as ``tcp://host:8786``) to use any running cluster.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from lab.checks import check_int

__all__ = ["write_shards", "score_shards", "score_frame"]


def write_shards(corpus: pd.DataFrame, folder: str | os.PathLike, *, n_shards: int = 4) -> list[Path]:
    """Write ``corpus`` (doc_id, text, ...) as ``n_shards`` parquet files part-00000.parquet, ..."""
    if not isinstance(corpus, pd.DataFrame) or "text" not in corpus.columns:
        raise ValueError("corpus: expected a DataFrame with a 'text' column")
    if len(corpus) == 0:
        raise ValueError("corpus: expected at least one document, got an empty corpus")
    n_shards = check_int("n_shards", n_shards, lo=1, hi=len(corpus))
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    bounds = np.linspace(0, len(corpus), n_shards + 1).astype(int)
    paths = []
    for i in range(n_shards):
        p = folder / f"part-{i:05d}.parquet"
        corpus.iloc[bounds[i] : bounds[i + 1]].reset_index(drop=True).to_parquet(p, index=False)
        paths.append(p)
    return paths


def score_frame(part: pd.DataFrame, *, dimensions: Sequence[str] | None = None,
                embed_fn: Callable[[list[str]], np.ndarray] | None = None, text_column: str = "text") -> pd.DataFrame:
    """Scores (and embedding columns ``emb_0..``) of one partition; keeps its other columns."""
    from lab.odis.scorers import score_dimensions

    texts = [str(t) for t in part[text_column].tolist()]
    keep = part.drop(columns=[text_column]).reset_index(drop=True)
    if not texts:  # Dask probes partitions with an empty frame to learn the schema
        scores = pd.DataFrame({d: pd.Series([], dtype="float64") for d in (dimensions or _dims())})
    else:
        scores = score_dimensions(texts, dimensions=dimensions, workers=1)  # Dask runs the partitions in parallel
    out = pd.concat([keep, scores], axis=1)
    if embed_fn is not None:
        if texts:
            emb = np.asarray(embed_fn(texts), dtype=np.float32)
        else:
            emb = np.zeros((0, _embed_dim(embed_fn)), np.float32)
        out = pd.concat([out, pd.DataFrame(emb, columns=[f"emb_{j}" for j in range(emb.shape[1])])], axis=1)
    return out


def _dims() -> list[str]:
    from lab.odis.scorers import DIMENSIONS

    return list(DIMENSIONS)


def _embed_dim(embed_fn) -> int:
    return int(np.asarray(embed_fn(["probe"])).shape[1])


def score_shards(path: str | os.PathLike | Sequence[str | os.PathLike], *, text_column: str = "text",
                 dimensions: Sequence[str] | None = None, embed_fn: Callable[[list[str]], np.ndarray] | None = None,
                 scheduler: str | None = None, n_workers: int = 1, threads_per_worker: int = 2,
                 processes: bool = False) -> pd.DataFrame:
    """Score (and optionally embed) every parquet shard under ``path`` on Dask.

    ``path``: a folder of ``*.parquet`` files, one file, or a list of files. Returns one
    DataFrame in shard order (files sorted by name), rows in file order, index 0..n-1, with
    the shards' non-text columns, one column per dimension and ``emb_*`` columns when
    ``embed_fn`` is given.
    """
    try:
        import dask.dataframe as dd
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:
        raise ImportError("the Dask path needs the 'scale' extra: pip install 'ortholab[scale]'") from exc
    if isinstance(path, (str, os.PathLike)):
        p = Path(path)
        files = sorted(p.glob("*.parquet")) if p.is_dir() else [p]
    else:
        files = [Path(f) for f in path]
    files = [f for f in files if f.is_file()]
    if not files:
        raise ValueError(f"path: no parquet shards found at {path!r}")
    ddf = dd.read_parquet([str(f) for f in files])
    if text_column not in ddf.columns:
        raise ValueError(f"text_column: {text_column!r} is not a column of the shards; columns are {list(ddf.columns)}")
    meta = score_frame(ddf._meta, dimensions=dimensions, embed_fn=embed_fn, text_column=text_column)
    job = ddf.map_partitions(score_frame, dimensions=dimensions, embed_fn=embed_fn, text_column=text_column, meta=meta)
    if scheduler is not None:
        with Client(scheduler) as client:
            result = client.compute(job).result()
    else:
        with LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker, processes=processes,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            result = client.compute(job).result()
    return result.reset_index(drop=True)
