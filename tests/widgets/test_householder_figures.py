"""The Householder figures as data: built from the shipped seed-0 generator's real outputs."""

import numpy as np
import pytest
import torch

from lab.householder import (
    block_slots,
    direction_labels,
    gan_sensitivity,
    image_grid,
    load_artifacts,
    style_directions,
    to_uint8_image,
    to_unit,
    traverse_ws,
)
from widgets import householder_figures as figs


@pytest.fixture(scope="module")
def shipped():
    return load_artifacts()


def test_grid_figure_ticks_sit_on_the_tiles(shipped):
    G = shipped.pretrained[0][0]
    dirs = style_directions(G, "sefa", 1, 4)
    imgs = to_unit(traverse_ws(G, dirs, block_slots(G, 1), span=2.0, steps=5))[0]
    k, s, _, h, w = imgs.shape
    mosaic = image_grid(imgs)
    fig = figs.grid_figure(mosaic, rows=k, cols=s, tile=(h, w), span=2.0, row_labels=[f"d{i}" for i in range(k)],
                           where="w + t·σ·d_i", method="sefa")
    np.testing.assert_array_equal(figs.image_of(fig), mosaic)  # lossless PNG
    assert fig["layout"]["xaxis"]["ticktext"] == ["t = -2.0", "t = -1.0", "t = +0.0", "t = +1.0", "t = +2.0"]
    centres = fig["layout"]["yaxis"]["tickvals"]
    assert len(centres) == k and centres[1] - centres[0] == h + 2
    assert all(int(c) % (h + 2) < h for c in centres)


def test_sensitivity_figure_reports_the_matrix_and_the_labels(shipped):
    G = shipped.pretrained[0][0]
    dirs = style_directions(G, "sefa", 0, 3)
    S = gan_sensitivity(G, shipped.regressor, dirs, block_slots(G, 0), n=2, span=2.0, steps=3)
    labels = direction_labels(S)
    fig = figs.sensitivity_figure(S, labels, n_samples=2, span=2.0)
    trace = fig["data"][0]
    np.testing.assert_allclose(trace["z"], S)
    assert trace["x"] == figs.FACTOR_LABELS
    assert trace["y"][0] == f"d1: {labels[0]}" and "purity" in labels[0]
    assert "mean of 2 samples" in fig["layout"]["title"]["text"]


def test_sample_figure_titles_the_offsets():
    img = to_uint8_image(torch.rand(3, 8, 8))
    assert figs.sample_figure(img, [0.0, 1.5, -2.0])["layout"]["title"]["text"] == "Sample w + (+1.5σ·d2, -2.0σ·d3)"
    assert figs.sample_figure(img, [0.0])["layout"]["title"]["text"] == "Sample w + (no offset)"


def test_training_figures_start_empty_and_follow_the_log():
    assert figs.loss_figure((), (), ())["data"] == [] and figs.samples_figure(None)["data"] == []
    fig = figs.loss_figure((1, 2), (0.7, 0.9), (1.3, 1.2))
    assert fig["data"][0]["x"] == [1, 2] and fig["data"][0]["y"] == [0.7, 0.9] and fig["data"][1]["y"] == [1.3, 1.2]


def test_results_tables_format_mean_and_spread():
    rng = np.random.default_rng()
    rows = [{"rank": r, "variant": v, "mig_mean": float(rng.random()), "mig_std": float(rng.random()) / 10,
             "n_seeds": 3} for r in (4, 10) for v in ("householder", "sefa")]
    table = figs.results_table(rows)
    assert list(table.columns[:2]) == ["rank", "directions"]
    assert table["MIG"].iloc[0] == f"{rows[0]['mig_mean']:.3g}±{rows[0]['mig_std']:.2g}"
    assert len(figs.results_table(rows, rank=10)) == 2
    assert figs.results_table([]).empty
    gens = [{"generator": "pretrained", "rank": 0, "kid_mean": 1.5, "kid_std": 0.25},
            {"generator": "finetuned", "rank": 10, "kid_mean": 2.0, "kid_std": float("nan")}]
    gt = figs.generator_table(gens)
    assert list(gt["generator"]) == ["pretrained", "finetuned (rank 10)"] and gt["KID"].iloc[1] == "2±0"


@pytest.mark.parametrize("shape", [(32, 32, 3), (1, 1, 3), (202, 236, 3)])
def test_images_travel_as_lossless_png(shape):
    # Note [images as PNG]: one short string instead of every pixel as a JSON number.
    img = np.random.default_rng(sum(shape)).integers(0, 256, size=shape, dtype=np.uint8)
    fig = figs.sample_figure(img, [1.0])
    trace = fig["data"][0]
    assert trace["type"] == "image" and "z" not in trace and trace["source"].startswith("data:image/png;base64,")
    np.testing.assert_array_equal(figs.image_of(fig), img)
    with pytest.raises(ValueError, match="uint8"):
        figs.png_data_uri(img.astype(np.float32))


def test_the_heatmap_says_when_it_is_updating_and_has_no_axes_before_data():
    S = np.array([[0.1, 0.5, 0.0, 0.0, 0.2, 0.1], [0.0, 0.0, 0.9, 0.1, 0.0, 0.0]])
    fig = figs.sensitivity_figure(S, direction_labels(S), n_samples=4, span=2.0, note="updating…")
    assert "updating…" in fig["layout"]["title"]["text"]
    np.testing.assert_allclose(fig["data"][0]["z"], S)
    empty = figs.sensitivity_figure(None, None, n_samples=4, span=2.0, note="computing the heatmap…")
    assert empty["data"] == [] and empty["layout"]["xaxis"]["visible"] is False
    assert empty["layout"]["annotations"][0]["text"] == "computing the heatmap…"


def test_figures_carry_the_templates_layout_not_its_name():
    # Note [lean template]: the pane would expand and validate the named template on every update.
    fig = figs.loss_figure((1, 2), (3.0, 2.0), (1.0, 1.0))
    template = fig["layout"]["template"]
    assert isinstance(template, dict) and set(template) == {"layout"}
    assert template["layout"]["plot_bgcolor"] == "white"


def test_image_figures_send_png_on_pages_and_pixels_in_notebooks(monkeypatch):
    # Note [images in notebooks]: setup_notebook() switches image traces back to z arrays
    from widgets import figures as shared
    from widgets.notebook import setup_notebook

    img = np.random.default_rng().integers(0, 256, size=(6, 5, 3), dtype=np.uint8)
    monkeypatch.setattr(shared, "IMAGES_AS_PNG", True)
    page = figs.png_image_figure(img, "t")["data"][0]
    assert "source" in page and "z" not in page
    setup_notebook(quiet=True)
    assert shared.IMAGES_AS_PNG is False
    note = figs.png_image_figure(img, "t")["data"][0]
    assert "z" in note and "source" not in note
    np.testing.assert_array_equal(figs.image_of({"data": [page]}), img)
    np.testing.assert_array_equal(figs.image_of({"data": [note]}), img)
