"""The dashboard shell: index, per-study pages, placeholders, jobs, the CLI."""

import time

import panel as pn


def _select(page, kind):
    """Every object of ``kind`` in a template's main area."""
    return [o for item in page.main for o in pn.panel(item).select(kind)]
import pytest

from widgets import app, cli, jobs
from widgets.common import ErrorBox, guarded


def test_routes_cover_index_and_the_four_studies():
    assert set(app.routes()) == {"/", "/householder", "/alignment", "/threephase", "/odis"}


def test_index_links_every_study():
    page = app.build_index()
    html = " ".join(str(getattr(o, "object", "")) for o in _select(page, pn.pane.Markdown))
    for s in app.STUDIES:
        assert f"./{s.route}" in html


def test_missing_study_module_gets_a_plain_placeholder(monkeypatch):
    monkeypatch.setattr(app, "STUDIES", (app.StudyPage("nonexistent_study", "Nothing yet", "."),))
    page = app.build_study_page("nonexistent_study")
    alerts = _select(page, pn.pane.Alert)
    assert alerts and "not built yet" in alerts[0].object


def test_unknown_route_is_a_value_error():
    with pytest.raises(ValueError, match="route"):
        app.build_study_page("nope")


def test_every_page_builds_without_error():
    for s in app.STUDIES:
        page = app.build_study_page(s.route)
        errors = [a for a in _select(page, pn.pane.Alert) if a.alert_type == "danger" and a.visible]
        assert errors == [], f"{s.route}: {[a.object for a in errors]}"


def test_guarded_shows_errors_and_returns_none():
    box = ErrorBox()

    @guarded(box)
    def bad(x):
        raise ValueError(f"x: expected positive, got {x}")

    assert bad(-1) is None and box.message == "x: expected positive, got -1"

    @guarded(box)
    def good():
        return 5

    assert good() == 5 and box.message == ""


def test_background_job_progress_partial_stop_and_errors():
    job = jobs.BackgroundJob("train")
    seen, done = [], []

    def work(progress, should_stop):
        for i in range(1000):
            if should_stop():
                return i
            progress(i / 1000, f"step {i}", step=i)
            time.sleep(0.001)
        return 1000

    assert not job.stop_button.visible  # nothing to stop yet
    assert job.start(work, on_partial=lambda p: seen.append(p["step"]), on_done=done.append)
    assert job.stop_button.visible and not job.stop_button.disabled
    assert not job.start(work)  # one at a time
    time.sleep(0.05)
    job.poll()
    job.stop()
    job.wait()
    assert seen and done and done[0] < 1000 and not job.running
    assert not job.stop_button.visible
    assert "stopped" in job.status.object

    def fails(progress, should_stop):
        raise ValueError("lr: expected a positive number, got -1")

    job.start(fails)
    job.wait()
    assert job.errors.message == "lr: expected a positive number, got -1"


def test_cli_parses_serve_and_rejects_unknown(capsys):
    with pytest.raises(SystemExit):
        cli.main(["serve", "--bogus"])
    with pytest.raises(SystemExit):
        cli.main(["train", "nonexistent"])


def test_cli_hands_train_arguments_to_the_study(monkeypatch):
    seen = {}

    def fake_train(args, rest):
        seen["study"], seen["rest"] = args.study, rest
        return 0

    monkeypatch.setattr(cli, "_train", fake_train)
    assert cli.main(["train", "threephase", "--help", "--steps", "3"]) == 0
    assert seen == {"study": "threephase", "rest": ["--help", "--steps", "3"]}


def test_a_process_exiting_with_a_running_job_exits_cleanly():
    # A daemon thread inside torch at interpreter exit used to abort the process (exit 134).
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import torch\n"
        "from widgets.jobs import BackgroundJob\n"
        "def work(progress, should_stop):\n"
        "    a = torch.randn(300, 300)\n"
        "    while not should_stop():\n"
        "        a = torch.tanh(a @ a)\n"
        "job = BackgroundJob('spin')\n"
        "job.start(work)\n"
        "print('started', flush=True)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, (out.returncode, out.stderr[-2000:])
    assert "started" in out.stdout
