"""The /householder view without a browser: parameters in, figure data and messages out."""

import numpy as np
import pytest

from lab.householder import load_artifacts
from lab.paths import study_dir
from widgets.householder import METHOD_MODEL, HouseholderView, create_view
from widgets.householder_figures import image_of


def test_the_shipped_artifacts_are_present():
    # The page opens on these; they are committed (scripts/make_householder_data.py rebuilds them).
    assert (study_dir("householder") / "results.json").is_file(), "data/householder is missing its shipped artifacts"


@pytest.fixture(scope="module")
def artifacts():
    return load_artifacts()


@pytest.fixture
def view(artifacts):
    return HouseholderView(artifacts=artifacts)


def _z(fig):
    return image_of(fig)  # the pixels, sent as a PNG


def test_builds_with_one_slider_per_direction(view):
    assert view.errors.message == ""
    k = view.model.config.rank
    assert view.n_directions == k
    assert view.direction_labels()[0] == "direction 1 (σ = 1.00)"
    # the sliders beyond the model's directions are hidden
    assert view.param.d6.precedence > 0 and view.param.d7.precedence < 0
    assert _z(view.sample_figure()).shape == (32, 32, 3)
    grid = _z(view.grid_figure())
    assert grid.shape == (k * 34 - 2, view.steps * 34 - 2, 3)
    sens = view.sensitivity_figure()["data"][0]
    assert np.asarray(sens["z"]).shape == (k, 6) and len(sens["y"]) == k
    assert "orthogonality error" in view.orth_text()
    assert set(view.results_table.object["directions"]) >= {"householder", "sefa", "random"}
    assert view.__panel__() is not None


def test_direction_slider_moves_the_sample_along_that_direction(view):
    before = _z(view.sample_figure())
    view.d1 = 3.0
    after = _z(view.sample_figure())
    assert not np.array_equal(before, after)
    assert "+3.0·n1" in view.sample_figure()["layout"]["title"]["text"]
    # The sample equals the generator at z + 3 n_1, computed independently here.
    import torch

    from lab.householder import prior_samples

    z = prior_samples(1, view.model.config.latent_dim, view.seed) + 3.0 * view.directions.dirs[0]
    with torch.no_grad():
        ref = (view.model.generator(z)[0].clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    np.testing.assert_array_equal(after, ref)


def test_a_deeper_layer_gives_its_own_directions_grid_and_heatmap(view):
    import torch
    import torch.nn.functional as F

    from lab.householder import prior_samples

    assert view.param.layer.objects == ["fc", "up"]
    view.method = "sefa"
    grid_fc = _z(view.grid_figure())
    view.layer = "up"
    assert view.errors.message == ""
    assert tuple(view.directions.dirs.shape) == (view.n_directions, 128)
    assert "eigenvalue" in view.direction_labels()[0] and "`up`" in view.info_text()
    assert "layer up" in view.grid_figure()["layout"]["title"]["text"]
    assert not np.array_equal(_z(view.grid_figure()), grid_fc)
    assert np.asarray(view.sensitivity_figure()["data"][0]["z"]).shape == (view.n_directions, 6)
    # The sample with an offset equals the generator written out with the shift at up's input.
    view.d2 = -2.0
    g = view.model.generator
    with torch.no_grad():
        z = prior_samples(1, view.model.config.latent_dim, view.seed)
        h = F.leaky_relu(g.fc(z), 0.2) - 2.0 * view.directions.dirs[1]
        ref = torch.sigmoid(g.deconv(F.leaky_relu(g.up(h), 0.2).view(1, -1, 4, 4)))[0]
    ref = (ref.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    np.testing.assert_array_equal(_z(view.sample_figure()), ref)
    view.method = "ganspace"
    assert view.errors.message == "" and "variance" in view.direction_labels()[0]


def test_the_projectors_own_directions_of_a_plain_layer_are_refused_and_the_page_kept(view):
    view.method = "sefa"
    view.layer = "up"
    dirs, grid = view.directions.dirs.clone(), _z(view.grid_figure())
    view.method = "householder"  # the projector model's `up` is an ordinary Linear
    # the message shows under the direction controls, not at the top of the page
    assert "householder" in view.direction_errors.message and "HouseholderProjector" in view.direction_errors.message
    assert view.errors.message == ""
    assert view.method == "sefa" and view.layer == "up"  # the control went back
    assert np.array_equal(view.directions.dirs.numpy(), dirs.numpy()) and np.array_equal(_z(view.grid_figure()), grid)
    view.layer = "fc"
    assert view.direction_errors.message == "" and view.directions.dirs.shape[1] == view.model.config.latent_dim


def test_switching_method_changes_model_labels_and_heatmap(view):
    sens_before = np.asarray(view.sensitivity_figure()["data"][0]["z"])
    view.method = "sefa"
    assert METHOD_MODEL["sefa"] == "linear" and view.model.config.first_layer == "linear"
    assert view.direction_labels()[0].startswith("direction 1 (eigenvalue")
    vals = [float(name.split("eigenvalue ")[1].rstrip(")")) for name in view.direction_labels()]
    assert vals == sorted(vals, reverse=True)
    assert not np.allclose(np.asarray(view.sensitivity_figure()["data"][0]["z"]), sens_before)
    assert "unconstrained" in view.orth_text()
    view.method = "random"
    assert view.direction_labels()[0] == "direction 1 (random)"
    view.method = "ganspace"
    assert "variance" in view.direction_labels()[0]


def test_seed_span_and_steps_redraw_the_grid(view):
    g0 = _z(view.grid_figure())
    view.seed = 5
    g1 = _z(view.grid_figure())
    assert not np.array_equal(g0, g1)
    view.steps = 5
    assert _z(view.grid_figure()).shape[1] == 5 * 34 - 2
    ticks = view.grid_figure()["layout"]["xaxis"]["ticktext"]
    view.span = 1.0
    assert view.grid_figure()["layout"]["xaxis"]["ticktext"] != ticks
    view.next_seed()
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
    shipped = view.models["linear"]
    assert view.start_training()
    assert not view.start_training()  # one job at a time
    view.job.wait(300)
    assert view.job.errors.message == ""
    assert view.models["linear"] is not shipped
    assert "finished after 20 steps" in view.job.status.object
    loss = view.loss_figure()["data"][0]
    assert len(loss["x"]) == 2 and all(np.isfinite(loss["y"]))
    assert _z(view.train_samples_figure()).shape == (32, 8 * 34 - 2, 3)
    assert list(tmp_path.glob("householder/*/model.safetensors"))
    view.restore_shipped()
    assert view.models["linear"] is shipped


# ---------------------------------------------------------------------------- what each control recomputes
class _Calls:
    """Counts the calls of the view's expensive lab functions (wrapped, so the results are real)."""

    NAMES = ("directions_of", "sensitivity_matrix", "traverse", "decode_offset", "orthogonality_error")

    def __init__(self, monkeypatch):
        from widgets import householder as hh

        self.n = dict.fromkeys(self.NAMES, 0)
        for name in self.NAMES:
            real = getattr(hh, name)

            def counted(*a, _real=real, _name=name, **k):
                self.n[_name] += 1
                return _real(*a, **k)

            monkeypatch.setattr(hh, name, counted)

    def take(self) -> dict:
        out, self.n = {k: v for k, v in self.n.items() if v}, dict.fromkeys(self.NAMES, 0)
        return out


def _rendered(view):
    """The view's page on a Bokeh document: its figures now follow the parameters, as when served."""
    from bokeh.document import Document

    view.__panel__().get_root(Document())
    return view


def test_each_control_recomputes_only_what_depends_on_it(view, monkeypatch):
    # Note [what each control recomputes]: counted as calls of the expensive lab functions, not as seconds.
    calls = _Calls(monkeypatch)
    _rendered(view)
    calls.take()
    view.span = 2.0
    assert calls.take() == {"traverse": 1}  # one batched forward pass for the whole grid, nothing else
    view.steps = 9
    assert calls.take() == {"traverse": 1}
    view.next_seed()  # Resample z: the sample and the grid, not the heatmap
    assert calls.take() == {"traverse": 1, "decode_offset": 1}
    view.d1 = 1.5
    assert calls.take() == {"decode_offset": 1}
    for method in ("sefa", "ganspace", "random", "householder"):  # first visit of each: computed once
        view.method = method
    first = calls.take()  # (earlier tests may have filled the cache: at most once per new method)
    assert first.get("sensitivity_matrix", 0) <= 3 and first.get("directions_of", 0) <= 3
    for method in ("sefa", "ganspace", "random", "householder"):  # again: looked up, only images are decoded
        view.method = method
        assert calls.take() == {"traverse": 1, "decode_offset": 1}, method
    view.method, view.layer = "sefa", "up"
    calls.take()
    view.layer = "fc"
    assert calls.take() == {"traverse": 1, "decode_offset": 1}


def test_warm_precomputes_every_method_and_layer_of_the_shipped_models(artifacts, monkeypatch):
    from widgets import householder as hh

    monkeypatch.setattr(hh, "_shipped", lambda folder=None: artifacts)
    hh._CACHE.clear()
    hh.HouseholderView.warm(lambda *a, **k: None, lambda: False)
    calls = _Calls(monkeypatch)
    v = _rendered(HouseholderView(artifacts=artifacts))
    for method, layer in (("sefa", "fc"), ("ganspace", "fc"), ("sefa", "up"), ("ganspace", "up"),
                          ("random", "up"), ("random", "fc"), ("householder", "fc")):
        v.method, v.layer = method, layer
        assert v.direction_errors.message == "" and (v.heatmap.method, v.heatmap.layer) == (method, layer)
    counted = calls.take()
    assert "directions_of" not in counted and "sensitivity_matrix" not in counted
    assert "orthogonality_error" not in counted


def _fresh_model(seed):
    import torch

    from lab.householder import GeneratorConfig, ShapesVAE

    torch.manual_seed(seed)
    return ShapesVAE(GeneratorConfig(first_layer="householder")).eval().requires_grad_(False)


@pytest.mark.parametrize("seed", [11, 12])
def test_cached_results_equal_the_slow_path_on_a_fresh_model(artifacts, seed):
    import torch

    from lab.householder import directions_of, prior_samples, sensitivity_matrix, traverse
    from widgets import householder as hh

    v = HouseholderView(artifacts=artifacts)
    v.models = {**v.models, "householder": _fresh_model(seed)}  # new random weights: nothing cached
    v.steps, v.span, v.seed = 5, 1.75, seed
    for method, layer in (("householder", "fc"), ("random", "up")):
        v.method, v.layer = method, layer
        gen, lay = v.model.generator, (None if layer == "fc" else layer)
        dirs, values = directions_of(v.model, method, lay, v.model.config.rank)
        torch.testing.assert_close(v.directions.dirs, dirs.float())
        S = sensitivity_matrix(gen, artifacts.regressor, dirs, seed=hh.SENSITIVITY_SEED, layer=lay, **hh.SENSITIVITY)
        np.testing.assert_allclose(v.heatmap.S, S, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.asarray(v.sensitivity_figure()["data"][0]["z"]), S, rtol=1e-5, atol=1e-6)
        imgs = traverse(gen, dirs, z=prior_samples(1, 8, seed), span=1.75, steps=5, layer=lay)[0]
        from lab.householder import image_grid

        np.testing.assert_array_equal(_z(v.grid_figure()), image_grid(imgs))


def test_an_uncached_heatmap_is_computed_in_the_background_with_the_old_one_kept(view, monkeypatch):
    from widgets import householder as hh

    monkeypatch.setattr(hh, "_served", lambda: True)  # as on a served page: the event loop must not wait
    old = view.heatmap
    assert old is not None and not view.heatmap_pending
    fresh = _fresh_model(21)
    view.models = {**view.models, "householder": fresh}
    assert view.directions.models["householder"] is fresh  # the directions answer at once
    assert view.heatmap_pending and view.heatmap is old  # the old heatmap stays, marked as updating
    fig = view.sensitivity_figure()
    assert "updating…" in fig["layout"]["title"]["text"]
    np.testing.assert_allclose(np.asarray(fig["data"][0]["z"]), old.S)
    view.heatmap_job.wait(120)
    assert not view.heatmap_pending and view.heatmap.model is fresh
    np.testing.assert_allclose(view.heatmap.S, hh.cached_sensitivity(fresh, view._art.regressor, "householder", "fc"))
    assert "updating" not in view.sensitivity_figure()["layout"]["title"]["text"]
    assert view.heatmap_job.status.object == ""  # no stale "heatmap: finished" line


def test_train_is_locked_while_a_run_is_in_flight_and_a_stopped_run_is_not_swapped_in(view, tmp_path, monkeypatch):
    monkeypatch.setenv("ORTHOLAB_RUNS", str(tmp_path))
    view.__panel__()
    view.train_layer, view.train_steps = "linear", 2000
    shipped = view.models["linear"]
    locked = ("train_layer", "train_steps", "train", "restore")
    assert not any(view.param[name].constant for name in locked)
    assert view.start_training()
    assert all(view.param[name].constant for name in locked)  # a second press cannot reset the run in flight
    view.job.stop()
    view.job.wait(300)
    assert view.job.outcome == "stopped" and not any(view.param[name].constant for name in locked)
    assert view.models["linear"] is shipped  # never swapped in behind the researcher's back
    status = view.job.status.object
    assert "stopped at step" in status and "of 2000" in status and "still shows the shipped" in status
    view.restore_shipped()
    assert view.job.status.object == ""  # nothing was replaced: no message to leave behind
