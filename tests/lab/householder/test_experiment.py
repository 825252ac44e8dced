"""The shapes set and the generic ground-truth metrics (MIG, SAP, purity) of the Householder study."""

import colorsys
import math

import numpy as np
import pytest
import torch
from scipy import stats

from lab.householder import (
    discretize,
    make_shapes,
    mig,
    mutual_info_matrix,
    normalise_factors,
    render,
    sample_factors,
    sap_matrix,
)


# --------------------------------------------------------------------------- shapes
def test_render_places_and_colours_the_shape():
    f = sample_factors(40, seed=5)
    imgs = render(f, size=48).numpy()  # (n, 3, 48, 48)
    assert imgs.shape == (40, 3, 48, 48) and imgs.min() >= 0 and imgs.max() <= 1
    ax = (np.arange(48) + 0.5) / 48 * 2 - 1
    for img, (shape, scale, rot, x, y, hue) in zip(imgs, f):
        mask = img.max(0) > 0.5  # (48, 48)
        rows, cols = np.nonzero(mask)
        cx, cy = ax[cols].mean(), -ax[rows].mean()
        tol = 0.12 if int(shape) == 2 else 0.05  # the triangle's pixel centroid is its centre
        assert abs(cx - x) < tol and abs(cy - y) < tol
        r, g, b = colorsys.hsv_to_rgb(hue, 1.0, 1.0)
        centre = img[:, np.argmin(np.abs(-ax - y)), np.argmin(np.abs(ax - x))]  # pixel at the shape's centre
        np.testing.assert_allclose(centre, [r, g, b], atol=0.12)


def test_make_shapes_is_deterministic_and_validates():
    a, b = make_shapes(30, seed=3), make_shapes(30, seed=3)
    assert torch.equal(a.images, b.images) and np.array_equal(a.factors, b.factors)
    assert not np.array_equal(a.factors, make_shapes(30, seed=4).factors)
    fn = normalise_factors(a.factors)
    assert fn.min() >= 0 and fn.max() <= 1
    with pytest.raises(ValueError, match="factors"):
        render(np.zeros((3, 5)))


# --------------------------------------------------------------------------- metrics
def _mi_bruteforce(a, b):
    a, b = np.asarray(a), np.asarray(b)
    total = 0.0
    for x in np.unique(a):
        for y in np.unique(b):
            pxy = np.mean((a == x) & (b == y))
            if pxy > 0:
                total += pxy * math.log(pxy / (np.mean(a == x) * np.mean(b == y)))
    return total


def test_mutual_information_and_mig_against_bruteforce():
    rng = np.random.default_rng(0)
    F = sample_factors(3000, seed=1)
    fn = normalise_factors(F)
    codes = np.stack([fn[:, 3] + 0.05 * rng.normal(size=3000),  # mostly x
                      fn[:, 3] * 0.5 + fn[:, 5] + 0.3 * rng.normal(size=3000),  # hue and some x
                      rng.normal(size=3000)], axis=1)  # noise
    mi, ent = mutual_info_matrix(codes, F)
    labels_x = np.clip((fn[:, 3] * 10).astype(int), 0, 9)
    assert math.isclose(mi[0, 3], _mi_bruteforce(discretize(codes[:, 0]), labels_x), rel_tol=1e-9)
    assert math.isclose(ent[3], _mi_bruteforce(labels_x, labels_x), rel_tol=1e-9)
    score, gaps = mig(codes, F)
    top = np.sort(mi, axis=0)[::-1]
    np.testing.assert_allclose(gaps, (top[0] - top[1]) / ent)
    assert gaps[3] > 0.3 and score == pytest.approx(gaps.mean())
    with pytest.raises(ValueError, match="codes"):
        mig(codes[:, :1], F)


def test_sap_matrix_against_scipy_and_least_squares():
    rng = np.random.default_rng(2)
    F = sample_factors(800, seed=2)
    codes = rng.normal(size=(800, 3)) + np.stack([F[:, 1], F[:, 0], F[:, 4]], axis=1)
    M = sap_matrix(codes, F)
    for j in range(3):
        for f in range(1, 6):
            assert M[j, f] == pytest.approx(stats.linregress(codes[:, j], F[:, f]).rvalue ** 2, rel=1e-9)
        onehot = np.eye(3)[F[:, 0].astype(int)]  # eta^2 = R^2 of a regression on the class
        coef, *_ = np.linalg.lstsq(onehot, codes[:, j], rcond=None)
        resid = codes[:, j] - onehot @ coef
        assert M[j, 0] == pytest.approx(1 - resid.var() / codes[:, j].var(), rel=1e-9)
    assert M[1, 0] > 0.3 and M[0, 1] > 0.001
