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


def _figure_titled(page, prefix: str):
    """The visible Plotly figure whose title starts with ``prefix``."""
    plots = page.locator(".js-plotly-plot:visible")
    for i in range(plots.count()):
        title = plots.nth(i).evaluate("el => (el.layout && el.layout.title && el.layout.title.text) || ''")
        if title.startswith(prefix):
            return plots.nth(i)
    raise AssertionError(f"no figure titled {prefix!r}")


def _train_and_read_drift(page, decay: str) -> str:
    page.get_by_role("combobox").filter(has=page.locator("option[value='matrices']")).select_option(decay)
    finished = page.get_by_text("training: finished").first
    page.get_by_role("button", name="Train baseline and 3PT side by side").click()
    finished.wait_for(state="hidden", timeout=60_000)  # the status of an earlier run goes...
    finished.wait_for(timeout=300_000)  # ...and this run's end comes
    drift = _figure_titled(page, "Live 3PT drift over depth and time")
    title = drift.evaluate("el => el.layout.title.text")
    assert f"decay on {decay}" in title
    return drift.evaluate("el => JSON.stringify(el.data)")


def test_the_decay_switch_changes_the_live_drift(page, console, dashboard_url):
    # Note [decay]: decay on every parameter pulls theta toward 0; on matrices only it does not.
    page.goto(dashboard_url + "/threephase")
    page.get_by_text("Train a RoPE-only baseline and 3PT side by side").first.wait_for(timeout=60_000)
    with_decay = _train_and_read_drift(page, "all")
    without = _train_and_read_drift(page, "matrices")
    assert '"type":"heatmap"' in with_decay and without != with_decay
    assert console.errors == []
