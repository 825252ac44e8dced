"""Shared fixtures: the served dashboard and a Playwright browser on the system Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


def _chromium_path() -> str | None:
    for candidate in (os.environ.get("ORTHOLAB_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser"), shutil.which("google-chrome")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Point pytest-playwright at the system Chromium (no browser download happens here)."""
    path = _chromium_path()
    if path is None:
        pytest.fail("browser tests need Chromium: apt-get install -y chromium (scripts/test.sh does this)")
    return {**browser_type_launch_args, "executable_path": path, "args": CHROMIUM_ARGS, "headless": True}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServedDashboard:
    """The dashboard served for the test session: its base URL and the server's log file."""

    def __init__(self, url: str, log_path: Path):
        self.url = url
        self.log_path = log_path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def mark(self) -> int:
        """Where the log ends now (pass it to wait_for_log as ``since``)."""
        return len(self.log())

    def wait_for_log(self, text: str, *, since: int = 0, timeout: float = 60.0) -> str:
        """Wait until ``text`` appears in the server log after offset ``since``; returns that part."""
        start = since
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            log = self.log()
            if text in log[start:]:
                return log[start:]
            time.sleep(0.2)
        raise AssertionError(f"{text!r} did not appear in the server log within {timeout} s:\n{self.log()[-3000:]}")


@pytest.fixture(scope="session")
def dashboard(tmp_path_factory):
    """Serve the real dashboard on localhost for the session."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("serve") / "serve.log"
    env = {**os.environ, "ORTHOLAB_RUNS": str(tmp_path_factory.mktemp("runs")), "PYTHONUNBUFFERED": "1"}
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "widgets.cli", "serve", "--port", str(port), "--address", "127.0.0.1", "--no-show"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(url + "/", timeout=5) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the dashboard did not start; its log:\n{log_path.read_text()[-4000:]}")
        time.sleep(0.5)
    yield ServedDashboard(url, log_path)
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def dashboard_url(dashboard):
    """The served dashboard's base URL."""
    return dashboard.url


LOCAL_PREFIXES = ("http://127.0.0.1", "http://localhost", "ws://127.0.0.1", "ws://localhost", "data:", "blob:",
                  "about:")


@pytest.fixture
def page(page):
    """pytest-playwright's page, failing the test if any request leaves localhost.

    Nothing may be fetched from elsewhere (a CDN, a font service): an offline machine would
    show a blank or broken view. Every request and websocket is recorded.
    """
    offsite: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(LOCAL_PREFIXES) else offsite.append(r.url))
    page.on("websocket", lambda ws: None if ws.url.startswith(LOCAL_PREFIXES) else offsite.append(ws.url))
    yield page
    assert offsite == [], f"requests left localhost: {sorted(set(offsite))[:10]}"


class ConsoleLog:
    """Errors a page logged: console.error messages and uncaught exceptions."""

    def __init__(self, page):
        self.errors: list[str] = []
        page.on("console", lambda msg: self.errors.append(f"console.{msg.type}: {msg.text}")
                if msg.type == "error" else None)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))


@pytest.fixture
def console(page):
    """Collects the page's console errors; assert ``console.errors == []`` at the end."""
    return ConsoleLog(page)


class DashboardUI:
    """Small verbs for browser tests over Panel pages (Playwright locators pierce shadow DOM)."""

    def __init__(self, page):
        self.page = page

    def plot(self, nth: int = 0):
        """The nth visible Plotly figure element on the page, after it has rendered."""
        loc = self.page.locator(".js-plotly-plot:visible").nth(nth)  # collapsed cards hold hidden ones
        loc.wait_for(timeout=60_000)
        return loc

    def plot_data(self, nth: int = 0) -> str:
        """The figure's trace data as a JSON string (compare before/after an interaction)."""
        return self.plot(nth).evaluate("el => JSON.stringify(el.data)")

    def wait_plot_change(self, before: str, nth: int = 0, timeout: int = 60_000) -> str:
        handle = self.plot(nth).element_handle()
        self.page.wait_for_function("([el, b]) => JSON.stringify(el.data) !== b", arg=[handle, before], timeout=timeout)
        return self.plot_data(nth)

    def nudge_slider(self, nth: int = 0, steps: int = 3, key: str = "ArrowRight") -> None:
        """Move the nth slider on the page by ``steps`` keyboard steps (fires value_throttled)."""
        handle = self.page.locator(".noUi-handle").nth(nth)
        handle.wait_for(timeout=60_000)
        handle.focus()
        for _ in range(steps):
            handle.press(key)


@pytest.fixture
def ui(page):
    return DashboardUI(page)
