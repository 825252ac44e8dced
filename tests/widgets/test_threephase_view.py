"""The /threephase view without a browser: set parameters, check the produced figure data."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest

from lab.threephase import ModelConfig, TrainConfig, phasor, shipped_token_data, train_model


@pytest.fixture
def runs_root(tmp_path, monkeypatch):
    monkeypatch.setenv("ORTHOLAB_RUNS", str(tmp_path))
    return tmp_path


@pytest.fixture
def saved_run(runs_root):
    data = shipped_token_data()
    cfg = ModelConfig(vocab_size=data.vocab_size, d_model=24, n_layers=3, n_heads=6, n_kv_heads=3, d_ff=32,
                      max_seq_len=16)
    tcfg = TrainConfig(steps=6, batch_size=4, eval_every=2, eval_windows=4, device="cpu", lr=1e-2)
    res = train_model(cfg, tcfg, data, name="view-test", keep_weights=False, extra_config={"variant": "3pt-test"})
    return res.run_path


def arrows(fig):
    return [t for t in fig["data"] if str(t.get("name", "")).startswith("phase ")]


def test_phasor_follows_theta_and_n():
    from widgets.threephase import ThreePhaseView

    view = ThreePhaseView()
    before = view.phasor_figure()
    assert len(arrows(before)) == 3
    view.theta = 1.3
    view.n_phases = 4
    fig = view.phasor_figure()
    tips = np.array([[t["x"][1], t["y"][1]] for t in arrows(fig)])
    np.testing.assert_allclose(tips, phasor(1.3, 4), atol=1e-12)
    # consecutive phases are 2*pi/N apart on the unit circle
    ang = np.unwrap(np.arctan2(tips[:, 1], tips[:, 0]))
    np.testing.assert_allclose(np.diff(ang), 2 * math.pi / 4, atol=1e-9)
    assert fig["layout"]["uirevision"] == "keep"
    assert view.errors.message == ""


def test_saved_run_browser_and_frames(saved_run):
    from widgets.threephase import ThreePhaseView

    view = ThreePhaseView()
    assert saved_run in view.param.run_id.objects.values()
    view.run_id = saved_run
    curve = view.curve_figure()
    assert [t["x"] for t in curve["data"]][0] == [0, 2, 4, 6]
    assert view.param.frame.bounds == (0, 3) and view.frame == 3
    final_drift = view.drift_figure()["data"][1]["y"]
    assert len(final_drift) == 3 and min(final_drift) > 0
    view.frame = 0
    assert view.drift_figure()["data"][1]["y"] == [0.0, 0.0, 0.0]
    boxes = [t for t in view.angle_figure()["data"] if t["type"] == "box"]
    assert len(boxes) == 3 and all(len(b["y"]) == 4 for b in boxes)  # d_phase/2 = 8/2 angles per block
    np.testing.assert_allclose(boxes[1]["customdata"], [2 * math.pi / 6] * 4, rtol=1e-6)  # θ = (l+1)π/(2L) at step 0
    np.testing.assert_allclose(boxes[1]["y"], [0.0] * 4, atol=1e-6)  # no change yet
    horn = view.horn_figure()["data"]
    np.testing.assert_allclose(horn[1]["y"], 1.0 / (np.arange(16) + 1), atol=1e-5)


def test_broken_run_shows_message_and_keeps_figures(saved_run):
    from widgets.threephase import ThreePhaseView

    view = ThreePhaseView()
    view.run_id = saved_run
    before = view.curve_figure()
    shutil.rmtree(saved_run)
    view.run_id = None
    view.run_id = saved_run
    assert "not a run directory" in view.errors.message
    # the page keeps the run it showed (NaN-safe comparison of the figure data)
    assert view.run["path"] == saved_run
    assert json.dumps(view.curve_figure(), sort_keys=True) == json.dumps(before, sort_keys=True)


def test_live_training_streams_both_models(runs_root):
    from widgets.threephase import ThreePhaseView

    view = ThreePhaseView(steps=4, eval_every=2, n_layers=2)
    assert view.start_training()
    assert not view.start_training()  # one job at a time
    view.job.wait(300)
    names = [t["name"] for t in view.live_loss_figure()["data"]]
    assert names == ["baseline: train", "baseline: validation", "3pt: train", "3pt: validation"]
    val = [t for t in view.live_loss_figure()["data"] if t["name"] == "3pt: validation"][0]
    assert val["x"] == [0, 2, 4]
    heat = view.live_drift_figure()["data"][0]
    assert heat["type"] == "heatmap" and heat["x"] == [0, 2, 4] and len(heat["z"]) == 2  # blocks x evaluations
    # the finished 3PT run is listed and selected in the run browser
    assert view.run_id is not None and "3pt" in view.run_id
    assert view.errors.message == "" and view.job.errors.message == ""


def test_page_opens_on_a_shipped_deep_run(runs_root):
    from widgets.threephase import create_view

    view = create_view()
    assert view.run_id is not None and "data/threephase/runs" in view.run_id.replace("\\", "/")
    drift = view.drift_figure()["data"][1]["y"]
    assert len(drift) == 12 and max(drift) > 0  # the 12-layer run is preferred
    assert view.errors.message == ""


def test_the_decay_switch_reaches_training_and_changes_the_live_drift(runs_root):
    # Note [decay]: with decay on every parameter, theta is pulled toward 0 as well as pushed by the loss.
    from widgets.threephase import ThreePhaseView

    drifts, fits = {}, {}
    for decay in ("all", "matrices"):
        view = ThreePhaseView(steps=6, eval_every=3, n_layers=3, decay=decay, lr=1e-2)
        assert view.start_training()
        view.job.wait(300)
        assert view.errors.message == ""
        drifts[decay] = view.live_drift_figure()["data"][0]["z"]
        fig = view.live_change_figure()
        assert f"decay on {decay}" in fig["layout"]["title"]["text"]
        fits[decay] = fig["data"][1]["name"]  # the fitted line's label: a - b * theta_init
        assert view.run["config"]["train"]["decay"] == decay  # the selected run is the one just trained
    assert drifts["all"] != drifts["matrices"]
    assert fits["all"] != fits["matrices"]


def test_saved_run_shows_the_drift_heatmap_and_the_fitted_line(runs_root):
    from widgets.threephase import create_view

    view = create_view()
    heat = view.drift_map_figure()["data"][0]
    assert heat["type"] == "heatmap" and len(heat["z"]) == 12  # the shipped 12-block run
    change = view.change_figure()["data"]
    assert len(change[0]["x"]) == 12 and "θ_init" in change[1]["name"]
    assert view.errors.message == ""
