"""Scalable inference: predict component scores from text features, one regressor per component.

The paper trains a RoBERTa-based regressor per component on the LLM-scored sample and then
scores the full corpus with it. Here the features are the packaged MiniLM sentence embedding
(``features="minilm"``, 384-d, offline) or TF-IDF (``features="tfidf"``, light, no model),
and each component gets its own ridge regression on those features.

Note [ridge per component]: a ridge regression with several targets and one penalty solves
each target independently (the normal equations share X^T X + alpha I but not the
right-hand side), so fitting the (n, k) target matrix at once is exactly k separate
regressors. ``alpha`` is chosen per component on the training split by leave-one-out
(the closed form for ridge), from ``alphas``.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch

from lab.checks import check_finite, check_fitted, check_float, check_matrix
from lab.device import as_tensor, pick_device, to_numpy
from lab.seeding import numpy_rng

__all__ = ["ComponentRegressor", "r2_score", "FEATURES"]

FEATURES = ("minilm", "tfidf", "precomputed")


def r2_score(y_true, y_pred) -> np.ndarray:
    """Coefficient of determination per column: 1 - SS_res / SS_tot ((n, k) -> (k,))."""
    t = np.asarray(to_numpy(y_true), dtype=np.float64)
    p = np.asarray(to_numpy(y_pred), dtype=np.float64)
    if t.ndim == 1:
        t, p = t[:, None], p[:, None]
    ss_res = ((t - p) ** 2).sum(0)
    ss_tot = ((t - t.mean(0)) ** 2).sum(0)
    return np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0), 0.0)


class ComponentRegressor:
    """Ridge regressors from text features to component scores, with held-out R^2.

    Parameters
    ----------
    features : {"minilm", "tfidf", "precomputed"}, default "minilm"
        "minilm" embeds texts with lab.embed; "tfidf" fits scikit-learn TF-IDF on the training
        texts (``tfidf_features`` terms max); "precomputed" means fit/predict receive an (n, f)
        feature matrix instead of texts.
    alphas : sequence of float, default (0.1, 1.0, 10.0, 100.0)
        Candidate ridge penalties; the leave-one-out best is kept per component.
    test_fraction : float, default 0.2
        Share of rows held out to report R^2 (the model is fitted on the rest).
    seed : int, default 0
        Seed of the train/test split.
    device : torch.device or str, optional
        Where the ridge solve runs (default: CUDA when present).
    embed_fn : callable, optional
        ``embed_fn(texts) -> ndarray of shape (n, f)``; replaces the MiniLM call (a cache,
        another encoder).
    tfidf_features : int, default 4096
        Vocabulary cap of the TF-IDF features.

    Attributes
    ----------
    coef_ : ndarray of shape (k, f)
        Ridge weights, one row per component.
    intercept_ : ndarray of shape (k,)
    alpha_ : ndarray of shape (k,)
        The penalty chosen for each component.
    r2_, r2_train_ : ndarray of shape (k,)
        Held-out and training R^2 per component (``r2_`` is NaN with fewer than 2 held-out rows).
    train_index_ : ndarray of shape (n_train,)
    test_index_ : ndarray of shape (n_test,)
        Sorted row indices of the two splits.
    feature_mean_ : ndarray of shape (f,)
    vectorizer_ : TfidfVectorizer
        Only with ``features="tfidf"``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> features = rng.standard_normal((200, 6))
    >>> targets = features @ rng.standard_normal((6, 2))
    >>> reg = ComponentRegressor(features="precomputed", alphas=(0.01,)).fit(features, targets)
    >>> bool((reg.r2_ > 0.99).all())
    True
    >>> reg.predict(features[:3]).shape
    (3, 2)
    """

    def __init__(self, *, features: str = "minilm", alphas: Sequence[float] = (0.1, 1.0, 10.0, 100.0),
                 test_fraction: float = 0.2, seed: int = 0, device: str | torch.device | None = None,
                 embed_fn: Callable[[list[str]], np.ndarray] | None = None, tfidf_features: int = 4096) -> None:
        self.features = features
        self.alphas = alphas
        self.test_fraction = test_fraction
        self.seed = seed
        self.device = device
        self.embed_fn = embed_fn
        self.tfidf_features = tfidf_features

    # ------------------------------------------------------------------ features
    def _featurize(self, inputs, *, fit: bool) -> np.ndarray:
        if self.features == "precomputed":
            x = to_numpy(as_tensor(inputs, name="inputs", device="cpu", dtype=torch.float64))
            check_matrix("inputs", torch.from_numpy(x))
            check_finite("inputs", torch.from_numpy(x))
            return x
        from lab.odis.scorers import check_texts

        texts = check_texts(inputs, "inputs")
        if not texts:
            raise ValueError("inputs: expected at least one text, got none")
        if self.features == "minilm":
            if self.embed_fn is not None:
                return np.asarray(self.embed_fn(texts), dtype=np.float64)
            from lab.embed import embed_texts

            return embed_texts(texts, device=self.device).astype(np.float64)
        from sklearn.feature_extraction.text import TfidfVectorizer

        if fit:
            self.vectorizer_ = TfidfVectorizer(max_features=int(self.tfidf_features), sublinear_tf=True, min_df=2)
            return self.vectorizer_.fit_transform(texts).toarray()
        return self.vectorizer_.transform(texts).toarray()

    # ------------------------------------------------------------------ fitting
    def fit(self, inputs, pc_scores) -> "ComponentRegressor":
        """Fit one ridge regressor per component and score it on the held-out rows.

        Parameters
        ----------
        inputs : sequence of str of length n, or array-like of shape (n, f)
            Texts, or a feature matrix with ``features="precomputed"``.
        pc_scores : array-like of shape (n, k) or (n,)
            Targets: the component scores (``OrthogonalSelector.transform`` output).

        Returns
        -------
        self : ComponentRegressor
        """
        if self.features not in FEATURES:
            raise ValueError(f"features: expected one of {FEATURES}, got {self.features!r}")
        tf = check_float("test_fraction", self.test_fraction, lo=0.0, hi=0.9)
        y = to_numpy(as_tensor(pc_scores, name="pc_scores", device="cpu", dtype=torch.float64))
        if y.ndim == 1:
            y = y[:, None]
        check_matrix("pc_scores", torch.from_numpy(y))
        check_finite("pc_scores", torch.from_numpy(y))
        n = y.shape[0]
        n_in = len(inputs)
        if n_in != n:
            raise ValueError(f"inputs and pc_scores: expected paired rows, got {n_in} and {n}")
        n_test = int(round(tf * n))
        if n - n_test < 3:
            raise ValueError(f"pc_scores: expected at least 3 training rows, got {n - n_test} of {n}")
        perm = numpy_rng(self.seed).permutation(n)
        self.test_index_, self.train_index_ = np.sort(perm[:n_test]), np.sort(perm[n_test:])
        if self.features == "precomputed":
            x_all = self._featurize(inputs, fit=True)
            x_tr, x_te = x_all[self.train_index_], x_all[self.test_index_]
        else:
            items = list(inputs) if not hasattr(inputs, "iloc") else inputs.tolist()
            x_tr = self._featurize([items[i] for i in self.train_index_], fit=True)
            x_te = self._featurize([items[i] for i in self.test_index_], fit=False) if n_test else x_tr[:0]
        self._solve(x_tr, y[self.train_index_])
        self.r2_train_ = r2_score(y[self.train_index_], self._predict_features(x_tr))
        if n_test >= 2:  # R^2 needs a spread of at least two held-out rows
            self.r2_ = r2_score(y[self.test_index_], self._predict_features(x_te))
        else:
            self.r2_ = np.full(y.shape[1], np.nan)
        return self

    def _solve(self, x: np.ndarray, y: np.ndarray) -> None:
        alphas = np.asarray(self.alphas, dtype=np.float64)
        if alphas.ndim != 1 or len(alphas) == 0 or np.any(alphas <= 0):
            raise ValueError(f"alphas: expected positive penalties, got {np.asarray(self.alphas).tolist()}")
        dev = pick_device(self.device)
        X = torch.from_numpy(x).to(dev)  # (n, f)
        Y = torch.from_numpy(y).to(dev)  # (n, k)
        xm, ym = X.mean(0), Y.mean(0)
        Xc, Yc = X - xm, Y - ym
        # Note [leave-one-out ridge]: with the SVD Xc = U S V^T the hat matrix for penalty a is
        # U diag(s^2 / (s^2 + a)) U^T; LOO residuals are r_i / (1 - h_ii).
        U, S, Vh = torch.linalg.svd(Xc, full_matrices=False)  # U (n, r), S (r,), Vh (r, f)
        UtY = U.T @ Yc  # (r, k)
        best_err = torch.full((Y.shape[1],), float("inf"), dtype=X.dtype, device=dev)
        best = torch.zeros(Y.shape[1], dtype=X.dtype, device=dev)
        coef = torch.zeros(Y.shape[1], X.shape[1], dtype=X.dtype, device=dev)
        for a in alphas:
            shrink = S**2 / (S**2 + a)  # (r,)
            fitted = U @ (shrink[:, None] * UtY)  # (n, k)
            h = (U**2 * shrink).sum(1)  # (n,) leverages (without the intercept term)
            h = h + 1.0 / X.shape[0]
            loo = ((Yc - fitted) / (1.0 - h).clamp_min(1e-12)[:, None]) ** 2  # (n, k)
            err = loo.mean(0)  # (k,)
            better = err < best_err
            w = Vh.T @ ((S / (S**2 + a))[:, None] * UtY)  # (f, k)
            coef[better] = w.T[better]
            best[better] = float(a)
            best_err = torch.where(better, err, best_err)
        self.coef_ = to_numpy(coef)
        self.feature_mean_ = to_numpy(xm)
        self.intercept_ = to_numpy(ym)
        self.alpha_ = to_numpy(best)

    def _predict_features(self, x: np.ndarray) -> np.ndarray:
        return (x - self.feature_mean_) @ self.coef_.T + self.intercept_  # (n, k)

    def predict(self, inputs) -> np.ndarray:
        """Predicted component scores.

        Parameters
        ----------
        inputs : sequence of str of length n, or array-like of shape (n, f)
            Texts, or features with ``features="precomputed"``.

        Returns
        -------
        ndarray of shape (n, k)
        """
        check_fitted(self, "coef_", fit_call="fit(inputs, targets)")
        return self._predict_features(self._featurize(inputs, fit=False))
