"""Each 3PT switch that can decide a verdict changes exactly one thing (init, embed_scale, horn, decay)."""

import math

import pytest
import torch

from lab.threephase import (
    VARIANTS,
    ModelConfig,
    TrainConfig,
    Transformer,
    horn_values,
    parameter_groups,
    variant_model,
)

SHAPE = dict(vocab_size=300, d_model=48, n_layers=3, n_heads=6, n_kv_heads=3, d_ff=128, max_seq_len=32, n_phases=3)


def _model(seed=0, **switches) -> Transformer:
    torch.manual_seed(seed)
    return Transformer(ModelConfig(**{**SHAPE, **switches}))


def test_reference_init_is_pytorchs_defaults():
    m = _model(init="reference")
    emb = m.embed.weight.detach().double()
    assert abs(emb.std().item() - 1.0) < 0.03 and abs(emb.mean().item()) < 0.02  # nn.Embedding: N(0, 1)
    for name, mod in m.named_modules():
        if isinstance(mod, torch.nn.Linear):
            w = mod.weight.detach().double()
            bound = 1 / math.sqrt(mod.in_features)  # kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(fan_in), ...)
            assert w.abs().max().item() <= bound + 1e-12, name
            assert abs(w.std().item() / (bound / math.sqrt(3)) - 1) < 0.1, name


def test_small_init_is_normal_002_and_changes_only_the_weights():
    small, ref = _model(init="small"), _model(init="reference")
    emb = small.embed.weight.detach().double()
    assert abs(emb.std().item() - 0.02) < 0.001
    for mod in small.modules():
        if isinstance(mod, torch.nn.Linear):
            assert abs(mod.weight.detach().double().std().item() - 0.02) < 0.002
    # same structure; the angles and the gains are not weights the init touches
    assert [n for n, _ in small.named_parameters()] == [n for n, _ in ref.named_parameters()]
    for (n, a), (_, b) in zip(small.named_parameters(), ref.named_parameters()):
        if a.ndim < 2:
            assert torch.equal(a, b), n


def test_embed_scale_multiplies_the_embedding_by_sqrt_d_and_nothing_else():
    idx = torch.randint(0, SHAPE["vocab_size"], (2, 10))
    plain = _model(three_phase=False, embed_scale=False)
    scaled = _model(three_phase=False, embed_scale=True)
    assert torch.equal(plain.embed.weight, scaled.embed.weight)
    with torch.no_grad():
        torch.testing.assert_close(scaled.embed_tokens(idx), plain.embed_tokens(idx) * math.sqrt(SHAPE["d_model"]))
    assert torch.equal(plain.embed_tokens(idx), plain.embed(idx))  # no scale, no horn: the raw rows


def test_horn_moves_every_coordinate_by_one_amount_so_the_mean_is_r_p():
    idx = torch.randint(0, SHAPE["vocab_size"], (2, 10))
    for scale in (False, True):
        off = _model(three_phase=False, embed_scale=scale)
        on = _model(three_phase=False, embed_scale=scale, horn=True)
        with torch.no_grad():
            a, b = off.embed_tokens(idx).double(), on.embed_tokens(idx).double()
        shift = b - a  # (B, T, d): the same number in every coordinate of a position
        torch.testing.assert_close(shift, shift[..., :1].expand_as(shift), atol=1e-5, rtol=0)  # float32 sums
        torch.testing.assert_close(b.mean(-1), horn_values(10, dtype=torch.float64).expand(2, -1), atol=1e-5, rtol=0)


def test_default_embedding_follows_the_reference():
    # the reference 3PT: horn, no scale; the paper's baseline: scale, no horn
    assert not variant_model("tiny", "3pt-reference").use_embed_scale
    assert variant_model("tiny", "3pt-reference").use_horn
    paper = variant_model("tiny", "baseline-paper")
    assert paper.use_embed_scale and not paper.use_horn and paper.init == "reference"
    matched = variant_model("tiny", "baseline-matched")
    assert not matched.use_embed_scale and not matched.use_horn and not matched.uses_phases
    assert set(VARIANTS) >= {"3pt-reference", "baseline-paper", "baseline-matched"}


def test_decay_all_decays_every_parameter_and_matrices_spares_theta_and_gains():
    m = _model()
    everything = {id(p) for p in m.parameters()}
    (group,) = parameter_groups(m, TrainConfig(decay="all", weight_decay=0.1))
    assert {id(p) for p in group["params"]} == everything and group["weight_decay"] == 0.1
    decay, spared = parameter_groups(m, TrainConfig(decay="matrices", weight_decay=0.1))
    thetas = {id(b.theta) for b in m.blocks}
    assert thetas <= {id(p) for p in spared["params"]} and spared["weight_decay"] == 0.0
    assert all(p.ndim >= 2 for p in decay["params"]) and all(p.ndim < 2 for p in spared["params"])
    assert {id(p) for p in decay["params"]} | {id(p) for p in spared["params"]} == everything


def test_decay_all_pulls_theta_toward_zero_where_matrices_leaves_it():
    # With no gradient (a zero loss), AdamW's decoupled decay alone moves theta: by -lr*wd*theta.
    for policy, moves in (("all", True), ("matrices", False)):
        m = _model()
        tcfg = TrainConfig(decay=policy, weight_decay=0.1)
        opt = torch.optim.AdamW(parameter_groups(m, tcfg), lr=0.01)
        before = m.blocks[-1].theta.detach().clone()
        (0.0 * sum(p.sum() for p in m.parameters())).backward()
        opt.step()
        after = m.blocks[-1].theta.detach()
        if moves:
            torch.testing.assert_close(after, before * (1 - 0.01 * 0.1))
        else:
            assert torch.equal(after, before)


@pytest.mark.parametrize("bad", [dict(init="xavier"), dict(embed_scale="yes")])
def test_switches_refuse_garbage_by_name(bad):
    name = next(iter(bad))
    with pytest.raises((ValueError, TypeError), match=name):
        ModelConfig(**{**SHAPE, **bad}).validate()
    with pytest.raises(ValueError, match="decay"):
        TrainConfig(decay="some").validate()


def test_runs_saved_before_the_switches_load_as_they_were_trained():
    # their config.json has no init or decay: they were N(0, 0.02) and decayed matrices only
    old = {k: v for k, v in ModelConfig(**SHAPE).to_dict().items() if k not in ("init", "embed_scale")}
    assert ModelConfig.from_dict(old).init == "small"
    assert ModelConfig.from_dict({**old, "init": "reference"}).init == "reference"
