"""The alignment figures as data: built from a real fit on a planted orthogonal pair."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ortho_group

from lab.alignment import anchor_curve, compare_maps, from_arrays, project_2d, run_alignment
from widgets import alignment_figures as figs


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(3)
    d, n, classes = 8, 240, 6
    centres = rng.standard_normal((classes, d)) * 2
    labels = rng.integers(0, classes, n)
    x = centres[labels] + rng.standard_normal((n, d))
    y = x @ ortho_group.rvs(d, random_state=rng) + 0.1 * rng.standard_normal((n, d))
    mask = np.zeros(n, dtype=bool)
    mask[::2] = True
    data = from_arrays(x, y, labels=labels, train_mask=mask, name="planted")
    return data, run_alignment(data, n_anchor_classes=3)


def test_metrics_bars_are_the_result_metrics(fitted):
    _, res = fitted
    fig = figs.metrics_figure(res.metrics)
    before, after = fig["data"]
    m = res.metrics
    labels = [f"{mod}: {name}" for name, mod in zip(m["metric"], m["modality"])][::-1]
    assert before["y"] == labels and after["y"] == labels
    expected = [None if not np.isfinite(v) else float(v) for v in m["after"].to_numpy()[::-1]]
    assert after["x"] == expected


def test_scatter_panels_link_each_item_to_its_pair(fitted):
    data, res = fitted
    rows = res.eval_rows[:30]
    coords = project_2d(data.x[rows], res.x_after[:30], data.y[rows], method="pca")
    fig = figs.scatter_figure(coords, [f"item {r}" for r in rows], spaces=data.spaces, method="pca",
                              map_type="orthogonal")
    assert len(fig["data"]) == 6
    links = fig["data"][3]  # the "after" panel's grey pair lines: a, b, gap per item
    assert len(links["x"]) == 3 * 30 and links["x"][2] is None
    assert links["x"][0] == pytest.approx(coords["after"][0, 0])
    assert links["x"][1] == pytest.approx(coords["target_after"][0, 0])


def test_curve_and_comparison_aggregate_over_seeds():
    rows = pd.DataFrame({"map_type": ["orthogonal"] * 4, "n_anchor_classes": [1, 1, 3, 3], "seed": [0, 1, 0, 1],
                         "image_top1": [0.2, 0.4, 0.8, 0.9]})
    fig = figs.curve_figure(rows, 3, "classes", ("image", "text"))
    trace = fig["data"][0]
    assert trace["x"] == [1, 3] and trace["y"] == pytest.approx([0.3, 0.85])
    assert trace["error_y"]["array"] == pytest.approx([0.1, 0.05])
    assert fig["layout"]["shapes"][0]["x0"] == 3
    assert figs.curve_figure(None, 3, "classes", ("image", "text"))["data"] == []
    table = pd.DataFrame({"map_type": ["linear", "orthogonal", "orthogonal"], "image_top1": [0.5, 0.7, 0.9]})
    bars = figs.compare_figure(table, ("image", "text"), 5, "classes")["data"][0]
    assert bars["x"] == ["linear", "orthogonal"] and bars["y"] == pytest.approx([0.5, 0.8])


def test_curve_and_comparison_of_real_sweeps(fitted):
    data, _ = fitted
    curve = anchor_curve(data, counts=[1, 3], seeds=(0, 1))
    fig = figs.curve_figure(curve, 3, "classes", data.modalities)
    ortho = next(t for t in fig["data"] if t["name"] == "orthogonal map, image")
    expected = curve[curve["map_type"] == "orthogonal"].groupby("n_anchor_classes")["image_top1"].mean()
    assert ortho["x"] == [1, 3] and ortho["y"] == pytest.approx(expected.tolist())
    table = compare_maps(data, n_anchor_classes=2, map_types=("orthogonal", "linear"), seeds=(0, 1))
    bars = figs.compare_figure(table, data.modalities, 2, "classes")["data"][0]
    assert bars["x"] == ["linear", "orthogonal"]
    assert bars["y"] == pytest.approx(table.groupby("map_type")["image_top1"].mean().tolist())


def test_spectrum_and_loss_figures(fitted):
    _, res = fitted
    sv = figs.spectrum_figure(res.singular_values)["data"][0]
    assert sv["y"] == pytest.approx(np.asarray(res.singular_values, dtype=float).tolist())
    log = [{"model": "model_a", "step": 1, "loss": 2.0}, {"model": "model_b", "step": 1, "loss": 3.0},
           {"model": "model_a", "step": 2, "loss": 1.5}]
    a, b = figs.loss_figure(log)["data"]
    assert a["x"] == [1, 2] and a["y"] == [2.0, 1.5] and b["y"] == [3.0]


def test_spectrum_of_a_rank_deficient_fit_counts_the_zero_values_and_uses_powers_of_ten():
    sv = np.array([5.0, 2.0, 0.3, 1e-16, 0.0])
    fig = figs.spectrum_figure(sv)
    bars = fig["data"][0]
    assert bars["x"] == [1, 2, 3] and bars["y"] == pytest.approx([5.0, 2.0, 0.3])  # no femto-sized bars
    assert "3 of 5 nonzero" in fig["layout"]["title"]["text"]
    assert fig["layout"]["yaxis"]["type"] == "log" and fig["layout"]["yaxis"]["exponentformat"] == "power"


def test_comparison_labels_sit_inside_the_bars_away_from_the_error_bars():
    table = pd.DataFrame({"map_type": ["linear", "linear", "orthogonal", "orthogonal"], "seed": [0, 1, 0, 1],
                          "image_top1": [0.5, 0.6, 0.7, 0.9]})
    bars = figs.compare_figure(table, ("image", "text"), 5, "classes")["data"][0]
    assert bars["textposition"] == "inside" and bars["insidetextanchor"] == "start" and "error_y" in bars


def test_placeholders_have_no_axes_and_say_what_the_job_does():
    for fig in (figs.curve_figure(None, 3, "classes", ("image", "text"), note="the sweep was stopped"),
                figs.compare_figure(None, ("image", "text"), 5, "classes", note="the sweep was stopped"),
                figs.loss_figure([])):
        assert fig["data"] == [] and fig["layout"]["xaxis"]["visible"] is False
    assert "stopped" in figs.curve_figure(None, 3, "classes", ("i", "t"), note="the sweep was stopped")[
        "layout"]["annotations"][0]["text"]


def test_with_marker_moves_only_the_marker():
    rows = pd.DataFrame({"map_type": ["orthogonal"] * 2, "n_anchor_classes": [1, 3], "seed": [0, 0],
                         "image_top1": [0.2, 0.8]})
    fig = figs.curve_figure(rows, 3, "classes", ("image", "text"))
    moved = figs.with_marker(fig, 1)
    assert moved["layout"]["shapes"][0]["x0"] == 1 and fig["layout"]["shapes"][0]["x0"] == 3
    assert moved["data"] is fig["data"]
