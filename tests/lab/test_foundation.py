"""Shared lab pieces: device choice, seeding, run storage, input checks, safe file loading, corpus."""

import json
import os
import pickle

import numpy as np
import pandas as pd
import pytest
import torch

from lab import checks, corpus, device, files, runs, seeding


# ---------------------------------------------------------------- device
def test_pick_device_default_and_override(monkeypatch):
    monkeypatch.delenv("ORTHOLAB_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert device.pick_device().type == expected
    assert device.pick_device("cpu").type == "cpu"
    monkeypatch.setenv("ORTHOLAB_DEVICE", "cpu")
    assert device.pick_device().type == "cpu"


def test_pick_device_rejects_garbage():
    with pytest.raises(ValueError, match="device"):
        device.pick_device("not-a-device")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA message")
def test_pick_device_cuda_without_cuda_is_a_clear_error():
    with pytest.raises(ValueError, match="CUDA is not available"):
        device.pick_device("cuda")


def test_as_tensor_accepts_numpy_and_keeps_float64():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 4))
    t = device.as_tensor(a, device="cpu")
    assert t.dtype == torch.float64 and torch.equal(t, torch.from_numpy(a))
    assert device.as_tensor(np.arange(3), device="cpu").dtype == torch.float32
    with pytest.raises(TypeError, match="X"):
        device.as_tensor(np.array(["a", "b"]), name="X")


def test_describe_device_names_something():
    assert device.describe_device("cpu").startswith("CPU")


# ---------------------------------------------------------------- seeding
def test_generators_are_reproducible_and_independent():
    a = torch.randn(5, generator=seeding.torch_generator(3))
    b = torch.randn(5, generator=seeding.torch_generator(3))
    c = torch.randn(5, generator=seeding.torch_generator(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert seeding.numpy_rng(1).random() == seeding.numpy_rng(1).random()
    with pytest.raises(TypeError, match="seed"):
        seeding.torch_generator(1.5)


def test_seeded_init_is_reproducible_restores_the_callers_rng_and_is_thread_safe():
    from concurrent.futures import ThreadPoolExecutor

    def build(seed):
        with seeding.seeded_init(seed):
            layers = [torch.nn.Linear(64, 64) for _ in range(20)]  # many draws: room to interleave
        return torch.cat([layer.weight.flatten() for layer in layers])

    torch.manual_seed(99)
    state = torch.get_rng_state()
    w0, w1 = build(0), build(1)
    assert torch.equal(torch.get_rng_state(), state)  # the caller's stream is untouched
    assert torch.equal(build(0), w0) and not torch.equal(w0, w1)
    with ThreadPoolExecutor(4) as pool:
        built = list(pool.map(build, [0, 1] * 8))
    assert all(torch.equal(w, w0 if i % 2 == 0 else w1) for i, w in enumerate(built))
    with pytest.raises(TypeError, match="seed"):
        with seeding.seeded_init("0"):
            pass


# ---------------------------------------------------------------- runs
def test_run_roundtrip(tmp_path):
    run = runs.Run.create("alignment", {"lr": 0.1, "n": 3}, name="demo run", root=tmp_path)
    run.log_metrics(0, loss=2.0)
    run.log_metrics(1, loss=np.float32(1.5))
    w = torch.randn(4, 3, dtype=torch.float64)
    run.save_tensors("weights", {"w": w}, metadata={"note": "x"})
    run.save_checkpoint({"model": {"w": w}, "step": 7})
    run.set_status("finished", final_loss=1.5)

    again = runs.Run.open(run.path)
    assert again.config == {"lr": 0.1, "n": 3}
    assert again.metrics()["loss"].tolist() == [2.0, 1.5]
    assert torch.equal(again.load_tensors("weights")["w"], w)
    ck = again.load_checkpoint()
    assert ck["step"] == 7 and torch.equal(ck["model"]["w"], w)
    assert again.status["state"] == "finished"
    listed = runs.list_runs(tmp_path)
    assert listed["id"].tolist() == [run.id] and listed["state"].tolist() == ["finished"]
    assert list(tmp_path.rglob("*.tmp")) == []


def test_metrics_skip_a_torn_last_line(tmp_path):
    run = runs.Run.create("x", {}, root=tmp_path)
    run.log_metrics(0, a=1)
    with open(run.path / "metrics.jsonl", "a") as f:
        f.write('{"step": 1, "a"')  # a crash mid-write
    assert run.metrics()["a"].tolist() == [1]


def test_checkpoints_refuse_pickled_code(tmp_path):
    run = runs.Run.create("x", {}, root=tmp_path)

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    torch.save({"x": Evil()}, run.path / "checkpoint.pt")
    with pytest.raises(Exception):
        run.load_checkpoint()


def test_run_input_errors(tmp_path):
    with pytest.raises(ValueError, match="study"):
        runs.Run.create("", {}, root=tmp_path)
    with pytest.raises(ValueError, match="not a run directory"):
        runs.Run.open(tmp_path)
    run = runs.Run.create("x", {}, root=tmp_path)
    with pytest.raises(ValueError, match="state"):
        run.set_status("sleeping")


# ---------------------------------------------------------------- checks
def test_checks_name_the_argument():
    with pytest.raises(ValueError, match=r"X: expected a 2-D array"):
        checks.check_matrix("X", torch.zeros(3))
    with pytest.raises(ValueError, match=r"Y: contains 1 NaN"):
        checks.check_finite("Y", torch.tensor([1.0, float("nan")]))
    with pytest.raises(ValueError, match=r"X and Y: expected paired rows"):
        checks.check_same_rows("X", torch.zeros(2, 1), "Y", torch.zeros(3, 1))
    with pytest.raises(ValueError, match=r"k: expected an int in \[1, 5\], got 9"):
        checks.check_int("k", 9, lo=1, hi=5)
    with pytest.raises(TypeError, match="k: expected an int"):
        checks.check_int("k", 2.5)
    assert checks.check_float("lr", "0.5", lo=0, hi=1) == 0.5


# ---------------------------------------------------------------- files
def test_load_arrays_all_formats(tmp_path):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((5, 3)).astype(np.float32)
    np.save(tmp_path / "a.npy", a)
    np.savez(tmp_path / "b.npz", x=a, labels=np.arange(5))
    from safetensors.numpy import save_file

    save_file({"emb": a}, str(tmp_path / "c.safetensors"))
    pd.DataFrame({"emb": list(a.astype(np.float64)), "label": np.arange(5)}).to_parquet(tmp_path / "d.parquet")

    assert np.array_equal(files.load_arrays(tmp_path / "a.npy")["array"], a)
    npz = files.load_arrays(tmp_path / "b.npz")
    assert np.array_equal(npz["x"], a) and npz["labels"].tolist() == list(range(5))
    assert np.array_equal(files.load_arrays(tmp_path / "c.safetensors")["emb"], a)
    pq = files.load_arrays(tmp_path / "d.parquet")
    assert pq["emb"].shape == (5, 3) and np.allclose(pq["emb"], a)
    raw = (tmp_path / "a.npy").read_bytes()
    assert np.array_equal(files.load_arrays(raw, filename="upload.npy")["array"], a)


def test_load_arrays_refuses_pickles_and_oversize(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="pickled"):
        files.load_arrays(tmp_path / "obj.npy")
    (tmp_path / "p.npy").write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(ValueError, match="source"):
        files.load_arrays(tmp_path / "p.npy")
    with pytest.raises(ValueError, match="over the limit"):
        files.load_arrays(b"x" * 100, filename="a.npy", max_bytes=10)
    with pytest.raises(ValueError, match="filename: expected one of"):
        files.load_arrays(b"x", filename="a.pkl")
    with pytest.raises(ValueError, match="no such file"):
        files.load_arrays(tmp_path / "missing.npy")


@pytest.mark.parametrize("suffix", [".npy", ".npz", ".parquet", ".safetensors"])
def test_corrupt_files_are_reported_as_invalid_not_as_pickles(tmp_path, suffix):
    (tmp_path / f"bad{suffix}").write_bytes(b"this is not an array file at all" * 4)
    with pytest.raises(ValueError) as info:
        files.load_arrays(tmp_path / f"bad{suffix}")
    assert "pickle" not in str(info.value) and "source" in str(info.value)


# ---------------------------------------------------------------- corpus
def test_stdlib_corpus_is_real_deterministic_text():
    df = corpus.stdlib_corpus(max_docs=300)
    assert list(df.columns) == ["doc_id", "source", "text"]
    assert len(df) == 300 and df["doc_id"].is_unique
    assert (df["text"].str.len() >= 200).all()
    assert df.equals(corpus.stdlib_corpus(max_docs=300))
    full = corpus.stdlib_corpus()
    assert len(full) > 1000 and full["text"].str.len().sum() > 1_000_000


def test_corpus_loaders(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("alpha text")
    (tmp_path / "docs" / "b.txt").write_text("beta text")
    assert corpus.load_corpus(tmp_path / "docs")["text"].tolist() == ["alpha text", "beta text"]
    with open(tmp_path / "c.jsonl", "w") as f:
        for t in ["one", "two"]:
            f.write(json.dumps({"body": t}) + "\n")
    assert corpus.load_corpus(tmp_path / "c.jsonl", text_column="body")["text"].tolist() == ["one", "two"]
    pd.DataFrame({"text": ["x", "y", "z"]}).to_parquet(tmp_path / "d.parquet")
    assert len(corpus.load_corpus(tmp_path / "d.parquet")) == 3
    pd.DataFrame({"text": ["x"]}).to_csv(tmp_path / "e.csv", index=False)
    assert corpus.load_corpus(tmp_path / "e.csv")["text"].tolist() == ["x"]
    with pytest.raises(ValueError, match="text_column"):
        corpus.load_corpus(tmp_path / "c.jsonl", text_column="text")
    with pytest.raises(ValueError, match="path"):
        corpus.load_corpus(tmp_path / "nope")
    train, val = corpus.split_corpus(corpus.stdlib_corpus(max_docs=50), val_fraction=0.2)
    assert len(train) + len(val) == 50 and not set(train["doc_id"]) & set(val["doc_id"])
