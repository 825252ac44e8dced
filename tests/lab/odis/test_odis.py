"""lab.odis against independent references: plain-Python scorers, scikit-learn, brute force."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lab.odis as odis
from lab.odis import OrthogonalSelector, overlap_matrix, score_dimensions, score_one
from tests.lab.odis.odis_texts import random_texts


def reference_frame(texts) -> pd.DataFrame:
    return pd.DataFrame([score_one(t) for t in texts])


# ----------------------------------------------------------------------------- scorers
def test_vectorised_scores_equal_the_plain_python_reference():
    texts = random_texts(np.random.default_rng(1), 300)
    got = score_dimensions(texts)
    assert list(got.columns) == list(odis.DIMENSIONS) and len(odis.DIMENSIONS) >= 8
    np.testing.assert_allclose(got.to_numpy(), reference_frame(texts).to_numpy(), rtol=0, atol=1e-12)
    assert got.to_numpy().std(0).min() > 0  # every dimension varies on real-ish text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(max_size=80), min_size=1, max_size=6))
def test_any_unicode_text_scores_finite_and_matches_reference(texts):
    got = score_dimensions(texts)
    assert got.shape == (len(texts), len(odis.DIMENSIONS))
    assert np.isfinite(got.to_numpy()).all()
    np.testing.assert_allclose(got.to_numpy(), reference_frame(texts).to_numpy(), rtol=0, atol=1e-12)


def test_scores_are_per_document_so_batching_does_not_matter():
    texts = random_texts(np.random.default_rng(2), 60)
    whole = score_dimensions(texts)
    parts = pd.concat([score_dimensions(texts[:17]), score_dimensions(texts[17:40]), score_dimensions(texts[40:])],
                      ignore_index=True)
    pd.testing.assert_frame_equal(whole, parts)
    pd.testing.assert_frame_equal(whole, score_dimensions(list(texts)))  # deterministic


def test_threaded_shards_give_the_single_thread_scores(monkeypatch):
    import lab.odis.scorers as scorers

    texts = random_texts(np.random.default_rng(5), 1100)  # large enough to be shared between threads
    one = score_dimensions(texts, workers=1)
    pd.testing.assert_frame_equal(score_dimensions(texts, workers=2), one)
    pd.testing.assert_frame_equal(one, reference_frame(texts), check_exact=False, rtol=0, atol=1e-12)
    # Small shards and zlib chunks that do not divide the batch: every boundary case at once.
    monkeypatch.setattr(scorers, "_SHARD_CHARS", 300)
    monkeypatch.setattr(scorers, "_MIN_PARALLEL_DOCS", 7)
    monkeypatch.setattr(scorers, "_ZLIB_CHUNK", 5)
    assert len(scorers._shard_bounds(texts[:61], 3)) > 4  # several shards, of uneven sizes
    few = texts[:61]
    pd.testing.assert_frame_equal(score_dimensions(few, workers=3), score_dimensions(few, workers=1))
    part = score_dimensions(few, dimensions=["compression_ratio", "repetition"], workers=4)
    pd.testing.assert_frame_equal(part, one.loc[:60, ["compression_ratio", "repetition"]])
    assert (score_dimensions([""] * 40 + ["x"], workers=3).iloc[:40] == 0).all().all()  # empty shards


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "2"])
def test_bad_workers_raise_naming_workers(bad):
    with pytest.raises(ValueError, match="workers: expected a positive integer"):
        score_dimensions(["some text"], workers=bad)


def test_ranges_and_directions_on_hand_made_texts():
    clean = "The model learns a function. It returns the value of the data. The selection is orthogonal."
    junk = "#### $$$ @@@ qzxv qzxv qzxv qzxv qzxv qzxv qzxv qzxv ~~~"
    s = score_dimensions([clean, junk, "", "   "])
    assert s.loc[0, "real_word_share"] == 1.0 and s.loc[1, "real_word_share"] == 0.0
    assert s.loc[0, "clean_char_share"] == 1.0 > s.loc[1, "clean_char_share"]
    assert s.loc[1, "repetition"] > 0.5 > s.loc[0, "repetition"]
    assert (s.loc[2] == 0).all()  # the empty text scores 0 everywhere
    for name, dim in odis.DIMENSIONS.items():
        assert dim.doc and dim.range and dim.group
        assert s[name].between(0, 25).all()


@pytest.mark.parametrize("bad", ["a single string", [1, 2], ["ok", None], 3.5, [b"bytes"]])
def test_non_text_raises_type_and_value_error_naming_texts(bad):
    with pytest.raises(TypeError, match="texts"):
        score_dimensions(bad)
    with pytest.raises(ValueError, match="texts: expected"):
        score_dimensions(bad)


def test_empty_corpus_and_unknown_dimension_raise_value_error():
    with pytest.raises(ValueError, match="texts: .*empty"):
        score_dimensions([])
    with pytest.raises(ValueError, match="dimensions: unknown"):
        score_dimensions(["hello"], dimensions=["no_such_dimension"])


def test_plug_in_scorer_by_name():
    odis.register_scorer("n_exclamations", lambda texts: [t.count("!") for t in texts], higher_is_better=False,
                         doc="exclamation marks", range="[0, inf)")
    try:
        s = score_dimensions(["a!", "b!!!", "c"], dimensions=["lexical_diversity", "n_exclamations"])
        assert s["n_exclamations"].tolist() == [1.0, 3.0, 0.0]
        assert odis.dimension_signs(["n_exclamations", "real_word_share"]).tolist() == [-1.0, 1.0]
        with pytest.raises(ValueError, match="built-in"):
            odis.register_scorer("repetition", len)
    finally:
        odis.unregister_scorer("n_exclamations")
    with pytest.raises(ValueError, match="dimensions: unknown"):
        score_dimensions(["a"], dimensions=["n_exclamations"])


def test_word_counts_equal_a_regex_count():
    import re

    texts = random_texts(np.random.default_rng(3), 50)
    assert odis.word_counts(texts).tolist() == [len(re.findall(r"[A-Za-z]+|[0-9]+", t)) for t in texts]


# ----------------------------------------------------------------------------- selector
def correlated_scores(rng, n=400, d=7) -> pd.DataFrame:
    mix = rng.normal(size=(d, d))
    x = rng.normal(size=(n, d)) @ mix * rng.uniform(0.1, 5.0, size=d) + rng.normal(size=d)
    return pd.DataFrame(x, columns=[f"dim{j}" for j in range(d)])


def test_components_equal_sklearn_pca_on_standardised_scores_up_to_sign():
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(4)
    s = correlated_scores(rng)
    sel = OrthogonalSelector(4).fit(s)
    ref = PCA(4).fit(StandardScaler().fit_transform(s.to_numpy()))
    signs = np.sign((sel.components_ * ref.components_).sum(1))
    assert np.all(np.abs(signs) == 1)
    np.testing.assert_allclose(sel.components_, ref.components_ * signs[:, None], atol=1e-10)
    np.testing.assert_allclose(sel.explained_variance_ratio_, ref.explained_variance_ratio_, atol=1e-10)
    pcs = sel.transform(s)
    assert isinstance(pcs, torch.Tensor) and pcs.shape == (400, 4) and pcs.dtype == torch.float64
    ref_t = ref.transform(StandardScaler().fit_transform(s.to_numpy())) * signs
    np.testing.assert_allclose(pcs.numpy(), ref_t, atol=1e-9)


def test_component_scores_are_decorrelated():
    s = correlated_scores(np.random.default_rng(5), n=300, d=10)
    assert np.abs(odis.correlation(s) - np.eye(10)).max() > 0.1  # the raw scores are correlated
    pcs = OrthogonalSelector(5).fit_transform(s).numpy()
    np.testing.assert_allclose(odis.correlation(pcs), np.eye(5), atol=1e-6)
    cov = np.cov(pcs.T)
    assert np.abs(cov - np.diag(np.diag(cov))).max() < 1e-6


def test_components_are_oriented_towards_better():
    rng = np.random.default_rng(6)
    s = correlated_scores(rng)
    signs = rng.choice([-1.0, 1.0], size=s.shape[1])
    sel = OrthogonalSelector(4, signs=signs).fit(s)
    assert np.all(sel.components_ @ signs >= 0)
    flipped = OrthogonalSelector(4, signs=-signs).fit(s)
    np.testing.assert_allclose(flipped.components_, -sel.components_, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 5), st.integers(1, 120), st.sampled_from(["keep", "fill"]))
def test_selection_sizes_union_and_top_membership(seed, k, budget, policy):
    rng = np.random.default_rng(seed)
    n = 150
    pcs = rng.normal(size=(n, k))
    pcs[rng.integers(n, size=10)] = 0.0  # ties are broken by row index
    sel = OrthogonalSelector(k, duplicates=policy, weights=rng.uniform(0.1, 2.0, size=k))
    sel.n_features_in_ = k  # selection only needs the component count
    chosen = sel.select(pcs, budget)
    quotas = sel.quotas(budget)
    assert quotas.sum() == budget and sorted(chosen) == list(range(k))
    union = odis.union_of(chosen)
    assert len(union) <= budget
    for c, rows in chosen.items():
        assert len(rows) == quotas[c] and len(np.unique(rows)) == len(rows)
        # brute-force rank of each row in its component (ties to the lower index)
        order = sorted(range(n), key=lambda i: (-pcs[i, c], i))
        rank = {row: r for r, row in enumerate(order)}
        others = sum(len(v) for cc, v in chosen.items() if cc != c)
        limit = quotas[c] if policy == "keep" else quotas[c] + others
        assert all(rank[int(r)] < limit for r in rows)
        if policy == "keep":
            assert [int(r) for r in rows] == order[: quotas[c]]
    if policy == "fill":
        assert len(union) == budget


def test_budget_split_is_proportional_and_exact():
    q = odis.split_budget(100, [1, 1, 1])
    assert q.tolist() == [34, 33, 33]
    q = odis.split_budget(10, [3, 1, 0])
    assert q.tolist() == [8, 2, 0] or q.tolist() == [7, 3, 0]
    assert q.sum() == 10
    with pytest.raises(ValueError, match="weights"):
        odis.split_budget(10, [0, 0])


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 5))
def test_overlap_matrix_equals_brute_force(seed, k):
    rng = np.random.default_rng(seed)
    n = 60
    sels = {c: rng.choice(n, size=int(rng.integers(0, 25)), replace=False) for c in range(k)}
    tokens = rng.integers(0, 500, size=n)
    got_d, got_t = overlap_matrix(sels), overlap_matrix(sels, token_counts=tokens)
    for i in range(k):
        for j in range(k):
            a, b = set(sels[i].tolist()), set(sels[j].tolist())
            m = min(len(a), len(b))
            assert got_d[i, j] == pytest.approx(len(a & b) / m if m else 0.0)
            ta, tb, tab = (sum(int(tokens[x]) for x in s) for s in (a, b, a & b))
            mt = min(ta, tb)
            assert got_t[i, j] == pytest.approx(tab / mt if mt else 0.0)


def test_bad_input_raises_value_error_with_a_useful_message():
    s = correlated_scores(np.random.default_rng(7), n=50, d=5)
    sel = OrthogonalSelector(3).fit(s)
    pcs = sel.transform(s)
    with pytest.raises(ValueError, match="budget: expected at most the corpus size 50, got 51"):
        sel.select(pcs, 51)
    bad = s.copy()
    bad.iloc[3, 2] = np.nan
    with pytest.raises(ValueError, match="scores: contains 1 NaN"):
        OrthogonalSelector(3).fit(bad)
    with pytest.raises(ValueError, match="n_components"):
        OrthogonalSelector(9).fit(s)
    with pytest.raises(ValueError, match="pc_scores: expected 3 columns"):
        sel.select(pcs[:, :2], 5)
    with pytest.raises(ValueError, match="fit"):
        OrthogonalSelector(3).transform(s)
    with pytest.raises(ValueError, match="duplicates"):
        sel.select(pcs, 5, duplicates="drop")
    with pytest.raises(ValueError, match="budget"):
        odis.select_baseline("mean", s, 500)
    with pytest.raises(TypeError, match="selections"):
        overlap_matrix([np.arange(3)])


# ----------------------------------------------------------------------------- baselines
def test_baselines_against_brute_force():
    rng = np.random.default_rng(8)
    s = correlated_scores(rng, n=120, d=4)
    s.columns = ["real_word_share", "repetition", "lexical_diversity", "readability_grade"]
    signs = np.array([1, -1, 1, 1.0])
    z = (s - s.mean()) / s.std(ddof=0) * signs
    mean_top = sorted(range(120), key=lambda i: (-z.mean(axis=1)[i], i))[:30]
    assert odis.select_baseline("mean", s, 30).tolist() == mean_top
    rep_top = sorted(range(120), key=lambda i: (s["repetition"][i], i))[:30]  # lower repetition is better
    assert odis.select_baseline("single", s, 30, dimension="repetition").tolist() == rep_top
    r0, r1 = odis.select_baseline("random", s, 30, seed=0), odis.select_baseline("random", s, 30, seed=1)
    assert len(set(r0.tolist())) == 30 and r0.tolist() == odis.select_baseline("random", s, 30, seed=0).tolist()
    assert r0.tolist() != r1.tolist()
    sel = OrthogonalSelector(3).fit(s)
    pcs = sel.transform(s).numpy()
    assert odis.select_baseline("pc_average", s, 30, pc_scores=pcs).tolist() == \
        sorted(range(120), key=lambda i: (-pcs[i].mean(), i))[:30]


def test_analysis_and_comparison_are_consistent():
    rng = np.random.default_rng(9)
    s = correlated_scores(rng, n=200, d=6)
    a = odis.analyse(s, n_components=3, budget=30, token_counts=rng.integers(1, 50, size=200))
    assert a.quotas.tolist() == [10, 10, 10] and a.overlap_docs.shape == (3, 3)
    np.testing.assert_allclose(np.diag(a.overlap_docs), 1.0)
    labels = odis.selection_labels(200, a.selections)
    assert (labels >= 0).sum() + (labels == -2).sum() == len(a.union)
    cmp = odis.compare_selections(s, a, embeddings=rng.normal(size=(200, 8)), single=["dim0"])
    assert (cmp["docs"] == len(a.union)).all() and cmp["diversity"].between(0, 2).all()
    table = odis.selection_table(a, [f"text {i}" for i in range(200)])
    assert len(table) == 30 and set(table["component"]) == {"PC1", "PC2", "PC3"}


# ----------------------------------------------------------------------------- regressors
def test_ridge_regressors_match_sklearn_and_report_held_out_r2():
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(10)
    x = rng.normal(size=(300, 20))
    w = rng.normal(size=(20, 3))
    y = x @ w + 0.1 * rng.normal(size=(300, 3))
    reg = odis.ComponentRegressor(features="precomputed", alphas=(1.0,), test_fraction=0.25, seed=0).fit(x, y)
    ref = Ridge(alpha=1.0).fit(x[reg.train_index_], y[reg.train_index_])
    np.testing.assert_allclose(reg.coef_, ref.coef_, atol=1e-8)
    np.testing.assert_allclose(reg.predict(x), ref.predict(x), atol=1e-8)
    assert len(reg.test_index_) == 75 and np.all(reg.r2_ > 0.95)
    from sklearn.metrics import r2_score as sk_r2

    np.testing.assert_allclose(reg.r2_, [sk_r2(y[reg.test_index_][:, j], ref.predict(x[reg.test_index_])[:, j])
                                         for j in range(3)], atol=1e-8)
    noise = odis.ComponentRegressor(features="precomputed", seed=0).fit(rng.normal(size=(300, 20)), y)
    assert np.all(noise.r2_ < 0.2)


def test_tfidf_regressor_learns_a_text_signal():
    rng = np.random.default_rng(11)
    texts = random_texts(rng, 200)
    target = np.array([[t.count("orthogonal")] for t in texts], dtype=float)
    reg = odis.ComponentRegressor(features="tfidf", seed=0).fit(texts, target)
    assert reg.r2_[0] > 0.5
    assert reg.predict(texts[:5]).shape == (5, 1)


# ----------------------------------------------------------------------------- Dask path
def test_dask_shards_equal_the_in_memory_path(tmp_path):
    pytest.importorskip("dask.distributed")
    texts = random_texts(np.random.default_rng(12), 40)
    corpus = pd.DataFrame({"doc_id": [f"d{i}" for i in range(40)], "text": texts})
    odis.write_shards(corpus, tmp_path, n_shards=3)

    def embed(batch):  # deterministic per-document features (MiniLM is tested in the view smoke)
        return np.array([[len(t), t.count(" "), t.count(".")] for t in batch], dtype=np.float32)

    got = odis.score_shards(tmp_path, embed_fn=embed)
    want = score_dimensions(texts)
    assert got["doc_id"].tolist() == corpus["doc_id"].tolist()
    pd.testing.assert_frame_equal(got[list(want.columns)], want)
    np.testing.assert_array_equal(got[["emb_0", "emb_1", "emb_2"]].to_numpy(), embed(texts))
    with pytest.raises(ValueError, match="path"):
        odis.score_shards(tmp_path / "missing")


def _score_sum_in_child(texts, queue):
    queue.put(float(score_dimensions(texts, workers=2).to_numpy().sum()))


@pytest.mark.skipif("fork" not in __import__("multiprocessing").get_all_start_methods(), reason="needs fork")
def test_threaded_scoring_works_in_a_forked_child_after_the_parent_used_its_pool():
    import multiprocessing as mp

    texts = random_texts(np.random.default_rng(6), 1100)
    expected = float(score_dimensions(texts, workers=2).to_numpy().sum())  # the parent's pool now exists
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_score_sum_in_child, args=(texts, queue))
    child.start()
    child.join(60)
    if child.is_alive():
        child.kill()
        pytest.fail("scoring in a forked child hung on the parent's thread pool")
    assert child.exitcode == 0
    assert queue.get(timeout=5) == pytest.approx(expected, rel=0, abs=1e-9)


@pytest.mark.parametrize("key_range", [50, 2**40, 2**61])  # the int32 sort, the int64 sort, the lexsort
def test_distinct_per_group_equals_brute_force_on_every_key_width(key_range):
    from lab.odis.scorers import _distinct_per_group

    rng = np.random.default_rng(7)
    sizes = rng.integers(0, 30, 9)  # some groups empty
    groups = np.repeat(np.arange(9), sizes)
    pool = rng.integers(0, key_range, 12, dtype=np.int64)  # few distinct keys, so repeats happen
    keys = pool[rng.integers(0, len(pool), len(groups))]
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    expected = [len(set(keys[a:b].tolist())) for a, b in zip(bounds[:-1], bounds[1:])]
    np.testing.assert_array_equal(_distinct_per_group(groups, keys, bounds, key_range), expected)
