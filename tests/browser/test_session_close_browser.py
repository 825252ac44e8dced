"""Closing a tab mid-job stops the job: no training outlives the session that started it."""

import pytest

pytestmark = pytest.mark.browser


def test_closing_the_tab_stops_the_running_training(browser, dashboard):
    page = browser.new_page()
    page.goto(dashboard.url + "/threephase")
    page.get_by_text("Train a RoPE-only baseline and 3PT side by side").first.wait_for(timeout=90_000)
    # The most steps the slider allows, so the run is still going when the tab closes.
    steps = page.locator(".noUi-handle").nth(1)
    steps.focus()
    steps.press("End")
    page.get_by_role("button", name="Train baseline and 3PT side by side").click()
    page.get_by_text("training: step").first.wait_for(timeout=90_000)  # progress is moving
    mark = dashboard.mark()
    page.close()
    # Bokeh drops a closed session after its unused-session lifetime (about 15-30 s).
    log = dashboard.wait_for_log("job 'training' ended: stopped", since=mark, timeout=120)
    assert "session closed: stopping training" in log
    assert "Traceback" not in log
