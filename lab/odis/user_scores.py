"""Bring your own scores: a table of per-document ratings through the same ODiS pipeline.

A CSV or parquet file with a ``doc_id`` column and one numeric column per criterion, for
example the ratings an LLM gave each document on the paper's eleven criteria. Higher is read as
better for every column not named like a built-in dimension. Read safely: no pickle, size and
shape checked before the table is used, every problem named by column.

Documents whose ids are in a base corpus (the shipped one) keep its text previews, token counts,
embeddings and maps; the others are shown by id, and the document map falls back to a PCA of the
scores.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from lab.odis.artifacts import OdisData
from lab.odis.user_corpus import pca_2d

__all__ = ["read_scores", "scores_data", "ID_COLUMNS", "MAX_SCORE_COLUMNS", "MIN_SCORE_ROWS"]

ID_COLUMNS = ("doc_id", "id")  # the first one present names the documents
MAX_SCORE_COLUMNS = 64
MIN_SCORE_ROWS = 8
MAX_SCORE_BYTES = 256 * 1024 * 1024
_IGNORED = ("n_chars", "n_tokens")


def read_scores(source: str | Path | bytes, *, filename: str | None = None,
                max_bytes: int = MAX_SCORE_BYTES) -> pd.DataFrame:
    """A validated scores table: ``doc_id`` (str, unique) then one float64 column per criterion.

    ``source`` is a path, or the bytes of an upload with its ``filename`` (whose suffix,
    ``.csv`` or ``.parquet``, says how to read it).
    """
    if isinstance(source, (bytes, bytearray)):
        name = filename or ""
        size = len(source)
    elif isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise ValueError(f"source: no file at {str(path)!r}")
        name, size = path.name, path.stat().st_size
    else:
        raise TypeError(f"source: expected a path or the bytes of a file, got {type(source).__name__}")
    suffix = Path(name).suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise ValueError(f"filename: expected a .csv or .parquet file, got {name!r}")
    if size == 0:
        raise ValueError(f"source: the file {name!r} is empty")
    if size > max_bytes:
        raise ValueError(f"source: the file {name!r} has {size:,} bytes; at most {max_bytes:,} are read")
    raw = io.BytesIO(bytes(source)) if isinstance(source, (bytes, bytearray)) else Path(source)
    try:
        table = pd.read_parquet(raw) if suffix == ".parquet" else pd.read_csv(raw)
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise ValueError(f"source: {name!r} could not be read as {suffix[1:]}: {exc}") from None
    return _validated(table, name)


def _validated(table: pd.DataFrame, name: str) -> pd.DataFrame:
    id_col = next((c for c in ID_COLUMNS if c in table.columns), None)
    if id_col is None:
        raise ValueError(f"source: {name!r} has no document id column; expected one named 'doc_id' "
                         f"(columns: {list(table.columns)[:10]})")
    ids = table[id_col].astype(str)
    if ids.duplicated().any():
        dup = ids[ids.duplicated()].iloc[0]
        raise ValueError(f"{id_col}: document ids must be unique; {dup!r} appears more than once")
    criteria = [c for c in table.columns if c != id_col and c not in _IGNORED]
    non_numeric = [c for c in criteria if not pd.api.types.is_numeric_dtype(table[c])]
    if non_numeric:
        raise ValueError(f"source: expected numeric score columns; not numbers: {non_numeric[:5]}")
    if len(criteria) < 2:
        raise ValueError(f"source: expected at least two score columns besides {id_col!r}, got {criteria}")
    if len(criteria) > MAX_SCORE_COLUMNS:
        raise ValueError(f"source: expected at most {MAX_SCORE_COLUMNS} score columns, got {len(criteria)}")
    if len(table) < MIN_SCORE_ROWS:
        raise ValueError(f"source: expected at least {MIN_SCORE_ROWS} documents, got {len(table)}")
    scores = table[criteria].astype(np.float64)
    bad = [c for c in criteria if not np.all(np.isfinite(scores[c].to_numpy()))]
    if bad:
        c = bad[0]
        raise ValueError(f"{c}: {int((~np.isfinite(scores[c].to_numpy())).sum())} missing or infinite values; "
                         "every document needs a finite score on every criterion")
    flat = [c for c in criteria if scores[c].std() == 0]
    if flat:
        raise ValueError(f"{flat[0]}: the same value for every document; a constant criterion cannot be ranked")
    out = scores.copy()
    out.insert(0, "doc_id", ids.to_numpy())
    out.columns = ["doc_id", *[str(c) for c in criteria]]
    return out.reset_index(drop=True)


def scores_data(table: pd.DataFrame, base: OdisData | None = None) -> OdisData:
    """OdisData over a :func:`read_scores` table; documents known to ``base`` keep their text and maps."""
    ids = table["doc_id"].astype(str).to_numpy()
    scores = table.drop(columns=["doc_id"]).reset_index(drop=True)
    n = len(ids)
    docs = pd.DataFrame({"doc_id": ids, "source": "uploaded scores", "preview": [f"({i}: scores only)" for i in ids],
                         "n_chars": np.zeros(n, dtype=np.int64), "n_tokens": np.ones(n, dtype=np.int64)})
    embeddings, maps = None, {}
    if base is not None:
        where = pd.Series(np.arange(base.n), index=base.docs["doc_id"].astype(str))
        known = np.isin(ids, where.index)
        rows = where.reindex(ids[known]).to_numpy()
        for col in ("source", "preview", "n_chars", "n_tokens"):
            if col in base.docs.columns:
                docs.loc[known, col] = base.docs[col].to_numpy()[rows]
        if known.all():  # every document is the base's: its embeddings and maps apply
            embeddings = None if base.embeddings is None else base.embeddings[rows]
            maps = {k: np.asarray(v)[rows] for k, v in base.maps.items()}
    if "pca" not in maps:  # a document map when no embeddings are known: PCA of the scores
        maps["pca"] = pca_2d(scores.to_numpy())
    return OdisData(docs, scores, embeddings, maps)
