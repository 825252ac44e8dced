"""The served dashboard in Chromium: the index and navigation."""

import pytest

pytestmark = pytest.mark.browser


def test_index_lists_the_studies_and_navigates(page, console, dashboard_url):
    page.goto(dashboard_url + "/")
    page.get_by_text("An interactive lab for orthogonality").wait_for(timeout=60_000)
    for title in ("Householder latent directions", "3PT rotation drift", "ODiS orthogonal data selection"):
        assert page.get_by_text(title).first.is_visible()
    assert page.get_by_text("Experiments run on").first.is_visible()
    page.locator("a[href='./alignment']").first.click()
    page.wait_for_url("**/alignment", timeout=60_000)
    assert console.errors == []
