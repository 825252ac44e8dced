"""The ODiS figures as data: built from a real selection on real scores."""

import numpy as np
import pandas as pd
import pytest

from lab.odis import analyse, compare_selections, score_dimensions, selection_labels, summarise_downstream
from tests.lab.odis.odis_texts import random_texts
from widgets import odis_figures as figs


@pytest.fixture(scope="module")
def analysis():
    texts = random_texts(np.random.default_rng(4), 150)
    scores = score_dimensions(texts)
    return scores, analyse(scores, n_components=3, budget=30)


def test_heatmap_cells_are_the_matrix_with_labels(analysis):
    _, a = analysis
    fig = figs.heatmap(a.raw_corr, a.dimensions, title="raw")
    trace = fig["data"][0]
    np.testing.assert_allclose(trace["z"], a.raw_corr)
    assert trace["x"] == a.dimensions and trace["y"] == a.dimensions
    assert trace["text"][0][0] == "1.00"


def test_variance_bars_colour_the_kept_components(analysis):
    _, a = analysis
    fig = figs.variance_bars(a.spectrum, 3)
    bars, cumulative = fig["data"]
    colours = bars["marker"]["color"]
    assert colours[:3] == figs.COMPONENT_COLORS[:3] and set(colours[3:]) == {figs.UNSELECTED}
    np.testing.assert_allclose(cumulative["y"], np.cumsum(a.spectrum))


def test_doc_map_groups_every_document_once(analysis):
    _, a = analysis
    n = a.pc_scores.shape[0]
    xy = np.random.default_rng(0).normal(size=(n, 2))
    labels = selection_labels(n, a.selections)
    fig = figs.doc_map(xy, labels, [f"doc {i}" for i in range(n)], 3, title="map")
    assert len(fig["data"]) == 3 + 2
    assert sum(len(t["x"]) for t in fig["data"]) == n
    assert sorted(x for t in fig["data"] for x in t["x"]) == sorted(xy[:, 0].tolist())


def test_baseline_and_downstream_bars(analysis):
    scores, a = analysis
    table = compare_selections(scores, a, single=a.dimensions[:1])
    fig = figs.baseline_bars(table, [f"mean PC{i + 1}" for i in range(3)])
    assert [t["name"] for t in fig["data"]] == ["PC1", "PC2", "PC3"]
    assert fig["data"][0]["x"] == table["method"].tolist()
    rows = pd.DataFrame({"method": ["odis", "odis", "random", "random"], "seed": [0, 1, 0, 1],
                         "val_ppl": [10.0, 12.0, 11.0, 15.0], "val_bpb": [1.0, 1.1, 1.05, 1.2],
                         "val_loss": [2.3, 2.5, 2.4, 2.7], "docs": 5, "train_tokens": 100, "train_loss": 2.0})
    summary = summarise_downstream(rows)
    bars = figs.downstream_bars(summary)["data"][0]
    assert bars["x"] == summary["method"].tolist()
    assert bars["marker"]["color"][bars["x"].index("odis")] == figs.ODIS_COLOR


def test_overlap_sweep_figure_pairs_each_size_with_its_null():
    rng = np.random.default_rng()
    summary = [{"n_docs": n, "budget_fraction": f, "overlap_max": float(rng.uniform()),
                "null_analytic": f * 0.25} for n in (400, 800) for f in (0.2, 0.05, 0.1)]
    fig = figs.overlap_sweep_figure(summary)
    names = [t["name"] for t in fig["data"]]
    assert names == ["800 docs: largest overlap", "800 docs: independence null", "400 docs: largest overlap",
                     "400 docs: independence null", "2 % (the paper's bound)"]
    assert fig["data"][0]["x"] == [0.05, 0.1, 0.2]  # sorted by budget
    want = [r["overlap_max"] for r in sorted(summary, key=lambda r: r["budget_fraction"]) if r["n_docs"] == 800]
    assert fig["data"][0]["y"] == want
    assert fig["layout"]["xaxis"]["tickformat"] == ".0%"
