"""Token pipeline, trainer, checkpoint/resume and the headless entry point."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest
import torch

from lab.runs import Run
from lab.threephase import (
    ByteTokenizer,
    ModelConfig,
    TrainConfig,
    Trainer,
    WordTokenizer,
    build_token_data,
    lr_at,
    theta_drift,
    tokenizer_from_json,
    train_language_model,
    train_model,
)
from lab.threephase.data import eval_windows, sample_batch

WORDS = "the cat sat on a mat while dogs ran past quiet rivers under bright stars and old trees".split()


def texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 60))) + "." for _ in range(n)]


@pytest.fixture(scope="module")
def data():
    return build_token_data(texts(60, 1), texts(10, 2), kind="word", vocab_size=64)


def tiny(**kw) -> ModelConfig:
    base = dict(vocab_size=64, d_model=24, n_layers=2, n_heads=6, n_kv_heads=3, d_ff=32, max_seq_len=16, n_phases=3)
    base.update(kw)
    return ModelConfig(**base)


def test_word_tokenizer_roundtrip_and_unknowns():
    tok = WordTokenizer(vocab_size=6).fit(["b b b a a c, c c c d"])
    # 4 most frequent pieces: c (4), b (3), a (2), then ',' and d tie at 1 -> ',' first
    assert tok.vocab_ == ["<unk>", "<eos>", "c", "b", "a", ","]
    assert tok.encode("a d c") == [4, 0, 2]
    again = tokenizer_from_json(tok.to_json())
    assert again.encode("b , zz") == tok.encode("b , zz") == [3, 5, 0]
    bt = ByteTokenizer().fit()
    assert bt.decode(bt.encode("héllo")) == "héllo"
    with pytest.raises(TypeError, match="texts"):
        WordTokenizer().fit("one string")


def test_streams_batches_and_windows(data):
    assert data.train.dtype == torch.long and int(data.train.max()) < data.vocab_size
    g = torch.Generator().manual_seed(0)
    x, y = sample_batch(data.train, 4, 10, g)
    assert x.shape == y.shape == (4, 10)
    torch.testing.assert_close(x[:, 1:], y[:, :-1])
    xv, yv = eval_windows(data.val, 8, 5)
    assert xv.shape == (5, 8)
    with pytest.raises(ValueError, match="tokens"):
        sample_batch(data.train[:5], 2, 10, g)


def test_lr_schedule():
    cfg = TrainConfig(steps=100, warmup=10, lr=1.0, min_lr_frac=0.1)
    assert lr_at(0, cfg) == pytest.approx(0.1)
    assert lr_at(9, cfg) == pytest.approx(1.0)
    assert lr_at(10, cfg) == pytest.approx(1.0)
    assert lr_at(55, cfg) == pytest.approx(0.1 + 0.9 * 0.5)
    assert lr_at(100, cfg) == pytest.approx(0.1)


def test_training_lowers_loss_logs_drift_and_bpb(data, tmp_path):
    tcfg = TrainConfig(steps=30, batch_size=8, lr=3e-3, warmup=3, eval_every=15, eval_windows=8, device="cpu")
    res = train_model(tiny(), tcfg, data, root=tmp_path, name="t")
    h = res.history
    assert list(h["step"]) == [0, 15, 30]
    assert h["val_loss"].iloc[-1] < h["val_loss"].iloc[0] - 0.3
    # bits per byte is the validation nats per token re-expressed per UTF-8 byte
    row = res.final
    assert row["val_bpb"] == pytest.approx(row["val_loss"] / math.log(2) * data.val.numel() / data.val_bytes)
    assert row["val_ppl"] == pytest.approx(math.exp(row["val_loss"]))
    assert h["drift_l2"].iloc[0] == [0.0, 0.0]
    assert row["drift_l2"] == pytest.approx(theta_drift(res.model)) and min(row["drift_l2"]) > 0
    angles = np.array(row["theta"])  # (n_layers, d_phase/2), the logged angles
    assert angles.shape == (2, 4)
    np.testing.assert_allclose(angles, torch.stack([b.theta.detach() for b in res.model.blocks]).numpy())
    np.testing.assert_allclose(row["mean_angle"], angles.mean(1), rtol=1e-6)
    # the horn witness: the embedding mean sits on 1/(p+1)
    assert row["horn_mean"] == pytest.approx([1 / (p + 1) for p in range(16)], abs=1e-5)
    assert len(row["horn_phase_means"]) == 3
    run = Run.open(res.run_path)
    assert run.status["state"] == "finished"
    assert len(run.metrics()) == 3 and json.loads(json.dumps(run.config))["model"]["n_phases"] == 3


def test_checkpoint_resume_gives_identical_next_step_loss(data, tmp_path):
    tcfg = TrainConfig(steps=6, batch_size=4, lr=3e-3, warmup=2, eval_every=3, eval_windows=4, device="cpu", seed=5)
    straight = Trainer(tiny(), tcfg, data, root=tmp_path, name="a").setup()
    losses = []
    for _ in range(4):
        losses.append(straight.train_step())
    # a second run stops at step 3 (checkpoint written at its evaluation), then resumes
    first = Trainer(tiny(), tcfg, data, root=tmp_path, name="b")
    calls = {"n": 0}

    def stop():
        calls["n"] += 1
        return first.step >= 3

    res = first.run(should_stop=stop)
    assert res.stopped and first.step == 3
    resumed = Trainer.resume(res.run_path, data)
    assert resumed.step == 3
    next_loss = resumed.train_step()
    assert next_loss == losses[3]  # bit-identical on the CPU
    # a metrics-only run cannot be resumed
    lite = train_model(tiny(), TrainConfig(steps=2, batch_size=4, eval_every=2, eval_windows=2, device="cpu"), data,
                       root=tmp_path, keep_weights=False)
    with pytest.raises(ValueError, match="checkpoint"):
        Trainer.resume(lite.run_path, data)
    # and a fresh model would not give that loss (the check can fail)
    fresh = Trainer(tiny(), tcfg, data, save=False).setup()
    fresh.step = 3
    assert fresh.train_step() != losses[3]


def test_bad_train_configs(data):
    with pytest.raises(ValueError, match="steps"):
        TrainConfig(steps=0).validate()
    with pytest.raises(ValueError, match="amp"):
        TrainConfig(amp="fp8").validate()
    with pytest.raises(ValueError, match="vocab_size"):
        Trainer(tiny(vocab_size=10), TrainConfig(), data)
    with pytest.raises(ValueError, match="seq_len"):
        Trainer(tiny(), TrainConfig(seq_len=64, device="cpu"), data, save=False).setup()


def test_train_language_model_simple_api():
    tok = WordTokenizer(vocab_size=64).fit(texts(40, 3) + texts(8, 4))
    out = train_language_model(texts(40, 3), texts(8, 4), steps=12, seed=1, tokenizer=tok, batch_size=4, device="cpu",
                               eval_every=6)
    assert set(out) >= {"val_loss", "val_ppl", "val_bpb", "params", "history", "run_path"}
    assert out["run_path"] is None and out["steps"] == 12
    assert [r["step"] for r in out["history"]] == [0, 6, 12]
    assert out["history"][-1]["val_loss"] < out["history"][0]["val_loss"]
    with pytest.raises(TypeError, match="texts_train"):
        train_language_model("not a list", texts(2, 1))


def test_headless_main(tmp_path, monkeypatch, capsys):
    from lab.threephase.cli import main

    monkeypatch.setenv("ORTHOLAB_RUNS", str(tmp_path))
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("\n".join(json.dumps({"text": t}) for t in texts(40, 9)))
    rc = main(["--corpus", str(corpus), "--preset", "tiny", "--d-model", "24", "--steps", "4", "--batch-size", "4",
               "--eval-every", "2", "--seq-len", "16", "--vocab-size", "64", "--device", "cpu", "--name", "cli"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "val_ppl" in out
    runs = list((tmp_path / "threephase").iterdir())
    assert len(runs) == 1 and Run.open(runs[0]).status["state"] == "finished"
    rc = main(["--resume", str(runs[0]), "--steps", "6", "--corpus", str(corpus), "--vocab-size", "64"])
    assert rc == 0 and Run.open(runs[0]).metrics()["step"].max() == 6


def test_resume_keeps_the_saved_budget_and_refuses_other_data(tmp_path, monkeypatch):
    from lab.threephase.cli import main

    monkeypatch.setenv("ORTHOLAB_RUNS", str(tmp_path / "runs"))
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("\n".join(json.dumps({"text": t}) for t in texts(40, 9)))
    args = ["--corpus", str(corpus), "--preset", "tiny", "--d-model", "24", "--batch-size", "4", "--eval-every", "2",
            "--seq-len", "16", "--vocab-size", "64", "--device", "cpu"]
    assert main([*args, "--steps", "4"]) == 0
    run = next((tmp_path / "runs" / "threephase").iterdir())
    status = json.loads((run / "status.json").read_text())
    assert status["step"] == 4
    # no --steps: the run's own budget (4), not the CLI default (300)
    assert main(["--resume", str(run), "--corpus", str(corpus), "--device", "cpu"]) == 0
    assert json.loads((run / "status.json").read_text())["step"] == 4
    # a new total is recorded in config.json, so the file says what the run trained to
    assert main(["--resume", str(run), "--corpus", str(corpus), "--steps", "6", "--device", "cpu"]) == 0
    assert json.loads((run / "config.json").read_text())["train"]["steps"] == 6
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps))  # every step logged once
    # other data than the run started with: a one-line refusal, exit 2
    assert main(["--resume", str(run), "--corpus", str(corpus), "--max-docs", "20", "--device", "cpu"]) == 2


def test_metrics_past_the_checkpoint_are_dropped_on_resume(tmp_path):
    from lab.runs import Run

    run = Run.create("threephase", {"a": 1}, root=tmp_path)
    for step in (0, 2, 4, 6):
        run.log_metrics(step, loss=float(step))
    with open(run.path / "metrics.jsonl", "a") as f:
        f.write('{"step": 8, "lo')  # torn by a kill
    assert run.truncate_metrics(4) == 2  # step 6 and the torn line
    assert run.metrics()["step"].tolist() == [0, 2, 4]


def test_corrupt_run_files_give_one_line_messages(tmp_path, capsys):
    from lab.runs import Run
    from lab.threephase.cli import main

    run = Run.create("threephase", {"train": {}}, root=tmp_path)
    (run.path / "checkpoint.pt").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ValueError, match="checkpoint: .*checkpoint.pt is truncated or corrupt"):
        run.load_checkpoint()
    (run.path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="config.json is not valid JSON"):
        run.config
    assert main(["--resume", str(run.path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert main(["--resume", str(tmp_path / "no-such-run")]) == 2


def test_a_diverging_run_stops_at_its_last_good_checkpoint(tmp_path):
    data = build_token_data(texts(30, 5), texts(6, 6), vocab_size=64)
    cfg = ModelConfig(vocab_size=data.vocab_size, d_model=24, n_layers=2, n_heads=6, n_kv_heads=3, d_ff=32,
                      max_seq_len=16)
    trainer = Trainer(cfg, TrainConfig(steps=8, batch_size=2, eval_every=2, eval_windows=2, device="cpu"), data,
                      name="nan", root=tmp_path).setup()
    forward = trainer.forward_model

    def poisoned(x, y):  # the loss turns NaN at the fifth step
        logits, loss = forward(x, y)
        return logits, loss * float("nan") if trainer.step == 4 else loss

    trainer.forward_model = poisoned
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    with pytest.raises(ValueError, match=r"lr: training diverged at step 5 \(loss nan\).*last checkpoint \(step 4\)"):
        trainer.run()
    status = Run.open(trainer.run_handle.path).status
    assert status["state"] == "stopped" and status["step"] == 4 and "diverged" in status["reason"]
    assert torch.load(trainer.run_handle.path / "checkpoint.pt", weights_only=True)["step"] == 4
    # no step was taken on the NaN loss: every weight is still finite
    assert all(torch.isfinite(v).all() for v in trainer.model.state_dict().values())
    assert any(not torch.equal(before[k], v) for k, v in trainer.model.state_dict().items())


def test_cli_switches_reach_the_run_config(tmp_path, monkeypatch):
    from lab.threephase.cli import main

    monkeypatch.setenv("ORTHOLAB_RUNS", str(tmp_path / "runs"))
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("\n".join(json.dumps({"text": t}) for t in texts(40, 9)))
    args = ["--text", str(corpus), "--preset", "tiny", "--d-model", "24", "--batch-size", "4", "--eval-every", "2",
            "--seq-len", "16", "--vocab-size", "64", "--device", "cpu", "--steps", "2"]
    assert main([*args, "--variant", "baseline-matched", "--init", "small", "--decay", "matrices", "--name", "m"]) == 0
    cfg = json.loads((next((tmp_path / "runs" / "threephase").iterdir()) / "config.json").read_text())
    assert cfg["model"]["three_phase"] is False and cfg["model"]["embed_scale"] is False
    assert cfg["model"]["init"] == "small" and cfg["train"]["decay"] == "matrices"
    assert main([*args, "--baseline", "--variant", "3pt-reference"]) == 2  # two answers to one question
