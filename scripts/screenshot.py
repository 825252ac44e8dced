"""Take a screenshot of a served dashboard page with the system Chromium (for the README).

    python scripts/screenshot.py http://localhost:5006/alignment docs/screenshot.png [--wait 8000]
"""

from __future__ import annotations

import argparse

from playwright.sync_api import sync_playwright

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("out")
    ap.add_argument("--wait", type=int, default=8000, help="milliseconds to let the page settle")
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--height", type=int, default=1000)
    a = ap.parse_args()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": a.width, "height": a.height})
        page.goto(a.url)
        page.wait_for_timeout(a.wait)
        page.screenshot(path=a.out, full_page=False)
        browser.close()


if __name__ == "__main__":
    main()
