"""Every notebook in a real JupyterLab on localhost: Run All, and the views come alive offline.

JupyterLab is started by the test on copies of the notebooks (so nothing is written into the
tracked files) with the smoke sizes. For each notebook: Run All Cells through the menu, then
no cell shows a traceback, every Plotly figure drew data, Panel's widgets rendered; where the
notebook ends with a study view, moving its first slider changes a figure. The Householder
view also starts a fine-tuning job and stops it, and its progress must move in the notebook.
No request may leave localhost (the ``page`` fixture fails on any other host).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.conftest import REPO, _free_port

pytestmark = [pytest.mark.browser, pytest.mark.notebook]

NOTEBOOKS = sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb"))
TOKEN = "ortholab-test"


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory):
    """JupyterLab on localhost over a copy of notebooks/ (benchmarks/ linked: 03 reads its results)."""
    root = tmp_path_factory.mktemp("lab")
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    (root / "benchmarks").symlink_to(REPO / "benchmarks")
    port = _free_port()
    env = {**os.environ, "ORTHOLAB_SMOKE": "1", "ORTHOLAB_RUNS": str(tmp_path_factory.mktemp("runs")),
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           "JUPYTER_CONFIG_DIR": str(tmp_path_factory.mktemp("jupyter_config"))}
    log_path = root / "jupyterlab.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--allow-root", "--no-browser", "--ServerApp.ip=127.0.0.1",
             f"--ServerApp.port={port}", f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}",
             "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
            cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=5):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"JupyterLab did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def _run_all(page, url: str, name: str, workspace: str | None = None) -> None:
    # A workspace of its own: JupyterLab would otherwise reopen the tabs of the test before.
    workspace = workspace or name.removesuffix(".ipynb").replace("_", "-")
    page.goto(f"{url}/lab/workspaces/{workspace}/tree/notebooks/{name}?token={TOKEN}")
    page.locator(".jp-Notebook .jp-CodeCell").first.wait_for(timeout=120_000)
    page.wait_for_function(  # the kernel is up
        "() => (document.querySelector('#jp-main-statusbar') || {innerText: ''}).innerText.includes('Idle')",
        timeout=120_000, polling=500)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    # Done when every code cell shows an execution count ("[n]:"), none "[*]:" or blank.
    page.wait_for_function(
        """() => { const p = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(e => e.textContent);
                   return p.length > 0 && p.every(t => /\\[\\d+\\]/.test(t)); }""",
        timeout=900_000, polling=1000)


def _plots(page) -> tuple[int, int, int]:
    """(figures, figures Plotly laid out, figures with data); a placeholder figure has no traces."""
    plots = page.locator(".js-plotly-plot")
    n = plots.count()
    drawn = sum(plots.nth(i).evaluate("el => !!el._fullLayout && !!el.querySelector('.main-svg')") for i in range(n))
    with_data = sum(plots.nth(i).evaluate("el => !!(el.data && el.data.length)") for i in range(n))
    return n, drawn, with_data


def _figures_data(page) -> list[str]:
    plots = page.locator(".js-plotly-plot")
    return [plots.nth(i).evaluate("el => JSON.stringify(el.data)") for i in range(plots.count())]


def _slider_changes_a_figure(page, slider, timeout: float = 20.0) -> bool:
    before = _figures_data(page)
    slider.scroll_into_view_if_needed()
    slider.focus()
    for _ in range(3):
        slider.press("ArrowLeft")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _figures_data(page) != before:
            return True
        time.sleep(0.25)
    return False


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_comes_alive_in_jupyterlab(name, page, jupyterlab):
    page.set_viewport_size({"width": 1400, "height": 1000})
    missing = []  # Panel's files the Jupyter server should serve (Note [offline notebook] in widgets.notebook)
    page.on("response", lambda r: missing.append(r.url) if "/panel-preview/" in r.url and r.status >= 400 else None)
    _run_all(page, jupyterlab, name)
    outputs = page.locator(".jp-OutputArea-output").all_inner_texts()
    assert not [o for o in outputs if "Traceback" in o], "a cell raised"
    assert page.get_by_text("Unable to run Panel code").count() == 0  # Bokeh and Panel's JS are present
    n, drawn, with_data = _plots(page)
    assert n > 0 and drawn == n, f"Plotly drew {drawn} of {n} figures"
    assert with_data >= 1, "no figure shows data"
    # Every notebook shows a study view: its sliders rendered, and moving one changes a figure
    # (some sliders set training options, not a figure: try them from the last one up).
    sliders = page.locator(".noUi-handle:visible")  # a collapsed card holds hidden ones
    assert sliders.count() > 0, "no Panel slider rendered"
    assert any(_slider_changes_a_figure(page, sliders.nth(i)) for i in reversed(range(sliders.count()))), \
        "moving the view's sliders changed no figure"
    assert missing == [], f"stylesheets not served: {missing[:5]}"


def test_a_background_job_streams_progress_and_stops_in_a_notebook(page, jupyterlab):
    page.set_viewport_size({"width": 1400, "height": 1000})
    _run_all(page, jupyterlab, "01_householder.ipynb", workspace="job")
    train = page.get_by_role("button", name="Fine-tune")
    train.scroll_into_view_if_needed()
    train.click()
    status = page.get_by_text("fine-tuning:", exact=False).last
    status.wait_for(timeout=60_000)
    # Progress moves: the status line leaves "starting…" for a step count.
    deadline = time.monotonic() + 120
    text = ""
    while time.monotonic() < deadline:
        text = status.inner_text()
        if "starting" not in text:
            break
        time.sleep(0.5)
    assert "starting" not in text, f"the job's progress never reached the notebook: {text!r}"
    page.get_by_role("button", name="Stop").last.click()
    page.get_by_text("stopped", exact=False).last.wait_for(timeout=120_000)
