"""The small shared modules: progress contract, exit-code rule, fitted checks, study folders."""

import argparse

import pytest

from lab import checks, command, paths, progress


def test_resolve_fills_in_the_no_op_defaults():
    p, stop = progress.resolve(None, None)
    assert p(0.5, "half", row=1) is None and stop() is False
    mine = []
    p2, stop2 = progress.resolve(lambda f, m="", **k: mine.append((f, m, k)), lambda: True)
    p2(0.25, "q", a=1)
    assert mine == [(0.25, "q", {"a": 1})] and stop2() is True


def test_scaled_maps_a_sub_task_onto_a_slice_and_tags_its_events():
    events = []
    sub = progress.scaled(lambda f, m="", **k: events.append((round(f, 6), m, k)), 0.2, 0.6, stage="curve")
    for f in (0.0, 0.5, 1.0, 2.0, -1.0):
        sub(f, "m", row=f)
    assert [e[0] for e in events] == [0.2, 0.4, 0.6, 0.6, 0.2]
    assert all(e[2]["stage"] == "curve" for e in events) and events[1][2]["row"] == 0.5
    progress.scaled(None, 0.0, 1.0)(0.5)  # nobody listening is fine
    with pytest.raises(ValueError, match="lo, hi"):
        progress.scaled(None, 0.7, 0.2)


def test_check_fitted_names_the_estimator_and_the_call():
    class Est:
        rotation_ = None

    with pytest.raises(checks.NotFittedError, match=r"Est: not fitted; call fit\(X, Y\) first"):
        checks.check_fitted(Est(), "rotation_", fit_call="fit(X, Y)")
    assert issubclass(checks.NotFittedError, ValueError)
    est = Est()
    est.rotation_ = 1
    checks.check_fitted(est, "rotation_")


def test_study_dir_knows_the_four_studies(monkeypatch, tmp_path):
    monkeypatch.setenv("ORTHOLAB_DATA", str(tmp_path))
    assert paths.study_dir("odis") == tmp_path / "odis"
    with pytest.raises(ValueError, match="study: expected one of"):
        paths.study_dir("../etc")


def _parser():
    p = argparse.ArgumentParser(prog="t")
    p.add_argument("--n", type=int, default=1)
    return p


@pytest.mark.parametrize(
    "body, argv, code",
    [
        (lambda a: 0, [], command.EXIT_OK),
        (lambda a: None, [], command.EXIT_OK),
        (lambda a: command.EXIT_UNFINISHED, [], 1),
        (lambda a: (_ for _ in ()).throw(ValueError("steps: expected > 0, got 0")), [], 2),
        (lambda a: (_ for _ in ()).throw(FileNotFoundError("run: no such folder x")), [], 2),
        (lambda a: (_ for _ in ()).throw(KeyboardInterrupt()), [], 130),
        (lambda a: 0, ["--n", "x"], 2),
        (lambda a: 0, ["--help"], 0),
    ],
)
def test_run_command_maps_outcomes_to_the_one_exit_code_rule(body, argv, code, capsys):
    assert command.run_command("t", _parser(), body, argv) == code
    err = capsys.readouterr().err
    if code == 2 and argv == []:
        assert err.startswith("t: ") and "Traceback" not in err and err.count("\n") == 1


def test_run_command_lets_a_real_bug_raise():
    def bug(_args):
        raise ZeroDivisionError("a bug is a bug")

    with pytest.raises(ZeroDivisionError):
        command.run_command("t", _parser(), bug, [])


def test_printing_progress_prints_rows_and_throttles_the_rest(capsys):
    p = command.printing_progress("t", every_s=3600, row=lambda part: f"row {part['i']}" if "i" in part else "")
    p(0.1, "first")
    p(0.2, "throttled")
    p(0.3, "", i=7)
    p(1.0, "last")
    out = capsys.readouterr().out.splitlines()
    assert out == ["[t]  10.0%  first", "row 7", "[t] 100.0%  last"]


def test_a_diverged_run_exits_unfinished_with_its_message(capsys):
    def diverges(_args):
        raise checks.TrainingDiverged("lr: training diverged at step 5 (loss nan); the run keeps step 4")

    assert command.run_command("t", _parser(), diverges, []) == command.EXIT_UNFINISHED
    assert capsys.readouterr().err == "t: lr: training diverged at step 5 (loss nan); the run keeps step 4\n"
