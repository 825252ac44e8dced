"""householder_product, HouseholderProjector and the baselines against independent references."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from lab.householder import (
    HouseholderProjector,
    ganspace_directions,
    householder_product,
    householder_vectors_from_frame,
    layer_directions,
    orthogonality_error,
    random_directions,
    sefa_directions,
    swap_for_projector,
    train_only_reflectors,
)


def explicit_product(V: np.ndarray) -> np.ndarray:
    """float64 product of explicit reflections, one at a time (the reference)."""
    d, k = V.shape
    Q = np.eye(d)
    for i in range(k):
        v = V[:, i:i + 1]
        Q = Q @ (np.eye(d) - 2.0 * (v @ v.T) / float((v.T @ v)[0, 0]))
    return Q


@pytest.mark.parametrize("d,k", [(1, 1), (6, 1), (6, 6), (9, 4), (32, 32), (40, 7)])
def test_product_matches_explicit_reflections(d, k):
    rng = np.random.default_rng(d * 100 + k)
    V = rng.normal(size=(d, k)) * rng.uniform(0.1, 10.0, size=(1, k))  # arbitrary norms
    Q = householder_product(torch.from_numpy(V))
    assert Q.shape == (d, d) and Q.dtype == torch.float64
    np.testing.assert_allclose(Q.numpy(), explicit_product(V), atol=1e-12)
    cols = householder_product(V, columns=min(k, d))  # numpy input works too
    np.testing.assert_allclose(cols.numpy(), explicit_product(V)[:, :k], atol=1e-12)


def test_product_is_batched():
    V = torch.randn(3, 2, 7, 4, dtype=torch.float64)
    Q = householder_product(V)
    assert Q.shape == (3, 2, 7, 7)
    for a in range(3):
        for b in range(2):
            np.testing.assert_allclose(Q[a, b].numpy(), explicit_product(V[a, b].numpy()), atol=1e-12)


def test_product_agrees_with_torch_householder_product():
    # torch reads the reflectors below the diagonal with an implicit unit diagonal.
    V = torch.tril(torch.randn(12, 5, dtype=torch.float64), diagonal=-1) + torch.eye(12, 5, dtype=torch.float64)
    tau = 2.0 / (V * V).sum(0)
    ref = torch.linalg.householder_product(V, tau)  # (12, 5): first 5 columns of H1...H5
    np.testing.assert_allclose(householder_product(V, columns=5).numpy(), ref.numpy(), atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(d=st.integers(1, 12), data=st.data())
def test_product_is_orthogonal_property(d, data):
    k = data.draw(st.integers(1, d))
    seed = data.draw(st.integers(0, 10_000))
    V = torch.randn(d, k, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)) + 0.01
    Q = householder_product(V)
    np.testing.assert_allclose((Q.T @ Q).numpy(), np.eye(d), atol=1e-10)
    assert np.isclose(abs(torch.linalg.det(Q).item()), 1.0)
    assert np.isclose(torch.linalg.det(Q).item(), (-1.0) ** k)


def test_gradcheck():
    V = torch.randn(6, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(householder_product, (V,))
    assert torch.autograd.gradcheck(lambda v: householder_product(v, columns=2), (V,))


@pytest.mark.parametrize("bad", [torch.randn(5), torch.randn(3, 4), torch.zeros(4, 2)])
def test_product_rejects_bad_input(bad):
    with pytest.raises(ValueError, match="V"):
        householder_product(bad)


@pytest.mark.parametrize("in_f,out_f,rank",
                         [(512, 256, 10), (96, 300, 20), (24, 24, 24), (24, 24, 5), (1, 1, 1), (3, 2, 2)])
def test_projector_shapes_and_unit_singular_values(in_f, out_f, rank):
    torch.manual_seed(in_f + out_f)
    proj = HouseholderProjector(in_f, out_f, rank)
    W = proj.weight.detach().double()
    assert W.shape == (out_f, in_f)
    s = torch.linalg.svdvals(W).numpy()
    np.testing.assert_allclose(s[:rank], 1.0, atol=1e-5)
    assert np.all(s[rank:] < 1e-5)
    assert np.linalg.matrix_rank(W.numpy(), tol=1e-4) == rank
    assert orthogonality_error(W) < 1e-5
    x = torch.randn(7, in_f)
    np.testing.assert_allclose(proj(x).detach().numpy(), (x @ proj.weight.T).detach().numpy(), atol=1e-5)
    D = proj.directions().detach().double()
    assert D.shape == (rank, in_f)
    np.testing.assert_allclose((D @ D.T).numpy(), np.eye(rank), atol=1e-5)


def test_projector_bias_and_batched_input():
    proj = HouseholderProjector(5, 3, 2, bias=True)
    x = torch.randn(4, 6, 5)
    y = proj(x)
    assert y.shape == (4, 6, 3)
    np.testing.assert_allclose(y.detach().numpy(), (x @ proj.weight.T + proj.bias).detach().numpy(), atol=1e-5)
    with pytest.raises(ValueError, match="x"):
        proj(torch.randn(4, 6))


def test_forward_responds_to_exactly_the_span_of_directions():
    torch.manual_seed(3)
    proj = HouseholderProjector(20, 13, 6).double()
    D = proj.directions().detach()  # (6, 20)
    # Orthogonal complement of the directions, from an independent SVD.
    _, _, Vh = np.linalg.svd(D.numpy())
    comp = torch.from_numpy(Vh[6:])  # (14, 20)
    with torch.no_grad():
        assert proj(comp).abs().max() < 1e-12  # blind to everything outside the span
        out = proj(D)  # each direction moves the output with unit gain, orthogonally
        np.testing.assert_allclose((out @ out.T).numpy(), np.eye(6), atol=1e-12)
        # and the row space of the weight (independent SVD) is exactly that span
        _, s, Vw = np.linalg.svd(proj.weight.numpy())
        P_w = Vw[:6].T @ Vw[:6]
        P_d = D.numpy().T @ D.numpy()
        np.testing.assert_allclose(P_w, P_d, atol=1e-12)
        np.testing.assert_allclose(out.numpy(), proj.output_directions().numpy(), atol=1e-12)


@pytest.mark.parametrize("in_f,out_f,rank", [(30, 20, 5), (8, 40, 8), (16, 16, 3)])
def test_from_linear_reproduces_top_subspace(in_f, out_f, rank):
    torch.manual_seed(rank)
    lin = nn.Linear(in_f, out_f).double()
    proj = HouseholderProjector.from_linear(lin, rank)
    U, s, Vh = np.linalg.svd(lin.weight.detach().numpy())
    target = U[:, :rank] @ Vh[:rank]
    np.testing.assert_allclose(proj.weight.detach().numpy(), target, atol=1e-10)
    D = proj.directions().detach().numpy()
    np.testing.assert_allclose(D.T @ D, Vh[:rank].T @ Vh[:rank], atol=1e-10)
    np.testing.assert_allclose(proj.bias.detach().numpy(), lin.bias.detach().numpy())


def test_vectors_from_frame_handles_an_axis_aligned_column():
    frame = torch.eye(5, 3, dtype=torch.float64)[:, [1, 0, 2]]
    frame[:, 2] = -frame[:, 2]
    vec, signs = householder_vectors_from_frame(frame)
    Q = householder_product(vec, columns=3)
    np.testing.assert_allclose((Q * signs).numpy(), frame.numpy(), atol=1e-12)


def test_bad_projector_arguments_raise():
    with pytest.raises(ValueError, match="rank"):
        HouseholderProjector(10, 4, 5)
    with pytest.raises(ValueError, match="rank"):
        HouseholderProjector(10, 4, 0)
    with pytest.raises(ValueError, match="in_features"):
        HouseholderProjector(0, 4, 1)
    with pytest.raises(TypeError, match="out_features"):
        HouseholderProjector(3, 4.5, 1)
    with pytest.raises(ValueError, match="rank"):
        HouseholderProjector.from_linear(nn.Linear(3, 2), 3)
    with pytest.raises(TypeError, match="linear"):
        HouseholderProjector.from_linear(nn.Conv1d(3, 2, 1), 1)


def test_training_only_the_reflectors_keeps_the_layer_orthogonal():
    torch.manual_seed(0)
    model = nn.Sequential(HouseholderProjector(6, 10, 3, bias=True), nn.Tanh(), nn.Linear(10, 2))
    params = train_only_reflectors(model)
    assert {id(p) for p in params} == {id(model[0].u_vectors), id(model[0].v_vectors)}
    frozen = model[2].weight.detach().clone()
    opt = torch.optim.SGD(params, lr=0.5)
    before = model[0].weight.detach().clone()
    for _ in range(5):
        loss = model(torch.randn(16, 6)).pow(2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert not torch.allclose(model[0].weight, before)
    assert torch.equal(model[2].weight, frozen)
    assert orthogonality_error(model[0].weight.detach()) < 1e-5
    with pytest.raises(ValueError, match="model"):
        train_only_reflectors(nn.Linear(2, 2))


def test_sefa_matches_an_independent_eigendecomposition():
    rng = np.random.default_rng(7)
    W = rng.normal(size=(40, 12)) * rng.uniform(0.1, 5, size=(40, 1))
    dirs, vals = sefa_directions(W, 5, return_values=True)
    assert dirs.shape == (5, 12)
    Wn = W / np.linalg.norm(W, axis=1, keepdims=True)
    ev, evec = np.linalg.eig(Wn.T @ Wn)  # general solver, not eigh
    order = np.argsort(-ev.real)[:5]
    np.testing.assert_allclose(vals.numpy(), ev.real[order], rtol=1e-10)
    for i, j in enumerate(order):
        assert abs(abs(float(dirs[i].numpy() @ evec[:, j].real)) - 1.0) < 1e-8
    # row-scaling invariance: SeFa normalises every output unit first
    scaled = sefa_directions(W * rng.uniform(0.5, 3, size=(40, 1)), 5)
    np.testing.assert_allclose(np.abs(scaled.numpy()), np.abs(dirs.numpy()), atol=1e-10)
    with pytest.raises(ValueError, match="k"):
        sefa_directions(W, 13)
    with pytest.raises(ValueError, match="weight"):
        sefa_directions(np.ones(5), 1)


def test_ganspace_recovers_the_dominant_input_direction():
    torch.manual_seed(1)
    lin = nn.Linear(6, 30, bias=False).double()
    with torch.no_grad():  # one input direction with far more gain than the others
        U, _, Vh = torch.linalg.svd(lin.weight, full_matrices=False)
        lin.weight.copy_(U @ torch.diag(torch.tensor([10.0, 3, 1, 0.5, 0.2, 0.1], dtype=torch.float64)) @ Vh)
    dirs, var = ganspace_directions(lin, 2, n_samples=20000, seed=3, return_values=True)
    assert dirs.shape == (2, 6)
    assert abs(float(dirs[0] @ Vh[0])) > 0.99
    assert abs(float(dirs[1] @ Vh[1])) > 0.95
    assert var[0] > var[1]


def test_random_directions_are_orthonormal_and_seeded():
    a, b = random_directions(9, 4, seed=1), random_directions(9, 4, seed=1)
    assert torch.equal(a, b)
    np.testing.assert_allclose((a @ a.T).numpy(), np.eye(4), atol=1e-6)
    assert not torch.allclose(a, random_directions(9, 4, seed=2))


def test_any_model_by_dotted_name():
    torch.manual_seed(0)
    model = nn.Sequential()
    model.add_module("mapping", nn.Sequential(nn.Linear(8, 16), nn.ReLU()))
    model.add_module("head", nn.Linear(16, 3))
    dirs, vals = layer_directions(model, "mapping.0", "sefa", 4)
    assert dirs.shape == (4, 8) and torch.all(vals[:-1] >= vals[1:])
    W = model.mapping[0].weight.detach().clone()
    proj = swap_for_projector(model, "mapping.0", 4)
    assert model.mapping[0] is proj
    U, _, Vh = np.linalg.svd(W.numpy())
    np.testing.assert_allclose(proj.weight.detach().numpy(), U[:, :4] @ Vh[:4], atol=1e-5)
    hdirs, hvals = layer_directions(model, "mapping.0", "householder", 4)
    np.testing.assert_allclose(hdirs.numpy(), proj.directions().detach().numpy())
    assert model(torch.randn(2, 8)).shape == (2, 3)
    with pytest.raises(ValueError, match="mapping.0"):
        layer_directions(model, "nope", "sefa", 2)
    with pytest.raises(ValueError, match="method"):
        layer_directions(model, "head", "magic", 2)
    with pytest.raises(ValueError, match="householder"):
        layer_directions(model, "head", "householder", 2)
