"""The 3PT figures as data: built from real lab results, checked against those results."""

import math

import numpy as np
import pandas as pd

from lab.threephase import drift_profile, list_study_runs, load_run, phasor, run_frame
from widgets import threephase_figures as figs


def test_phasor_arrows_end_on_lab_phasor_points():
    tips = phasor(0.9, 6)
    fig = figs.phasor_figure(tips, 6)
    arrows = [t for t in fig["data"] if t["name"].startswith("phase ")]
    assert len(arrows) == 6
    np.testing.assert_allclose([[a["x"][1], a["y"][1]] for a in arrows], tips, atol=1e-12)
    assert arrows[1]["name"].endswith(f"= {math.degrees(0.9 + 2 * math.pi / 6) % 360:.0f}°")


def _shipped_deep_run():
    runs = list_study_runs()
    return load_run(runs[runs["n_layers"] == 12]["path"].iloc[0])


def test_drift_figure_shows_evaluation_k_and_the_final_profile():
    history = _shipped_deep_run()["history"]
    steps, profile = drift_profile(history)
    fig = figs.drift_figure(steps, profile, 2)
    final, now = fig["data"]
    assert final["y"] == profile[-1].tolist() and now["y"] == profile[2].tolist()
    assert now["name"] == f"step {steps[2]}" and len(now["x"]) == 12
    # out-of-range frames clamp to the last evaluation
    assert figs.drift_figure(steps, profile, 10_000)["data"][1]["y"] == profile[-1].tolist()


def test_angle_and_horn_figures_show_the_frame_lab_read():
    frame = run_frame(_shipped_deep_run()["history"], 0)
    boxes = [t for t in figs.angle_figure(frame["thetas"], frame["step"], frame["theta_init"])["data"]
             if t["type"] == "box"]
    assert len(boxes) == 12
    # each angle's change from its block's start, so a drift of 0.02 rad is not lost on a 0..π/2 axis
    np.testing.assert_allclose(boxes[0]["y"], np.asarray(frame["thetas"][0]) - frame["theta_init"][0])
    np.testing.assert_allclose(boxes[11]["customdata"], frame["thetas"][11])
    horn = figs.horn_figure(frame["horn_mean"], frame["horn_phase_means"], frame["horn"])["data"]
    np.testing.assert_allclose(horn[0]["y"], 1.0 / (np.arange(len(frame["horn"])) + 1), rtol=1e-6)
    assert [t["name"] for t in horn[2:]] == ["phase 0 mean", "phase 1 mean", "phase 2 mean"]


def test_live_loss_figure_pairs_train_and_validation_per_model():
    losses = {"baseline": {"step": [1, 2], "loss": [5.0, 4.5]}, "3pt": {"step": [1, 2], "loss": [5.1, 4.4]}}
    evals = {"baseline": [{"step": 0, "val_loss": 6.0}, {"step": 2, "val_loss": 4.6}]}
    fig = figs.live_loss_figure(losses, evals)
    assert [t["name"] for t in fig["data"]] == ["baseline: train", "baseline: validation", "3pt: train",
                                                "3pt: validation"]
    assert fig["data"][1]["x"] == [0, 2] and fig["data"][1]["y"] == [6.0, 4.6] and fig["data"][3]["x"] == []
    assert fig["data"][0]["line"]["color"] == figs.VARIANT_COLORS["baseline"]


def test_empty_inputs_give_placeholders_without_axes():
    for fig in (figs.live_loss_figure({}, {}), figs.drift_figure(np.zeros(0), np.zeros((0, 0)), 0),
                figs.angle_figure(None, 0, []), figs.horn_figure(None, None, None)):
        assert fig["data"] == [] and fig["layout"]["xaxis"] == {"visible": False}
        assert fig["layout"]["annotations"][0]["text"]


def test_loss_figure_titles_the_final_perplexity():
    history = pd.DataFrame({"step": [0, 10], "val_loss": [5.0, 4.0], "train_loss": [np.nan, 4.2],
                            "val_ppl": [148.4, 54.6], "val_bpb": [2.0, 1.6]})
    fig = figs.loss_figure(history, "3pt", True)
    assert "54.6" in fig["layout"]["title"]["text"] and fig["data"][0]["line"]["color"] == figs.VARIANT_COLORS["3pt"]
