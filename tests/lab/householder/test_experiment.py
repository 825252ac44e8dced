"""The shapes set, the metrics and the trainer of the Householder experiment."""

import colorsys
import math

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from lab.householder.model import FactorRegressor, Generator, GeneratorConfig, ShapesVAE
from lab.householder.scoring import (
    discretize,
    mig,
    mutual_info_matrix,
    path_length,
    purity,
    sap_matrix,
    sensitivity_matrix,
    traverse,
)
from lab.householder.shapes import make_shapes, normalise_factors, render, sample_factors
from lab.householder.training import TrainConfig, load_vae, train_vae
from lab.runs import Run


# --------------------------------------------------------------------------- shapes
def test_render_places_and_colours_the_shape():
    f = sample_factors(40, seed=5)
    imgs = render(f, size=48).numpy()  # (n, 3, 48, 48)
    assert imgs.shape == (40, 3, 48, 48) and imgs.min() >= 0 and imgs.max() <= 1
    ax = (np.arange(48) + 0.5) / 48 * 2 - 1
    for img, (shape, scale, rot, x, y, hue) in zip(imgs, f):
        mask = img.max(0) > 0.5  # (48, 48)
        rows, cols = np.nonzero(mask)
        cx, cy = ax[cols].mean(), -ax[rows].mean()
        tol = 0.12 if int(shape) == 2 else 0.05  # the triangle's pixel centroid is its centre
        assert abs(cx - x) < tol and abs(cy - y) < tol
        r, g, b = colorsys.hsv_to_rgb(hue, 1.0, 1.0)
        centre = img[:, np.argmin(np.abs(-ax - y)), np.argmin(np.abs(ax - x))]  # pixel at the shape's centre
        np.testing.assert_allclose(centre, [r, g, b], atol=0.12)


def test_make_shapes_is_deterministic_and_validates():
    a, b = make_shapes(30, seed=3), make_shapes(30, seed=3)
    assert torch.equal(a.images, b.images) and np.array_equal(a.factors, b.factors)
    assert not np.array_equal(a.factors, make_shapes(30, seed=4).factors)
    fn = normalise_factors(a.factors)
    assert fn.min() >= 0 and fn.max() <= 1
    with pytest.raises(ValueError, match="factors"):
        render(np.zeros((3, 5)))


# --------------------------------------------------------------------------- metrics
def _mi_bruteforce(a, b):
    a, b = np.asarray(a), np.asarray(b)
    total = 0.0
    for x in np.unique(a):
        for y in np.unique(b):
            pxy = np.mean((a == x) & (b == y))
            if pxy > 0:
                total += pxy * math.log(pxy / (np.mean(a == x) * np.mean(b == y)))
    return total


def test_mutual_information_and_mig_against_bruteforce():
    rng = np.random.default_rng(0)
    F = sample_factors(3000, seed=1)
    fn = normalise_factors(F)
    codes = np.stack([fn[:, 3] + 0.05 * rng.normal(size=3000),  # mostly x
                      fn[:, 3] * 0.5 + fn[:, 5] + 0.3 * rng.normal(size=3000),  # hue and some x
                      rng.normal(size=3000)], axis=1)  # noise
    mi, ent = mutual_info_matrix(codes, F)
    labels_x = np.clip((fn[:, 3] * 10).astype(int), 0, 9)
    assert math.isclose(mi[0, 3], _mi_bruteforce(discretize(codes[:, 0]), labels_x), rel_tol=1e-9)
    assert math.isclose(ent[3], _mi_bruteforce(labels_x, labels_x), rel_tol=1e-9)
    score, gaps = mig(codes, F)
    top = np.sort(mi, axis=0)[::-1]
    np.testing.assert_allclose(gaps, (top[0] - top[1]) / ent)
    assert gaps[3] > 0.3 and score == pytest.approx(gaps.mean())
    with pytest.raises(ValueError, match="codes"):
        mig(codes[:, :1], F)


def test_sap_matrix_against_scipy_and_least_squares():
    rng = np.random.default_rng(2)
    F = sample_factors(800, seed=2)
    codes = rng.normal(size=(800, 3)) + np.stack([F[:, 1], F[:, 0], F[:, 4]], axis=1)
    M = sap_matrix(codes, F)
    for j in range(3):
        for f in range(1, 6):
            assert M[j, f] == pytest.approx(stats.linregress(codes[:, j], F[:, f]).rvalue ** 2, rel=1e-9)
        onehot = np.eye(3)[F[:, 0].astype(int)]  # eta^2 = R^2 of a regression on the class
        coef, *_ = np.linalg.lstsq(onehot, codes[:, j], rcond=None)
        resid = codes[:, j] - onehot @ coef
        assert M[j, 0] == pytest.approx(1 - resid.var() / codes[:, j].var(), rel=1e-9)
    assert M[1, 0] > 0.3 and M[0, 1] > 0.001


class _LinearGen(nn.Module):
    """A stand-in 'generator' whose 'image' is a linear map of z (for exact expectations)."""

    def __init__(self, M):
        super().__init__()
        self.config = GeneratorConfig(latent_dim=M.shape[0], rank=1)
        self.M = nn.Parameter(torch.as_tensor(M, dtype=torch.float32), requires_grad=False)

    def forward(self, z):
        return (z @ self.M).reshape(z.shape[0], 1, 1, -1)  # (n, 1, 1, 8)


class _ReadBack(nn.Module):
    """A stand-in regressor: continuous factors = the first five pixels; shape logits fixed."""

    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1), requires_grad=False)

    def forward(self, x):
        flat = x.flatten(1)
        return flat[:, :5], torch.zeros(x.shape[0], 3)


def test_sensitivity_and_path_length_exact_for_a_linear_generator():
    rng = np.random.default_rng(4)
    M = rng.normal(size=(4, 8))
    gen, reg = _LinearGen(M), _ReadBack()
    D = torch.linalg.qr(torch.randn(4, 3, dtype=torch.float64))[0].T.float()  # (3, 4)
    S = sensitivity_matrix(gen, reg, D, n_samples=5, span=1.5, steps=5)
    expected = 3.0 * np.abs(D.double().numpy() @ M[:, :5])  # range of t * (n^T M) over t in [-1.5, 1.5]
    np.testing.assert_allclose(S[:, 1:], expected, rtol=1e-4, atol=1e-5)
    assert np.all(S[:, 0] == 0)
    pl = path_length(gen, D, n_samples=16, eps=0.1)
    np.testing.assert_allclose(pl, (np.asarray(D.double().numpy() @ M) ** 2).sum(1), rtol=1e-3)
    imgs = traverse(gen, D, n=2, span=1.0, steps=3, seed=0)
    assert imgs.shape == (2, 3, 3, 1, 1, 8)
    step = (D @ gen.M).reshape(1, 3, 1, 1, 8).expand(2, -1, -1, -1, -1)
    np.testing.assert_allclose(imgs[:, :, 2] - imgs[:, :, 1], step, atol=1e-5)
    p = purity(np.array([[1.0, 0, 0], [1, 1, 2], [0, 0, 0]]))
    np.testing.assert_allclose(p[:2], [1.0, 0.5]) and np.isnan(p[2])
    with pytest.raises(ValueError, match="directions"):
        sensitivity_matrix(gen, reg, torch.randn(2, 5))


# --------------------------------------------------------------------------- models + training
@pytest.mark.parametrize("kind", ["householder", "linear"])
def test_generator_and_regressor_shapes(kind):
    cfg = GeneratorConfig(first_layer=kind)
    g = Generator(cfg)
    out = g(torch.randn(3, cfg.latent_dim))
    assert out.shape == (3, 3, 32, 32) and out.min() >= 0 and out.max() <= 1
    c, logits = FactorRegressor()(out)
    assert c.shape == (3, 5) and logits.shape == (3, 3)
    with pytest.raises(ValueError, match="rank"):
        GeneratorConfig(rank=9).validate()
    with pytest.raises(ValueError, match="first_layer"):
        GeneratorConfig(first_layer="conv").validate()


def test_train_vae_logs_stops_and_resumes_exactly(tmp_path):
    torch.set_num_threads(1)
    data = make_shapes(128, seed=0)
    cfg = TrainConfig(steps=12, batch_size=16, n_images=128, log_every=3, sample_every=6, checkpoint_every=4)
    full = train_vae(cfg, data=data, root=tmp_path)
    assert full.run.status["state"] == "finished" and len(full.run.metrics()) == 4
    seen = []
    calls = {"n": 0}

    def stop_after_six():
        calls["n"] += 1
        return calls["n"] > 6

    part = train_vae(cfg, data=data, root=tmp_path, should_stop=stop_after_six,
                     progress=lambda f, m="", **p: seen.append(p))
    assert part.stopped and part.step == 6 and part.run.status["state"] == "stopped"
    assert any("samples" in p and p["samples"].shape == (8, 3, 32, 32) for p in seen)
    resumed = train_vae(cfg, data=data, run=Run.open(part.run.path))
    assert resumed.step == 12 and not resumed.stopped
    for (k, a), b in zip(full.model.state_dict().items(), resumed.model.state_dict().values()):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4, msg=k)
    loaded = load_vae(full.run.path / "model.safetensors")
    assert isinstance(loaded, ShapesVAE) and loaded.config.first_layer == "householder"
    z = torch.randn(2, 8)
    torch.testing.assert_close(loaded.generator(z), full.model.generator(z))
    assert full.history[-1]["orth_error"] < 1e-5


def test_compare_directions_and_cli_end_to_end(tmp_path):
    from lab.householder.artifacts import image_grid, to_uint8_image
    from lab.householder.cli import main
    from lab.householder.experiment import compare_directions, model_directions, summarise

    torch.set_num_threads(1)
    data = make_shapes(64, seed=0)
    cfg = TrainConfig(steps=4, batch_size=8, n_images=64, log_every=2)
    res = compare_directions(data, FactorRegressor().eval(), seeds=(0, 1), config=cfg,
                             score_kwargs={"n_codes": 64, "n_samples": 2, "steps": 3})
    assert set(zip(res.table["model"], res.table["method"])) == {
        ("householder", "householder"), ("householder", "random"), ("linear", "sefa"), ("linear", "ganspace"),
        ("linear", "random")}
    assert len(res.table) == 10 and res.table["mig"].between(0, 1).all()
    summ = summarise(res.table)
    assert (summ["n_seeds"] == 2).all() and summ["mig_std"].notna().all()
    assert res.sensitivity[(0, "linear", "sefa")].shape == (6, 6)
    hh = res.models[(0, "householder")]
    dirs, vals = model_directions(hh, "householder")
    torch.testing.assert_close(dirs, hh.generator.fc.directions().detach())
    with pytest.raises(ValueError, match="method"):
        model_directions(res.models[(0, "linear")], "householder")
    grid = image_grid(np.random.default_rng(0).random((2, 3, 3, 4, 5)), gap=1)
    assert grid.shape == (2 * 5 - 1, 3 * 6 - 1, 3) and grid.dtype == np.uint8
    assert to_uint8_image(torch.ones(3, 4, 4)).max() == 255
    assert main(["--layer", "linear", "--steps", "3", "--n-images", "64", "--root", str(tmp_path)]) == 0
    runs = list(tmp_path.glob("householder/*"))
    assert len(runs) == 1 and (runs[0] / "model.safetensors").is_file()
    assert main(["--resume", str(runs[0]), "--steps", "3"]) == 0
    assert main(["--rank", "9", "--steps", "1", "--n-images", "16", "--root", str(tmp_path)]) == 2


def test_model_files_roundtrip_exactly_and_atomically(tmp_path):
    import torch

    from lab.householder.model import FactorRegressor, GeneratorConfig, ShapesVAE
    from lab.householder.training import load_regressor, load_vae, save_regressor, save_vae

    torch.manual_seed(3)
    vae = ShapesVAE(GeneratorConfig(latent_dim=4, rank=3, hidden=16, channels=4, first_layer="householder"))
    save_vae(vae, tmp_path / "vae.safetensors", steps=7)
    again = load_vae(tmp_path / "vae.safetensors", device="cpu")
    assert again.config == vae.config
    for (k, v), (k2, v2) in zip(vae.state_dict().items(), again.state_dict().items()):
        assert k == k2 and torch.equal(v, v2)
    reg = FactorRegressor(channels=4)
    save_regressor(reg, tmp_path / "reg.safetensors")
    reg2 = load_regressor(tmp_path / "reg.safetensors", device="cpu")
    assert all(torch.equal(a, b) for a, b in zip(reg.state_dict().values(), reg2.state_dict().values()))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reg.safetensors", "vae.safetensors"]  # no temp files left


def test_decode_offset_equals_decoding_the_moved_code():
    import torch

    from lab.householder.model import Generator, GeneratorConfig
    from lab.householder.scoring import decode_offset

    torch.manual_seed(5)
    gen = Generator(GeneratorConfig(latent_dim=4, rank=3, hidden=16, channels=4)).eval()
    D = torch.linalg.qr(torch.randn(4, 3))[0].T  # (3, latent) orthonormal rows
    z = torch.randn(1, 4)
    off = [0.5, -1.0, 2.0]
    expected = gen(z + 0.5 * D[0] - 1.0 * D[1] + 2.0 * D[2])[0]
    assert torch.allclose(decode_offset(gen, D, off, z=z), expected, atol=1e-6)
    with pytest.raises(ValueError, match="offsets"):
        decode_offset(gen, D, [1.0], z=z)


def test_cli_checkpoint_interval_and_resume_log_each_step_once(tmp_path):
    import json

    from lab.householder.cli import main

    torch.set_num_threads(1)
    args = ["--layer", "linear", "--steps", "6", "--n-images", "64", "--root", str(tmp_path)]
    assert main([*args, "--checkpoint-every", "2"]) == 0
    run = next(tmp_path.glob("householder/*"))
    assert json.loads((run / "config.json").read_text())["checkpoint_every"] == 2
    # a kill between a logged row and its checkpoint leaves rows past the checkpoint
    ckpt = torch.load(run / "checkpoint.pt", weights_only=True)
    ckpt["step"] = 2
    torch.save(ckpt, run / "checkpoint.pt")
    assert main(["--resume", str(run)]) == 0
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == 6
    assert main([*args, "--checkpoint-every", "0"]) == 2  # named refusal, no traceback


def test_a_diverging_vae_stops_at_its_last_checkpoint(tmp_path, monkeypatch):
    from lab.checks import TrainingDiverged
    from lab.runs import Run

    torch.set_num_threads(1)
    data = make_shapes(64, seed=0)
    cfg = TrainConfig(steps=8, batch_size=8, n_images=64, log_every=2, checkpoint_every=2)
    real_loss = ShapesVAE.loss
    calls = {"n": 0}

    def poisoned(self, *args, **kwargs):  # the fifth step's loss is NaN
        calls["n"] += 1
        loss, parts = real_loss(self, *args, **kwargs)
        return (loss * float("nan"), parts) if calls["n"] == 5 else (loss, parts)

    monkeypatch.setattr(ShapesVAE, "loss", poisoned)
    with pytest.raises(TrainingDiverged, match=r"lr: training diverged at step 5 \(loss nan\).*\(step 4\)"):
        train_vae(cfg, data=data, root=tmp_path)
    run = Run.open(next(tmp_path.glob("householder/*")))
    assert run.status["state"] == "stopped" and run.status["step"] == 4 and "diverged" in run.status["reason"]
    assert run.load_checkpoint()["step"] == 4
