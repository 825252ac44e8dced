"""CKA, retrieval, mutual k-NN, cosine and shape distance against naive references."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import ortho_group

from lab.alignment import (
    linear_cka,
    mean_pairwise_cosine,
    mutual_knn_alignment,
    nearest_neighbors,
    procrustes_distance,
    retrieval_top1,
    unbiased_cka,
)


def _naive_linear_cka(X, Y):
    n = X.shape[0]
    H = np.eye(n) - np.ones((n, n)) / n
    K, L = H @ X @ X.T @ H, H @ Y @ Y.T @ H
    return np.sum(K * L) / np.sqrt(np.sum(K * K) * np.sum(L * L))


def _naive_unbiased_hsic(K, L):
    n = K.shape[0]
    K, L = K.copy(), L.copy()
    np.fill_diagonal(K, 0)
    np.fill_diagonal(L, 0)
    t1 = sum(K[i, j] * L[j, i] for i in range(n) for j in range(n))
    t2 = K.sum() * L.sum() / ((n - 1) * (n - 2))
    t3 = 2.0 / (n - 2) * sum(K[i, :].sum() * L[i, :].sum() for i in range(n))
    return (t1 + t2 - t3) / (n * (n - 3))


def test_linear_cka_matches_the_kernel_formula():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((40, 7)), rng.standard_normal((40, 5))
    Y[:, :3] += X[:, :3]
    assert linear_cka(X, Y) == pytest.approx(_naive_linear_cka(X, Y), rel=1e-10)


def test_cka_is_one_under_orthogonal_maps_and_isotropic_scaling():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((100, 9)) @ rng.standard_normal((9, 9))
    Q = ortho_group.rvs(9, random_state=rng)
    Y = 3.7 * X @ Q + rng.standard_normal(9)
    assert linear_cka(X, X) == pytest.approx(1.0, abs=1e-12)
    assert linear_cka(X, Y) == pytest.approx(1.0, abs=1e-10)
    assert unbiased_cka(X, Y) == pytest.approx(1.0, abs=1e-10)
    # ... and not invariant to a general (non-orthogonal) linear map.
    A = rng.standard_normal((9, 9))
    assert linear_cka(X, X @ A) < 0.99


def test_unbiased_cka_matches_naive_loops_and_is_near_zero_for_independent_data():
    rng = np.random.default_rng(2)
    X, Y = rng.standard_normal((25, 6)), rng.standard_normal((25, 4))
    K, L = X @ X.T, Y @ Y.T
    ref = _naive_unbiased_hsic(K, L) / np.sqrt(_naive_unbiased_hsic(K, K) * _naive_unbiased_hsic(L, L))
    assert unbiased_cka(X, Y) == pytest.approx(ref, rel=1e-9)
    A, B = rng.standard_normal((200, 150)), rng.standard_normal((200, 150))
    assert abs(unbiased_cka(A, B)) < 0.05
    assert linear_cka(A, B) > 0.3  # the biased estimator is inflated when d ~ n


def _brute_top1(q, g, ql=None, gl=None):
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    gn = g / np.linalg.norm(g, axis=1, keepdims=True)
    hits = []
    for i in range(len(q)):
        sims = [float(qn[i] @ gn[j]) for j in range(len(g))]
        j = int(np.argmax(sims))
        hits.append(j == i if ql is None else gl[j] == ql[i])
    return float(np.mean(hits))


@pytest.mark.parametrize("tile", [1, 7, 4096])
def test_retrieval_equals_brute_force_at_instance_and_label_level(tile):
    rng = np.random.default_rng(3)
    g = rng.standard_normal((53, 6))
    q = g + 0.8 * rng.standard_normal((53, 6))
    acc = retrieval_top1(q, g, tile=tile)
    assert acc == pytest.approx(_brute_top1(q, g))
    assert 0.1 < acc < 1.0  # a case where both hits and misses happen
    gl, ql = rng.integers(0, 4, 70), rng.integers(0, 4, 53)
    g2 = rng.standard_normal((70, 6))
    assert retrieval_top1(q, g2, query_labels=ql, gallery_labels=gl, tile=tile) == pytest.approx(
        _brute_top1(q, g2, ql, gl)
    )


@settings(max_examples=20, deadline=None)
@given(nq=st.integers(1, 30), ng=st.integers(2, 30), d=st.integers(1, 5), k=st.integers(1, 4),
       tile=st.integers(1, 9), seed=st.integers(0, 2**31 - 1))
def test_property_tiled_knn_equals_full_sort(nq, ng, d, k, tile, seed):
    rng = np.random.default_rng(seed)
    q, g = rng.standard_normal((nq, d)), rng.standard_normal((ng, d))
    k = min(k, ng)
    got = nearest_neighbors(q, g, k=k, tile=tile).numpy()
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    gn = g / np.linalg.norm(g, axis=1, keepdims=True)
    ref = np.argsort(-(qn @ gn.T), axis=1, kind="stable")[:, :k]
    np.testing.assert_array_equal(got, ref)


def test_knn_excluding_self_and_mutual_knn_against_brute_force():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((40, 5))
    Y = X + 0.5 * rng.standard_normal((40, 5))
    k = 4

    def knn(A):
        An = A / np.linalg.norm(A, axis=1, keepdims=True)
        S = An @ An.T
        np.fill_diagonal(S, -np.inf)
        return np.argsort(-S, axis=1, kind="stable")[:, :k]

    np.testing.assert_array_equal(nearest_neighbors(X, X, k=k, exclude_self=True, tile=6).numpy(), knn(X))
    ref = np.mean([len(set(a) & set(b)) / k for a, b in zip(knn(X), knn(Y))])
    assert mutual_knn_alignment(X, Y, k=k, tile=6) == pytest.approx(ref)
    assert mutual_knn_alignment(X, X, k=k) == pytest.approx(1.0)


def test_mean_cosine_and_shape_distance():
    rng = np.random.default_rng(5)
    X, Y = rng.standard_normal((30, 4)), rng.standard_normal((30, 4))
    ref = np.mean([x @ y / np.linalg.norm(x) / np.linalg.norm(y) for x, y in zip(X, Y)])
    assert mean_pairwise_cosine(X, Y) == pytest.approx(ref)
    Q = ortho_group.rvs(4, random_state=rng)
    assert procrustes_distance(X, 2 * X @ Q + 1) == pytest.approx(0.0, abs=1e-6)
    assert 0.3 < procrustes_distance(X, Y) <= np.pi / 2


def test_metrics_return_python_floats_and_accept_torch_float32():
    rng = np.random.default_rng(6)
    X = torch.tensor(rng.standard_normal((20, 3)), dtype=torch.float32)
    for value in (linear_cka(X, X), retrieval_top1(X, X), mean_pairwise_cosine(X, X)):
        assert isinstance(value, float)
    assert retrieval_top1(X, X) == 1.0


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: retrieval_top1(np.ones((3, 2)), np.ones((4, 2))), "paired rows"),
        (lambda: retrieval_top1(np.ones((3, 2)), np.ones((3, 3))), "same width"),
        (lambda: retrieval_top1(np.ones((3, 2)), np.ones((3, 2)), query_labels=[0, 1, 2]), "give both"),
        (lambda: retrieval_top1(np.ones((3, 2)), np.ones((3, 2)), query_labels=[0, 1], gallery_labels=[0, 1, 2]),
         "query_labels"),
        (lambda: linear_cka(np.ones((3, 2)), np.ones((4, 2))), "paired rows"),
        (lambda: linear_cka(np.ones((3, 2)), np.ones((3, 2))), "constant"),
        (lambda: unbiased_cka(np.ones((3, 2)), np.ones((3, 2))), "at least 4 rows"),
        (lambda: mutual_knn_alignment(np.ones((3, 2)), np.ones((3, 2)), k=5), "k"),
        (lambda: mean_pairwise_cosine(np.array([[np.nan, 1.0]]), np.ones((1, 2))), "NaN"),
    ],
)
def test_bad_inputs_raise_value_errors_that_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()
