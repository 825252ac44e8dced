"""The /householder view without a browser: parameters in, figure data and messages out."""

import numpy as np
import pytest

from lab.householder.artifacts import artifact_dir, load_artifacts
from widgets.householder import METHOD_MODEL, HouseholderView, create_view


def test_the_shipped_artifacts_are_present():
    # The page opens on these; they are committed (scripts/make_householder_data.py rebuilds them).
    assert (artifact_dir() / "results.json").is_file(), "data/householder is missing its shipped artifacts"


@pytest.fixture(scope="module")
def artifacts():
    return load_artifacts()


@pytest.fixture
def view(artifacts):
    return HouseholderView(artifacts=artifacts)


def _z(fig):
    return np.asarray(fig["data"][0]["z"])


def test_builds_with_one_slider_per_direction(view):
    assert view.errors.message == ""
    k = view.model.config.rank
    assert len(view.direction_sliders) == k
    assert view.direction_sliders[0].name == "direction 1 (σ = 1.00)"
    assert _z(view.sample_pane.object).shape == (32, 32, 3)
    grid = _z(view.grid_pane.object)
    assert grid.shape == (k * 34 - 2, view.steps * 34 - 2, 3)
    sens = view.sens_pane.object["data"][0]
    assert np.asarray(sens["z"]).shape == (k, 6) and len(sens["y"]) == k
    assert "orthogonality error" in view.orth.object
    assert set(view.results_table.object["directions"]) >= {"householder", "sefa", "random"}
    assert view.__panel__() is not None


def test_direction_slider_moves_the_sample_along_that_direction(view):
    before = _z(view.sample_pane.object)
    view.offsets.d1 = 3.0
    after = _z(view.sample_pane.object)
    assert not np.array_equal(before, after)
    assert "+3.0·n1" in view.sample_pane.object["layout"]["title"]["text"]
    # The sample equals the generator at z + 3 n_1, computed independently here.
    import torch
    from lab.householder.scoring import prior_samples
    z = prior_samples(1, view.model.config.latent_dim, view.seed) + 3.0 * view._dirs[0]
    with torch.no_grad():
        ref = (view.model.generator(z)[0].clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    np.testing.assert_array_equal(after, ref)


def test_a_deeper_layer_gives_its_own_directions_grid_and_heatmap(view):
    import torch
    import torch.nn.functional as F

    from lab.householder.scoring import prior_samples

    assert view.param.layer.objects == ["fc", "up"]
    view.method = "sefa"
    grid_fc = _z(view.grid_pane.object)
    view.layer = "up"
    assert view.errors.message == ""
    assert tuple(view._dirs.shape) == (len(view.direction_sliders), 128)
    assert "eigenvalue" in view.direction_sliders[0].name and "`up`" in view.info.object
    assert "layer up" in view.grid_pane.object["layout"]["title"]["text"]
    assert not np.array_equal(_z(view.grid_pane.object), grid_fc)
    assert np.asarray(view.sens_pane.object["data"][0]["z"]).shape == (len(view.direction_sliders), 6)
    # The sample with an offset equals the generator written out with the shift at up's input.
    view.offsets.d2 = -2.0
    g = view.model.generator
    with torch.no_grad():
        z = prior_samples(1, view.model.config.latent_dim, view.seed)
        h = F.leaky_relu(g.fc(z), 0.2) - 2.0 * view._dirs[1]
        ref = torch.sigmoid(g.deconv(F.leaky_relu(g.up(h), 0.2).view(1, -1, 4, 4)))[0]
    ref = (ref.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    np.testing.assert_array_equal(_z(view.sample_pane.object), ref)
    view.method = "ganspace"
    assert view.errors.message == "" and "variance" in view.direction_sliders[0].name


def test_the_projectors_own_directions_of_a_plain_layer_are_refused_and_the_page_kept(view):
    view.method = "sefa"
    view.layer = "up"
    dirs, grid = view._dirs.clone(), _z(view.grid_pane.object)
    view.method = "householder"  # the projector model's `up` is an ordinary Linear
    assert "householder" in view.errors.message and "HouseholderProjector" in view.errors.message
    assert view.method == "sefa" and view.layer == "up"  # the control went back
    assert np.array_equal(view._dirs.numpy(), dirs.numpy()) and np.array_equal(_z(view.grid_pane.object), grid)
    view.layer = "fc"
    assert view.errors.message == "" and view._dirs.shape[1] == view.model.config.latent_dim


def test_switching_method_changes_model_labels_and_heatmap(view):
    sens_before = np.asarray(view.sens_pane.object["data"][0]["z"])
    view.method = "sefa"
    assert METHOD_MODEL["sefa"] == "linear" and view.model.config.first_layer == "linear"
    assert view.direction_sliders[0].name.startswith("direction 1 (eigenvalue")
    vals = [float(s.name.split("eigenvalue ")[1].rstrip(")")) for s in view.direction_sliders]
    assert vals == sorted(vals, reverse=True)
    assert not np.allclose(np.asarray(view.sens_pane.object["data"][0]["z"]), sens_before)
    assert "unconstrained" in view.orth.object
    view.method = "random"
    assert view.direction_sliders[0].name == "direction 1 (random)"
    view.method = "ganspace"
    assert "variance" in view.direction_sliders[0].name


def test_seed_span_and_steps_redraw_the_grid(view):
    g0 = _z(view.grid_pane.object)
    view.seed = 5
    g1 = _z(view.grid_pane.object)
    assert not np.array_equal(g0, g1)
    view.steps = 5
    assert _z(view.grid_pane.object).shape[1] == 5 * 34 - 2
    ticks = view.grid_pane.object["layout"]["xaxis"]["ticktext"]
    view.span = 1.0
    assert view.grid_pane.object["layout"]["xaxis"]["ticktext"] != ticks
    view._resample()
    assert view.seed == 6


def test_missing_artifacts_show_a_message_not_a_traceback(tmp_path, monkeypatch):
    from widgets import householder as hh

    monkeypatch.setenv("ORTHOLAB_DATA", str(tmp_path))
    hh._shipped.cache_clear()
    try:
        v = create_view()
    finally:
        hh._shipped.cache_clear()
    assert "make_householder_data.py" in v.errors.message
    v.refresh()
    assert "make_householder_data.py" in v.errors.message


def test_training_runs_in_the_background_and_swaps_the_model(view, tmp_path, monkeypatch):
    monkeypatch.setenv("ORTHOLAB_RUNS", str(tmp_path))
    view.train_layer = "linear"
    view.train_steps = 20
    shipped = view._models["linear"]
    assert view.start_training()
    assert not view.start_training()  # one job at a time
    view.job.wait(300)
    assert view.job.errors.message == ""
    assert view._models["linear"] is not shipped
    assert "finished after 20 steps" in view.job.status.object
    loss = view.loss_pane.object["data"][0]
    assert len(loss["x"]) == 2 and all(np.isfinite(loss["y"]))
    assert _z(view.train_samples_pane.object).shape == (32, 8 * 34 - 2, 3)
    assert list(tmp_path.glob("householder/*/model.safetensors"))
    view.restore_shipped()
    assert view._models["linear"] is shipped
