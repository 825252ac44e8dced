"""Bad input to the public API of the four studies is refused with a named message.

One case per failure class the fuzzing of the public API found: raw library errors (an
IndexError, a LinAlgError, torch's own message), sizes that would allocate before anyone
looked, values silently accepted (a string taken as a boolean, NaN settings, complex
numbers, empty arrays) and NaN passed silently through. Each case must raise a ValueError
or TypeError whose message names the argument, and nothing else.
"""

import math

import numpy as np
import pytest
import torch

import lab.alignment as la
import lab.householder as lh
import lab.odis as lo
import lab.threephase as lt


def _tiny_model():
    return lt.Transformer(lt.ModelConfig(vocab_size=50, d_model=24, n_layers=2, n_heads=6, n_kv_heads=3, d_ff=32,
                                         max_seq_len=16))


def _planted(n=80, d=6, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    return x, x @ np.linalg.qr(rng.standard_normal((d, d)))[0]


def _fitted_aligner():
    x, y = _planted()
    return la.ProcrustesAligner().fit(x, y)


def _data():
    x, y = _planted(120)
    return la.from_arrays(x, y, name="planted")


CASES = {
    # threephase: raw library errors
    "token id >= vocab": (lambda: _tiny_model()(torch.tensor([[1, 2, 50]])), "idx"),
    "negative token id": (lambda: _tiny_model()(torch.tensor([[1, -1]])), "idx"),
    "float targets": (lambda: _tiny_model()(torch.tensor([[1, 2]]), torch.tensor([[1.0, 2.0]])), "targets"),
    "numpy targets": (lambda: _tiny_model()(torch.tensor([[1, 2]]), np.array([[1, 2]])), "targets"),
    "garbage tokenizer json": (lambda: lt.tokenizer_from_json("not json at all"), "text"),
    "tokenizer json of a list": (lambda: lt.tokenizer_from_json("[1, 2]"), "text"),
    # threephase: silently accepted
    "three_phase as a string": (lambda: lt.ModelConfig(three_phase="no").validate(), "three_phase"),
    "rope_base NaN": (lambda: lt.ModelConfig(rope_base=float("nan")).validate(), "rope_base"),
    "norm_eps negative": (lambda: lt.ModelConfig(norm_eps=-1.0).validate(), "norm_eps"),
    "lr infinite": (lambda: lt.TrainConfig(lr=math.inf).validate(), "lr"),
    "theta NaN": (lambda: lt.phase_rotate(torch.zeros(2, 12), torch.full((2,), float("nan")), 3), "theta"),
    # threephase: sizes that would allocate
    "vocabulary of 10^10": (lambda: lt.ModelConfig(vocab_size=10**10).validate(), "vocab_size"),
    "a million layers": (lambda: lt.ModelConfig(n_layers=10**6).validate(), "n_layers"),
    "batch of 10^7": (lambda: lt.TrainConfig(batch_size=10**7).validate(), "batch_size"),
    # householder
    "float16 reflectors": (lambda: lh.householder_product(torch.randn(8, 3).half()), "V"),
    "int input to the projector": (lambda: lh.HouseholderProjector(8, 4, 2)(torch.ones(3, 8, dtype=torch.long)), "x"),
    "0-D input to the projector": (lambda: lh.HouseholderProjector(8, 4, 2)(torch.tensor(1.0)), "x"),
    "wrong width to the projector": (lambda: lh.HouseholderProjector(8, 4, 2)(torch.ones(3, 7)), "x"),
    "NaN weights to from_linear": (lambda: lh.HouseholderProjector.from_linear(_nan_linear(), 2), "linear"),
    "projector of 60,000 x 60,000": (lambda: lh.HouseholderProjector(60_000, 60_000, 4), "in_features"),
    "latents of the wrong width": (lambda: lh.ganspace_directions(torch.nn.Linear(8, 16), 2,
                                                                   latents=torch.randn(100, 5)), "latents"),
    "factors out of range": (lambda: lh.render(torch.tensor([[9.0, 0.5, 0.5, 0.5, 0.5, 0.5]])), "factors"),
    "NaN sensitivity": (lambda: lh.purity(np.array([[np.nan, 1.0], [0.5, 0.5]])), "sensitivity"),
    "NaN codes to mig": (lambda: lh.mig(np.full((20, 2), np.nan), np.random.default_rng(0).random((20, 6))), "codes"),
    "mismatched rows in sap": (lambda: lh.sap(np.random.default_rng(0).random((20, 2)),
                                              np.random.default_rng(1).random((19, 6))), "codes"),
    # alignment
    "dtype given as a string": (lambda: la.ProcrustesAligner(dtype="float32").fit(*_planted()), "dtype"),
    "center given as a string": (lambda: la.ProcrustesAligner(center="yes").fit(*_planted()), "center"),
    "complex input": (lambda: la.ProcrustesAligner().fit(*(a.astype(complex) for a in _planted())), "X"),
    "(n, 0) arrays": (lambda: la.ProcrustesAligner().fit(np.ones((10, 0)), np.ones((10, 0))), "X"),
    "NaN rows to transform": (lambda: _fitted_aligner().transform(np.full((3, 6), np.nan)), "X"),
    "NaN query labels": (lambda: la.retrieval_top1(np.eye(3), np.eye(3), query_labels=[0, np.nan, 1],
                                                   gallery_labels=[0, 1, 2]), "query_labels"),
    "None labels": (lambda: la.retrieval_top1(np.eye(3), np.eye(3), query_labels=[0, None, 1],
                                              gallery_labels=[0, 1, 2]), "query_labels"),
    "no data": (lambda: la.run_alignment(None), "data"),
    "NaN to project_2d": (lambda: la.project_2d(np.full((5, 3), np.nan), np.zeros((5, 3)), np.zeros((5, 3))),
                          "before"),
    # odis
    "negative indices in a selection": (lambda: lo.overlap_matrix({0: np.array([0, 1]), 1: np.array([-1, 2])}),
                                        "selections"),
    "float indices in a selection": (lambda: lo.overlap_matrix({0: np.array([0.5, 1.0]), 1: np.array([1, 2])}),
                                     "selections"),
    "2-D selection": (lambda: lo.overlap_matrix({0: np.array([[0, 1]]), 1: np.array([1, 2])}), "selections"),
}


def _nan_linear():
    layer = torch.nn.Linear(8, 4)
    with torch.no_grad():
        layer.weight[0, 0] = float("nan")
    return layer


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_refused_with_a_named_message(case):
    call, argument = CASES[case]
    with pytest.raises((ValueError, TypeError)) as exc:
        call()
    assert type(exc.value).__module__.split(".")[0] in ("builtins", "lab"), \
        f"{case}: a raw {type(exc.value).__module__}.{type(exc.value).__name__} came back: {exc.value}"
    assert str(exc.value).startswith(f"{argument}") or f"{argument}:" in str(exc.value), \
        f"{case}: the message does not name {argument!r}: {exc.value}"


def test_a_registered_scorers_own_error_is_named():
    def broken(texts):
        raise ZeroDivisionError("the scorer's own bug")

    lo.register_scorer("broken_for_test", broken)
    try:
        with pytest.raises(ValueError, match="dimensions: scorer 'broken_for_test' failed: ZeroDivisionError"):
            lo.score_dimensions(["a short text.", "another one."], dimensions=["broken_for_test"])
    finally:
        lo.unregister_scorer("broken_for_test")


def test_half_precision_input_fits_procrustes_in_float32():
    x, y = _planted()
    aligner = la.ProcrustesAligner().fit(torch.from_numpy(x).half(), torch.from_numpy(y).half())
    assert aligner.rotation_.dtype == torch.float32
    assert la.orthogonality_error(aligner.rotation_) < 1e-4


def test_good_input_still_passes_every_new_check():
    # The checks refuse what they should and nothing more: the valid neighbours of the cases.
    lt.ModelConfig(three_phase=False, rope_base=500.0, norm_eps=0.0).validate()
    lt.TrainConfig(lr=1e-3, batch_size=64).validate()
    model = _tiny_model()
    logits, loss = model(torch.tensor([[0, 49]]), torch.tensor([[49, 0]]))
    assert logits.shape == (1, 2, 50) and torch.isfinite(loss)
    assert la.retrieval_top1(np.eye(3), np.eye(3), query_labels=["a", "b", "c"], gallery_labels=["a", "b", "c"]) == 1.0
    assert lo.overlap_matrix({0: np.array([0, 1]), 1: np.array([], dtype=int)}).shape == (2, 2)
    assert lh.render(torch.tensor([[2.0, 0.5, 5.0, 0.2, -0.2, 3.0]])).shape == (1, 3, 32, 32)
