"""The captioned shapes, the toy CLIP loss and training loop (resume), and the CLI trainer."""

import numpy as np
import pytest
import torch

from lab.alignment.shapes import COLOURS, SHAPES, SIZES, VOCAB, all_captions, class_names, make_shapes, tokenize
from lab.alignment.toyclip import ToyClip, ToyClipConfig, TrainConfig, clip_loss, embed_shapes, train_toy_clip
from lab.runs import Run


def test_shapes_are_deterministic_and_captions_match_attributes():
    a, b = make_shapes(64, seed=3, image_size=16), make_shapes(64, seed=3, image_size=16)
    assert torch.equal(a.images, b.images) and a.captions == b.captions
    assert a.images.shape == (64, 3, 16, 16) and a.images.dtype == torch.float32
    assert float(a.images.min()) >= 0.0 and float(a.images.max()) <= 1.0
    c = make_shapes(64, seed=4, image_size=16)
    assert not torch.equal(a.images, c.images)
    caps = all_captions()
    assert len(caps) == 300 and caps["caption"].is_unique
    for i in range(64):
        attrs = a.attributes.iloc[i]
        words = a.captions[i].split()
        assert attrs["shape"] in words and attrs["colour"] in words and attrs["size"] in words
        assert a.labels[i] == SHAPES.index(attrs["shape"]) * len(COLOURS) + list(COLOURS).index(attrs["colour"])
        assert caps["caption"].iloc[a.caption_ids[i]] == a.captions[i]
    assert class_names()[a.labels[0]] == f"{a.attributes.iloc[0]['colour']} {a.attributes.iloc[0]['shape']}"


def test_shape_pixels_carry_the_colour():
    d = make_shapes(40, seed=5, image_size=24)
    for i in range(40):
        target = np.array(COLOURS[d.attributes.iloc[i]["colour"]])
        pix = d.images[i].permute(1, 2, 0).reshape(-1, 3).numpy()  # (s*s, 3)
        close = np.linalg.norm(pix - target, axis=1) < 0.2
        assert close.sum() >= 6, f"image {i} shows too few pixels of its colour"


def test_tokenize_roundtrip_and_errors():
    t = tokenize(["a large red circle on the left", "a small blue ring in the middle"])
    inv = {v: k for k, v in VOCAB.items()}
    assert " ".join(inv[int(i)] for i in t[0] if i) == "a large red circle on the left"
    assert int(t[1, -1]) == 0 or len("a small blue ring in the middle".split()) == 7
    with pytest.raises(ValueError, match="unknown word 'banana'"):
        tokenize(["a banana"])


def test_clip_loss_matches_a_naive_soft_target_cross_entropy():
    g = torch.Generator().manual_seed(0)
    img = torch.nn.functional.normalize(torch.randn(6, 4, generator=g, dtype=torch.float64), dim=-1)
    txt = torch.nn.functional.normalize(torch.randn(6, 4, generator=g, dtype=torch.float64), dim=-1)
    cid = torch.tensor([0, 1, 0, 2, 3, 1])
    scale = torch.tensor(2.0, dtype=torch.float64)
    loss = clip_loss(img, txt, scale, cid)
    s = float(np.exp(2.0))
    logits = s * (img @ txt.T).numpy()

    def ce(L):
        total = 0.0
        for i in range(6):
            pos = [j for j in range(6) if cid[j] == cid[i]]
            logz = np.log(np.exp(L[i]).sum())
            total += -np.mean([L[i, j] - logz for j in pos])
        return total / 6

    assert float(loss) == pytest.approx(0.5 * (ce(logits) + ce(logits.T)), rel=1e-10)


@pytest.mark.parametrize("image_encoder, text_encoder", [("cnn", "bow"), ("mlp", "concat"), ("cnn", "gru")])
def test_encoders_give_unit_vectors(image_encoder, text_encoder):
    cfg = ToyClipConfig(image_encoder=image_encoder, text_encoder=text_encoder, image_size=16, width=16, embed_dim=8)
    m = ToyClip(cfg)
    d = make_shapes(5, seed=0, image_size=16)
    e_img, e_txt = m.encode_image(d.images), m.encode_text(d.tokens)
    assert e_img.shape == (5, 8) and e_txt.shape == (5, 8)
    torch.testing.assert_close(e_img.norm(dim=-1), torch.ones(5))


def test_unknown_architecture_is_a_value_error():
    with pytest.raises(ValueError, match="image_encoder"):
        ToyClip(ToyClipConfig(image_encoder="vit"))


def test_training_lowers_the_loss_and_resume_equals_uninterrupted(tmp_path):
    data = make_shapes(200, seed=0, image_size=12)
    mc = ToyClipConfig(image_size=12, width=16, embed_dim=8)
    tc = TrainConfig(steps=24, batch_size=32, lr=3e-3, seed=7, checkpoint_every=6)
    full, hist = train_toy_clip(mc, data, tc)
    assert hist[-1]["loss"] < hist[0]["loss"]
    run = Run.create("alignment", {"test": True}, root=tmp_path)
    calls = {"n": 0}

    def stop_after_12():
        calls["n"] += 1
        return calls["n"] > 12

    partial, _ = train_toy_clip(mc, data, tc, run=run, name="m", should_stop=stop_after_12)
    ckpt = run.load_checkpoint("m")
    assert ckpt is not None and ckpt["step"] == 12
    resumed, _ = train_toy_clip(mc, data, tc, run=run, name="m")
    for (k, p), (_, q) in zip(full.state_dict().items(), resumed.state_dict().items()):
        torch.testing.assert_close(p, q, msg=f"parameter {k} differs after resume")
    assert not run.metrics().empty
    img, txt = embed_shapes(resumed, data)
    assert img.shape == (200, 8) and txt.shape == (300, 8) and img.dtype == np.float32


def test_cli_trainer_smoke(tmp_path, monkeypatch, capsys):
    from lab.alignment import cli as alignment_train

    monkeypatch.setenv("ORTHOLAB_RUNS", str(tmp_path / "runs"))
    out = tmp_path / "toy.npz"
    rc = alignment_train.main(["--smoke", "--steps", "8", "--n-train", "200", "--n-eval", "120", "--out", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "retrieval top-1" in text and "run:" in text
    from lab.files import load_arrays

    arrays = load_arrays(out)
    assert arrays["x"].shape == (120, 32) and arrays["x2"].shape == (300, 32)
    assert arrays["train_mask"].sum() == 60
    from lab.runs import list_runs

    runs = list_runs(study="alignment")
    assert len(runs) == 1 and runs["state"].iloc[0] == "finished"


def _codes(n, seed):
    from lab.alignment.shapes import attribute_codes

    return torch.from_numpy(attribute_codes(make_shapes(n, seed=seed, image_size=12).attributes))


def _random_codes(n, seed):
    """(n, 4) size, colour, shape, position indices drawn uniformly (no images needed)."""
    g = torch.Generator().manual_seed(seed)
    return torch.stack([torch.randint(0, k, (n,), generator=g) for k in (2, 6, 5, 5)], dim=1)


def test_partial_captions_name_the_shape_and_only_true_attributes_in_vocabulary():
    from lab.alignment.shapes import MAX_TOKENS, draw_partial_captions, partial_captions

    table = partial_captions()
    assert len(table) == 3 * 7 * 5 * 6 and table["caption"].is_unique
    assert set(all_captions()["caption"]) <= set(table["caption"])
    data = make_shapes(300, seed=11, image_size=12)
    codes = _codes(300, 11)
    tokens, keys, named = draw_partial_captions(codes, 0.5, torch.Generator().manual_seed(0))
    assert tokens.shape == (300, MAX_TOKENS) and keys.shape == (300,) and named.shape == (300, 4)
    inv = {v: k for k, v in VOCAB.items()}
    for i in range(300):
        words = [inv[int(t)] for t in tokens[i] if t]
        assert " ".join(words) == table["caption"].iloc[int(keys[i])]
        attrs = data.attributes.iloc[i]
        assert attrs["shape"] in words  # the shape is always named ...
        for col, pool in (("size", SIZES), ("colour", COLOURS), ("position", ("left", "right", "top", "bottom",
                                                                              "middle"))):
            said = [w for w in words if w in pool]
            assert said in ([], [attrs[col]])  # ... and every other attribute named is the image's own
    assert len(set(keys.tolist())) > 30  # captions overlap but are not all alike


def test_partial_captions_are_deterministic_and_keep_each_attribute_with_keep_prob():
    from lab.alignment.shapes import draw_partial_captions

    codes = _random_codes(20000, 3)
    a = draw_partial_captions(codes, 0.3, torch.Generator().manual_seed(5))
    b = draw_partial_captions(codes, 0.3, torch.Generator().manual_seed(5))
    c = draw_partial_captions(codes, 0.3, torch.Generator().manual_seed(6))
    assert torch.equal(a[0], b[0]) and not torch.equal(a[0], c[0])
    kept = (a[2] >= 0).double().mean(0)  # (4,) size, colour, shape, position
    assert float(kept[2]) == 1.0
    # 20,000 Bernoulli(0.3) draws: the standard error is 0.0032, so 0.015 is ~4.6 of them.
    np.testing.assert_allclose(kept[[0, 1, 3]].numpy(), 0.3, atol=0.015)
    small = _codes(200, 3)
    everything = draw_partial_captions(small, 1.0, torch.Generator().manual_seed(0))
    assert torch.equal(everything[0], make_shapes(200, seed=3, image_size=12).tokens)  # keep_prob 1: full captions
    assert (draw_partial_captions(codes, 0.0, torch.Generator())[2][:, [0, 1, 3]] == -1).all()


def test_caption_matches_against_a_loop_and_the_loss_with_matches():
    from lab.alignment.shapes import caption_matches, draw_partial_captions

    codes = _codes(40, 8)
    _, keys, named = draw_partial_captions(codes, 0.5, torch.Generator().manual_seed(1))
    m = caption_matches(codes, named)
    for i in range(40):
        for j in range(40):
            want = all(named[j, k] in (-1, codes[i, k]) for k in range(4))
            assert bool(m[i, j]) == want
    assert bool(m.diagonal().all())
    g = torch.Generator().manual_seed(2)
    img = torch.nn.functional.normalize(torch.randn(40, 4, generator=g, dtype=torch.float64), dim=-1)
    txt = torch.nn.functional.normalize(torch.randn(40, 4, generator=g, dtype=torch.float64), dim=-1)
    scale = torch.tensor(1.5, dtype=torch.float64)
    L = (float(np.exp(1.5)) * img @ txt.T).numpy()
    M = m.numpy()

    def ce(logits, pos):  # mean over rows of -mean over positives of log-softmax
        return np.mean([-np.mean(logits[i, pos[i]] - np.log(np.exp(logits[i]).sum())) for i in range(len(pos))])

    want = 0.5 * (ce(L, M) + ce(L.T, M.T))
    assert float(clip_loss(img, txt, scale, matches=m)) == pytest.approx(want, rel=1e-10)
    # For full captions, matching attributes is the same as sharing the caption.
    full_named = codes.clone()
    cid = torch.as_tensor(make_shapes(40, seed=8, image_size=12).caption_ids)
    torch.testing.assert_close(clip_loss(img, txt, scale, matches=caption_matches(codes, full_named)),
                               clip_loss(img, txt, scale, cid))
    with pytest.raises(ValueError, match="caption_ids, matches"):
        clip_loss(img, txt, scale)


@pytest.mark.parametrize("field, value", [("captions", "some"), ("keep_prob", 1.5), ("keep_prob", -0.1)])
def test_caption_settings_are_checked_by_name(field, value):
    from lab.alignment.training import PairConfig

    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value})
    with pytest.raises(ValueError, match=field):
        PairConfig(**{field: value})


def test_the_smoke_pair_trains_and_records_each_models_own_retrieval():
    from lab.alignment import PRESETS
    from lab.alignment.metrics import retrieval_top1
    from lab.alignment.training import train_pair

    cfg = PRESETS["smoke-pair"]
    assert cfg.captions == "partial"
    data, info = train_pair(cfg)
    arrays, own = info["arrays"], info["meta"]["own_retrieval"]
    assert arrays["x"].shape == (cfg.n_eval, cfg.embed_dim) and arrays["x2"].shape == (300, cfg.embed_dim)
    assert data.n == cfg.n_eval and data.x2.shape == (300, cfg.embed_dim)
    # own retrieval: model B's images against its own 300 full captions, recomputed naively
    nn = np.argmax(arrays["y"] @ arrays["y2"].T, axis=1)
    assert own["b"]["caption"] == pytest.approx(np.mean(nn == arrays["caption_ids"]))
    assert own["b"]["class"] == pytest.approx(np.mean(arrays["labels2"][nn] == arrays["labels"]))
    assert own["a"]["class"] == pytest.approx(retrieval_top1(arrays["x"], arrays["x2"], query_labels=arrays["labels"],
                                                             gallery_labels=arrays["labels2"]))
    for key, hist in info["histories"].items():
        assert hist[-1]["loss"] < hist[0]["loss"], f"model {key} did not learn"
