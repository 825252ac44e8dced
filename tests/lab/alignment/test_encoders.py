"""The packaged text encoders (offline) and the documents they embed."""

import numpy as np
import pytest

from lab.alignment import ENCODERS, embed_pair, embed_with, encoder_corpus, local_encoder, read_texts
from lab.files import load_arrays
from lab.paths import study_dir


@pytest.mark.parametrize("name", ["e5", "wordllama"])
def test_packaged_encoders_reproduce_the_shipped_embeddings(name):
    texts = encoder_corpus()["text"].tolist()
    shipped = load_arrays(study_dir("alignment") / "text_encoders.npz")[name]
    assert shipped.shape == (len(texts), ENCODERS[name].dim)
    rows = [0, 7, len(texts) - 1]
    fresh = embed_with(name, [texts[i] for i in rows])
    assert fresh.shape == (3, ENCODERS[name].dim) and fresh.dtype == np.float32
    cos = np.sum(fresh * shipped[rows], axis=1) / np.linalg.norm(fresh, axis=1) / np.linalg.norm(
        shipped[rows].astype(np.float32), axis=1)
    assert np.all(cos > 0.999)  # float16 storage only


def test_encoder_corpus_is_distinct_documents():
    df = encoder_corpus()
    assert df["text"].is_unique and df["doc_id"].is_unique and len(df) > 1000
    assert df["text"].str.len().max() <= 400


def test_embed_with_reports_progress_and_stops():
    events = []
    out = embed_with("wordllama", [f"document number {i}" for i in range(600)],
                     progress=lambda f, m="", **p: events.append(p["done"]))
    assert out.shape == (600, 256) and events[-1] == 600 and events == sorted(events)
    assert embed_with("wordllama", ["a", "b"], should_stop=lambda: True) is None


def test_embed_pair_makes_a_pair_of_different_widths():
    texts = encoder_corpus()["text"].tolist()[:30]
    data = embed_pair("wordllama", "e5", texts)
    assert (data.dim, data.dim_y, data.n) == (256, 384, 30) and not data.same_width


def test_bad_encoders_and_text_files_are_named(tmp_path):
    with pytest.raises(ValueError, match="path"):
        local_encoder(tmp_path / "missing")
    with pytest.raises(ValueError, match="no sentence-transformers model"):
        local_encoder(tmp_path)
    with pytest.raises(TypeError, match="encoder"):
        embed_with(3, ["a"])
    with pytest.raises(TypeError, match="texts"):
        embed_with("wordllama", "not a list")
    with pytest.raises(ValueError, match="UTF-8"):
        read_texts(b"\xff\xfe\x00bad", filename="x.txt")
    with pytest.raises(ValueError, match="at least 10"):
        read_texts(b"one\ntwo\ntwo\n", filename="x.txt")
    with pytest.raises(ValueError, match="over the limit"):
        read_texts(b"x" * 100, filename="x.txt", max_bytes=10)
    lines = read_texts("\n".join(f"doc {i % 12}" for i in range(40)).encode(), filename="x.txt")
    assert lines == [f"doc {i}" for i in range(12)]  # one per line, duplicates dropped, order kept
