"""The served dashboard in Chromium: the index and navigation."""

import pytest

pytestmark = pytest.mark.browser


def test_index_lists_the_studies_and_navigates(page, console, dashboard_url):
    page.goto(dashboard_url + "/")
    page.get_by_text("An interactive lab for orthogonality").wait_for(timeout=60_000)
    for title in ("Householder latent directions", "3PT rotation drift", "ODiS orthogonal data selection"):
        assert page.get_by_text(title).first.is_visible()
    assert page.get_by_text("Experiments run on").first.is_visible()
    # each card: its headline sentence and its figure, drawn with data
    assert page.get_by_text("Headline.").count() == 4
    plots = page.locator(".js-plotly-plot")
    plots.nth(3).wait_for(timeout=60_000)
    assert plots.count() == 4
    assert all(plots.nth(i).evaluate("el => el.data.length") > 0 for i in range(4))
    page.locator("a[href='./alignment']").first.click()
    page.wait_for_url("**/alignment", timeout=60_000)
    assert console.errors == []
