"""The /threephase page in Chromium: move the theta slider and watch the phasor turn."""

import json

import pytest

pytestmark = pytest.mark.browser


def test_theta_slider_turns_the_phasor(page, console, dashboard_url, ui):
    page.goto(dashboard_url + "/threephase")
    page.get_by_text("The phase rotation").first.wait_for(timeout=60_000)
    before = ui.plot_data(0)
    assert sum(1 for t in json.loads(before) if str(t.get("name", "")).startswith("phase ")) == 3
    ui.nudge_slider(0, steps=4)
    after = ui.wait_plot_change(before, 0)
    tips_before = [t["x"][1] for t in json.loads(before) if str(t.get("name", "")).startswith("phase ")]
    tips_after = [t["x"][1] for t in json.loads(after) if str(t.get("name", "")).startswith("phase ")]
    assert len(tips_after) == 3 and tips_after != tips_before
    assert console.errors == []
