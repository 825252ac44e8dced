"""Sources (shipped, bring-your-own) and the experiment protocol on planted data."""

import io
import pickle

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ortho_group

from lab.alignment import (
    ENCODER_PAIRS,
    PRESETS,
    SHIPPED,
    anchor_curve,
    anchor_sweep,
    compare_maps,
    comparison_size,
    default_anchor_count,
    from_arrays,
    load_byo,
    load_shipped,
    project_2d,
    retrain_pair,
    run_alignment,
    select_anchors,
)


def _planted(seed=0, n=600, d=16, n_classes=12, m=120, noise=0.05):
    """Class-clustered space A and an orthogonal copy of it (plus noise and a shift) as B."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_classes, d)) * 2
    labels = rng.integers(0, n_classes, n)
    x = centres[labels] + rng.standard_normal((n, d))
    labels2 = np.arange(m) % n_classes
    x2 = centres[labels2] + 0.5 * rng.standard_normal((m, d)) + 3.0  # a "modality gap"
    Q = ortho_group.rvs(d, random_state=rng)
    shift = rng.standard_normal(d)
    y = x @ Q + shift + noise * rng.standard_normal((n, d))
    y2 = x2 @ Q + shift + noise * rng.standard_normal((m, d))
    return from_arrays(x, y, labels=labels, x2=x2, y2=y2, labels2=labels2, seed=seed)


def test_select_anchors_takes_whole_classes_from_training_rows():
    data = _planted()
    rows, classes = select_anchors(data, 4, seed=1)
    assert len(classes) == 4 and set(np.unique(data.labels[rows])) == set(classes)
    assert data.train_mask[rows].all()
    expected = data.train_rows()[np.isin(data.labels[data.train_rows()], classes)]
    np.testing.assert_array_equal(rows, expected)
    with pytest.raises(ValueError, match="n_anchor_classes"):
        select_anchors(data, 13)


def test_planted_orthogonal_relation_goes_from_chance_to_perfect():
    data = _planted()
    # the planted relation is exact in the raw coordinates (normalising rows would bend it)
    res = run_alignment(data, n_anchor_classes=6, map_type="orthogonal", normalize=False)
    m = res.metrics.set_index(["metric", "modality"])
    assert m.loc[("retrieval top-1 (instance)", "image"), "before"] < 0.1
    assert m.loc[("retrieval top-1 (instance)", "image"), "after"] > 0.95
    assert m.loc[("retrieval top-1 (instance)", "text"), "after"] > 0.95  # the image-fitted map aligns text
    assert m.loc[("mean cosine", "image"), "after"] > 0.99
    # linear CKA is invariant to the orthogonal map: equal before and after
    assert m.loc[("linear CKA", "image"), "before"] == pytest.approx(m.loc[("linear CKA", "image"), "after"], abs=1e-5)
    assert res.orthogonality_error < 1e-5
    assert not np.isin(res.eval_rows, res.anchors).any()
    assert res.singular_values.shape == (16,) and np.all(np.diff(res.singular_values) <= 1e-9)


def test_heldout_scores_only_classes_outside_the_anchors_and_maps_compare():
    data = _planted(seed=2)
    res = run_alignment(data, n_anchor_classes=3, map_type="linear", heldout_only=True, normalize=False)
    assert not np.isin(data.labels[res.eval_rows], res.anchor_classes).any()
    table = compare_maps(data, n_anchor_classes=2, seeds=(0, 1), normalize=False)
    assert set(table["map_type"]) == {"orthogonal", "linear", "ridge", "mlp"} and len(table) == 8
    means = table.groupby("map_type")["image_top1"].mean()
    assert means["orthogonal"] > 0.9
    assert means["orthogonal"] >= means["linear"]  # few anchors: the constrained map generalises better
    ortho_err = table.groupby("map_type")["orthogonality_error"].mean()
    assert ortho_err["orthogonal"] < 1e-5 < ortho_err["linear"]


def test_anchor_curve_rows_and_progress_and_stop():
    data = _planted(seed=3, n=300)
    seen = []
    curve = anchor_curve(data, counts=[1, 4, 12], seeds=(0,), progress=lambda f, m="", **p: seen.append(f))
    assert list(curve.columns[:4]) == ["map_type", "n_anchor_classes", "seed", "n_anchors"]
    assert len(curve) == 9 and seen[-1] == pytest.approx(1.0)  # 3 counts x (orthogonal, linear, ridge)
    stopped = anchor_curve(data, counts=[1, 4, 12], seeds=(0,), should_stop=lambda: True)
    assert stopped.empty


def test_sweeps_report_each_finished_row_once_as_one_event():
    # The event contract (lab.progress): each progress call carries what is new, one row, so a
    # listener that appends the rows ends with exactly the returned table.
    data = _planted(seed=3, n=300)
    events = []
    curve = anchor_curve(data, counts=[1, 4], seeds=(0, 1), progress=lambda f, m="", **p: events.append((f, p)))
    assert [p["row"] for _, p in events] == curve.to_dict(orient="records")
    assert [f for f, _ in events] == sorted(f for f, _ in events)
    events.clear()
    table = compare_maps(data, n_anchor_classes=3, seeds=(0,), progress=lambda f, m="", **p: events.append(p))
    assert [p["row"] for p in events] == table.to_dict(orient="records")


def test_anchor_sweep_tags_the_curve_then_the_comparison():
    data = _planted(seed=5, n=300)
    events = []
    curve, table = anchor_sweep(data, progress=lambda f, m="", **p: events.append((f, p)))
    stages = [p["stage"] for _, p in events]
    n_curve = stages.count("curve")
    assert stages == ["curve"] * n_curve + ["compare"] * (len(stages) - n_curve)
    assert [p["row"] for _, p in events[:n_curve]] == curve.to_dict(orient="records")
    assert [p["row"] for _, p in events[n_curve:]] == table.to_dict(orient="records")
    assert events[n_curve - 1][0] == pytest.approx(0.7) and events[-1][0] == pytest.approx(1.0)
    assert set(table["map_type"]) == set(PRESETS["compare"]["map_types"])
    assert (table["n_anchors"] > 0).all() and comparison_size(data) == 4  # 12 classes // 3
    calls = iter([False] * 3)
    stopped_curve, stopped_table = anchor_sweep(data, should_stop=lambda: next(calls, True))
    assert 0 < len(stopped_curve) < len(curve) and stopped_table.empty


def test_page_anchor_counts_come_from_the_presets():
    labelled = _planted(seed=6, n=300)
    assert default_anchor_count(labelled) == PRESETS["page"]["anchor_classes"]
    assert default_anchor_count(labelled, 99) == labelled.n_classes  # clipped to what exists
    rng = np.random.default_rng(0)
    x = rng.standard_normal((80, 6))
    unlabelled = from_arrays(x, x[:, ::-1])
    assert default_anchor_count(unlabelled) == PRESETS["page"]["rows_per_dim"] * 6
    assert comparison_size(unlabelled) == PRESETS["compare"]["rows_per_dim"] * 6


def test_retrain_pair_records_a_finished_run_and_streams_losses(tmp_path, monkeypatch):
    from lab.runs import list_runs

    monkeypatch.setenv("ORTHOLAB_RUNS", str(tmp_path / "runs"))
    events = []
    data = retrain_pair(8, progress=lambda f, m="", **p: events.append(p))
    assert data is not None and data.dim == PRESETS["smoke-pair"].embed_dim
    assert {e["model"] for e in events} == {"model_a", "model_b"} and all("loss" in e for e in events)
    runs = list_runs(study="alignment")
    assert len(runs) == 1 and runs["state"].iloc[0] == "finished"
    assert retrain_pair(8, should_stop=lambda: True) is None
    with pytest.raises(ValueError, match="preset"):
        retrain_pair(8, preset="compare")


def test_project_2d_pca_keeps_the_target_fixed_and_puts_aligned_points_on_it():
    data = _planted(seed=4)
    res = run_alignment(data, n_anchor_classes=6)
    yb = res.y_target  # the rows as scored: normalised, in the centred frame
    p = project_2d(res.x_before, res.x_after, yb, method="pca")
    np.testing.assert_allclose(p["target_before"], p["target_after"])
    after_gap = np.linalg.norm(p["after"] - p["target_after"], axis=1).mean()
    before_gap = np.linalg.norm(p["before"] - p["target_before"], axis=1).mean()
    assert after_gap < 0.2 * before_gap
    with pytest.raises(ValueError, match="method"):
        project_2d(yb, yb, yb, method="tsne")


def test_labels_without_second_modality_and_without_labels():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((80, 6))
    data = from_arrays(x, x @ ortho_group.rvs(6, random_state=rng))
    res = run_alignment(data, n_anchor_classes=20)  # no labels: counts rows
    assert len(res.anchors) == 20 and res.x2_after is None
    assert set(res.metrics["metric"]) == {"retrieval top-1 (instance)", "mean cosine", "linear CKA", "unbiased CKA",
                                          "mutual 10-NN overlap"}
    m = res.metrics.set_index("metric")
    # An exact orthogonal copy (no shift) has the same cosine neighbourhoods in both spaces,
    # and mapping x by Q (with near-zero means) leaves its neighbourhoods as they were.
    assert m.loc["mutual 10-NN overlap", "before"] == pytest.approx(1.0)
    assert m.loc["mutual 10-NN overlap", "after"] == pytest.approx(1.0)


def _npz_bytes(**arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def test_byo_single_file_two_files_and_string_labels(tmp_path):
    rng = np.random.default_rng(6)
    x, y = rng.standard_normal((50, 4)), rng.standard_normal((50, 4))
    labels = np.array(["cat", "dog"] * 25)
    data = load_byo(_npz_bytes(x=x, y=y, labels=labels), filename_a="pair.npz")
    assert data.n == 50 and data.labels.dtype == np.int64 and set(data.labels) == {0, 1}
    np.save(tmp_path / "a.npy", x)
    pd.DataFrame({"embedding": list(y)}).to_parquet(tmp_path / "b.parquet")
    data2 = load_byo(tmp_path / "a.npy", tmp_path / "b.parquet")
    np.testing.assert_allclose(data2.y, y.astype(np.float32))


@pytest.mark.parametrize(
    "arrays, match",
    [
        ({"x": np.ones((50, 4)), "y": np.ones((49, 4))}, "paired rows"),
        ({"x": np.ones((50, 4)), "y": np.ones((50, 4)), "x2": np.ones((5, 4)), "y2": np.ones((5, 5))}, "y2"),
        ({"x": np.ones((50,)), "y": np.ones((50,))}, "2-D"),
        ({"x": np.full((50, 4), np.nan), "y": np.ones((50, 4))}, "NaN"),
        ({"x": np.ones((5, 4)), "y": np.ones((5, 4))}, "at least 10"),
        ({"x": np.ones((50, 4)), "y": np.ones((50, 4)), "labels": np.ones(49)}, "labels"),
        ({"a_matrix": np.ones((50, 4))}, "named 'x' and 'y'"),
        ({"x": np.ones((50, 4)), "y": np.ones((50, 4)), "x2": np.ones((5, 4))}, "x2, y2"),
    ],
)
def test_byo_bad_files_give_clear_messages(arrays, match):
    with pytest.raises(ValueError, match=match):
        load_byo(_npz_bytes(**arrays), filename_a="bad.npz")


def test_byo_refuses_pickles_and_oversized_uploads():
    obj = np.array([{"evil": 1}], dtype=object)
    buf = io.BytesIO()
    np.save(buf, obj, allow_pickle=True)
    with pytest.raises(ValueError, match="pickle"):
        load_byo(buf.getvalue(), _npz_bytes(x=np.ones((20, 2))), filename_a="x.npy", filename_b="y.npz")
    with pytest.raises(ValueError, match="over the limit"):
        load_byo(_npz_bytes(x=np.ones((50, 4)), y=np.ones((50, 4))), filename_a="x.npz", max_bytes=100)
    with pytest.raises(ValueError, match="filename"):
        load_byo(pickle.dumps([1, 2]), filename_a="x.pkl")


def test_unequal_widths_get_a_semi_orthogonal_map_and_undefined_raw_comparisons():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((300, 12)) * np.linspace(2, 0.3, 12)
    R = ortho_group.rvs(12, random_state=rng)[:, :7]
    data = from_arrays(x, x @ R + 0.01 * rng.standard_normal((300, 7)), seed=1)
    assert not data.same_width and data.dim_y == 7
    res = run_alignment(data, n_anchor_classes=60, normalize=False)
    m = res.metrics.set_index(["metric", "modality"])
    key = ("retrieval top-1 (instance)", "document" if data.modalities[0] == "document" else data.modalities[0])
    assert np.isnan(m.loc[key, "before"]) and m.loc[key, "after"] > 0.95
    assert np.isfinite(m.loc[("linear CKA", key[1]), "before"])  # within-space scores stay defined
    assert res.x_after.shape == (res.eval_rows.size, 7) and res.aligner.rotation_.shape == (12, 7)


def test_shipped_defaults_load():
    # The shipped artifacts are committed; scripts/make_alignment_data.py rebuilds them.
    for name in SHIPPED:
        data = load_shipped(name)
        assert data.n >= 100 and np.isfinite(data.x).all() and data.x.dtype == np.float32
        if name in ENCODER_PAIRS:  # distinct documents, scored at instance level
            assert data.labels is None and data.n >= 1000
        else:
            assert data.labels is not None and data.n_classes >= 10
    with pytest.raises(ValueError, match="name"):
        load_shipped("nope")


@pytest.mark.slow
def test_project_2d_umap_shapes_and_seeded():
    data = _planted(seed=7, n=120)
    res = run_alignment(data, n_anchor_classes=6)
    yb = data.y[res.eval_rows]
    a = project_2d(data.x[res.eval_rows], res.x_after, yb, method="umap", seed=3)
    b = project_2d(data.x[res.eval_rows], res.x_after, yb, method="umap", seed=3)
    assert a["after"].shape == (yb.shape[0], 2) and a["target_before"].shape == (yb.shape[0], 2)
    np.testing.assert_allclose(a["after"], b["after"])


def test_scores_of_a_large_upload_run_on_a_bounded_seeded_sample():
    from lab.alignment import PRESETS, from_arrays, retrieval_top1, run_alignment

    rng = np.random.default_rng(7)
    n, d = 12_000, 8
    x = rng.standard_normal((n, d))
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    y = x @ q + 0.05 * rng.standard_normal((n, d))
    mask = np.zeros(n, dtype=bool)
    mask[:2000] = True
    data = from_arrays(x, y, train_mask=mask, name="big")
    res = run_alignment(data, n_anchor_classes=200, seed=3)
    limit = PRESETS["scoring"]["max_rows"]
    assert res.n_eval_total == n - 2000 and res.eval_rows.size == limit
    assert np.all(np.diff(res.eval_rows) > 0) and not np.isin(res.eval_rows, res.anchors).any()
    # the same seed scores the same sample; the score is the one computed on those rows directly
    again = run_alignment(data, n_anchor_classes=200, seed=3)
    np.testing.assert_array_equal(again.eval_rows, res.eval_rows)
    direct = retrieval_top1(res.x_after, y[res.eval_rows])
    shown = res.metrics.set_index(["metric", "modality"]).loc[
        ("retrieval top-1 (instance)", data.modalities[0]), "after"
    ]
    assert shown == pytest.approx(direct) and shown > 0.9


def _tiny_shipped(tmp_path) -> str:
    """A small random labelled pair saved as the shipped "toyclip" artifact under tmp_path; its root."""
    rng = np.random.default_rng(2)
    n, d, classes = 120, 6, 6
    labels = rng.integers(0, classes, n)
    x = rng.standard_normal((classes, d))[labels] * 2 + rng.standard_normal((n, d))
    y = x @ np.linalg.qr(rng.standard_normal((d, d)))[0]
    mask = np.zeros(n, dtype=bool)
    mask[::2] = True
    (tmp_path / "alignment").mkdir()
    labels2 = np.arange(12) % classes
    x2 = x[:12] + 0.1
    np.savez(tmp_path / "alignment" / "toyclip_embeddings.npz", x=x, y=y, labels=labels, train_mask=mask, x2=x2,
             y2=x2 @ np.eye(d), labels2=labels2)
    return str(tmp_path / "alignment")


def test_a_shipped_sweep_is_computed_once_and_replayed(tmp_path, monkeypatch):
    from lab.alignment import experiment as ex

    root = _tiny_shipped(tmp_path)
    calls = []
    real = ex.anchor_sweep
    monkeypatch.setattr(ex, "anchor_sweep", lambda *a, **k: calls.append(1) or real(*a, **k))
    first_events, second_events = [], []
    curve1, cmp1 = ex.shipped_sweep("toyclip", root=root, progress=lambda f, m="", **p: first_events.append(p))
    curve2, cmp2 = ex.shipped_sweep("toyclip", root=root, progress=lambda f, m="", **p: second_events.append(p))
    assert calls == [1]  # the second caller got the stored rows
    pd.testing.assert_frame_equal(curve1, curve2)
    pd.testing.assert_frame_equal(cmp1, cmp2)
    rows = lambda events: [(e["stage"], e["row"]) for e in events if "row" in e]  # noqa: E731
    assert rows(second_events) == rows(first_events) and len(rows(first_events)) == len(curve1) + len(cmp1)
    # a stopped sweep is not stored: the next caller computes it again
    ex.shipped_sweep("toyclip", root=root, center=False, should_stop=lambda: True)
    ex.shipped_sweep("toyclip", root=root, center=False)
    assert calls == [1, 1, 1]


def test_a_shared_pair_is_loaded_once_read_only_and_its_fits_are_memoised(tmp_path, monkeypatch):
    from lab.alignment import experiment as ex

    root = _tiny_shipped(tmp_path)
    data = ex.shared_shipped("toyclip", root=root)
    assert ex.shared_shipped("toyclip", root=root) is data and ex.is_shared(data)
    with pytest.raises(ValueError, match="read-only"):
        data.x[0, 0] = 1.0  # one visitor cannot change the pair every visitor shares
    calls = []
    real = ex.run_alignment
    monkeypatch.setattr(ex, "run_alignment", lambda *a, **k: calls.append(k) or real(*a, **k))
    first = ex.shared_alignment(data, n_anchor_classes=3, seed=1)
    assert ex.shared_alignment(data, seed=1, n_anchor_classes=3) is first and len(calls) == 1
    assert ex.shared_alignment(data, n_anchor_classes=4, seed=1) is not first and len(calls) == 2
    fresh = real(ex.load_shipped("toyclip", root=root), n_anchor_classes=3, seed=1)
    pd.testing.assert_frame_equal(first.metrics, fresh.metrics)
    np.testing.assert_array_equal(first.x_after, fresh.x_after)
    # a pair that is not shared (a visitor's own) is fitted every time
    own = ex.load_shipped("toyclip", root=root)
    ex.shared_alignment(own, n_anchor_classes=3, seed=1)
    ex.shared_alignment(own, n_anchor_classes=3, seed=1)
    assert len(calls) == 4


def test_pipeline_switches_follow_their_formulas():
    data = _planted(seed=5)
    res = run_alignment(data, n_anchor_classes=6, normalize=False, centered_scoring=True, center_second=True)
    R = res.aligner.rotation_.numpy()
    a = res.anchors
    mx, my = data.x[a].mean(0), data.y[a].mean(0)
    own = np.isin(data.labels2, res.anchor_classes)  # captions of the anchor classes
    mx2, my2 = data.x2[own].mean(0), data.y2[own].mean(0)
    rows, rows2 = res.eval_rows, res.rows2
    # centred frame: (x - mu_x) R against y - mu_y; captions with their own anchor means
    np.testing.assert_allclose(res.x_after, (data.x[rows] - mx) @ R, atol=1e-4)
    np.testing.assert_allclose(res.y_target, data.y[rows] - my, atol=1e-5)
    np.testing.assert_allclose(res.x2_after, (data.x2[rows2] - mx2) @ R, atol=1e-4)
    np.testing.assert_allclose(res.y2_target, data.y2[rows2] - my2, atol=1e-5)
    raw = run_alignment(data, n_anchor_classes=6, normalize=False, centered_scoring=False)
    np.testing.assert_allclose(raw.x_after, (data.x[rows] - mx) @ R + my, atol=1e-4)  # the raw frame
    np.testing.assert_allclose(raw.x2_after, (data.x2[rows2] - mx) @ R + my, atol=1e-4)  # images' means
    unit = run_alignment(data, n_anchor_classes=6)  # normalise (the default): every row has length 1 first
    xs = unit.scored.x
    np.testing.assert_allclose(np.linalg.norm(xs, axis=1), 1.0, atol=1e-5)
    assert unit.source is data and unit.scored is not data


def test_heldout_comparison_scores_only_the_heldout_classes_captions():
    data = _planted(seed=6)
    res = run_alignment(data, n_anchor_classes=3, heldout_only=True, normalize=False)
    assert not np.isin(data.labels2[res.rows2], res.anchor_classes).any()
