"""The captioned shapes, the toy CLIP loss and training loop (resume), and the CLI trainer."""

import numpy as np
import pytest
import torch

from lab.alignment.shapes import COLOURS, SHAPES, VOCAB, all_captions, class_names, make_shapes, tokenize
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
