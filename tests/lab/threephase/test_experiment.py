"""Sweeps, summaries, drift profiles, the run listing and the shipped token data."""

from __future__ import annotations

import random
import statistics

import numpy as np
import pandas as pd
import pytest
import torch

from lab.threephase import (
    PRESETS,
    TrainConfig,
    build_token_data,
    drift_profile,
    list_study_runs,
    load_run,
    run_sweep,
    save_token_data,
    shipped_token_data,
    summarize,
    variant_configs,
)

CPU_SHAPE = {k: v for k, v in PRESETS["cpu-5.5M"].model.items() if k != "n_phases"}


def test_variant_configs_cover_the_sweep():
    v = variant_configs(CPU_SHAPE, (1, 2, 3, 4, 6))
    assert list(v) == ["baseline", "3pt-N1", "3pt-N2", "3pt-N3", "3pt-N4", "3pt-N6"]
    assert not v["baseline"].three_phase and v["3pt-N4"].n_phases == 4 and v["3pt-N4"].d_phase == 24
    with pytest.raises(ValueError, match="n_phases"):
        variant_configs({**CPU_SHAPE, "n_heads": 6, "n_kv_heads": 3}, (4,))


def test_summarize_against_statistics():
    rng = np.random.default_rng(7)
    vals = rng.normal(20, 2, size=7)
    df = pd.DataFrame({"variant": ["b", "a", "b", "a", "b", "a", "a"], "val_ppl": vals})
    s = summarize(df)
    assert list(s["variant"]) == ["b", "a"]
    a = [v for v, n in zip(vals, df["variant"]) if n == "a"]
    row = s.set_index("variant").loc["a"]
    assert row["mean"] == pytest.approx(statistics.mean(a))
    assert row["std"] == pytest.approx(statistics.stdev(a))
    assert row["n"] == 4 and row["min"] == min(a)
    with pytest.raises(ValueError, match="metric"):
        summarize(df, "nope")


def test_drift_profile_shape():
    h = pd.DataFrame({"step": [0, 10, 20], "drift_l2": [[0.0, 0.0], [0.1, 0.2], [0.3, 0.1]]})
    steps, prof = drift_profile(h)
    assert steps.tolist() == [0, 10, 20] and prof.shape == (3, 2) and prof[2, 0] == 0.3
    s0, p0 = drift_profile(pd.DataFrame({"step": [0], "drift_l2": [[]]}))
    assert s0.size == 0 and p0.size == 0


def test_tiny_sweep_writes_listable_runs(tmp_path):
    rng = random.Random(0)
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa".split()
    docs = [" ".join(rng.choice(words) for _ in range(50)) for _ in range(30)]
    data = build_token_data(docs[:25], docs[25:], vocab_size=32)
    base = dict(vocab_size=32, d_model=24, n_layers=2, n_heads=6, n_kv_heads=6, d_ff=32, max_seq_len=16)
    tc = TrainConfig(steps=4, batch_size=4, eval_every=2, eval_windows=4, device="cpu")
    seen = []
    df = run_sweep(variant_configs(base, (2, 3)), [0, 1], tc, data, root=tmp_path, on_result=seen.append)
    assert len(df) == 6 == len(seen)
    assert set(df["variant"]) == {"baseline", "3pt-N2", "3pt-N3"}
    assert (df["params"][df.variant == "3pt-N2"].iloc[0]
            - df["params"][df.variant == "baseline"].iloc[0]) == 2 * 12 // 2
    listing = list_study_runs([tmp_path / "threephase"])
    assert len(listing) == 6 and set(listing["n_phases"]) == {0, 2, 3}
    run = load_run(listing["path"].iloc[0])
    assert list(run["history"]["step"]) == [0, 2, 4]
    assert not any(p.suffix in (".pt", ".safetensors") for p in (tmp_path / "threephase").rglob("*"))


def test_saved_token_data_roundtrip(tmp_path):
    data = build_token_data(["one two three four five six"] * 5, ["two three one"], vocab_size=16)
    save_token_data(data, tmp_path)
    back = shipped_token_data(str(tmp_path))
    assert torch.equal(back.train, data.train) and torch.equal(back.val, data.val)
    assert back.val_bytes == data.val_bytes and back.tokenizer.vocab_ == data.tokenizer.vocab_
    with pytest.raises(FileNotFoundError, match="tokens.npz"):
        shipped_token_data(str(tmp_path / "missing"))


def test_presets_build_valid_configs_and_refuse_unknown_names():
    from lab.threephase import preset_model, preset_train, side_by_side_configs

    for name in PRESETS:
        cfg = preset_model(name)
        assert cfg.d_model == PRESETS[name].model["d_model"]
    pair = side_by_side_configs("page", n_layers=2, vocab_size=100)
    assert [pair["baseline"].three_phase, pair["3pt"].three_phase] == [False, True]
    assert pair["baseline"].n_layers == pair["3pt"].n_layers == 2 and pair["3pt"].vocab_size == 100
    tc = preset_train("page", steps=40)
    assert tc.steps == 40 and tc.warmup == 4 and tc.batch_size == PRESETS["page"].train["batch_size"]
    with pytest.raises(ValueError, match="preset: expected one of"):
        preset_model("huge")


def test_side_by_side_reports_each_step_once_in_order(tmp_path):
    from lab.threephase import side_by_side_configs, train_side_by_side

    data = shipped_token_data()
    configs = side_by_side_configs("tiny", vocab_size=data.vocab_size, d_model=24, n_layers=2, d_ff=32,
                                   max_seq_len=16)
    events = []
    train_side_by_side(configs, TrainConfig(steps=4, batch_size=2, eval_every=2, eval_windows=2, device="cpu"),
                       data, root=tmp_path, progress=lambda f, m="", **p: events.append(p))
    # one event per step (step 0 = the evaluations before training), each with only what is new
    assert [e["step"] for e in events] == [0, 1, 2, 3, 4]
    assert all(set(e["losses"]) == {"baseline", "3pt"} for e in events[1:])
    assert [sorted(e["evals"]) for e in events] == [["3pt", "baseline"], [], ["3pt", "baseline"], [],
                                                   ["3pt", "baseline"]]
    assert [e["evals"]["3pt"]["step"] for e in events if e["evals"]] == [0, 2, 4]


def test_list_study_runs_reads_the_shipped_runs_through_list_runs():
    runs = list_study_runs()
    assert len(runs) >= 7 and set(runs["source"]) == {"shipped"}
    assert list(runs["id"]) == sorted(runs["id"])
    assert {"baseline-paper", "baseline-matched", "3pt-reference", "3pt-reference-L12-decay-all",
            "3pt-reference-L12-decay-matrices"} <= set(runs["variant"])


def test_angle_change_fit_recovers_a_planted_line_like_polyfit():
    from lab.threephase import angle_change_fit, theta_init

    rng = np.random.default_rng(7)
    L = 8
    theta0 = np.array([float(theta_init(i, L, 1)[0]) for i in range(L)])
    history = []
    for step, scale in ((50, 0.5), (100, 1.0)):
        change = scale * (0.07 - 0.12 * theta0) + 1e-3 * rng.standard_normal(L)
        history.append({"step": step, "mean_angle": (theta0 + change).tolist(), "init_angle": theta0.tolist()})
    fit = angle_change_fit(pd.DataFrame(history))
    slope, intercept = np.polyfit(theta0, np.array(history[-1]["mean_angle"]) - theta0, 1)  # independent reference
    assert fit["step"] == 100
    assert fit["a"] == pytest.approx(intercept, abs=1e-12) and fit["b"] == pytest.approx(-slope, abs=1e-12)
    assert fit["a"] == pytest.approx(0.07, abs=5e-3) and fit["b"] == pytest.approx(0.12, abs=5e-3) and fit["r2"] > 0.99
    assert angle_change_fit(pd.DataFrame(history), 0)["b"] == pytest.approx(0.06, abs=5e-3)
    with pytest.raises(ValueError, match="history"):
        angle_change_fit(pd.DataFrame([{"step": 1, "mean_angle": [], "init_angle": []}]))
