"""Text corpora shared by the studies that need real English (3PT language modelling, ODiS).

The default corpus exists on every machine with no download: the docstrings of the Python
standard library's own source files (parsed with ``ast``, never imported) plus the
documentation topics shipped in ``pydoc_data``. Loaders for user data read a text file or
folder, jsonl / parquet / csv with a text column, or a Hugging Face dataset when online.

Every loader returns a DataFrame with the columns ``doc_id`` (str, unique), ``source``
(where it came from) and ``text`` (str).
"""

from __future__ import annotations

import ast
import functools
import json
import os
import sysconfig
from pathlib import Path
from typing import Iterable

import pandas as pd

__all__ = ["stdlib_corpus", "load_corpus", "load_text_folder", "load_table_corpus", "load_hf_corpus", "split_corpus"]

COLUMNS = ["doc_id", "source", "text"]

# Folders of the standard library whose docstrings are tests, demos or vendored code rather
# than documentation prose.
_SKIP_TOP = {"site-packages", "test", "idlelib", "lib2to3", "turtledemo", "ensurepip", "__pycache__"}


def _stdlib_root() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def _docstrings_of(path: Path, module: str) -> Iterable[tuple[str, str]]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node)
            if doc:
                name = module if isinstance(node, ast.Module) else f"{module}.{node.name}"
                yield name, doc


@functools.lru_cache(maxsize=4)
def _stdlib_frame(min_chars: int) -> pd.DataFrame:
    root = _stdlib_root()
    rows: list[tuple[str, str, str]] = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[0] in _SKIP_TOP or "tests" in rel.parts:
            continue
        module = ".".join(rel.with_suffix("").parts).removesuffix(".__init__")
        for name, doc in _docstrings_of(path, module):
            if len(doc) >= min_chars:
                rows.append((f"doc:{name}", f"stdlib:{rel.as_posix()}", doc))
    try:  # the reference-manual topics that pydoc shows; present in CPython builds
        from pydoc_data.topics import topics

        for key in sorted(topics):
            text = topics[key].strip()
            if len(text) >= min_chars:
                rows.append((f"topic:{key}", "stdlib:pydoc_data/topics.py", text))
    except ImportError:
        pass
    df = pd.DataFrame(rows, columns=COLUMNS)
    # The same docstring can be inherited verbatim in several places: keep one copy.
    return df.drop_duplicates("text", ignore_index=True).drop_duplicates("doc_id", ignore_index=True)


def stdlib_corpus(*, min_chars: int = 200, max_docs: int | None = None) -> pd.DataFrame:
    """The default offline corpus: standard-library docstrings and documentation topics.

    Deterministic (sorted by file, then document order in the file). About 2,000 documents
    and 2 MB of text at ``min_chars=200``. ``max_docs`` keeps the first ``max_docs`` rows.
    """
    if min_chars < 0:
        raise ValueError(f"min_chars: expected >= 0, got {min_chars}")
    df = _stdlib_frame(int(min_chars))
    if max_docs is not None:
        if max_docs < 1:
            raise ValueError(f"max_docs: expected >= 1, got {max_docs}")
        df = df.iloc[: int(max_docs)]
    return df.copy()


def load_text_folder(path: str | os.PathLike, *, pattern: str = "*.txt") -> pd.DataFrame:
    """One document per text file: a single file, or every file matching ``pattern`` below a folder."""
    p = Path(path)
    if p.is_file():
        files = [p]
    elif p.is_dir():
        files = sorted(f for f in p.rglob(pattern) if f.is_file())
    else:
        raise ValueError(f"path: no such file or folder {str(p)!r}")
    if not files:
        raise ValueError(f"path: no files matching {pattern!r} under {str(p)!r}")
    rows = [(f"file:{f.relative_to(p) if p.is_dir() else f.name}", str(f),
             f.read_text(encoding="utf-8", errors="replace")) for f in files]
    return pd.DataFrame(rows, columns=COLUMNS)


def load_table_corpus(path: str | os.PathLike, *, text_column: str = "text") -> pd.DataFrame:
    """Documents from a .jsonl, .parquet or .csv file with a text column."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"path: no such file {str(p)!r}")
    suffix = p.suffix.lower()
    if suffix in (".jsonl", ".json"):
        records = [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
        table = pd.DataFrame.from_records(records)
    elif suffix == ".parquet":
        table = pd.read_parquet(p)
    elif suffix == ".csv":
        table = pd.read_csv(p)
    else:
        raise ValueError(f"path: expected a .jsonl, .parquet or .csv file, got {p.name!r}")
    if text_column not in table.columns:
        raise ValueError(
            f"text_column: {text_column!r} is not a column of {p.name!r}; columns are {list(table.columns)}")
    texts = table[text_column]
    if not all(isinstance(t, str) for t in texts):
        raise ValueError(f"text_column: column {text_column!r} of {p.name!r} must hold strings only")
    return pd.DataFrame({"doc_id": [f"row:{i}" for i in range(len(table))], "source": str(p), "text": texts.tolist()})


def load_hf_corpus(name: str, *, split: str = "train", text_column: str = "text", config: str | None = None,
                   max_docs: int | None = None) -> pd.DataFrame:
    """Documents from a Hugging Face dataset (needs the ``datasets`` package and a network)."""
    try:
        import datasets  # noqa: F401
    except ImportError as exc:
        raise ValueError(
            "name: loading a Hugging Face dataset needs the 'datasets' package (pip install datasets)") from exc
    from datasets import load_dataset

    ds = load_dataset(name, config, split=split)
    if text_column not in ds.column_names:
        raise ValueError(f"text_column: {text_column!r} is not a column of {name!r}; columns are {ds.column_names}")
    if max_docs is not None:
        ds = ds.select(range(min(int(max_docs), len(ds))))
    texts = ds[text_column]
    return pd.DataFrame({"doc_id": [f"{name}:{i}" for i in range(len(texts))], "source": f"hf:{name}/{split}",
                         "text": texts})


def load_corpus(spec: str | os.PathLike | None = None, *, text_column: str = "text", **kwargs) -> pd.DataFrame:
    """Load a corpus by spec: ``None``/``'stdlib'`` (default), ``'hf:<name>'``, or a path.

    A path ending in .jsonl/.json/.parquet/.csv is a table with ``text_column``; any other
    file or a folder is read as plain text.
    """
    if spec is None or str(spec) == "stdlib":
        return stdlib_corpus(**kwargs)
    s = str(spec)
    if s.startswith("hf:"):
        return load_hf_corpus(s[3:], text_column=text_column, **kwargs)
    p = Path(s)
    if p.suffix.lower() in (".jsonl", ".json", ".parquet", ".csv"):
        return load_table_corpus(p, text_column=text_column)
    return load_text_folder(p, **kwargs)


def split_corpus(df: pd.DataFrame, *, val_fraction: float = 0.1, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A deterministic document-level train/validation split."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction: expected a number in (0, 1), got {val_fraction}")
    if len(df) < 2:
        raise ValueError(f"df: expected at least 2 documents to split, got {len(df)}")
    val = df.sample(frac=val_fraction, random_state=seed)
    if len(val) == 0:
        val = df.sample(n=1, random_state=seed)
    train = df.drop(index=val.index)
    return train.reset_index(drop=True), val.reset_index(drop=True)
