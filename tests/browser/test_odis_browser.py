"""The served /odis page in Chromium: moving the budget slider updates the overlap matrix."""

import pytest

pytestmark = pytest.mark.browser


def test_budget_slider_updates_the_overlap_matrix(page, console, ui, dashboard_url):
    page.set_default_timeout(120_000)  # the first session builds the page on a busy 2-core machine
    page.goto(dashboard_url + "/odis", timeout=180_000)
    page.get_by_text("ODiS: orthogonal data selection").first.wait_for(timeout=60_000)
    before = ui.plot_data(0)  # the overlap matrix is the page's first figure
    assert "heatmap" in before
    ui.nudge_slider(0, steps=5)  # the budget slider is the page's first slider
    after = ui.wait_plot_change(before, 0)
    assert after != before
    assert console.errors == []
