"""Orthogonal, linear and MLP maps, checked against scipy and planted ground truth."""

import numpy as np
import pytest
import scipy.linalg
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import ortho_group

from lab.alignment import (
    LinearMapAligner,
    MLPAligner,
    ProcrustesAligner,
    cross_statistics,
    make_aligner,
    orthogonality_error,
)


def _planted(rng, n=400, d=12, noise=0.01, reflect=True):
    X = rng.standard_normal((n, d)) * rng.uniform(0.5, 2.0, size=d) + rng.standard_normal(d) * 3
    Q = ortho_group.rvs(d, random_state=rng)
    if reflect and np.linalg.det(Q) > 0:
        Q[:, 0] = -Q[:, 0]  # a true reflection: det = -1
    shift = rng.standard_normal(d) * 5
    Y = (X - X.mean(0)) @ Q + shift + noise * rng.standard_normal((n, d))
    return X, Y, Q, shift


def test_planted_orthogonal_map_with_reflection_shift_and_noise_is_recovered():
    rng = np.random.default_rng(11)
    X, Y, Q, shift = _planted(rng)
    assert np.linalg.det(Q) < 0
    al = ProcrustesAligner().fit(X, Y)
    R = al.rotation_.numpy()
    assert al.rotation_.dtype == torch.float64 and R.shape == (12, 12)
    np.testing.assert_allclose(R, Q, atol=5e-3)
    np.testing.assert_allclose(al.mean_y_.numpy(), Y.mean(0), atol=1e-12)
    np.testing.assert_allclose(al.mean_x_.numpy(), X.mean(0), atol=1e-12)
    resid = al.transform(X).numpy() - Y
    assert np.sqrt((resid**2).mean()) < 0.02  # about the planted noise level
    assert orthogonality_error(R) < 1e-10


def test_agrees_with_scipy_orthogonal_procrustes_on_centred_data():
    rng = np.random.default_rng(3)
    for n, d in [(50, 5), (300, 20), (30, 40)]:  # the last has fewer rows than columns
        X = rng.standard_normal((n, d)) + 1.0
        Y = rng.standard_normal((n, d)) @ rng.standard_normal((d, d)) - 2.0
        Xc, Yc = X - X.mean(0), Y - Y.mean(0)
        R_ref, _ = scipy.linalg.orthogonal_procrustes(Xc, Yc)
        al = ProcrustesAligner().fit(X, Y)
        # Compare the objective (the minimiser is unique only when singular values are distinct).
        obj = np.linalg.norm(Xc @ al.rotation_.numpy() - Yc)
        obj_ref = np.linalg.norm(Xc @ R_ref - Yc)
        assert obj == pytest.approx(obj_ref, rel=1e-10)
        if n > d:
            np.testing.assert_allclose(al.rotation_.numpy(), R_ref, atol=1e-8)


def test_no_centering_matches_scipy_on_raw_data():
    rng = np.random.default_rng(4)
    X, Y = rng.standard_normal((80, 7)) + 2, rng.standard_normal((80, 7)) - 1
    R_ref, _ = scipy.linalg.orthogonal_procrustes(X, Y)
    al = ProcrustesAligner(center=False).fit(X, Y)
    np.testing.assert_allclose(al.rotation_.numpy(), R_ref, atol=1e-10)
    assert np.all(al.mean_x_.numpy() == 0) and np.all(al.mean_y_.numpy() == 0)


def test_so_d_option_gives_a_rotation_and_is_optimal_among_rotations():
    rng = np.random.default_rng(5)
    X, Y, Q, _ = _planted(rng, d=6, noise=0.05)
    so = ProcrustesAligner(allow_reflection=False).fit(X, Y)
    o = ProcrustesAligner(allow_reflection=True).fit(X, Y)
    R = so.rotation_.numpy()
    assert np.linalg.det(R) == pytest.approx(1.0, abs=1e-9)
    assert np.linalg.det(o.rotation_.numpy()) == pytest.approx(-1.0, abs=1e-9)
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    best = np.linalg.norm(Xc @ R - Yc)
    # Brute-force check against many random rotations near the answer: none does better.
    for _ in range(200):
        A = rng.standard_normal((6, 6)) * 0.05
        P = scipy.linalg.expm(A - A.T) @ R  # a nearby rotation
        assert np.linalg.norm(Xc @ P - Yc) >= best - 1e-9


def test_streaming_over_chunks_equals_the_in_memory_fit():
    rng = np.random.default_rng(6)
    X, Y, _, _ = _planted(rng, n=1000, d=10)
    full = ProcrustesAligner().fit(X, Y)
    chunks = ((X[i : i + 97], Y[i : i + 97]) for i in range(0, 1000, 97))  # a generator: seen once
    streamed = ProcrustesAligner().fit(chunks)
    np.testing.assert_allclose(streamed.rotation_.numpy(), full.rotation_.numpy(), atol=1e-10)
    np.testing.assert_allclose(streamed.mean_x_.numpy(), full.mean_x_.numpy(), atol=1e-12)
    assert streamed.n_samples_ == 1000
    small_tiles = ProcrustesAligner(chunk_rows=13).fit(X, Y)
    np.testing.assert_allclose(small_tiles.rotation_.numpy(), full.rotation_.numpy(), atol=1e-10)
    lin_full = LinearMapAligner().fit(X, Y)
    lin_stream = LinearMapAligner().fit([(X[:500], Y[:500]), (X[500:], Y[500:])])
    np.testing.assert_allclose(lin_stream.weight_.numpy(), lin_full.weight_.numpy(), atol=1e-9)


def test_cross_statistics_against_naive_sums():
    rng = np.random.default_rng(7)
    X, Y = rng.standard_normal((60, 4)), rng.standard_normal((60, 3))
    s = cross_statistics([(X[:25], Y[:25]), (X[25:], Y[25:])], with_gram=True)
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    np.testing.assert_allclose(s.centred_cross(True).numpy(), Xc.T @ Yc, atol=1e-10)
    np.testing.assert_allclose(s.centred_gram(True).numpy(), Xc.T @ Xc, atol=1e-10)
    assert s.n == 60


def test_rectangular_map_is_semi_orthogonal():
    rng = np.random.default_rng(8)
    X, Y = rng.standard_normal((100, 8)), rng.standard_normal((100, 5))
    al = ProcrustesAligner().fit(X, Y)
    assert al.rotation_.shape == (8, 5)
    assert orthogonality_error(al.rotation_) < 1e-10
    assert al.transform(X).shape == (100, 5)
    with pytest.raises(ValueError, match="allow_reflection"):
        ProcrustesAligner(allow_reflection=False).fit(X, Y)


def test_inverse_transform_undoes_transform():
    rng = np.random.default_rng(9)
    X, Y, _, _ = _planted(rng)
    al = ProcrustesAligner().fit(X, Y)
    np.testing.assert_allclose(al.inverse_transform(al.transform(X)).numpy(), X, atol=1e-10)


def test_normalize_option_fits_on_unit_rows():
    rng = np.random.default_rng(10)
    X, Y = rng.standard_normal((200, 6)) * 4, rng.standard_normal((200, 6)) * 0.1
    al = ProcrustesAligner(normalize=True).fit(X, Y)
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    Yn = Y / np.linalg.norm(Y, axis=1, keepdims=True)
    ref = ProcrustesAligner().fit(Xn, Yn)
    np.testing.assert_allclose(al.rotation_.numpy(), ref.rotation_.numpy(), atol=1e-10)


def test_float32_input_stays_float32_and_numpy_returns_torch():
    rng = np.random.default_rng(12)
    X, Y, _, _ = _planted(rng)
    al = ProcrustesAligner().fit(X.astype(np.float32), Y.astype(np.float32))
    out = al.transform(X.astype(np.float32))
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32 and out.device.type == "cpu"


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 40), d=st.integers(1, 8), seed=st.integers(0, 2**31 - 1))
def test_property_rotation_is_orthogonal_and_no_worse_than_identity(n, d, seed):
    rng = np.random.default_rng(seed)
    X, Y = rng.standard_normal((n, d)), rng.standard_normal((n, d))
    al = ProcrustesAligner().fit(X, Y)
    R = al.rotation_.numpy()
    assert orthogonality_error(R) < 1e-8
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    assert np.linalg.norm(Xc @ R - Yc) <= np.linalg.norm(Xc - Yc) + 1e-9


def test_linear_map_matches_numpy_lstsq_and_min_norm():
    rng = np.random.default_rng(13)
    X, Y = rng.standard_normal((200, 6)), rng.standard_normal((200, 4))
    lin = LinearMapAligner().fit(X, Y)
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    W_ref = np.linalg.lstsq(Xc, Yc, rcond=None)[0]
    np.testing.assert_allclose(lin.weight_.numpy(), W_ref, atol=1e-9)
    Xs, Ys = rng.standard_normal((5, 10)), rng.standard_normal((5, 10))  # underdetermined
    lin2 = LinearMapAligner().fit(Xs, Ys)
    W2 = np.linalg.pinv(Xs - Xs.mean(0)) @ (Ys - Ys.mean(0))
    np.testing.assert_allclose(lin2.weight_.numpy(), W2, atol=1e-8)
    ridge = LinearMapAligner(ridge=2.0).fit(X, Y)
    W3 = np.linalg.solve(Xc.T @ Xc + 2.0 * np.eye(6), Xc.T @ Yc)
    np.testing.assert_allclose(ridge.weight_.numpy(), W3, atol=1e-9)
    assert orthogonality_error(lin.weight_.numpy()[:4, :4]) > 0.1


def test_mlp_baseline_fits_a_smooth_map_and_is_seeded():
    rng = np.random.default_rng(14)
    X = rng.standard_normal((300, 4))
    Y = np.tanh(X @ rng.standard_normal((4, 3)))
    a = MLPAligner(steps=300, seed=1).fit(X, Y)
    b = MLPAligner(steps=300, seed=1).fit(X, Y)
    pred = a.transform(X).numpy()
    assert np.mean((pred - Y) ** 2) < 0.2 * np.var(Y) * 3
    np.testing.assert_allclose(pred, b.transform(X).numpy())
    assert a.matrix_.shape == (4, 3)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: ProcrustesAligner().fit(np.ones((5, 3)), np.ones((4, 3))), "paired rows"),
        (lambda: ProcrustesAligner().fit(np.ones((5,)), np.ones((5,))), "2-D"),
        (lambda: ProcrustesAligner().fit(np.full((5, 3), np.nan), np.ones((5, 3))), "NaN"),
        (lambda: ProcrustesAligner().fit(np.ones((5, 3))), "Y: required"),
        (lambda: ProcrustesAligner().fit(np.ones((5, 3)), np.where(np.eye(5, 3) > 0, np.inf, 1.0)), "Y: contains"),
        (lambda: LinearMapAligner().fit(np.full((5, 3), 1e30, dtype=np.float32), np.ones((5, 3), dtype=np.float32)),
         "overflows"),
        (lambda: ProcrustesAligner().transform(np.ones((5, 3))), "fit"),
        (lambda: ProcrustesAligner().fit(np.ones((5, 3)), np.ones((5, 3))).transform(np.ones((2, 4))), "3 columns"),
        (lambda: ProcrustesAligner().fit([(np.ones((5, 3)), np.ones((5, 3))), (np.ones((5, 2)), np.ones((5, 3)))]),
         "widths"),
        (lambda: ProcrustesAligner().fit([]), "at least one row"),
        (lambda: LinearMapAligner(ridge=-1).fit(np.ones((5, 3)), np.ones((5, 3))), "ridge"),
        (lambda: make_aligner("cubic"), "map_type"),
    ],
)
def test_bad_inputs_raise_value_errors_that_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_non_numeric_input_is_a_type_error():
    with pytest.raises(TypeError, match="X"):
        ProcrustesAligner().fit(np.array([["a", "b"]]), np.ones((1, 2)))


def test_public_api_is_keyword_only_and_does_no_work_in_init():
    import inspect

    import lab.alignment as la

    for name in ("ProcrustesAligner", "linear_cka", "retrieval_top1", "unbiased_cka", "mutual_knn_alignment",
                 "mean_pairwise_cosine", "orthogonality_error", "LinearMapAligner", "MLPAligner"):
        assert name in la.__all__ and hasattr(la, name)
    params = inspect.signature(ProcrustesAligner).parameters
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params.values())
    assert params["center"].default is True and params["allow_reflection"].default is True
    assert not any(k.endswith("_") for k in vars(ProcrustesAligner()))
    r = inspect.signature(la.retrieval_top1).parameters
    assert r["query_labels"].kind is inspect.Parameter.KEYWORD_ONLY


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_fit_and_retrieval_match_the_cpu():
    from lab.alignment import retrieval_top1

    rng = np.random.default_rng(15)
    X, Y, _, _ = _planted(rng, n=2000, d=32)
    cpu = ProcrustesAligner().fit(X, Y)
    gpu = ProcrustesAligner(device="cuda").fit(X, Y)
    assert gpu.rotation_.device.type == "cuda"
    np.testing.assert_allclose(gpu.rotation_.cpu().numpy(), cpu.rotation_.numpy(), atol=1e-8)
    q = torch.tensor(X, device="cuda")
    assert gpu.transform(q).device.type == "cuda"
    assert retrieval_top1(X, Y @ np.eye(32), device="cuda", tile=300) == retrieval_top1(X, Y, device="cpu", tile=300)
