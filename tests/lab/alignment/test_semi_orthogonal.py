"""Maps between spaces of different widths, and the cross-validated ridge baseline.

References: a naive float64 majorisation loop (Kiers' update, a different algorithm from the
Newton solver under test), the optimality conditions on the Stiefel manifold, and
scikit-learn's Ridge under GridSearchCV on the same folds.
"""

import numpy as np
import pytest
import torch
from scipy.stats import ortho_group
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, KFold

from lab.alignment import SEMI_ORTHOGONAL, ProcrustesAligner, RidgeCVAligner, make_aligner
from lab.alignment.stiefel import semi_orthogonal_lstsq


def _planted_wide(rng, n=1500, dx=384, dy=256, noise=0.01, decades=1.0):
    """X with a decaying spectrum (anisotropic, as real embeddings), Y = X R + noise, R (dx, dy) orthonormal columns."""
    X = rng.standard_normal((n, dx)) * np.logspace(0, -decades, dx) + rng.standard_normal(dx)
    R = ortho_group.rvs(dx, random_state=rng)[:, :dy]
    Y = (X - X.mean(0)) @ R + 0.5 + noise * rng.standard_normal((n, dy))
    return X, Y, R


def _loss(X, Y, R):
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    return float(np.sum((Xc @ R - Yc) ** 2))


def test_planted_semi_orthogonal_map_is_recovered_and_the_polar_factor_is_not():
    rng = np.random.default_rng(5)
    X, Y, R = _planted_wide(rng, n=1900)
    X, Y, X_new = X[:1500], Y[:1500], X[1500:]  # 400 held-out rows from the same distribution
    truth = (X_new - X.mean(0)) @ R
    errs = {}
    for mode in SEMI_ORTHOGONAL:
        al = ProcrustesAligner(semi_orthogonal=mode).fit(X, Y)
        Rhat = al.rotation_.numpy()
        np.testing.assert_allclose(Rhat.T @ Rhat, np.eye(Y.shape[1]), atol=1e-8)  # orthonormal columns
        pred = al.transform(X_new).numpy() - al.transform(X.mean(0, keepdims=True)).numpy()
        errs[mode] = float(np.mean(np.linalg.norm(pred - truth, axis=1)))
    assert errs["least_squares"] < 0.1, errs  # per-row norm; the noise alone is 0.16
    assert errs["polar"] > 10 * errs["least_squares"], errs
    ls = ProcrustesAligner().fit(X, Y)
    assert ls.converged_ and 0 < ls.n_iter_ < 60


def test_least_squares_map_meets_the_optimality_conditions_and_beats_the_polar_factor():
    rng = np.random.default_rng(8)
    X, Y, _ = _planted_wide(rng, n=300, dx=40, dy=15, noise=0.5, decades=1.5)
    al = ProcrustesAligner(tol=1e-9).fit(X, Y)
    R = al.rotation_.numpy()
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    E = Xc.T @ Xc @ R - Xc.T @ Yc  # half the Euclidean gradient
    # first-order conditions on the Stiefel manifold: R^T E symmetric, (I - R R^T) E = 0
    scale = np.linalg.norm(Xc.T @ Yc)
    assert np.linalg.norm(R.T @ E - (R.T @ E).T) < 1e-6 * scale
    assert np.linalg.norm(E - R @ (R.T @ E)) < 1e-6 * scale
    polar = ProcrustesAligner(semi_orthogonal="polar").fit(X, Y).rotation_.numpy()
    assert _loss(X, Y, R) < _loss(X, Y, polar)
    # no nearby map with orthonormal columns does better (second-order check by sampling)
    for _ in range(20):
        Z = R + 1e-3 * rng.standard_normal(R.shape)
        U, _, Vt = np.linalg.svd(Z, full_matrices=False)
        assert _loss(X, Y, U @ Vt) >= _loss(X, Y, R) - 1e-9


def _kiers_reference(G, C, R, iters):
    """Naive float64 majorisation (Kiers 1990): R <- polar(C + (lambda_max I - G) R); monotone, slow."""
    lam = np.linalg.eigvalsh(G)[-1]
    for _ in range(iters):
        U, _, Vt = np.linalg.svd(C + (lam * np.eye(len(G)) - G) @ R, full_matrices=False)
        R = U @ Vt
    return R


def test_newton_solver_matches_an_independent_majorisation_loop():
    rng = np.random.default_rng(21)
    X = rng.standard_normal((200, 10)) * np.linspace(1.0, 0.3, 10)
    Y = rng.standard_normal((200, 4)) + X[:, :4] @ rng.standard_normal((4, 4))  # not a planted map at all
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    G, C = Xc.T @ Xc, Xc.T @ Yc
    U, _, Vt = np.linalg.svd(C, full_matrices=False)
    ref = _kiers_reference(G, C, U @ Vt, 20000)
    fit = semi_orthogonal_lstsq(torch.from_numpy(G), torch.from_numpy(C), tol=1e-10, max_iter=200)
    assert fit.converged
    np.testing.assert_allclose(fit.R.numpy(), ref, atol=1e-6)


def test_narrower_space_a_and_equal_widths_use_the_exact_polar_factor():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((120, 6)) * np.linspace(2, 0.2, 6)
    Y = rng.standard_normal((120, 9))
    a = ProcrustesAligner().fit(X, Y)
    b = ProcrustesAligner(semi_orthogonal="polar").fit(X, Y)
    assert a.n_iter_ == 0
    np.testing.assert_allclose(a.rotation_.numpy(), b.rotation_.numpy(), atol=1e-12)
    R = a.rotation_.numpy()  # (6, 9), orthonormal rows: ||Xc R|| = ||Xc|| for every such R
    for _ in range(20):
        Z = R + 1e-2 * rng.standard_normal(R.shape)
        U, _, Vt = np.linalg.svd(Z, full_matrices=False)
        assert _loss(X, Y, U @ Vt) >= _loss(X, Y, R) - 1e-9


def test_semi_orthogonal_fit_streams_over_chunks():
    rng = np.random.default_rng(4)
    X, Y, _ = _planted_wide(rng, n=500, dx=30, dy=12, noise=0.1)
    whole = ProcrustesAligner(tol=1e-9).fit(X, Y).rotation_.numpy()
    chunks = ProcrustesAligner(tol=1e-9).fit([(X[:170], Y[:170]), (X[170:], Y[170:])]).rotation_.numpy()
    np.testing.assert_allclose(chunks, whole, atol=1e-7)


def test_ridge_cv_matches_scikit_learn_on_the_same_folds():
    rng = np.random.default_rng(9)
    n, dx, dy = 90, 30, 7  # about as many rows as dimensions: where the alpha matters
    X = rng.standard_normal((n, dx)) * np.logspace(0, -1, dx) + 2.0
    Y = X @ rng.standard_normal((dx, dy)) * 0.3 + rng.standard_normal((n, dy)) - 1.0
    alphas = np.logspace(-3, 2, 11)
    ours = RidgeCVAligner(alphas=alphas, cv=5, seed=4).fit(X, Y)
    search = GridSearchCV(Ridge(fit_intercept=True), {"alpha": alphas}, scoring="neg_mean_squared_error",
                          cv=KFold(5, shuffle=True, random_state=4)).fit(X, Y)
    assert ours.alpha_ == pytest.approx(search.best_params_["alpha"])
    np.testing.assert_allclose(ours.cv_mse_, -search.cv_results_["mean_test_score"], rtol=1e-8)
    np.testing.assert_allclose(ours.weight_.numpy(), search.best_estimator_.coef_.T, atol=1e-8)
    X_new = rng.standard_normal((5, dx))
    np.testing.assert_allclose(ours.transform(X_new).numpy(), search.predict(X_new), atol=1e-8)


def test_ridge_and_semi_orthogonal_reject_bad_settings_by_name():
    X, Y = np.random.default_rng(0).standard_normal((2, 20, 4))
    with pytest.raises(ValueError, match="semi_orthogonal"):
        ProcrustesAligner(semi_orthogonal="svd").fit(X, Y)
    with pytest.raises(ValueError, match="alphas"):
        RidgeCVAligner(alphas=[1.0, -2.0]).fit(X, Y)
    with pytest.raises(ValueError, match="cv"):
        RidgeCVAligner(cv=1).fit(X, Y)
    assert isinstance(make_aligner("ridge"), RidgeCVAligner)
