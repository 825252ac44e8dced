"""Traversal at any linear layer, against the generator's forward pass written out by hand."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lab.householder import (
    Generator,
    GeneratorConfig,
    decode_offset,
    forward_with_input_shift,
    layer_directions,
    layer_inputs,
    linear_layer_names,
    sensitivity_matrix,
    traverse,
)
from lab.householder.model import FactorRegressor


def generator(kind: str = "householder", seed: int = 0) -> Generator:
    torch.manual_seed(seed)
    return Generator(GeneratorConfig(first_layer=kind)).double().eval()


def decode_with_hidden_shift(g: Generator, z: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Generator.forward spelled out, with ``shift`` added to the input of ``up``."""
    h = F.leaky_relu(g.fc(z), 0.2) + shift
    h = F.leaky_relu(g.up(h), 0.2).view(z.shape[0], -1, 4, 4)
    return torch.sigmoid(g.deconv(h))


def test_linear_layer_names_lists_the_layers_in_forward_order():
    assert linear_layer_names(generator("householder")) == ["fc", "up"]
    assert linear_layer_names(generator("linear")) == ["fc", "up"]


@pytest.mark.parametrize("kind", ["householder", "linear"])
def test_deep_layer_traversal_equals_the_hand_written_forward(kind):
    g = generator(kind, seed=1)
    rng = np.random.default_rng(2)
    z = torch.as_tensor(rng.standard_normal((3, 8)))
    D = torch.as_tensor(rng.standard_normal((4, 128)))
    imgs = traverse(g, D, z=z, span=1.5, steps=5, layer="up")  # (3, 4, 5, 3, 32, 32)
    t = torch.linspace(-1.5, 1.5, 5, dtype=torch.float64)
    for i in range(3):
        for j in range(4):
            for s in range(5):
                want = decode_with_hidden_shift(g, z[i : i + 1], t[s] * D[j])[0]
                torch.testing.assert_close(imgs[i, j, s].double(), want, rtol=0, atol=1e-6)


def test_first_layer_traversal_through_the_hook_equals_moving_z():
    g = generator("householder", seed=3)
    rng = np.random.default_rng(4)
    z = torch.as_tensor(rng.standard_normal((2, 8)))
    D = torch.as_tensor(rng.standard_normal((3, 8)))
    torch.testing.assert_close(traverse(g, D, z=z, layer="fc"), traverse(g, D, z=z), rtol=0, atol=1e-6)
    off = rng.standard_normal(3)
    torch.testing.assert_close(decode_offset(g, D, off, z=z[:1], layer="fc"), g(z[:1] + torch.as_tensor(off) @ D)[0],
                               rtol=0, atol=1e-6)


def test_decode_offset_at_a_deep_layer_and_layer_inputs():
    g = generator("linear", seed=5)
    rng = np.random.default_rng(6)
    z = torch.as_tensor(rng.standard_normal((1, 8)))
    D = torch.as_tensor(rng.standard_normal((2, 128)))
    off = np.array([0.7, -1.3])
    want = decode_with_hidden_shift(g, z, torch.as_tensor(off) @ D)[0]
    torch.testing.assert_close(decode_offset(g, D, off, z=z, layer="up").double(), want, rtol=0, atol=1e-6)
    zs = torch.as_tensor(rng.standard_normal((7, 8)))
    torch.testing.assert_close(layer_inputs(g, "up", zs), F.leaky_relu(g.fc(zs), 0.2), rtol=0, atol=1e-12)
    torch.testing.assert_close(layer_inputs(g, "fc", zs), zs, rtol=0, atol=0)


def test_the_callers_generator_is_never_hooked_even_while_a_shifted_pass_runs():
    g = generator("householder", seed=7)
    z = torch.randn(4, 8, dtype=torch.float64)
    plain = g(z)
    errors = []

    def shifted():
        try:
            for _ in range(20):
                forward_with_input_shift(g, "up", z, torch.full((1, 128), 5.0, dtype=torch.float64))
        except Exception as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    worker = threading.Thread(target=shifted)
    worker.start()
    for _ in range(20):
        torch.testing.assert_close(g(z), plain, rtol=0, atol=0)
    worker.join()
    assert not errors
    assert all(not m._forward_pre_hooks for m in g.modules())


def test_ganspace_at_a_deep_layer_uses_that_layers_real_inputs():
    g = generator("linear", seed=8)
    z = torch.randn(2048, 8, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    inputs = layer_inputs(g, "up", z)
    dirs, var = layer_directions(g, "up", "ganspace", 3, inputs=inputs)
    # The top direction's score explains the most variance of up's outputs over those inputs.
    out = g.up(inputs)
    centred = out - out.mean(0)
    top = torch.linalg.svd(centred, full_matrices=False).S[0] ** 2 / (len(z) - 1)
    assert float(var[0]) == pytest.approx(float(top.detach()), rel=1e-9)
    assert dirs.shape == (3, 128)
    torch.testing.assert_close(dirs @ dirs.T, torch.eye(3, dtype=dirs.dtype), rtol=0, atol=1e-10)


def test_sensitivity_at_a_deep_layer_has_one_row_per_direction():
    g = generator("linear", seed=10).float()
    reg = FactorRegressor().eval()
    D = torch.linalg.qr(torch.randn(128, 3, generator=torch.Generator().manual_seed(11))).Q.T  # (3, 128)
    S = sensitivity_matrix(g, reg, D, n_samples=4, steps=3, layer="up")
    assert S.shape == (3, 6) and np.isfinite(S).all() and (S >= 0).all()


def test_bad_layers_and_widths_raise_with_the_valid_names():
    g = generator()
    with pytest.raises(ValueError, match=r"layer: 'deconv.0' is a ConvTranspose2d.*\['fc', 'up'\]"):
        traverse(g, torch.randn(2, 8), layer="deconv.0")
    with pytest.raises(ValueError, match="no submodule 'nope'"):
        traverse(g, torch.randn(2, 8), layer="nope")
    with pytest.raises(ValueError, match=r"directions: expected \(k, 128\)"):
        traverse(g, torch.randn(2, 8), layer="up")
    with pytest.raises(ValueError, match="shift: expected 1 or 3 rows"):
        forward_with_input_shift(g, "up", torch.randn(3, 8, dtype=torch.float64), torch.zeros(2, 128))
