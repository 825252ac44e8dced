"""Property tests: whatever garbage reaches a public entry point, the answer is a named refusal.

For each entry point, one argument is replaced by a value drawn from the failure classes the
fuzzing found (None, strings, booleans, huge or negative numbers, NaN and infinity, complex
and empty arrays, ragged lists, arrays of the wrong rank). The call must either succeed with
finite output or raise a ValueError/TypeError that names an argument; any other exception
(IndexError, RuntimeError, LinAlgError, ...) or a NaN result fails the property.
"""

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lab.alignment as la
import lab.householder as lh
import lab.odis as lo
import lab.threephase as lt

_arrays = st.one_of(
    st.sampled_from([np.zeros((0, 3)), np.zeros((3, 0)), np.zeros(0), np.full((4, 3), np.nan), np.full((4, 3), np.inf),
                     np.ones((4, 3)) * (1 + 1j), np.ones((2, 2, 2)), np.array(5.0), np.ones((4, 3), dtype=object)]),
    st.integers(1, 6).flatmap(lambda n: st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=n,
                                                 max_size=n).map(lambda v: np.array(v).reshape(-1, 1))),
)
GARBAGE = st.one_of(
    st.none(), st.booleans(), st.text(max_size=8), st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True), st.lists(st.text(max_size=3), max_size=3),
    st.lists(st.lists(st.integers(0, 3), max_size=3), max_size=3), st.dictionaries(st.text(max_size=2), st.none()),
    _arrays,
)


def _good():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20, 4))
    return x, x @ np.linalg.qr(rng.standard_normal((4, 4)))[0]


ENTRY_POINTS = {
    "ProcrustesAligner.fit X": lambda g: la.ProcrustesAligner().fit(g, _good()[1]),
    "ProcrustesAligner.fit Y": lambda g: la.ProcrustesAligner().fit(_good()[0], g),
    "ProcrustesAligner.transform": lambda g: la.ProcrustesAligner().fit(*_good()).transform(g),
    "linear_cka": lambda g: la.linear_cka(g, _good()[1]),
    "retrieval_top1": lambda g: la.retrieval_top1(g, _good()[1]),
    "householder_product": lambda g: lh.householder_product(g),
    # purity is NaN, by its definition, for a direction that moves no factor (an all-zero row)
    "purity": lambda g: np.nan_to_num(lh.purity(g), nan=0.0),
    "phase_rotate x": lambda g: lt.phase_rotate(g, torch.zeros(1), 2),
    "phase_rotate theta": lambda g: lt.phase_rotate(torch.zeros(3, 4), g, 2),
    "OrthogonalSelector.fit": lambda g: lo.OrthogonalSelector(2).fit(g),
    "overlap_matrix": lambda g: lo.overlap_matrix({0: g, 1: np.array([0, 1])}),
}


def _finite(result) -> bool:
    if isinstance(result, torch.Tensor):
        return bool(torch.isfinite(result).all())
    if isinstance(result, np.ndarray) and result.dtype.kind in "fc":
        return bool(np.isfinite(result).all())
    if isinstance(result, float):
        return np.isfinite(result)
    return True


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(garbage=GARBAGE)
def test_garbage_is_refused_by_name_or_handled_finitely(entry, garbage):
    try:
        result = ENTRY_POINTS[entry](garbage)
    except (ValueError, TypeError) as exc:
        assert ":" in str(exc), f"{entry}: a refusal that names nothing: {exc!r}"
        assert type(exc).__module__.split(".")[0] in ("builtins", "lab"), f"{entry}: raw library error {exc!r}"
        return
    if isinstance(result, la.ProcrustesAligner):
        result = result.rotation_
    assert _finite(result), f"{entry}: returned NaN or infinity for {garbage!r}"
