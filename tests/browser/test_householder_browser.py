"""The served /householder page in Chromium: a direction slider changes the sample image."""

import pytest

pytestmark = pytest.mark.browser


def test_direction_slider_changes_the_image(page, console, ui, dashboard_url):
    page.goto(dashboard_url + "/householder")
    page.get_by_text("Householder latent directions").first.wait_for(timeout=60_000)
    page.get_by_text("d1: ").first.wait_for(timeout=120_000)  # the slider carries its automatic label
    before = ui.plot_data(0)  # the large sample
    assert '"type":"image"' in before
    ui.nudge_slider(1, steps=8)  # direction 1 (slider 0 is the block)
    after = ui.wait_plot_change(before, 0)
    assert after != before
    assert console.errors == []
