"""The Householder figures as data: built from the shipped models' real outputs."""

import numpy as np
import pytest
import torch

from lab.householder import (
    image_grid,
    load_artifacts,
    model_directions,
    prior_samples,
    purity,
    sensitivity_matrix,
    to_uint8_image,
    traverse,
)
from widgets import householder_figures as figs


@pytest.fixture(scope="module")
def shipped():
    return load_artifacts()


def test_grid_figure_ticks_sit_on_the_tiles(shipped):
    model = shipped.models["householder"]
    dirs, _ = model_directions(model, "householder")
    imgs = traverse(model.generator, dirs, z=prior_samples(1, model.config.latent_dim, 0), span=2.0, steps=5)[0]
    k, s, _, h, w = imgs.shape
    mosaic = image_grid(imgs)
    fig = figs.grid_figure(mosaic, rows=k, cols=s, tile=(h, w), span=2.0, row_labels=[f"n{i}" for i in range(k)],
                           where="z + t·n_i", method="Householder")
    np.testing.assert_array_equal(figs.image_of(fig), mosaic)  # lossless PNG
    assert fig["layout"]["xaxis"]["ticktext"] == ["t = -2.0", "t = -1.0", "t = +0.0", "t = +1.0", "t = +2.0"]
    centres = fig["layout"]["yaxis"]["tickvals"]
    assert len(centres) == k and centres[1] - centres[0] == h + 2
    # a tick centre falls inside its tile, never in the white gap between tiles
    assert all(int(c) % (h + 2) < h for c in centres)


def test_sensitivity_figure_reports_the_matrix_and_purity(shipped):
    model = shipped.models["linear"]
    dirs, _ = model_directions(model, "sefa")
    S = sensitivity_matrix(model.generator, shipped.regressor, dirs, n_samples=2, span=2.0, steps=3, seed=0)
    fig = figs.sensitivity_figure(S, purity(S), n_samples=2, span=2.0)
    trace = fig["data"][0]
    np.testing.assert_allclose(trace["z"], S)
    assert trace["x"] == figs.FACTOR_LABELS
    assert trace["y"][0] == f"n1 (purity {purity(S)[0]:.2f})"
    assert "mean of 2 samples" in fig["layout"]["title"]["text"]


def test_sample_figure_titles_the_offsets():
    img = to_uint8_image(torch.rand(3, 8, 8))
    assert figs.sample_figure(img, [0.0, 1.5, -2.0])["layout"]["title"]["text"] == "Sample z + (+1.5·n2, -2.0·n3)"
    assert figs.sample_figure(img, [0.0])["layout"]["title"]["text"] == "Sample z + (no offset)"


def test_training_figures_start_empty_and_follow_the_log():
    assert figs.loss_figure((), ())["data"] == [] and figs.samples_figure(None, None)["data"] == []
    fig = figs.loss_figure((10, 20), (5.0, 4.0))
    assert fig["data"][0]["x"] == [10, 20] and fig["data"][0]["y"] == [5.0, 4.0]
    mosaic = np.zeros((8, 20, 3), np.uint8)
    assert figs.samples_figure(mosaic, 50)["layout"]["title"]["text"] == "Samples at step 50"


def test_results_table_formats_mean_and_spread(shipped):
    table = figs.results_table(shipped.results["summary"])
    first = shipped.results["summary"][0]
    assert list(table.columns[:2]) == ["model", "directions"]
    assert table["mig"].iloc[0] == f"{first['mig_mean']:.3g}±{first['mig_std']:.2g}"
    assert figs.results_table([]).empty


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
    fig = figs.sensitivity_figure(S, purity(S), n_samples=4, span=2.0, note="updating…")
    assert "updating…" in fig["layout"]["title"]["text"]
    np.testing.assert_allclose(fig["data"][0]["z"], S)
    empty = figs.sensitivity_figure(None, None, n_samples=4, span=2.0, note="computing the heatmap…")
    assert empty["data"] == [] and empty["layout"]["xaxis"]["visible"] is False
    assert empty["layout"]["annotations"][0]["text"] == "computing the heatmap…"


def test_figures_carry_the_templates_layout_not_its_name():
    # Note [lean template]: the pane would expand and validate the named template on every update.
    fig = figs.loss_figure((1, 2), (3.0, 2.0))
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
