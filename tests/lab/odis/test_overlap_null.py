"""The overlap's independence null, the tail dependence and the sweep, against brute force."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lab.odis import score_dimensions
from lab.odis.overlap_null import expected_overlap, overlap_sweep, shuffled_overlap, tail_dependence
from lab.odis.selector import overlap_matrix


def test_expected_overlap_matches_random_subsets_by_brute_force():
    rng = np.random.default_rng()
    n = int(rng.integers(200, 400))
    quotas = rng.integers(5, 60, size=3)
    want = expected_overlap(quotas, n)
    trials = 4000
    acc = np.zeros((3, 3))
    for _ in range(trials):
        acc += overlap_matrix({c: rng.choice(n, size=int(q), replace=False) for c, q in enumerate(quotas)})
    got = acc / trials
    np.testing.assert_allclose(np.diag(want), 1.0)
    # Monte Carlo error of a mean of |A ∩ B| / min over 4,000 draws is well under 0.01 here
    np.testing.assert_allclose(got, want, atol=0.01)
    assert want[0, 1] == pytest.approx(max(quotas[0], quotas[1]) / n)


def test_shuffled_null_equals_the_analytic_one_and_dependence_exceeds_it():
    rng = np.random.default_rng()
    n, k = 3000, 3
    quotas = np.array([150, 150, 150])
    independent = rng.normal(size=(n, k))
    mean, std = shuffled_overlap(independent, quotas, n_shuffles=60, seed=int(rng.integers(1 << 30)))
    off = ~np.eye(k, dtype=bool)
    np.testing.assert_allclose(mean[off], expected_overlap(quotas, n)[off], atol=0.012)
    assert np.all(std[off] > 0)
    # uncorrelated but dependent in the tails: a shared radius makes the same documents extreme
    # on every component; rotated onto its principal axes (as ODiS does) its correlation is 0
    radius = np.exp(rng.normal(size=(n, 1)))
    raw = rng.normal(size=(n, k)) * radius
    raw -= raw.mean(0)
    _, vecs = np.linalg.eigh(raw.T @ raw)
    dependent = raw @ vecs
    assert np.abs(np.corrcoef(dependent.T)[off]).max() < 1e-10
    order = np.argsort(-dependent, axis=0, kind="stable")
    observed = overlap_matrix({c: order[:150, c] for c in range(k)})
    null, null_sd = shuffled_overlap(dependent, quotas, n_shuffles=30, seed=1)
    assert np.all(observed[off] > null[off] + 5 * null_sd[off])


def test_tail_dependence_is_spearman_within_each_components_top_by_naive_loops():
    rng = np.random.default_rng()
    p = rng.normal(size=(500, 3))
    sel = {0: np.argsort(-p[:, 0])[:40], 1: np.argsort(-p[:, 1])[:30], 2: np.argsort(-p[:, 2])[:50]}
    got = tail_dependence(p, sel)

    def ranks(v):  # no ties in continuous draws
        r = np.empty(len(v))
        for i in range(len(v)):
            r[i] = sum(1 for w in v if w < v[i]) + 1
        return r

    # independent components: no dependence in the tails, on average (the selection alone adds none)
    big = rng.normal(size=(20000, 2))
    top = {0: np.argsort(-big[:, 0])[:2000], 1: np.argsort(-big[:, 1])[:2000]}
    assert np.abs(tail_dependence(big, top)[~np.eye(2, dtype=bool)]).max() < 0.08
    for a in range(3):
        for b in range(3):
            if a == b:
                assert got[a, b] == 1.0
                continue
            rows = sel[a].tolist()
            ra, rb = ranks(p[rows, a]), ranks(p[rows, b])
            ra, rb = ra - ra.mean(), rb - rb.mean()
            want = float((ra * rb).sum() / np.sqrt((ra * ra).sum() * (rb * rb).sum()))
            assert got[a, b] == pytest.approx(want, abs=1e-12)


def test_overlap_sweep_rows_and_nulls():
    rng = np.random.default_rng(0)
    words = ["data", "model", "Python", "value", "qzx", "the", "of", "42", "orthogonal", "returns", "Return"]
    texts = [" ".join(rng.choice(words, size=int(rng.integers(5, 60)))) + "." for _ in range(240)]
    scores = score_dimensions(texts)
    seen = []
    out = overlap_sweep(scores, fractions=(0.05, 0.2), sizes=(240, 120), seeds=(0, 1), n_shuffles=3,
                        progress=lambda f, m="", **p: seen.append(f))
    assert len(out) == (1 + 2) * 2  # the whole corpus once, the half with two seeds; two budgets each
    assert seen[-1] == 1.0
    for r in out.itertuples():
        quotas_max = -(-r.budget // 4)  # equal weights: the largest quota is the budget / 4 rounded up
        assert r.null_analytic == pytest.approx(quotas_max / r.n_docs)
        assert 0 <= r.overlap_mean <= r.overlap_max <= 1
    with pytest.raises(ValueError, match="fractions"):
        overlap_sweep(scores, fractions=(0.0,))
    with pytest.raises(ValueError, match="sizes"):
        overlap_sweep(scores, sizes=(5000,))
    with pytest.raises(TypeError, match="scores"):
        overlap_sweep(scores.to_numpy())
    with pytest.raises(TypeError, match="quotas"):
        expected_overlap([1.5, 2.0], 10)
    with pytest.raises(ValueError, match="quotas"):
        expected_overlap([5, 20], 10)
    assert isinstance(out, pd.DataFrame)
