"""Calibrated scores: the permutation null and the bootstrap, against brute-force recomputation."""

import numpy as np
import pytest
from scipy.stats import ortho_group

from lab.alignment import (
    calibrate,
    from_arrays,
    linear_cka,
    mutual_knn_alignment,
    retrieval_top1,
    run_alignment,
    unbiased_cka,
)


def _pair(seed=0, n=240, d=8, noise=0.3, related=True):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 6, n)
    x = rng.standard_normal((6, d))[labels] * 2 + rng.standard_normal((n, d))
    y = x @ ortho_group.rvs(d, random_state=rng) if related else rng.standard_normal((n, d))
    return from_arrays(x, y + noise * rng.standard_normal((n, d)), labels=labels, seed=seed)


def test_null_and_bootstrap_match_brute_force_recomputation():
    res = run_alignment(_pair(), n_anchor_classes=4, normalize=False)
    table = calibrate(res, n_permutations=12, n_bootstrap=11, seed=5).set_index("metric")
    x, y = res.x_after.astype(np.float64), res.y_target.astype(np.float64)
    n = len(x)
    rng = np.random.default_rng(5)  # the same draws, in the same order, as calibrate
    perms = [rng.permutation(n) for _ in range(12)]
    boots = [rng.integers(0, n, size=n) for _ in range(11)]
    halves = [rng.permutation(n)[: n // 2] for _ in range(11)]
    labels = res.scored.labels[res.eval_rows]
    brute = {
        "linear CKA": [linear_cka(x, y[p]) for p in perms],
        "unbiased CKA": [unbiased_cka(x, y[p]) for p in perms],
        "retrieval top-1 (instance)": [retrieval_top1(x, y[p]) for p in perms],
        "retrieval top-1 (class)": [retrieval_top1(x, y[p], query_labels=labels, gallery_labels=labels)
                                    for p in perms],
        "mutual 10-NN overlap": [mutual_knn_alignment(x, y[p], k=10) for p in perms],
        "mean cosine": [float(np.mean(np.sum(x * y[p], 1) / np.linalg.norm(x, axis=1) / np.linalg.norm(y[p], axis=1)))
                        for p in perms],
    }
    for name, null in brute.items():
        assert table.loc[name, "null_mean"] == pytest.approx(np.mean(null), abs=1e-6), name
        assert table.loc[name, "null_lo"] == pytest.approx(np.percentile(null, 2.5), abs=1e-6), name
        p_value = (1 + np.sum(np.array(null) >= table.loc[name, "value"] - 1e-12)) / 13
        assert table.loc[name, "p_value"] == pytest.approx(p_value), name
    # CKA: half-samples without replacement (delete-n/2 jackknife), estimate ± 1.96 sd
    sd = np.std([linear_cka(x[h], y[h]) for h in halves], ddof=1)
    value = linear_cka(x, y)
    assert table.loc["linear CKA", "ci_lo"] == pytest.approx(value - 1.959964 * sd, abs=2e-4)
    assert table.loc["linear CKA", "ci_hi"] == pytest.approx(value + 1.959964 * sd, abs=2e-4)
    assert table.loc["linear CKA", "ci_lo"] < table.loc["linear CKA", "value"] < table.loc["linear CKA", "ci_hi"]
    # per-item scores: percentile bootstrap of the mean (here the per-row cosine)
    cos = np.sum(x * y, 1) / np.linalg.norm(x, axis=1) / np.linalg.norm(y, axis=1)
    boot = [cos[b].mean() for b in boots]
    assert table.loc["mean cosine", "ci_lo"] == pytest.approx(np.percentile(boot, 2.5), abs=1e-6)
    shown = res.metrics.set_index(["metric", "modality"])["after"]
    for name in brute:
        assert table.loc[name, "value"] == pytest.approx(shown[(name, res.scored.modalities[0])], abs=1e-5), name


def test_related_pair_sits_far_above_its_null_and_an_unrelated_one_inside_it():
    related = calibrate(run_alignment(_pair(1), n_anchor_classes=4, normalize=False), n_permutations=40,
                        n_bootstrap=40).set_index("metric")
    unrelated = calibrate(run_alignment(_pair(1, related=False), n_anchor_classes=4, normalize=False),
                          n_permutations=40, n_bootstrap=40).set_index("metric")
    for name in ("linear CKA", "retrieval top-1 (instance)", "mutual 10-NN overlap"):
        assert related.loc[name, "ci_lo"] > related.loc[name, "null_hi"], name
        assert related.loc[name, "p_value"] < 0.05
        assert unrelated.loc[name, "ci_lo"] <= unrelated.loc[name, "null_hi"], name
    assert (related["ci_lo"] <= related["value"] + 1e-12).all() and (related["value"] <= related["ci_hi"] + 1e-12).all()


def test_calibrate_validates_and_stops():
    res = run_alignment(_pair(2), n_anchor_classes=3, normalize=False)
    with pytest.raises(ValueError, match="n_permutations"):
        calibrate(res, n_permutations=3)
    with pytest.raises(TypeError, match="result"):
        calibrate(object())
    assert calibrate(res, should_stop=lambda: True) is None
