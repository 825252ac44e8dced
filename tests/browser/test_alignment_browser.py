"""The alignment page in Chromium: move the anchor slider, the figures follow, no console errors."""

import pytest

pytestmark = pytest.mark.browser


def test_alignment_slider_updates_the_figures_without_console_errors(page, console, ui, dashboard_url):
    page.goto(dashboard_url + "/alignment")
    page.get_by_text("Representation alignment via orthogonal maps").first.wait_for(timeout=90_000)
    page.get_by_text("Fitting and scoring run on").first.wait_for(timeout=90_000)
    # Figure 1 is the score bars (0: the 2-D view); both depend on the anchor count.
    before_bars = ui.plot_data(1)
    before_scatter = ui.plot_data(0)
    ui.nudge_slider(0, steps=4, key="ArrowLeft")  # slider 0: anchor classes
    after_bars = ui.wait_plot_change(before_bars, 1, timeout=90_000)
    assert after_bars != before_bars
    ui.wait_plot_change(before_scatter, 0, timeout=90_000)
    assert page.get_by_text("anchors").first.is_visible()
    assert console.errors == []
