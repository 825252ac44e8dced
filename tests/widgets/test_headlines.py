"""The index's headlines are read from the shipped results, and say so when they are missing."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from widgets import headlines


@pytest.fixture
def fresh(monkeypatch):
    headlines.headline.cache_clear()
    yield
    headlines.headline.cache_clear()


def test_every_study_has_a_headline_from_the_shipped_results(fresh):
    for route in headlines.HEADLINES:
        head = headlines.headline(route)
        assert "No shipped results" not in head.text, route
        assert head.figure["data"], route


def test_the_householder_headline_follows_the_results_file(fresh, tmp_path, monkeypatch):
    # A results file with fresh random numbers: the sentence and the bars carry exactly them.
    shutil.copytree(headlines.study_dir("householder"), tmp_path / "householder")
    rng = np.random.default_rng()
    variants = ("householder", "within_span", "sefa", "ganspace", "random")
    summary = [{"rank": r, "variant": v, "purity_mean": float(rng.uniform(0.2, 0.6)),
                "purity_std": float(rng.uniform(0.001, 0.01)), "mig_mean": float(rng.uniform(0.0, 0.2)),
                "mig_std": 0.01, "n_seeds": 5} for r in (4, 10) for v in variants]
    res = json.loads((tmp_path / "householder" / "results.json").read_text())
    (tmp_path / "householder" / "results.json").write_text(json.dumps({**res, "summary": summary}))
    monkeypatch.setenv("ORTHOLAB_DATA", str(tmp_path))
    head = headlines.householder()
    hh, ctrl = summary[5], summary[6]  # rank 10: the paper's
    assert f"{hh['purity_mean']:.2f} ± {hh['purity_std']:.2f}" in head.text and "5 seeds" in head.text
    assert "Rank 10" in head.text
    apart = abs(hh["purity_mean"] - ctrl["purity_mean"]) > hh["purity_std"] + ctrl["purity_std"]
    assert ("apart beyond" in head.text) == apart
    np.testing.assert_allclose(head.figure["data"][0]["y"], [r["purity_mean"] for r in summary[5:]])


def test_the_alignment_headline_matches_a_fresh_fit(fresh):
    from lab.alignment import load_shipped, run_alignment

    head = headlines.alignment()
    m = run_alignment(load_shipped("toyclip"), n_anchor_classes=10, map_type="orthogonal", center=True,
                      allow_reflection=True, seed=0).metrics.set_index(["metric", "modality"])
    inst = m.loc[("retrieval top-1 (same caption)", "image")]  # the well-posed image score of the toy pair
    assert f"from **{inst['before']:.0%} to {inst['after']:.0%}**" in head.text and "same caption" in head.text
    assert "near perfect" not in head.text
    # the real encoder pairs' best whole-pool retrieval, read from the shipped report
    report = json.loads((headlines.study_dir("alignment") / "encoder_report.json").read_text())["pairs"]
    best = max(r["top1_after_mean"] for rep in report.values() for r in rep["curve"]
               if r["map_type"] == "orthogonal" and r["n_anchors"] == rep["pool"])
    assert f"**{best:.1%}**" in head.text
    assert head.figure["data"][0]["x"] == ["image, same caption", "image, class", "text (image map)"]
    assert len(head.figure["data"][0]["y"]) == 3 and len(head.figure["data"][1]["y"]) == 3


def test_a_study_without_results_says_so(fresh, tmp_path, monkeypatch):
    monkeypatch.setenv("ORTHOLAB_DATA", str(tmp_path))  # an empty data folder
    head = headlines.headline("odis")
    assert "No shipped results" in head.text and head.figure["data"] == []
    with pytest.raises(ValueError, match="route"):
        headlines.headline("nope")


def test_the_threephase_headline_reads_the_longest_shipped_comparison(fresh, tmp_path, monkeypatch):
    rng = np.random.default_rng()
    rows = [{"variant": v, "mean": float(rng.uniform(100, 200)), "std": float(rng.uniform(0.1, 2)), "n": 4}
            for v in ("3pt-reference", "baseline-paper", "baseline-matched")]
    short = [{**r, "mean": r["mean"] + 50} for r in rows]
    fid = {"summary_ppl": short, "operations_summary": rows,
           "args": {"variants": {"steps": 200}, "operations": {"ops_steps": 777}}}
    (tmp_path / "threephase_fidelity.json").write_text(json.dumps(fid))
    monkeypatch.setattr(headlines, "RESULTS", tmp_path)
    head = headlines.threephase()
    assert f"**{rows[0]['mean']:.1f} ± {rows[0]['std']:.1f}**" in head.text and "777 steps" in head.text
    np.testing.assert_allclose(head.figure["data"][0]["y"], [r["mean"] for r in rows])
    del fid["operations_summary"]
    (tmp_path / "threephase_fidelity.json").write_text(json.dumps(fid))
    assert f"**{short[0]['mean']:.1f}" in headlines.threephase().text  # only the short part was run
