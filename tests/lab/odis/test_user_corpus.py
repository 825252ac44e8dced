"""Bring your own corpus: every format reads to the same documents; limits and bad input by name."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from lab.odis import corpus_data, read_corpus, score_dimensions
from lab.odis.user_corpus import MAX_DOC_CHARS


def _texts(n: int, rng) -> list[str]:
    words = ["data", "model", "returns", "the", "value", "of", "a", "list", "Raises", "error", "when", "empty"]
    return [" ".join(rng.choice(words, size=int(rng.integers(5, 40)))) + "." for _ in range(n)]


def test_jsonl_parquet_text_and_folder_read_the_same_documents(tmp_path):
    rng = np.random.default_rng()
    texts = _texts(30, rng)
    ids = [f"d{i}" for i in range(30)]
    jsonl = "\n".join(json.dumps({"doc_id": i, "text": t}) for i, t in zip(ids, texts)).encode()
    a = read_corpus(jsonl, filename="c.jsonl")
    path = tmp_path / "c.parquet"
    pd.DataFrame({"doc_id": ids, "text": texts}).to_parquet(path)
    b = read_corpus(path)
    c = read_corpus("\n\n".join(texts).encode(), filename="notes.txt")
    folder = tmp_path / "docs"
    folder.mkdir()
    for i, t in zip(ids, texts):
        (folder / f"{i}.txt").write_text(t)
    d = read_corpus(folder)
    pd.testing.assert_frame_equal(a, b)
    assert c["text"].tolist() == texts and c["doc_id"].iloc[0] == "notes-1"
    assert sorted(d["text"]) == sorted(texts) and set(d["doc_id"]) == {f"{i}.txt" for i in ids}


def test_long_documents_are_cut_and_counted():
    rng = np.random.default_rng()
    texts = _texts(25, rng)
    texts[3] = "word " * (MAX_DOC_CHARS // 2)
    out = read_corpus("\n".join(json.dumps({"text": t}) for t in texts).encode(), filename="c.jsonl")
    assert len(out.loc[3, "text"]) == MAX_DOC_CHARS and out.attrs["cut_documents"] == 1
    assert out["doc_id"].tolist()[:2] == ["doc-1", "doc-2"]


@pytest.mark.parametrize("raw, name, match", [
    (b"", "c.jsonl", "empty"),
    (b"x", "c.docx", "filename"),
    (b'{"text": "a"}\nnot json\n', "c.jsonl", "line 2 is not JSON"),
    (b'{"body": "a"}\n', "c.jsonl", "line 1: expected an object with a string 'text'"),
    (b"one\n\ntwo\n\nthree", "c.txt", "at least 20"),
    (b"\x00\x01junk", "c.parquet", "could not be read as parquet"),
])
def test_bad_corpora_are_refused_by_name(raw, name, match):
    with pytest.raises(ValueError, match=match):
        read_corpus(raw, filename=name)


def test_limits_and_types_before_reading(tmp_path):
    rng = np.random.default_rng()
    lines = "\n".join(json.dumps({"text": t}) for t in _texts(40, rng)).encode()
    with pytest.raises(ValueError, match="more than 25"):
        read_corpus(lines, filename="c.jsonl", max_docs=25)
    with pytest.raises(ValueError, match="at most 100 are read"):
        read_corpus(lines, filename="c.jsonl", max_bytes=100)
    with pytest.raises(TypeError, match="source"):
        read_corpus(42)
    with pytest.raises(ValueError, match="no file or folder"):
        read_corpus(tmp_path / "missing.jsonl")
    dup = "\n".join(json.dumps({"doc_id": "same", "text": t}) for t in _texts(25, rng)).encode()
    with pytest.raises(ValueError, match="unique"):
        read_corpus(dup, filename="c.jsonl")


def test_corpus_data_scores_maps_and_stop_keeps_the_scores():
    rng = np.random.default_rng()
    corpus = read_corpus("\n\n".join(_texts(40, rng)).encode(), filename="c.txt")
    data = corpus_data(corpus, embed=False)
    pd.testing.assert_frame_equal(data.scores, score_dimensions(corpus["text"].tolist()))
    assert data.embeddings is None and data.maps["pca"].shape == (40, 2) and data.n == 40
    seen = []
    stopped = corpus_data(corpus, batch_size=8, progress=lambda f, m="", **p: seen.append(m),
                          should_stop=lambda: True)
    assert stopped.embeddings is None and stopped.scores.shape == data.scores.shape
    assert not any("embedded" in m for m in seen)
