"""The /odis view without a browser: set parameters, check the figures, tables and messages."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from lab.odis import OdisData, overlap_matrix, score_dimensions, word_counts
from widgets.odis import OdisView, create_view


def small_data(n: int = 120, seed: int = 0) -> OdisData:
    rng = np.random.default_rng(seed)
    words = ["data", "model", "Python", "value", "qzx", "the", "of", "42", "orthogonal", "returns"]
    texts = [" ".join(rng.choice(words, size=int(rng.integers(5, 40)))) + rng.choice([".", "!", " x"])
             for _ in range(n)]
    docs = pd.DataFrame({"doc_id": [f"d{i}" for i in range(n)], "source": "test", "preview": texts,
                         "n_chars": [len(t) for t in texts], "n_tokens": word_counts(texts)})
    emb = rng.normal(size=(n, 8)).astype(np.float32)
    maps = {"pca": rng.normal(size=(n, 2)), "umap": rng.normal(size=(n, 2))}
    return OdisData(docs, score_dimensions(texts), emb, maps)


@pytest.fixture
def view():
    return OdisView(data=small_data(), budget=40)


def _overlap_from_figure(v) -> np.ndarray:
    return np.array(v.overlap_figure()["data"][0]["z"], dtype=float)


def test_overlap_heatmap_matches_lab_and_follows_the_budget(view):
    a = view.analysis
    np.testing.assert_allclose(_overlap_from_figure(view), overlap_matrix(a.selections))
    before = view.overlap_figure()["data"][0]["text"]
    view.budget = 80
    assert view.errors.message == ""
    assert view.analysis.budget == 80 and view.analysis.quotas.sum() == 80
    assert view.overlap_figure()["data"][0]["text"] != before
    np.testing.assert_allclose(_overlap_from_figure(view), overlap_matrix(view.analysis.selections))


def test_components_weights_and_duplicates_change_the_selection(view):
    view.n_components = 3
    assert len(view.overlap_figure()["data"][0]["z"]) == 3
    assert len(view.pc_figure()["data"][0]["z"]) == 3
    np.testing.assert_allclose(np.array(view.pc_figure()["data"][0]["z"]), np.eye(3), atol=1e-6)
    view.weight_1 = 3.0
    q = view.analysis.quotas
    assert q[0] > q[1] and q.sum() == 40
    view.duplicates = "fill"
    assert len(view.analysis.union) == 40
    off = _overlap_from_figure(view)[~np.eye(3, dtype=bool)]
    assert np.all(off == 0)  # "fill" makes the per-component selections disjoint


def test_map_is_recoloured_not_recomputed(view):
    xs_before = sorted(x for tr in view.map_figure()["data"] for x in tr["x"])
    groups_before = [len(tr["x"]) for tr in view.map_figure()["data"]]
    view.budget = 90
    xs_after = sorted(x for tr in view.map_figure()["data"] for x in tr["x"])
    assert xs_after == xs_before  # same coordinates, only the grouping changed
    assert [len(tr["x"]) for tr in view.map_figure()["data"]] != groups_before
    assert all(tr["type"] == "scattergl" for tr in view.map_figure()["data"])
    view.map_kind = "pca"
    xs_pca = sorted(x for tr in view.map_figure()["data"] for x in tr["x"])
    assert xs_pca == sorted(view.data.maps["pca"][:, 0].tolist())
    assert "<b>d" in view.map_figure()["data"][1]["text"][0]  # hover shows the document


def test_tables_and_baselines(view):
    t = view.selection_frame()
    assert len(t) == 40 and {"component", "preview", "score"} <= set(t.columns)
    cmp = view.baseline_frame()
    assert cmp["method"].iloc[0].startswith("ODiS") and "random" in set(cmp["method"])
    assert (cmp["docs"] == len(view.analysis.union)).all()
    bars = view.baseline_figure()["data"]
    assert len(bars) == view.n_components


def test_token_level_overlap(view):
    view.overlap_level = "tokens"
    z = _overlap_from_figure(view)
    np.testing.assert_allclose(z, overlap_matrix(view.analysis.selections, token_counts=view.data.docs["n_tokens"]))


def test_bad_budget_shows_a_message_and_keeps_the_figures(view):
    before = view.overlap_figure()
    view.param.budget.bounds = (1, 10_000)  # let an out-of-range value through to lab
    view.budget = 500
    assert "budget" in view.errors.message and "120" in view.errors.message
    assert json.dumps(view.overlap_figure()) == json.dumps(before)


def test_map_recompute_runs_in_the_background(view):
    # PCA here: the same BackgroundJob path as UMAP without numba's first-call compilation.
    view.map_kind = "pca"
    assert view.recompute_map()
    view.job.wait(120)
    assert view.errors.message == "" and view.job.errors.message == ""
    xs = sorted(x for tr in view.map_figure()["data"] for x in tr["x"])
    assert xs != sorted(view.data.maps["pca"][:, 0].tolist())  # the recomputed map replaced the placeholder
    from lab.odis import embedding_map

    assert xs == pytest.approx(sorted(embedding_map(view.data.embeddings, method="pca")[:, 0].tolist()))


def test_default_page_builds_from_the_shipped_artifacts():
    v = create_view()
    assert v.errors.message == "", v.errors.message
    assert v.data.n > 1000 and v.data.embeddings.shape[1] == 384
    assert len(v.map_figure()["data"]) == v.n_components + 2
    assert v.__panel__() is not None


def test_the_overlap_sentence_gives_its_null_and_says_fill_is_zero_by_construction(view):
    a = view.analysis
    n, quotas = view.data.n, np.asarray(a.quotas, dtype=float)
    # independent scores: E|S_i ∩ S_j| = k_i k_j / N, over min(k_i, k_j) gives max(k_i, k_j) / N
    null = max(max(quotas[i], quotas[j]) / n for i in range(len(quotas)) for j in range(len(quotas)) if i != j)
    assert f"about {null:.1%}" in view.summary() and "paper reports under 2%" in view.summary()
    view.duplicates = "fill"
    text = view.summary()
    assert "0 by construction" in text and "paper reports" not in text
    off = view.analysis.overlap_docs[~np.eye(len(view.analysis.quotas), dtype=bool)]
    assert off.max() == 0.0  # what the sentence claims


def test_every_overlap_cell_shows_its_null_and_the_sweep_is_drawn_from_the_shipped_json():
    from lab.odis import expected_overlap, load_json_artifact

    v = create_view()
    cells = v.overlap_figure()["data"][0]["text"]
    null = expected_overlap(v.analysis.quotas, v.data.n)
    from lab.odis import shuffled_overlap

    shuffled, _ = shuffled_overlap(v.analysis.pc_scores, v.analysis.quotas, n_shuffles=20, seed=0)
    assert f"null {null[0, 1]:.1%} / {shuffled[0, 1]:.1%}" in cells[0][1] and "null" not in cells[0][0]
    v.duplicates = "fill"
    assert "null" not in v.overlap_figure()["data"][0]["text"][0][1]  # 0 by construction: no null to compare
    sweep = load_json_artifact("overlap_sweep")
    fig = v.sweep_figure()
    sizes = sorted({r["n_docs"] for r in sweep["summary"]}, reverse=True)
    assert [t["name"] for t in fig["data"][:2]] == [f"{sizes[0]:,} docs: largest overlap",
                                                    f"{sizes[0]:,} docs: independence null"]
    whole = sorted((r for r in sweep["summary"] if r["n_docs"] == sizes[0]), key=lambda r: r["budget_fraction"])
    np.testing.assert_allclose(fig["data"][0]["y"], [r["overlap_max"] for r in whole])
    assert OdisView(data=small_data()).sweep_figure()["data"] == []  # not computed for a user's corpus


def test_uploaded_scores_run_the_page_and_bad_ones_keep_what_it_had():
    v = create_view()
    shipped = v.data
    rng = np.random.default_rng()
    rows = np.sort(rng.choice(shipped.n, size=120, replace=False))
    ratings = pd.DataFrame({"doc_id": shipped.docs["doc_id"].to_numpy()[rows],
                            **{c: rng.normal(size=120) for c in ("fluency", "knowledge", "reasoning")}})
    assert v.param["back_to_shipped"].constant  # nothing to go back from yet
    v.scores_file.filename, v.scores_file.value = "mine.csv", b""
    assert not v.load_scores_upload()
    assert "'mine.csv' is empty" in v.scores_errors.message and v.errors.message == "" and v.data is shipped
    v.scores_file.filename, v.scores_file.value = "mine.csv", ratings.drop(columns="doc_id").to_csv().encode()
    assert not v.load_scores_upload() and "doc_id" in v.scores_errors.message and v.data is shipped
    v.scores_file.value = ratings.to_csv(index=False).encode()
    assert v.load_scores_upload()
    assert v.scores_errors.message == "" and v.data.n == 120 and list(v.data.scores.columns) == [
        "fluency", "knowledge", "reasoning"]
    assert v.n_components == 3 and v.param.n_components.bounds == (1, 3)
    assert "120 documents × 3 criteria" in v.scores_note.object and "120 of them" in v.scores_note.object
    assert not v.param["back_to_shipped"].constant
    table = v.selection_frame()  # shipped documents: their text, not the scores-only placeholder
    assert set(table["doc_id"]) <= set(shipped.docs["doc_id"])
    assert not table["preview"].str.contains("scores only").any()
    v.use_shipped()
    assert v.data is shipped and v.scores_note.object == "" and v.param["back_to_shipped"].constant


def test_the_score_set_switch_runs_the_pipeline_on_the_rater_scores():
    from lab.odis import load_rater_scores

    v = create_view()
    text_stats = v.data.scores
    v.score_set = "rater-style (MiniLM rubric)"
    raters = load_rater_scores()
    assert v.errors.message == ""
    np.testing.assert_allclose(v.data.scores.to_numpy(), raters.to_numpy())
    assert list(v.data.scores.columns) == [f"rater_{c}" for c in raters.columns]
    assert v.analysis.dimensions == list(v.data.scores.columns)
    v.score_set = "both"
    assert v.data.scores.shape[1] == text_stats.shape[1] + raters.shape[1]
    v.score_set = "text statistics"
    assert v.data.scores is text_stats
    small = OdisView(data=small_data())
    small.score_set = "both"
    assert "only the shipped corpus" in small.errors.message and small.data.scores.shape[1] == 10


def test_an_uploaded_corpus_is_scored_in_the_background_and_shown(monkeypatch):
    import widgets.odis as page
    from lab.odis import corpus_data as real

    # the embedding is the slow part; the page's own path with it switched off
    monkeypatch.setattr(page, "corpus_data", lambda corpus, **kw: real(corpus, embed=False, **kw))
    v = create_view()
    shipped = v.data
    assert not v.start_corpus() and "choose" in v.corpus_job.errors.message and v.errors.message == ""
    v.corpus_file.filename, v.corpus_file.value = "mine.jsonl", b'{"text": "only one"}\n'
    assert not v.start_corpus() and "at least 20" in v.corpus_job.errors.message and v.data is shipped
    rng = np.random.default_rng()
    words = ["data", "model", "Python", "value", "returns", "the", "of", "list"]
    lines = [json.dumps({"doc_id": f"m{i}", "text": " ".join(rng.choice(words, size=20)) + "."}) for i in range(60)]
    v.corpus_file.value = "\n".join(lines).encode()
    assert v.start_corpus()
    assert v.param["score_corpus"].constant  # the button is disabled while it runs
    v.corpus_job.wait()
    assert v.corpus_job.outcome == "done" and v.data.n == 60 and v.analysis is not None
    assert "mine.jsonl" in v.scores_note.object and not v.param["score_corpus"].constant
    assert v.map_kind == "pca" and v.map_figure()["data"]
    v.use_shipped()
    assert v.data is shipped
