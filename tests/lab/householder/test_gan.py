"""The style-based GAN, the swap + fine-tune protocol, the direction methods and the new metrics,
against independent references on fresh random inputs (tiny configurations: fast on a CPU)."""

import copy
import itertools
import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from lab.householder import (
    PRESETS,
    VARIANTS,
    FactorRegressor,
    GanConfig,
    GanTrainConfig,
    HouseholderProjector,
    StyleGenerator,
    block_slots,
    dci,
    dci_from_importance,
    direction_labels,
    direction_scales,
    edit_ws,
    evaluate_seed,
    finetune_swapped,
    kid,
    load_gan,
    make_shapes,
    orthogonality_error,
    paired_differences,
    pipl_matched,
    random_rotation,
    sample_ws,
    save_gan,
    style_directions,
    summarise,
    swap_style_affines,
    to_unit,
    train_gan,
    w_samples,
)
from lab.householder.gan import ModulatedConv

TINY = GanConfig(z_dim=12, w_dim=12, mapping_layers=2, channels=(12, 12, 12, 8), d_channels=(4, 8, 8, 8))


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # Small batches on a shared 2-core machine: OpenMP barriers cost more than the work (see widgets/householder).
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def data():
    return make_shapes(64, seed=0)


@pytest.fixture(scope="module")
def pretrained(data):
    state = train_gan(TINY, GanTrainConfig(steps=3, batch_size=8, seed=0, log_every=1), data, device="cpu")
    return state.generator, state.discriminator


# --------------------------------------------------------------------------- the model
def test_modulated_conv_equals_explicitly_modulated_weights():
    # Reference: StyleGAN2's definition, a per-sample weight W * s, demodulated, applied one sample at a time.
    torch.manual_seed(1)
    conv = ModulatedConv(5, 7, 6, kernel=3).double()
    x, w = torch.randn(3, 5, 8, 8, dtype=torch.float64), torch.randn(3, 6, dtype=torch.float64)
    s = conv.affine(w)
    ref = []
    for i in range(3):
        W = conv.weight * conv.scale * s[i][None, :, None, None]  # (out, in, k, k)
        W = W / torch.sqrt((W ** 2).sum(dim=(1, 2, 3), keepdim=True) + 1e-8)
        y = F.conv2d(x[i:i + 1], W, padding=1) + conv.bias[None, :, None, None]
        ref.append(F.leaky_relu(y, 0.2) * math.sqrt(2))
    torch.testing.assert_close(conv(x, w), torch.cat(ref), rtol=1e-9, atol=1e-9)


def test_generator_shapes_slots_and_bad_input():
    G = StyleGenerator(TINY)
    assert G.config.resolution == 32 and G.config.num_ws == 12
    img = G(torch.randn(2, 12))
    assert img.shape == (2, 3, 32, 32)
    assert to_unit(img).min() >= 0 and to_unit(img).max() <= 1
    with pytest.raises(ValueError, match="ws"):
        G.synthesis(torch.zeros(2, 5, 12))
    with pytest.raises(ValueError, match="channels"):
        GanConfig(channels=(8,), d_channels=(8,)).validate()
    assert block_slots(G, 2) == [6] and block_slots(G, 1, "block") == [3, 4, 5]
    assert block_slots(G, (1, 2), "block") == [3, 4, 5, 6, 7, 8] and block_slots(G, 0, "all") == list(range(12))
    with pytest.raises(ValueError, match="blocks"):
        block_slots(G, 4)
    with pytest.raises(ValueError, match="which"):
        block_slots(G, 0, "some")


def test_swap_reproduces_each_affines_top_subspace_and_keeps_the_bias(pretrained):
    G0, _ = pretrained
    G = copy.deepcopy(G0)
    before = [(a.weight.detach().double().clone(), a.bias.detach().clone()) for a in G.first_affines()]
    projs = swap_style_affines(G, 4)
    assert all(isinstance(p, HouseholderProjector) for p in G.first_affines())
    for p, (W, b) in zip(projs, before):
        U, _, Vh = np.linalg.svd(W.numpy())
        np.testing.assert_allclose(p.weight.detach().double().numpy(), U[:, :4] @ Vh[:4], atol=1e-5)
        torch.testing.assert_close(p.bias.detach(), b)
        assert orthogonality_error(p.weight.detach()) < 1e-5
    with pytest.raises(ValueError, match="already"):
        swap_style_affines(G, 4)
    with pytest.raises(ValueError, match="rank"):
        swap_style_affines(copy.deepcopy(G0), 13)


def test_an_edit_orthogonal_to_the_projectors_span_changes_nothing_at_its_slot(pretrained):
    G0, D0 = pretrained
    G = finetune_swapped(G0, D0, 3, None, steps=0).generator
    D = G.blocks[1].conv0.affine.directions().detach()  # (3, 12)
    null = torch.linalg.svd(D.double(), full_matrices=True).Vh[3:].float()  # the complement, independently
    ws = sample_ws(G, 4, 0)
    moved = edit_ws(ws, null[:1], torch.full((4, 1), 5.0), block_slots(G, 1))
    torch.testing.assert_close(G.synthesis(moved), G.synthesis(ws), atol=1e-5, rtol=0)
    inside = edit_ws(ws, D[:1], torch.full((4, 1), 5.0), block_slots(G, 1))
    assert (G.synthesis(inside) - G.synthesis(ws)).abs().max() > 1e-3


def test_finetuning_moves_the_generator_keeps_projectors_orthogonal_and_leaves_the_input_alone(pretrained, data):
    G0, D0 = pretrained
    snapshot = {k: v.clone() for k, v in G0.state_dict().items()}
    cfg = GanTrainConfig(batch_size=8, seed=0, log_every=1)
    seen = []
    state = finetune_swapped(G0, D0, 4, data, steps=2, train=cfg, progress=lambda f, m="", **r: seen.append(r))
    assert state.step == 2 and [r["step"] for r in seen] == [1, 2]
    assert all(r["orth_error"] < 1e-5 for r in seen)
    swap = finetune_swapped(G0, D0, 4, data, steps=0).generator
    moved = [(a.v_vectors - b.v_vectors).abs().max() for a, b in zip(state.generator.first_affines(),
                                                                      swap.first_affines())]
    assert max(float(m) for m in moved) > 0
    for k, v in G0.state_dict().items():
        assert torch.equal(v, snapshot[k]), k
    stopped = finetune_swapped(G0, D0, 4, data, steps=5, train=cfg, should_stop=lambda: True)
    assert stopped.stopped and stopped.step == 0
    with pytest.raises(ValueError, match="trainable"):
        finetune_swapped(G0, D0, 4, data, steps=1, trainable="some")


def test_only_the_reflectors_train_when_asked(pretrained, data):
    G0, D0 = pretrained
    state = finetune_swapped(G0, D0, 3, data, steps=1, train=GanTrainConfig(batch_size=8), trainable="projectors")
    swap = finetune_swapped(G0, D0, 3, data, steps=0).generator
    for (name, a), (_, b) in zip(state.generator.named_parameters(), swap.named_parameters()):
        if "vectors" not in name:
            assert torch.equal(a, b), name


def test_gan_files_roundtrip_with_and_without_projectors(pretrained, tmp_path):
    G0, D0 = pretrained
    save_gan(tmp_path / "g.safetensors", G0, D0, seed=3, steps=7)
    G, D, meta = load_gan(tmp_path / "g.safetensors")
    z = torch.randn(3, 12)
    torch.testing.assert_close(G(z), G0(z))
    x = torch.rand(4, 3, 32, 32) * 2 - 1
    torch.testing.assert_close(D(x), D0(x))
    assert meta["seed"] == 3 and meta["steps"] == 7 and meta["projector_rank"] is None
    Gs = finetune_swapped(G0, D0, 4, None, steps=0).generator
    save_gan(tmp_path / "s.safetensors", Gs)
    G2, D2, meta2 = load_gan(tmp_path / "s.safetensors")
    assert D2 is None and meta2["projector_rank"] == 4
    torch.testing.assert_close(G2(z), Gs(z))
    with pytest.raises(FileNotFoundError, match="path"):
        load_gan(tmp_path / "missing.safetensors")


# --------------------------------------------------------------------------- directions
def test_sefa_of_an_affine_matches_numpy_eigh_in_float64(pretrained):
    G0, _ = pretrained
    W = G0.blocks[2].conv0.affine.weight.detach().double().numpy()
    Wn = W / np.linalg.norm(W, axis=1, keepdims=True)
    vals, vecs = np.linalg.eigh(Wn.T @ Wn)
    ref = vecs[:, ::-1][:, :5].T
    got = style_directions(G0, "sefa", 2, 5).double().numpy()
    np.testing.assert_allclose(np.abs(np.sum(got * ref, axis=1)), 1.0, atol=1e-4)


def test_ganspace_is_the_pca_of_w(pretrained):
    G0, _ = pretrained
    W = w_samples(G0, 4096, 0).double().numpy()
    _, _, Vh = np.linalg.svd(W - W.mean(0), full_matrices=False)
    got = style_directions(G0, "ganspace", 0, 3).double().numpy()
    np.testing.assert_allclose(np.abs(np.sum(got * Vh[:3], axis=1)), 1.0, atol=1e-4)


def test_within_span_rotation_keeps_the_span_and_changes_the_basis(pretrained):
    G0, D0 = pretrained
    G = finetune_swapped(G0, D0, 4, None, steps=0).generator
    own = style_directions(G, "householder", 1, 4).double()
    rot = style_directions(G, "within_span", 1, 4, seed=5).double()
    torch.testing.assert_close(rot @ rot.T, torch.eye(4, dtype=torch.float64), atol=1e-5, rtol=0)
    torch.testing.assert_close(rot.T @ rot, own.T @ own, atol=1e-5, rtol=0)  # the same projection matrix
    assert (rot - own).abs().max() > 0.1
    R = random_rotation(6, 3)
    torch.testing.assert_close(R @ R.T, torch.eye(6, dtype=torch.float64))
    with pytest.raises(ValueError, match="method"):
        style_directions(G0, "householder", 1, 4)  # a plain Linear has no projector directions
    with pytest.raises(ValueError, match="method"):
        style_directions(G0, "magic", 1, 4)


def test_direction_scales_are_the_spread_of_w_along_each_direction(pretrained):
    G0, _ = pretrained
    D = style_directions(G0, "random", 0, 3)
    W = w_samples(G0, 4096, 12_345)
    torch.testing.assert_close(direction_scales(G0, D), (W @ D.T).std(0))
    with pytest.raises(ValueError, match="directions"):
        direction_scales(G0, torch.zeros(2, 5))


def test_edit_ws_moves_only_the_chosen_slots():
    ws = torch.randn(2, 6, 4)
    D, c = torch.randn(3, 4), torch.randn(2, 3)
    out = edit_ws(ws, D, c, [1, 4])
    for s in range(6):
        expect = ws[:, s] + c @ D if s in (1, 4) else ws[:, s]
        torch.testing.assert_close(out[:, s], expect)
    with pytest.raises(ValueError, match="slots"):
        edit_ws(ws, D, c, [6])
    with pytest.raises(ValueError, match="coords"):
        edit_ws(ws, D, torch.randn(2, 2), [0])


# --------------------------------------------------------------------------- metrics
def _mmd2_bruteforce(a, b):
    d = a.shape[1]

    def k(x, y):
        return (float(np.dot(x, y)) / d + 1) ** 3

    m = len(a)
    xx = sum(k(a[i], a[j]) for i, j in itertools.permutations(range(m), 2)) / (m * (m - 1))
    yy = sum(k(b[i], b[j]) for i, j in itertools.permutations(range(m), 2)) / (m * (m - 1))
    xy = sum(k(a[i], b[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


def test_kid_against_a_bruteforce_unbiased_mmd():
    rng = np.random.default_rng()
    a, b = rng.normal(size=(12, 5)), rng.normal(loc=0.5, size=(12, 5))
    got, spread = kid(a, b, subsets=1, subset_size=12)
    assert got == pytest.approx(_mmd2_bruteforce(a, b), rel=1e-9) and spread == 0.0
    same = kid(rng.normal(size=(400, 5)), rng.normal(size=(400, 5)), subsets=5, subset_size=200)[0]
    apart = kid(rng.normal(size=(400, 5)), rng.normal(loc=1.0, size=(400, 5)), subsets=5, subset_size=200)[0]
    assert abs(same) < apart / 20
    with pytest.raises(ValueError, match="x, y"):
        kid(a, np.zeros((12, 4)))


def _dci_bruteforce(R):
    n_codes, n_f = R.shape
    D, weights = [], []
    for i in range(n_codes):
        p = [R[i, j] / sum(R[i]) for j in range(n_f)]
        D.append(1 + sum(q * math.log(q, n_f) for q in p if q > 0))
        weights.append(sum(R[i]) / R.sum())
    C = []
    for j in range(n_f):
        p = [R[i, j] / sum(R[:, j]) for i in range(n_codes)]
        C.append(1 + sum(q * math.log(q, n_codes) for q in p if q > 0))
    return sum(d * w for d, w in zip(D, weights)), sum(C) / n_f


def test_dci_from_importance_against_loops_and_its_extremes():
    R = np.random.default_rng().random((5, 6))
    np.testing.assert_allclose(dci_from_importance(R), _dci_bruteforce(R), rtol=1e-10)
    perfect = np.zeros((6, 6))
    perfect[np.arange(6), np.arange(6)] = 1.0
    np.testing.assert_allclose(dci_from_importance(perfect), (1.0, 1.0))
    np.testing.assert_allclose(dci_from_importance(np.ones((6, 6))), (0.0, 0.0), atol=1e-12)
    with pytest.raises(ValueError, match="importance"):
        dci_from_importance(-R)


def test_dci_scores_a_one_code_per_factor_encoding_above_a_mixed_one():
    f = make_shapes(600, seed=2).factors
    rng = np.random.default_rng()
    clean = np.column_stack([f[:, j] + 0.01 * rng.normal(size=600) for j in range(6)])
    mixed = clean @ np.linalg.qr(rng.normal(size=(6, 6)))[0]
    good, bad = dci(clean, f), dci(mixed, f)
    assert good["disentanglement"] > 0.8 and good["disentanglement"] > bad["disentanglement"] + 0.3
    assert good["informativeness"] > 0.9


def test_labels_name_the_top_factor_and_its_purity():
    S = np.array([[0.0, 0.1, 0.0, 0.0, 0.0, 0.3], [0.2, 0.2, 0.2, 0.2, 0.2, 0.2]])
    assert direction_labels(S) == ["hue (purity 0.75)", "shape (purity 0.17)"]


def test_pipl_matched_reaches_the_target_change(pretrained):
    G0, _ = pretrained
    D = style_directions(G0, "random", 1, 2)
    reg = FactorRegressor().eval()
    slots = block_slots(G0, 1)
    ws = sample_ws(G0, 8, 0)
    with torch.no_grad():
        base = reg.features(to_unit(G0.synthesis(ws)))
        sig = direction_scales(G0, D)
        one = reg.features(to_unit(G0.synthesis(edit_ws(ws, D[:1], sig[:1].reshape(1, 1), slots))))
    target = 1.5 * float((one - base).norm(dim=1).mean())  # a change the direction reaches near 1.5 sigma
    p, a = pipl_matched(G0, reg.features, D, slots, target=target, n=8, iterations=4)
    assert p.shape == (2,) and np.isfinite(p).all() and (p > 0).all()
    with torch.no_grad():
        moved = reg.features(to_unit(G0.synthesis(edit_ws(ws, D[:1], torch.full((1, 1), float(a[0])), slots))))
    assert float((moved - base).norm(dim=1).mean()) == pytest.approx(target, rel=0.1)


def test_the_whole_protocol_runs_on_a_tiny_gan_and_summarises_over_seeds(pretrained, data, monkeypatch):
    G0, D0 = pretrained
    for key, value in {"sensitivity": {"n": 2, "span": 2.0, "steps": 3}, "pipl": {"n": 4, "eps": 0.1,
                       "iterations": 1}, "posthoc": {"n_images": 64, "steps": 3, "n_test": 16},
                       "kid": {"n": 32, "subsets": 2, "subset_size": 16}, "ppl": {"n": 8},
                       "coverage": {"n": 32}, "targets": {"n": 8}}.items():
        monkeypatch.setitem(PRESETS, key, value)
    held = make_shapes(40, seed=1)
    reg = FactorRegressor().eval()
    res = evaluate_seed(G0, D0, reg, data, held, seed=0, pretrain_steps=50, ranks=(2,),
                        train_config=GanTrainConfig(batch_size=8))
    assert res["finetune_steps"] == 1
    assert {r["variant"] for r in res["directions"]} == set(VARIANTS)
    for row in res["directions"]:
        for m in ("mig", "sap", "dci_d", "purity", "max_sensitivity", "encoder_r2"):
            assert np.isfinite(row[m]), (row["variant"], m)
    assert [r["generator"] for r in res["generators"]] == ["pretrained", "swap", "finetuned"]
    assert res["generators"][2]["orth_error"] < 1e-5
    import pandas as pd

    table = pd.DataFrame([{**r, "seed": s, "mig": r["mig"] + s} for s in (0, 1) for r in res["directions"]])
    summary = summarise(table)
    hh = summary[summary["variant"] == "householder"].iloc[0]
    assert hh["n_seeds"] == 2 and hh["mig_std"] == pytest.approx(np.std([0, 1], ddof=1), rel=1e-9)
    diff = paired_differences(table, "householder", "sefa", "mig", 2)
    assert diff["n"] == 2 and diff["std"] == pytest.approx(0.0, abs=1e-12)


def test_the_cli_pretrains_fine_tunes_and_refuses_bad_input(tmp_path, capsys):
    from lab.householder.cli import main

    out = tmp_path / "g.safetensors"
    assert main(["--steps", "2", "--batch-size", "4", "--n-images", "16", "--out", str(out),
                 "--finetune-rank", "4", "--threads", "1"]) == 0
    G, D, meta = load_gan(out)
    assert meta["steps"] == 2 and D is not None
    Gf, _, meta_f = load_gan(tmp_path / "g_rank4_finetuned.safetensors")
    assert meta_f["projector_rank"] == 4 and meta_f["steps"] == 1  # 2 % of 2 steps, at least 1
    assert main(["--steps", "2", "--out", str(tmp_path / "g.bin")]) == 2
    assert "out" in capsys.readouterr().err
