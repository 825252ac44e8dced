"""Bring your own scores: read safely, refuse bad tables by name, join the shipped corpus."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from lab.odis import analyse, load_default, read_scores, scores_data


def _ratings(ids, rng) -> pd.DataFrame:
    cols = ["fluency", "coherence", "knowledge", "reasoning", "educational"]
    return pd.DataFrame({"doc_id": ids, **{c: rng.normal(size=len(ids)) for c in cols}})


def _csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def test_csv_and_parquet_read_to_the_same_table_and_run_the_pipeline(tmp_path):
    rng = np.random.default_rng()
    frame = _ratings([f"d{i}" for i in range(60)], rng)
    from_csv = read_scores(_csv(frame), filename="ratings.csv")
    path = tmp_path / "ratings.parquet"
    frame.to_parquet(path)
    from_parquet = read_scores(path)
    pd.testing.assert_frame_equal(from_csv, from_parquet, check_exact=False, rtol=1e-12)
    assert list(from_csv.columns) == list(frame.columns)
    data = scores_data(from_csv)
    assert data.n == 60 and data.embeddings is None and data.maps["pca"].shape == (60, 2)
    a = analyse(data.scores, n_components=3, budget=12)
    b = analyse(frame.drop(columns="doc_id"), n_components=3, budget=12)
    np.testing.assert_allclose(a.pc_scores, b.pc_scores)


@pytest.mark.parametrize("make, name, match", [
    (lambda f: b"", "r.csv", "empty"),
    (lambda f: _csv(f), "r.txt", "filename"),
    (lambda f: _csv(f.rename(columns={"doc_id": "name"})), "r.csv", "doc_id"),
    (lambda f: _csv(pd.concat([f, f.iloc[:1]])), "r.csv", "unique"),
    (lambda f: _csv(f.assign(fluency="high")), "r.csv", "numeric"),
    (lambda f: _csv(f[["doc_id", "fluency"]]), "r.csv", "at least two"),
    (lambda f: _csv(f.iloc[:5]), "r.csv", "at least 8"),
    (lambda f: _csv(f.assign(coherence=np.where(np.arange(len(f)) == 3, np.nan, f["coherence"]))), "r.csv",
     "coherence: 1 missing"),
    (lambda f: _csv(f.assign(knowledge=2.0)), "r.csv", "knowledge: the same value"),
    (lambda f: b"\x00\x01not a parquet", "r.parquet", "could not be read"),
])
def test_bad_tables_are_refused_by_name(make, name, match):
    frame = _ratings([f"d{i}" for i in range(20)], np.random.default_rng())
    with pytest.raises(ValueError, match=match):
        read_scores(make(frame), filename=name)


def test_size_is_checked_before_reading_and_types_are_named():
    frame = _ratings([f"d{i}" for i in range(20)], np.random.default_rng())
    with pytest.raises(ValueError, match="at most 100"):
        read_scores(_csv(frame), filename="r.csv", max_bytes=100)
    with pytest.raises(TypeError, match="source"):
        read_scores(io.BytesIO(_csv(frame)))
    with pytest.raises(ValueError, match="no file"):
        read_scores("/nonexistent/ratings.csv")


def test_shipped_documents_keep_their_text_maps_and_embeddings():
    base = load_default()
    rng = np.random.default_rng()
    rows = np.sort(rng.choice(base.n, size=50, replace=False))
    ids = base.docs["doc_id"].to_numpy()[rows]
    data = scores_data(read_scores(_csv(_ratings(ids, rng)), filename="r.csv"), base)
    assert data.docs["preview"].tolist() == base.docs["preview"].to_numpy()[rows].tolist()
    np.testing.assert_array_equal(data.embeddings, base.embeddings[rows])
    np.testing.assert_array_equal(data.maps["umap"], base.maps["umap"][rows])
    # one unknown id: text by id, no embeddings, a PCA map of the scores
    mixed = scores_data(read_scores(_csv(_ratings([*ids[:20], "mine-1"], rng)), filename="r.csv"), base)
    assert mixed.docs["preview"].iloc[-1] == "(mine-1: scores only)"
    assert mixed.docs["preview"].iloc[0] == base.docs["preview"].iloc[rows[0]]
    assert mixed.embeddings is None and set(mixed.maps) == {"pca"}
