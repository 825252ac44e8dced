"""The 3PT model against independent references: float64 loops, a plain RoPE transformer."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lab.threephase import (
    ModelConfig,
    Transformer,
    count_parameters,
    phase_means,
    phase_rotate,
    theta_drift,
    theta_init,
    theta_stats,
)
from lab.threephase.model import rope_tables


def small(**kw) -> ModelConfig:
    base = dict(vocab_size=97, d_model=24, n_layers=3, n_heads=6, n_kv_heads=3, d_ff=40, max_seq_len=16, n_phases=3)
    base.update(kw)
    return ModelConfig(**base)


def rotate_reference(x: np.ndarray, theta: np.ndarray, n: int) -> np.ndarray:
    """Per phase, per pair, one 2x2 rotation at a time (float64)."""
    out = np.array(x, dtype=np.float64, copy=True)
    d = x.shape[-1]
    dp = d // n
    flat_in = x.reshape(-1, d)
    flat_out = out.reshape(-1, d)
    for r in range(flat_in.shape[0]):
        for i in range(n):
            for k in range(dp // 2):
                a = theta[k] + 2 * math.pi * i / n
                e, o = i * dp + 2 * k, i * dp + 2 * k + 1
                R = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
                flat_out[r, [e, o]] = R @ flat_in[r, [e, o]]
    return out


@pytest.mark.parametrize("n", [1, 2, 3, 4, 6])
def test_phase_rotate_matches_per_pair_loop(n):
    rng = np.random.default_rng(100 + n)
    d = 24
    x = rng.normal(size=(3, 5, d))
    theta = rng.uniform(-4, 4, size=d // n // 2)
    got = phase_rotate(x, theta, n)
    assert got.dtype == torch.float64
    np.testing.assert_allclose(got.numpy(), rotate_reference(x, theta, n), rtol=1e-12, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(n=st.sampled_from([1, 2, 3, 4, 6, 12]), seed=st.integers(0, 10_000), lead=st.integers(1, 4))
def test_phase_rotate_preserves_norm_per_pair_and_inverts(n, seed, lead):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(lead, 24, generator=g, dtype=torch.float64) * 3
    theta = torch.rand(24 // n // 2, generator=g, dtype=torch.float64) * 10 - 5
    y = phase_rotate(x, theta, n)
    pair_norm = lambda t: t.reshape(lead, -1, 2).norm(dim=-1)  # noqa: E731
    torch.testing.assert_close(pair_norm(y), pair_norm(x), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(y.norm(dim=-1), x.norm(dim=-1), rtol=1e-12, atol=1e-12)
    assert not torch.allclose(y, x)
    # with one phase there is no offset, so turning by -theta undoes a turn by theta
    one = torch.randn(lead, 24, generator=g, dtype=torch.float64)
    th1 = torch.rand(12, generator=g, dtype=torch.float64) * 6
    torch.testing.assert_close(phase_rotate(phase_rotate(one, th1, 1), -th1, 1), one, rtol=1e-12, atol=1e-12)


def test_phase_rotate_bad_input():
    with pytest.raises(ValueError, match="theta"):
        phase_rotate(torch.randn(2, 12), torch.zeros(3), 3)
    with pytest.raises(ValueError, match="n_phases"):
        phase_rotate(torch.randn(2, 12), torch.zeros(1), 5)
    with pytest.raises(TypeError, match="n_phases"):
        phase_rotate(torch.randn(2, 12), torch.zeros(2), 3.0)


@pytest.mark.parametrize("L", [1, 4, 12])
def test_theta_init_per_block(L):
    model = Transformer(small(n_layers=L))
    for block, th in enumerate(model.thetas()):
        assert th.shape == (24 // 3 // 2,)
        torch.testing.assert_close(th.detach(), torch.full_like(th, (block + 1) * math.pi / (2 * L)))
    assert theta_init(L - 1, L, 3)[0].item() == pytest.approx(math.pi / 2)


def test_drift_zero_at_init_positive_after_a_step():
    torch.manual_seed(0)
    model = Transformer(small())
    assert theta_drift(model) == [0.0, 0.0, 0.0]
    idx = torch.randint(0, 97, (4, 16))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    _, loss = model(idx[:, :-1], idx[:, 1:])
    loss.backward()
    opt.step()
    drift = theta_drift(model)
    assert len(drift) == 3 and all(d > 0 for d in drift)
    stats = theta_stats(model)
    assert stats["drift_l2"] == pytest.approx(drift)
    assert all(m <= l2 + 1e-12 for m, l2 in zip(stats["drift_max"], stats["drift_l2"]))
    assert theta_drift(Transformer(small(three_phase=False))) == []


def test_horn_pins_embedding_mean():
    torch.manual_seed(1)
    model = Transformer(small()).double()
    with torch.no_grad():
        model.embed.weight.normal_(0.5, 2.0)  # a mean far from the horn
    idx = torch.randint(0, 97, (3, 16))
    x = model.embed_tokens(idx)
    horn = 1.0 / (torch.arange(16, dtype=torch.float64) + 1)
    torch.testing.assert_close(x.mean(-1), horn.expand(3, 16), rtol=1e-12, atol=1e-12)
    w = phase_means(model, idx)
    np.testing.assert_allclose(w["mean"], horn.numpy(), atol=1e-12)
    np.testing.assert_allclose(w["per_phase"].mean(0), horn.numpy(), atol=1e-12)
    # the baseline scales instead of pinning
    base = Transformer(small(three_phase=False)).double()
    base.embed.weight.data.copy_(model.embed.weight.data)
    torch.testing.assert_close(base.embed_tokens(idx), model.embed.weight[idx] * math.sqrt(24))


@pytest.mark.parametrize("L,N", [(3, 3), (4, 1), (2, 2), (5, 6)])
def test_parameter_count_difference_is_the_angles(L, N):
    cfg = dict(n_layers=L, n_phases=N, n_heads=6, n_kv_heads=6 if N in (2, 6) else 3)
    p3 = count_parameters(Transformer(small(**cfg)))
    pb = count_parameters(Transformer(small(three_phase=False, **cfg)))
    assert p3 - pb == L * (24 // N) // 2
    # per-phase norms alone add nothing: N gains of width d_phase = one gain of width d_model
    pn_only = count_parameters(Transformer(small(three_phase=False, phase_norm=True, **cfg)))
    assert pn_only == pb


@pytest.mark.parametrize(
    "kw,match",
    [
        (dict(n_heads=5), "n_heads"),
        (dict(n_kv_heads=4), "n_kv_heads"),
        (dict(n_phases=5), "n_phases"),
        (dict(n_phases=4), "n_phases"),  # 4 does not divide n_heads=6 / n_kv_heads=3
        (dict(n_phases=24), "n_phases"),  # d_phase = 1 is odd
        (dict(d_model=0), "d_model"),
        (dict(n_heads=8, n_kv_heads=4), "n_heads"),  # d_head = 3 is odd (RoPE pairs)
    ],
)
def test_bad_configs_raise(kw, match):
    with pytest.raises(ValueError, match=match):
        Transformer(small(**kw))


def test_baseline_ignores_phase_constraints_and_bad_types():
    Transformer(small(three_phase=False, n_phases=5))  # N unused by the baseline
    with pytest.raises(TypeError, match="config"):
        Transformer({"d_model": 24})
    model = Transformer(small())
    with pytest.raises(ValueError, match="max_seq_len"):
        model(torch.zeros(1, 17, dtype=torch.long))
    with pytest.raises(TypeError, match="idx"):
        model(torch.zeros(1, 4))


# --------------------------------------------------------------------------- reference RoPE LM
def reference_rope_lm(sd: dict, cfg: ModelConfig, idx: torch.Tensor) -> torch.Tensor:
    """A plain pre-norm RoPE/GQA/SwiGLU decoder written independently (complex RoPE, explicit mask)."""
    D, H, Hkv, L = cfg.d_model, cfg.n_heads, cfg.n_kv_heads, cfg.n_layers
    dh = D // H
    B, T = idx.shape

    def rms(x, w):
        return x / torch.sqrt((x * x).mean(-1, keepdim=True) + cfg.norm_eps) * w

    freqs = torch.tensor([cfg.rope_base ** (-(2 * j) / dh) for j in range(dh // 2)], dtype=torch.float64)
    angles = torch.arange(T, dtype=torch.float64)[:, None] * freqs  # (T, dh/2)
    rot = torch.polar(torch.ones(T, dh // 2, dtype=torch.float64), angles)

    def rope(x):  # (B, h, T, dh)
        xc = torch.view_as_complex(x.reshape(*x.shape[:-1], dh // 2, 2).contiguous())
        return torch.view_as_real(xc * rot).reshape(x.shape)

    h = sd["embed.weight"][idx] * math.sqrt(D)
    mask = torch.full((T, T), float("-inf"), dtype=torch.float64).triu(1)
    for block in range(L):
        p = f"blocks.{block}."
        a = rms(h, sd[p + "norm1.weight"])
        q = (a @ sd[p + "attn.wq.weight"].T).reshape(B, T, H, dh).permute(0, 2, 1, 3)
        k = (a @ sd[p + "attn.wk.weight"].T).reshape(B, T, Hkv, dh).permute(0, 2, 1, 3)
        v = (a @ sd[p + "attn.wv.weight"].T).reshape(B, T, Hkv, dh).permute(0, 2, 1, 3)
        q, k = rope(q), rope(k)
        rep = H // Hkv
        k = torch.cat([k[:, j // rep : j // rep + 1] for j in range(H)], dim=1)
        v = torch.cat([v[:, j // rep : j // rep + 1] for j in range(H)], dim=1)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh) + mask, dim=-1)
        y = (att @ v).permute(0, 2, 1, 3).reshape(B, T, D)
        h = h + y @ sd[p + "attn.wo.weight"].T
        f = rms(h, sd[p + "norm2.weight"])
        gate = f @ sd[p + "ffn.w_gate.weight"].T
        h = h + ((gate * torch.sigmoid(gate)) * (f @ sd[p + "ffn.w_up.weight"].T)) @ sd[p + "ffn.w_down.weight"].T
    return rms(h, sd["norm_f.weight"]) @ sd["head.weight"].T


@pytest.mark.parametrize("switches", [dict(three_phase=False),
                                      dict(three_phase=True, rotation=False, phase_norm=False, horn=False)])
def test_all_switches_off_equals_plain_rope_transformer(switches):
    torch.manual_seed(3)
    cfg = small(**switches)
    model = Transformer(cfg).double()
    with torch.no_grad():  # fresh, non-trivial gains
        for name, p in model.named_parameters():
            if "norm" in name:
                p.uniform_(0.5, 1.5)
    sd = {k: v.detach() for k, v in model.state_dict().items()}
    assert not any("theta" in k for k in sd)
    idx = torch.randint(0, 97, (2, 16))
    logits, loss = model(idx, idx)
    ref = reference_rope_lm(sd, cfg, idx)
    torch.testing.assert_close(logits, ref, rtol=1e-10, atol=1e-10)
    ref_loss = torch.nn.functional.cross_entropy(ref.reshape(-1, 97), idx.reshape(-1))
    torch.testing.assert_close(loss, ref_loss)


def test_3pt_block_matches_reference_with_rotation_and_phase_norm():
    """The full 3PT forward equals the reference with per-phase norm, loop rotation and the horn."""
    torch.manual_seed(4)
    cfg = small(three_phase=True)
    model = Transformer(cfg).double()
    with torch.no_grad():
        for b in model.blocks:
            b.theta.add_(torch.randn_like(b.theta))
    idx = torch.randint(0, 97, (2, 12))
    logits, _ = model(idx)
    # reference: reuse the plain path but swap norms/rotation/horn through monkey-free pieces
    N, D = cfg.n_phases, cfg.d_model
    sd = {k: v.detach() for k, v in model.state_dict().items()}

    def prms(x, w):  # w: (N, d_phase)
        parts = []
        for i in range(N):
            s = x[..., i * (D // N) : (i + 1) * (D // N)]
            parts.append(s / torch.sqrt((s * s).mean(-1, keepdim=True) + cfg.norm_eps) * w[i])
        return torch.cat(parts, -1)

    x = sd["embed.weight"][idx]
    x = x + (1.0 / (torch.arange(12, dtype=torch.float64) + 1))[None, :, None] - x.mean(-1, keepdim=True)
    h = x
    cos, sin = rope_tables(12, cfg.d_head, cfg.rope_base, dtype=torch.float64)
    for i, block in enumerate(model.blocks):
        with torch.no_grad():
            a = block.attn(prms(h, sd[f"blocks.{i}.norm1.weight"]), cos, sin)
        h = h + a
        h = torch.from_numpy(rotate_reference(h.numpy(), sd[f"blocks.{i}.theta"].numpy(), N))
        with torch.no_grad():
            h = h + block.ffn(prms(h, sd[f"blocks.{i}.norm2.weight"]))
    ref = prms(h, sd["norm_f.weight"]) @ sd["head.weight"].T
    torch.testing.assert_close(logits.detach(), ref, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("n", [1, 3, 5])
def test_phasor_points_against_trigonometry(n):
    from lab.threephase import phasor

    theta = 0.37 + n
    got = phasor(theta, n, pair=(0.6, -0.8))
    for i in range(n):
        a = theta + 2 * math.pi * i / n
        want = [0.6 * math.cos(a) + 0.8 * math.sin(a), 0.6 * math.sin(a) - 0.8 * math.cos(a)]
        np.testing.assert_allclose(got[i], want, atol=1e-12)
    with pytest.raises(ValueError, match="pair"):
        phasor(0.1, 3, pair=(1.0, 0.0, 0.0))


def test_bf16_autocast_forward_backward_runs():
    torch.manual_seed(5)
    model = Transformer(small())
    idx = torch.randint(0, 97, (2, 16))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits, loss = model(idx, idx)
    assert logits.dtype == torch.bfloat16 and loss.dtype == torch.float32 and torch.isfinite(loss)
    loss.backward()
    assert all(b.theta.grad is not None and torch.isfinite(b.theta.grad).all() for b in model.blocks)
