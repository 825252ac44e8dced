"""A plain GET builds a page but starts no background work; a browser that loads it does."""

import time
import urllib.request

import pytest

pytestmark = pytest.mark.browser


def test_requests_without_a_browser_start_no_jobs_and_a_browser_does(page, dashboard):
    mark = dashboard.mark()
    for _ in range(3):  # what a crawler or `curl` does
        with urllib.request.urlopen(dashboard.url + "/alignment", timeout=120) as r:
            assert r.status == 200
    time.sleep(3)
    assert "job 'anchor sweep' started" not in dashboard.log()[mark:]
    page.goto(dashboard.url + "/alignment")
    dashboard.wait_for_log("job 'anchor sweep' started", since=mark, timeout=90)
