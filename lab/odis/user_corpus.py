"""Bring your own corpus: read documents safely, then score, embed and map them (the long part).

Formats: JSON lines (one object per line with a ``text`` field and optionally ``doc_id`` or
``id``), parquet (a ``text`` column, optionally ``doc_id``), a plain text file (documents
separated by blank lines), or a folder of ``.txt`` / ``.md`` files (one document per file).
Limits are checked while reading: the file size, the number of documents and the length of each
(longer documents are cut, and the result says how many). No pickle, nothing executed.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd

from lab.checks import check_int
from lab.odis.analysis import embedding_map
from lab.odis.artifacts import OdisData
from lab.progress import Progress, ShouldStop, resolve

__all__ = ["read_corpus", "corpus_data", "pca_2d", "CORPUS_FORMATS", "MAX_DOC_CHARS", "MAX_CORPUS_DOCS"]

CORPUS_FORMATS = (".jsonl", ".parquet", ".txt", ".md")
MAX_DOC_CHARS = 20_000  # longer documents are cut (the encoder reads the first few hundred tokens anyway)
MAX_CORPUS_DOCS = 50_000
MIN_CORPUS_DOCS = 20
MAX_CORPUS_BYTES = 256 * 1024 * 1024
PREVIEW_CHARS = 400


def _frame(ids: list[str], texts: list[str], name: str) -> pd.DataFrame:
    texts = [t.strip() for t in texts]
    keep = [i for i, t in enumerate(texts) if t]
    ids, texts = [ids[i] for i in keep], [texts[i] for i in keep]
    if len(texts) < MIN_CORPUS_DOCS:
        raise ValueError(f"source: {name!r} holds {len(texts)} non-empty documents; at least {MIN_CORPUS_DOCS} "
                         "are needed to decorrelate and select")
    if len(set(ids)) != len(ids):
        dup = pd.Series(ids)[pd.Series(ids).duplicated()].iloc[0]
        raise ValueError(f"doc_id: document ids must be unique; {dup!r} appears more than once")
    cut = sum(len(t) > MAX_DOC_CHARS for t in texts)
    frame = pd.DataFrame({"doc_id": ids, "text": [t[:MAX_DOC_CHARS] for t in texts]})
    frame.attrs["cut_documents"] = int(cut)
    return frame


def _from_jsonl(raw: bytes, name: str, max_docs: int) -> pd.DataFrame:
    ids, texts = [], []
    for n, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"source: {name!r} line {n} is not JSON ({exc.msg})") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            raise ValueError(f"source: {name!r} line {n}: expected an object with a string 'text' field")
        if len(texts) >= max_docs:
            raise ValueError(f"source: {name!r} holds more than {max_docs:,} documents; the limit is {max_docs:,}")
        texts.append(obj["text"])
        ids.append(str(obj.get("doc_id", obj.get("id", f"doc-{len(texts)}"))))
    return _frame(ids, texts, name)


def _from_parquet(raw: bytes | Path, name: str, max_docs: int) -> pd.DataFrame:
    try:
        table = pd.read_parquet(io.BytesIO(raw) if isinstance(raw, bytes) else raw)
    except (ValueError, OSError) as exc:
        raise ValueError(f"source: {name!r} could not be read as parquet: {exc}") from None
    if "text" not in table.columns:
        raise ValueError(f"source: {name!r} has no 'text' column (columns: {list(table.columns)[:10]})")
    if len(table) > max_docs:
        raise ValueError(f"source: {name!r} holds {len(table):,} documents; the limit is {max_docs:,}")
    if not all(isinstance(t, str) for t in table["text"]):
        raise ValueError(f"text: every value of {name!r}'s 'text' column must be a string")
    idcol = next((c for c in ("doc_id", "id") if c in table.columns), None)
    ids = table[idcol].astype(str).tolist() if idcol else [f"doc-{i + 1}" for i in range(len(table))]
    return _frame(ids, table["text"].tolist(), name)


def _from_text(raw: bytes, name: str, max_docs: int) -> pd.DataFrame:
    parts = [p for p in raw.decode("utf-8", errors="replace").replace("\r\n", "\n").split("\n\n") if p.strip()]
    if len(parts) > max_docs:
        raise ValueError(f"source: {name!r} holds {len(parts):,} blank-line separated documents; "
                         f"the limit is {max_docs:,}")
    return _frame([f"{Path(name).stem}-{i + 1}" for i in range(len(parts))], parts, name)


def _from_folder(folder: Path, max_docs: int, max_bytes: int) -> pd.DataFrame:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in (".txt", ".md"))
    if len(files) > max_docs:
        raise ValueError(f"source: {str(folder)!r} holds {len(files):,} text files; the limit is {max_docs:,}")
    total = sum(p.stat().st_size for p in files)
    if total > max_bytes:
        raise ValueError(f"source: {str(folder)!r} holds {total:,} bytes of text; at most {max_bytes:,} are read")
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in files]
    return _frame([str(p.relative_to(folder)) for p in files], texts, str(folder))


def read_corpus(source: str | Path | bytes, *, filename: str | None = None, max_bytes: int = MAX_CORPUS_BYTES,
                max_docs: int = MAX_CORPUS_DOCS) -> pd.DataFrame:
    """``doc_id`` and ``text`` of every document (empty ones dropped, long ones cut to MAX_DOC_CHARS).

    ``source`` is a path (a file, or a folder of .txt/.md files) or the bytes of an upload with
    its ``filename``. ``frame.attrs["cut_documents"]`` counts the documents that were cut.
    """
    max_docs = check_int("max_docs", max_docs, lo=MIN_CORPUS_DOCS, hi=10_000_000)
    if isinstance(source, (bytes, bytearray)):
        name, raw = filename or "", bytes(source)
        size = len(raw)
    elif isinstance(source, (str, Path)):
        path = Path(source)
        if path.is_dir():
            return _from_folder(path, max_docs, max_bytes)
        if not path.is_file():
            raise ValueError(f"source: no file or folder at {str(path)!r}")
        name, size, raw = path.name, path.stat().st_size, None
    else:
        raise TypeError(f"source: expected a path or the bytes of a file, got {type(source).__name__}")
    suffix = Path(name).suffix.lower()
    if suffix not in CORPUS_FORMATS:
        raise ValueError(f"filename: expected one of {', '.join(CORPUS_FORMATS)} (or a folder), got {name!r}")
    if size == 0:
        raise ValueError(f"source: the file {name!r} is empty")
    if size > max_bytes:
        raise ValueError(f"source: the file {name!r} has {size:,} bytes; at most {max_bytes:,} are read")
    if raw is None:
        raw = Path(source).read_bytes()
    if suffix == ".jsonl":
        return _from_jsonl(raw, name, max_docs)
    if suffix == ".parquet":
        return _from_parquet(raw, name, max_docs)
    return _from_text(raw, name, max_docs)


def corpus_data(corpus: pd.DataFrame, *, embed: bool = True, batch_size: int = 64, progress: Progress | None = None,
                should_stop: ShouldStop | None = None) -> OdisData:
    """Score (the text statistics), embed (MiniLM, in batches) and map a :func:`read_corpus` frame.

    The embedding is the long part and reports progress per batch; stopped, the corpus is kept
    with its scores and a PCA map of them, without embeddings.
    """
    from lab.odis.scorers import score_dimensions, word_counts

    progress, should_stop = resolve(progress, should_stop)
    texts = corpus["text"].tolist()
    n = len(texts)
    progress(0.02, f"scoring {n:,} documents")
    scores = score_dimensions(texts)
    docs = pd.DataFrame({"doc_id": corpus["doc_id"].astype(str).to_numpy(), "source": "uploaded corpus",
                         "preview": [t[:PREVIEW_CHARS] for t in texts], "n_chars": [len(t) for t in texts],
                         "n_tokens": word_counts(texts)})
    embeddings = None
    if embed:
        from lab.embed import embed_texts

        parts = []
        for start in range(0, n, batch_size):
            if should_stop():
                parts = []
                break
            parts.append(embed_texts(texts[start:start + batch_size], batch_size=batch_size))
            done = min(n, start + batch_size)
            progress(0.05 + 0.9 * done / n, f"embedded {done:,} of {n:,} documents")
        embeddings = np.concatenate(parts) if parts else None
    # the shipped corpus' PCA map of its embeddings; without them, a PCA of the standardised scores
    maps = {"pca": embedding_map(embeddings, method="pca") if embeddings is not None else pca_2d(scores.to_numpy())}
    progress(1.0, "done")
    return OdisData(docs, scores, embeddings, maps)


def pca_2d(x: np.ndarray) -> np.ndarray:
    """(n, 2) coordinates on the first two principal axes of the standardised columns of ``x``."""
    z = np.asarray(x, dtype=np.float64)
    sd = z.std(0)
    return embedding_map((z - z.mean(0)) / np.where(sd > 0, sd, 1.0), method="pca")
