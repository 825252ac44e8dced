"""The dashboard shell: index, per-study pages, placeholders, jobs, the CLI."""

import threading
import time

import panel as pn
import param
import pytest

from widgets import app, cli, jobs
from widgets.common import ErrorBox, StudyView, guarded


def _select(page, kind):
    """Every object of ``kind`` in a template's main area."""
    return [o for item in page.main for o in pn.panel(item).select(kind)]


def test_routes_cover_index_and_the_four_studies():
    assert set(app.routes()) == {"/", "/householder", "/alignment", "/threephase", "/odis"}


def test_index_links_every_study():
    page = app.build_index()
    html = " ".join(str(getattr(o, "object", "")) for o in _select(page, pn.pane.Markdown))
    for s in app.STUDIES:
        assert f"./{s.route}" in html


def test_a_view_that_fails_to_build_gets_a_message_not_a_traceback(monkeypatch):
    class Broken(StudyView):
        def __init__(self, **params):
            raise RuntimeError("shipped file missing")

    monkeypatch.setattr(app, "STUDIES", (app.StudyPage("broken", "Broken study", ".", Broken),))
    page = app.build_study_page("broken")
    alerts = [a for a in _select(page, pn.pane.Alert) if a.alert_type == "danger"]
    assert alerts and "could not be built" in alerts[0].object and "shipped file missing" in alerts[0].object


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


def test_background_job_delivers_every_event_in_order():
    # Partial results are events: a poll that finds many delivers all of them, oldest first.
    job = jobs.BackgroundJob("events")
    seen = []

    def work(progress, should_stop):
        for i in range(200):
            progress((i + 1) / 200, f"row {i}", row=i)
        return "done"

    job.start(work, on_partial=lambda p: seen.append(p["row"]))
    job.wait()  # one poll after the thread ended: every event is still pending
    assert seen == list(range(200))
    assert job.fraction == 1.0 and job.message == "row 199"


def test_background_job_batches_one_polls_events_into_one_update_of_its_owner():
    # Note [one update per poll]: 57 rows found by one poll rebuild a figure that reads them once.
    class Owner(param.Parameterized):
        rows = param.List(default=[])
        rebuilt = 0

        @param.depends("rows", watch=True)
        def figure(self):
            self.rebuilt += 1

    owner = Owner()
    job = jobs.BackgroundJob("sweep", batch=owner)

    def work(progress, should_stop):
        for i in range(57):
            progress((i + 1) / 57, row=i)

    job.start(work, on_partial=lambda p: setattr(owner, "rows", [*owner.rows, p["row"]]))
    job.wait()
    assert owner.rows == list(range(57))  # every row, in order
    assert owner.rebuilt == 1

    failing = Owner()
    failing.param.watch(lambda _e: 1 / 0, "rows")  # a watcher that fails when the batch ends
    job = jobs.BackgroundJob("sweep", batch=failing)
    job.start(work, on_partial=lambda p: setattr(failing, "rows", [*failing.rows, p["row"]]))
    job.wait()
    assert "ZeroDivisionError" in job.errors.message or "division by zero" in job.errors.message


def test_background_job_reports_into_the_errors_it_was_given():
    box = ErrorBox()
    job = jobs.BackgroundJob("fails", errors=box)

    def fails(progress, should_stop):
        raise ValueError("steps: expected a positive int, got 0")

    job.start(fails)
    job.wait()
    assert box.message == "steps: expected a positive int, got 0"
    # The page shows its one error box; the job does not show a second one.
    assert box.alert not in pn.panel(job).select(pn.pane.Alert)


def test_a_job_disables_its_locked_controls_while_it_runs_and_stop_keeps_its_result():
    job = jobs.BackgroundJob("train")
    train = pn.widgets.Button(label="Train")
    other = pn.widgets.IntSlider(label="steps", start=1, end=9)
    assert job.locks(train, other) is job
    done = []

    def work(progress, should_stop):
        i = 0
        while not should_stop():
            progress(0.25, f"step {i}", step=i)
            i += 1
            time.sleep(0.002)
        return i

    job.start(work, on_done=done.append)
    assert train.disabled and other.disabled  # a second press cannot reset the run
    time.sleep(0.03)
    job.poll()
    job.stop()
    assert job.stop_button.disabled  # pressed once is enough
    job.wait()
    assert not train.disabled and not other.disabled
    assert job.outcome == "stopped" and done and done[0] > 0
    assert "stopped at 25%" in job.status.object and "kept" in job.status.object

    class Owner(param.Parameterized):
        go = param.Action(lambda self: None, label="Go")

    owner, other_owner = Owner(), Owner()
    shown = pn.Param(owner.param, parameters=["go"], show_name=False)
    go_button = shown.layout[0]
    job.locks((owner, "go"))
    job.start(lambda progress, should_stop: (time.sleep(0.05), 7)[1], on_done=done.append)
    assert go_button.disabled and owner.param["go"].constant
    assert not other_owner.param["go"].constant  # only this instance's parameter
    job.wait()
    assert not go_button.disabled and not owner.param["go"].constant
    assert job.outcome == "done" and done[-1] == 7 and job.status.object == "train: finished"
    job.stop()  # nothing in flight: Stop changes nothing
    assert job.status.object == "train: finished"


def test_a_job_with_errors_here_shows_them_beside_its_own_controls():
    class Page(StudyView):
        def body(self):
            return pn.Column(self.upload_errors, self.job)

    view = Page()
    view.upload_errors = view.error_box()
    view.job = view.add_job("fit", errors_here=True)
    assert view.job.errors is not view.errors and view.upload_errors is not view.errors

    def fails(progress, should_stop):
        raise ValueError("rank: expected an int in [1, 8], got 12")

    view.job.start(fails)
    view.job.wait()
    assert view.job.errors.message == "rank: expected an int in [1, 8], got 12" and view.errors.message == ""
    assert view.job.errors.alert in pn.panel(view.job).select(pn.pane.Alert)
    bad = view.guard(lambda: int("x"), errors=view.upload_errors)
    assert bad() is None and "invalid literal" in view.upload_errors.message and view.errors.message == ""


def test_error_box_escapes_and_caps_what_it_echoes():
    box = ErrorBox()
    box.show(ValueError("file: cannot read <img src=x onerror=alert(1)>.npy"))
    assert "<img" not in box.alert.object and "&lt;img" in box.alert.object
    assert box.message == "file: cannot read <img src=x onerror=alert(1)>.npy"
    box.show(ValueError("path: " + "a" * 100_000))
    assert len(box.alert.object) < 1000


def test_study_view_owns_its_jobs_and_close_stops_them():
    class Spinning(StudyView):
        def body(self):
            return pn.pane.Markdown("body")

    view = Spinning()
    job = view.add_job("spin")
    assert view.jobs == (job,) and job.errors is view.errors
    steps = []

    def work(progress, should_stop):
        while not should_stop():
            steps.append(1)
            time.sleep(0.005)
        return len(steps)

    job.start(work)
    time.sleep(0.05)
    view.close(timeout=10)
    assert not job.running and view.closed and "stopped" in job.status.object
    n = len(steps)
    time.sleep(0.05)
    assert len(steps) == n  # the worker really ended
    layout = pn.panel(view)
    assert view.errors.alert in layout.select(pn.pane.Alert)


def test_keeps_last_shows_the_error_and_keeps_the_last_good_figure():
    from widgets.common import keeps_last

    class View(StudyView):
        x = param.Number(1.0)

        @param.depends("x")
        @keeps_last
        def figure(self):
            if self.x < 0:
                raise ValueError(f"x: expected >= 0, got {self.x}")
            return {"data": [{"y": [self.x]}], "layout": {}}

        def body(self):
            return pn.pane.Markdown("")

    view = View()
    good = view.figure()
    view.x = -1
    assert view.figure() == good and view.errors.message == "x: expected >= 0, got -1"
    view.x = 2
    assert view.figure()["data"][0]["y"] == [2] and view.errors.message == ""


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


def test_a_job_polls_by_itself_on_a_running_loop_as_in_a_notebook_kernel():
    # Note [jobs in a notebook]: with no server session, a kernel's running loop still delivers
    # progress, partial results and Stop; nobody calls wait().
    import asyncio

    async def cell():
        job = jobs.BackgroundJob("in a notebook", poll_ms=50)
        seen = []

        def work(progress, should_stop):
            for i in range(5):
                progress((i + 1) / 10, f"row {i}", row=i)
            while not should_stop():
                time.sleep(0.01)
            return "kept"

        job.start(work, on_partial=lambda p: seen.append(p["row"]))
        for _ in range(100):
            await asyncio.sleep(0.02)
            if len(seen) == 5:
                break
        assert seen == [0, 1, 2, 3, 4] and job.fraction == 0.5 and job.status.object == "in a notebook: row 4"
        job.stop()
        for _ in range(100):
            await asyncio.sleep(0.02)
            if not job.running:
                break
        assert not job.running and job.status.object.startswith("in a notebook: stopped at 50%")

    # A thread of its own: a kernel's loop is the only loop there (this process may have another running).
    failures = []
    runner = threading.Thread(target=lambda: _record_failure(failures, lambda: asyncio.run(cell())))
    runner.start()
    runner.join(60)
    assert not runner.is_alive() and failures == []


def _record_failure(failures: list, fn) -> None:
    try:
        fn()
    except BaseException as exc:  # noqa: BLE001 - the test thread reports it
        failures.append(repr(exc))


def test_a_push_to_a_closed_tab_is_one_log_line_not_a_traceback(caplog):
    import asyncio
    import logging

    from tornado.websocket import WebSocketClosedError

    loop = asyncio.new_event_loop()
    try:
        with caplog.at_level(logging.INFO, logger="ortholab"):
            app.quiet_closed_connections(loop, {"message": "Task exception was never retrieved",
                                                "exception": WebSocketClosedError()})
        assert [r.getMessage() for r in caplog.records] == ["an update for a closed tab was dropped"]
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            app.quiet_closed_connections(loop, {"message": "boom", "exception": ValueError("a real fault")})
        assert any("boom" in r.getMessage() for r in caplog.records)  # other faults are still reported
    finally:
        loop.close()


def test_setup_notebook_inlines_the_extensions_and_links_no_cdn(monkeypatch):
    import importlib

    from bokeh.document import Document
    from bokeh.models import ImportedStyleSheet
    from panel.io.resources import CDN_DIST

    from widgets import notebook

    for name in notebook._PATCHING_MODULES:  # put back after the test
        module = importlib.import_module(name)
        monkeypatch.setattr(module, "patch_stylesheet", module.patch_stylesheet)
    monkeypatch.setattr(pn.config, "inline", pn.config.inline)
    from widgets import figures as shared

    monkeypatch.setattr(shared, "IMAGES_AS_PNG", shared.IMAGES_AS_PNG)  # setup_notebook switches it

    def links(root):
        return [s.url for m in root.references() for s in getattr(m, "stylesheets", None) or []
                if isinstance(s, ImportedStyleSheet)]

    plain = links(pn.Column(pn.pane.Markdown("**x**"), pn.widgets.IntSlider(label="n")).get_root(Document()))
    assert any(u.startswith(CDN_DIST) for u in plain)  # what Panel links by itself
    notebook.setup_notebook(quiet=True)
    assert pn.config.inline is True
    assert set(notebook.EXTENSIONS) <= set(pn.extension._loaded_extensions)
    # Note [offline notebook]: every stylesheet link made afterwards points at the Jupyter server.
    after = links(pn.Column(pn.pane.Markdown("**x**"), pn.widgets.IntSlider(label="n")).get_root(Document()))
    assert after and not [u for u in after if u.startswith(CDN_DIST)]
    assert all(u.startswith("/panel-preview/static/extensions/panel/") for u in after if "://" not in u)
    notebook.setup_notebook(quiet=True)  # twice is harmless: the links are not rewritten twice
    again = links(pn.Column(pn.pane.Markdown("**x**")).get_root(Document()))
    assert all(u.count("panel-preview") == 1 for u in again)
