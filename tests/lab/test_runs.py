"""Run storage: a run whose writer died is shown as interrupted, never as running for ever."""

import json
import subprocess
import sys

from lab.runs import Run, list_runs


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()  # reaped: the pid names no process now
    return proc.pid


def test_a_running_run_of_a_live_process_reads_running(tmp_path):
    run = Run.create("odis", {"a": 1}, root=tmp_path)
    st = run.status
    assert st["state"] == "running" and isinstance(st["pid"], int) and st["host"]


def test_a_running_run_whose_process_died_reads_interrupted(tmp_path):
    run = Run.create("odis", {"a": 1}, root=tmp_path)
    status = json.loads((run.path / "status.json").read_text())
    status["pid"] = _dead_pid()
    (run.path / "status.json").write_text(json.dumps(status))
    assert run.status["state"] == "interrupted"
    assert list_runs(tmp_path, "odis")["state"].tolist() == ["interrupted"]


def test_a_run_killed_with_sigkill_reads_interrupted(tmp_path):
    code = (
        "import sys, time\n"
        "from lab.runs import Run\n"
        f"run = Run.create('threephase', {{'steps': 10}}, root={str(tmp_path)!r})\n"
        "print(run.path, flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    path = proc.stdout.readline().strip()
    assert Run.open(path).status["state"] == "running"
    proc.kill()
    proc.wait()
    assert Run.open(path).status["state"] == "interrupted"


def test_finished_runs_and_other_hosts_are_taken_at_their_word(tmp_path):
    run = Run.create("odis", {}, root=tmp_path)
    run.set_status("finished", step=3)
    assert run.status["state"] == "finished"
    status = {"state": "running", "pid": _dead_pid(), "host": "another-machine"}
    (run.path / "status.json").write_text(json.dumps(status))
    assert run.status["state"] == "running"  # a pid on another host cannot be checked from here
