"""The alignment experiments: fit a map on anchors, score it before and after, sweep anchors.

All functions take an :class:`~lab.alignment.sources.AlignmentData` and return plain data
(DataFrames, numpy arrays, dataclasses) for scripts, notebooks and the dashboard. Every
setting an experiment, the page or a script uses by default is a named entry of
:data:`PRESETS`.

Protocol (following the paper, in miniature):

- Anchors are the training rows of ``n_anchor_classes`` classes picked at random (seeded);
  without labels, ``n_anchor_classes`` counts anchor rows instead.
- The map is fitted on the first modality only (images), mapping space A into space B.
- Scores are computed on evaluation rows (never anchors): image retrieval at instance and
  class level, the same map applied to the second modality (text retrieval), cross-model
  zero-shot (B's images against A's captions carried into B by the map), mean cosine, CKA.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from dataclasses import asdict, dataclass, replace
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
import torch

from lab.alignment.maps import MAP_TYPES, ProcrustesAligner, make_aligner, orthogonality_error
from lab.alignment.sources import AlignmentData, load_shipped
from lab.alignment.training import PairConfig, train_pair
from lab.checks import check_bool, check_int
from lab.device import to_numpy
from lab.paths import study_dir
from lab.progress import Progress, ShouldStop, resolve, scaled
from lab.runs import Run

__all__ = [
    "PRESETS",
    "comparison_size",
    "default_anchor_count",
    "AlignmentResult",
    "select_anchors",
    "run_alignment",
    "compare_maps",
    "anchor_curve",
    "anchor_sweep",
    "shipped_sweep",
    "shared_shipped",
    "shared_alignment",
    "cached_alignment",
    "is_shared",
    "retrain_pair",
    "project_2d",
    "anchor_range",
    "PROJECTIONS",
]

PROJECTIONS = ("pca", "umap")

PRESETS: dict[str, Any] = {
    # The shipped toy-CLIP pair (scripts/make_alignment_data.py, `ortholab train alignment`).
    "shipped-pair": PairConfig(),
    # Small enough for the notebook smoke run and the page's retrain button on a busy CPU.
    "smoke-pair": PairConfig(n_train=1500, n_eval=600, steps=120),
    # The map comparison on held-out classes: at most `max_classes` anchor classes (and at most
    # 1/class_divisor of them, so enough classes stay held out); without labels, rows_per_dim x d rows.
    "compare": {"max_classes": 5, "class_divisor": 3, "rows_per_dim": 2, "seeds": (0, 1, 2),
                "map_types": MAP_TYPES},
    # The anchor-count curve: seeds and maps at each of about n_counts geometrically spaced counts.
    "curve": {"seeds": (0, 1, 2), "map_types": ("orthogonal", "linear", "ridge"), "n_counts": 8},
    # scripts/alignment_encoders_report.py: the real encoder pairs' anchor curves (anchor rows, up to the
    # whole pool), maps and calibration settings.
    "encoder-report": {"seeds": 3, "counts": (25, 50, 100, 200, 300, 400, 600, 800), "maps": ("orthogonal", "linear",
                                                                                               "ridge"),
                       "calibration": {"n_permutations": 200, "n_bootstrap": 200, "seed": 0}},
    # The calibrated scores (lab.alignment.calibrate): shuffles of B's rows, resamples of the items.
    "calibration": {"n_permutations": 100, "n_bootstrap": 100, "seed": 0},
    # Every score is computed on at most this many evaluation rows (Note [scoring cap]).
    "scoring": {"max_rows": 2048},
    # The dashboard page: its data sources (page label -> shipped artifact, see sources.SHIPPED),
    # the anchor count it starts with (10 classes, or 2 x d rows for unlabelled data), and the
    # pair its retrain button trains (the page sets the steps, at most those of the shipped pair).
    "page": {
        "sources": {
            "Toy CLIPs on drawn shapes": "toyclip",
            "MiniLM vs e5: two text encoders (384 / 384)": "minilm_e5",
            "MiniLM vs WordLlama: two text encoders (384 / 256)": "minilm_wordllama",
            "e5 vs WordLlama: two text encoders (384 / 256)": "e5_wordllama",
            "MiniLM: sentence embedding vs layer 3": "minilm_layer3",
            "MiniLM: sentence embedding vs layer 1": "minilm_layer1",
        },
        "anchor_classes": 10,
        "rows_per_dim": 2,
        "retrain": "smoke-pair",
    },
    # scripts/alignment_experiments.py: the report's numbers over `seeds` anchor seeds.
    "report": {
        "seeds": 5,
        "anchor_classes": 10,
        "compare_classes": (3, 5, 10),
        "curve_counts": (1, 2, 3, 5, 8, 10, 15, 20, 30),
        "minilm_sources": ("minilm_layer3", "minilm_layer1"),
        "minilm_maps": ("orthogonal", "linear"),
        "minilm_classes": (2, 5, 10, 20, 30),
    },
    # scripts/make_alignment_data.py --only minilm: standard-library docstrings of the n_classes most
    # frequent packages (those with at least min_per_class), per_class each, cut to max_chars,
    # embedded by MiniLM (final sentence embedding and the mean-pooled states of `layers`).
    "minilm-data": {"n_classes": 30, "per_class": 40, "min_per_class": 12, "min_chars": 200, "max_chars": 400,
                    "layers": (1, 3)},
    # scripts/make_alignment_encoders.py: every distinct standard-library document (lab.alignment.encoder_corpus),
    # embedded by each packaged encoder; half of them (seeded) may serve as anchors.
    "encoders-data": {"encoders": ("minilm", "e5", "wordllama"), "min_chars": 200, "max_chars": 400, "seed": 0},
}


def anchor_range(data: AlignmentData) -> tuple[int, int, str]:
    """(smallest, largest) sensible anchor count and its unit ('classes' or 'rows')."""
    if data.labels is not None and data.n_classes >= 2:
        return 1, data.n_classes, "classes"
    return 2, int(data.train_mask.sum()), "rows"


def comparison_size(data: AlignmentData) -> int:
    """The anchor count of the held-out map comparison (PRESETS["compare"]) for ``data``."""
    lo, hi, unit = anchor_range(data)
    c = PRESETS["compare"]
    if unit == "classes":
        return max(lo, min(c["max_classes"], hi // c["class_divisor"]))
    return max(lo, min(hi, c["rows_per_dim"] * data.dim))


def default_anchor_count(data: AlignmentData, current: int | None = None) -> int:
    """The page's anchor count for ``data``: ``current`` classes kept when labelled, else 2 x d rows."""
    lo, hi, unit = anchor_range(data)
    page = PRESETS["page"]
    wanted = (current if current is not None else page["anchor_classes"]) if unit == "classes" \
        else page["rows_per_dim"] * data.dim
    return int(min(max(wanted, lo), hi))


def select_anchors(data: AlignmentData, n_anchor_classes: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(anchor row indices, chosen class ids) from the training rows; classes empty without labels."""
    lo, hi, unit = anchor_range(data)
    k = check_int("n_anchor_classes", n_anchor_classes, lo=lo, hi=hi)
    rng = np.random.default_rng(seed)
    train = data.train_rows()
    if unit == "rows":
        return np.sort(rng.choice(train, size=k, replace=False)), np.array([], dtype=np.int64)
    classes = np.unique(data.labels[train])
    chosen = np.sort(rng.choice(classes, size=k, replace=False))
    rows = train[np.isin(data.labels[train], chosen)]
    return rows, chosen


@dataclass
class AlignmentResult:
    """One fitted map and its before/after scores."""

    metrics: pd.DataFrame  # columns: metric, modality, before, after (one row per score)
    aligner: Any  # the fitted ProcrustesAligner / LinearMapAligner / MLPAligner
    map_type: str
    anchors: np.ndarray  # (n_anchors,) row indices the map was fitted on
    anchor_classes: np.ndarray  # class ids of the anchors (empty without labels)
    eval_rows: np.ndarray  # (n_eval,) rows scored (never anchors)
    x_after: np.ndarray  # (n_eval, d) space-A rows of eval_rows carried into space B
    x2_after: np.ndarray | None  # (m, d) second modality of space A carried into space B (rows2 of it)
    singular_values: np.ndarray  # singular values of Xc^T Yc on the anchors, descending
    orthogonality_error: float  # ||M^T M - I||_F of the map's linear part
    n_eval_total: int = 0  # evaluation rows there were; eval_rows is a seeded sample when fewer
    rows2: np.ndarray | None = None  # (m,) second-modality rows scored (a seeded sample of x2 when capped)
    # The rows exactly as scored (normalised if asked, in the scoring frame): what figures and
    # calibrated scores read, so they never mix frames.
    x_before: np.ndarray | None = None  # (n_eval, d_x) space A before the map
    y_target: np.ndarray | None = None  # (n_eval, d_y) space B
    y2_target: np.ndarray | None = None  # (m, d_y) space B's second modality
    scored: AlignmentData | None = None  # the pair the scores were computed on (normalised when asked)
    source: AlignmentData | None = None  # the pair as given


def _or_nan(fn: Callable[..., float], *args: Any) -> float:
    """A score that is undefined for these inputs (e.g. a collapsed space) becomes NaN."""
    try:
        return fn(*args)
    except ValueError:
        return float("nan")


def _capped(rows: np.ndarray, seed: int) -> np.ndarray:
    """``rows``, or a seeded sorted sample of PRESETS["scoring"]["max_rows"] of them.

    Note [scoring cap]: some scores build (n, n) matrices (unbiased CKA, mutual k-NN), so a
    large upload would need gigabytes per control change; scoring a fixed sample keeps every
    score's cost bounded, and the result says how many rows it was computed on.
    """
    limit = PRESETS["scoring"]["max_rows"]
    if rows.size <= limit:
        return rows
    return np.sort(np.random.default_rng(seed).choice(rows, size=limit, replace=False))


def _unit(z: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (as torch.nn.functional.normalize: norms floored at 1e-12)."""
    return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)


def _hsic(A: np.ndarray, B: np.ndarray, a: np.ndarray, b: np.ndarray, n: int) -> float:
    """The unbiased HSIC of linear kernels A Aᵀ and B Bᵀ in feature space, O(n d²), no (n, n) kernel.

    Note [unbiased HSIC] in metrics, term by term with K̃ = K - diag(K) and a = diag(K):
    tr(K̃ L̃) = ‖AᵀB‖² - a·b, 1ᵀK̃1 = ‖Aᵀ1‖² - Σa, K̃1 = A(Aᵀ1) - a.
    """
    sa, sb = A.sum(0), B.sum(0)
    t1 = float(np.sum((A.T @ B) ** 2) - a @ b)
    t2 = (float(sa @ sa) - a.sum()) * (float(sb @ sb) - b.sum()) / ((n - 1) * (n - 2))
    t3 = 2.0 / (n - 2) * float((A @ sa - a) @ (B @ sb - b))
    return (t1 + t2 - t3) / (n * (n - 3))


def _knn_sets(z: np.ndarray, k: int) -> np.ndarray:
    """(n, k) the k most cosine-similar other rows of each row (as a set: order not kept)."""
    u = _unit(z)
    sims = u @ u.T  # (n, n)
    np.fill_diagonal(sims, -np.inf)
    return np.argpartition(-sims, k - 1, axis=1)[:, :k]


def _top1(queries: np.ndarray, gallery: np.ndarray) -> np.ndarray:
    """(n_q,) index of each query's cosine-nearest gallery row (the lower index on ties)."""
    return np.argmax(_unit(queries) @ _unit(gallery).T, axis=1)  # (n_q, n_g) once; a capped size


def _retrieval(queries: np.ndarray, gallery: np.ndarray, query_labels: np.ndarray | None = None,
               gallery_labels: np.ndarray | None = None, nn: np.ndarray | None = None) -> float:
    """:func:`~lab.alignment.metrics.retrieval_top1` on the host, for the scores of one fit.

    ``nn``: the queries' nearest gallery rows when already known (instance and class
    retrieval of the same rows share one search).
    """
    nn = _top1(queries, gallery) if nn is None else nn
    if query_labels is None:
        return float(np.mean(nn == np.arange(len(queries))))
    return float(np.mean(gallery_labels[nn] == query_labels))


def _cosine(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.sum(_unit(x) * _unit(y), axis=1)))


def _linear_cka(X: np.ndarray, Y: np.ndarray) -> float:
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    norm_x, norm_y = np.linalg.norm(Xc.T @ Xc), np.linalg.norm(Yc.T @ Yc)
    if norm_x == 0 or norm_y == 0:
        raise ValueError("X, Y: linear CKA is undefined when a side is constant (all rows equal)")
    return float(np.linalg.norm(Yc.T @ Xc) ** 2 / (norm_x * norm_y))


class _Side:
    """What the scores of one set of scored rows need from space B, computed once per rows and frame.

    Note [scores that do not depend on the map]: every fit of a pair scores the same rows
    (unless the anchor seed changes a capped sample), and half of each score is space B's
    part: its unit rows, its self-HSIC (unbiased CKA), its k nearest neighbours (mutual
    k-NN), and all the "before" scores. They are kept per (pair, rows, scoring frame), so
    moving a control recomputes only the map's side. (In the centred frame the frame is the
    anchors' mean of B, so a new anchor set is a new side.) The scores of one fit are
    computed on the host in numpy (CKA in float64); :mod:`lab.alignment.metrics` are the
    reference they are tested against.
    """

    def __init__(self, data: AlignmentData, yb: np.ndarray) -> None:
        self.data_ref = weakref.ref(data)
        self.yb = np.asarray(yb, dtype=np.float32)
        self.n = int(len(yb))
        self.k = min(10, self.n - 1)
        self.before: list[tuple] | None = None
        self._y64: tuple[np.ndarray, np.ndarray, float] | None = None
        self._ny: np.ndarray | None = None

    def y64(self) -> tuple[np.ndarray, np.ndarray, float]:
        """(Y, its row norms², HSIC(L, L)) in float64 (unbiased CKA's own-side part)."""
        if self._y64 is None:
            Y = self.yb.astype(np.float64)
            b = np.einsum("ij,ij->i", Y, Y)
            self._y64 = (Y, b, _hsic(Y, Y, b, b, self.n))
        return self._y64

    def neighbours(self) -> np.ndarray:
        """(n, k) nearest neighbours of each row of space B within space B (mutual k-NN's own side)."""
        if self._ny is None:
            self._ny = _knn_sets(self.yb, self.k)
        return self._ny

    def unbiased_cka(self, xa: np.ndarray) -> float:
        X = xa.astype(np.float64)
        a = np.einsum("ij,ij->i", X, X)
        Y, b, hyy = self.y64()
        hxx = _hsic(X, X, a, a, self.n)
        if not np.isfinite(hxx * hyy) or hxx * hyy <= 0:
            raise ValueError("X, Y: unbiased CKA is undefined here (a side has no variance the estimator can see)")
        return float(_hsic(X, Y, a, b, self.n) / np.sqrt(hxx * hyy))

    def knn_overlap(self, xa: np.ndarray) -> np.ndarray:
        """(n,) the fraction of each row's k nearest neighbours in A that are also its neighbours in B."""
        nx, ny = _knn_sets(xa, self.k), self.neighbours()
        return (nx[:, :, None] == ny[:, None, :]).any(axis=2).sum(axis=1) / self.k

    def mutual_knn(self, xa: np.ndarray) -> float:
        return float(self.knn_overlap(xa).mean())


_SIDES: "OrderedDict[tuple, _Side]" = OrderedDict()
_SIDES_MAX = 16
_SIDES_LOCK = threading.Lock()


def _key(a: np.ndarray | None) -> tuple | None:
    return None if a is None else (hash(np.ascontiguousarray(a).tobytes()), a.shape)


def _side(data: AlignmentData, rows: np.ndarray, rows2: np.ndarray | None, frame: "_Frame") -> _Side:
    """The cached :class:`_Side` of ``data`` for these scored rows in this frame (a fresh one otherwise)."""
    key = (id(data), _key(rows), _key(rows2), frame.key)
    with _SIDES_LOCK:
        side = _SIDES.get(key)
        if side is not None and side.data_ref() is data:
            _SIDES.move_to_end(key)
            return side
        side = _SIDES[key] = _Side(data, data.y[rows] - frame.oy)
        while len(_SIDES) > _SIDES_MAX:
            _SIDES.popitem(last=False)
        return side


@dataclass(frozen=True)
class _Frame:
    """Where scores are computed: offsets subtracted from each side before comparing rows.

    Note [centred scoring]: the map returns (x - mu_x) R + mu_y. Scored there, cosine
    similarities of anisotropic encoders (mean pairwise cosine 0.8 for e5) are dominated by
    the shared mu_y, and retrieval suffers; scored in the centred frame, (x - mu_x) R is
    compared with y - mu_y (both with the anchors' means). ``centered_scoring=False`` keeps
    the raw frame; the "before" scores use the same frame (x - mu_x against y - mu_y).
    """

    ox: np.ndarray  # (d_x,) subtracted from raw space-A rows (before)
    oy: np.ndarray  # (d_y,) subtracted from space-B rows and from mapped rows
    ox2: np.ndarray | None = None  # the same for the second modality
    oy2: np.ndarray | None = None

    @property
    def key(self) -> tuple:
        return (_key(self.oy), _key(self.oy2))


def _score_rows(data: AlignmentData, xa: np.ndarray | None, x2a: np.ndarray | None, rows: np.ndarray,
                rows2: np.ndarray | None, side: _Side, frame: _Frame) -> list[tuple]:
    """(metric, modality, value) for space-A rows ``xa`` already in the scoring frame of B.

    ``xa`` None means the rows cannot be compared with B's (different widths, before any
    map): the scores that pair raw rows are NaN, the ones within each space (CKA, mutual
    k-NN) are still defined.
    """
    m1, m2 = data.modalities
    yb = side.yb
    nan = float("nan")
    comparable = xa is not None and xa.shape[1] == yb.shape[1]
    if xa is None:
        xa = data.x[rows] - frame.ox  # for the scores within each space
    xa = np.asarray(xa, dtype=np.float32)
    if not np.isfinite(xa).all():
        raise ValueError("x: the mapped rows contain NaN or infinite values; the map diverged")
    nn = _top1(xa, yb) if comparable else None  # (n,) one search for every retrieval score
    groups = data.groups[rows] if data.groups is not None else None
    if comparable and groups is not None:
        # Note [well-posed retrieval]: an item that shares its group (caption) with another scored
        # item cannot be told apart from it at instance level; instance top-1 is scored on the
        # unique ones only, and same-group top-1 on all.
        _, inv, counts = np.unique(groups, return_inverse=True, return_counts=True)
        unique = counts[inv] == 1
        instance = float(np.mean(nn[unique] == np.flatnonzero(unique))) if unique.any() else nan
    else:
        instance = _retrieval(xa, yb, nn=nn) if comparable else nan
    out = [("retrieval top-1 (instance)", m1, instance)]
    if groups is not None:
        out.append(("retrieval top-1 (same caption)", m1, _retrieval(xa, yb, groups, groups, nn=nn) if comparable
                    else nan))
    if data.labels is not None:
        lab = data.labels[rows]
        out.append(("retrieval top-1 (class)", m1, _retrieval(xa, yb, lab, lab, nn=nn) if comparable else nan))
    out += [
        ("mean cosine", m1, _cosine(xa, yb) if comparable else nan),
        ("linear CKA", m1, _linear_cka(xa.astype(np.float64), yb.astype(np.float64))),
    ]
    if len(rows) >= 5:
        out.append(("unbiased CKA", m1, _or_nan(side.unbiased_cka, xa)))
        out.append(("mutual 10-NN overlap", m1, side.mutual_knn(xa)))
    if data.has_second:
        rows2 = np.arange(len(data.y2)) if rows2 is None else rows2
        y2 = np.asarray(data.y2[rows2] - frame.oy2, dtype=np.float32)
        ok2 = x2a is not None and x2a.shape[1] == y2.shape[1]
        x2a = np.asarray(x2a, dtype=np.float32) if ok2 else None
        out += [
            ("retrieval top-1 (instance)", m2, _retrieval(x2a, y2) if ok2 else nan),
            ("mean cosine", m2, _cosine(x2a, y2) if ok2 else nan),
        ]
        if data.labels is not None and data.labels2 is not None:
            # Cross-model zero-shot: model B's images against model A's captions (in B's frame).
            zs = _retrieval(yb, x2a, data.labels[rows], data.labels2[rows2]) if ok2 else nan
            out.append((f"zero-shot: B {m1} vs A {m2}", m1, zs))
    return out


_NORMALIZED: "OrderedDict[int, tuple[Any, AlignmentData]]" = OrderedDict()


def normalized(data: AlignmentData) -> AlignmentData:
    """``data`` with every row of every space L2-normalised (memoised per pair while it lives).

    The paper's first step for contrastive embeddings; also what makes encoders with very
    different output norms (WordLlama's rows have norm 5-7, MiniLM's and e5's 1) comparable.
    """
    with _SIDES_LOCK:
        hit = _NORMALIZED.get(id(data))
        if hit is not None and hit[0]() is data:
            return hit[1]
    unit = {k: _read_only(_unit(getattr(data, k).astype(np.float32)))
            for k in ("x", "y", "x2", "y2") if getattr(data, k) is not None}
    out = replace(data, **unit)
    with _SIDES_LOCK:
        _NORMALIZED[id(data)] = (weakref.ref(data), out)
        while len(_NORMALIZED) > _SIDES_MAX:
            _NORMALIZED.popitem(last=False)
    return out


def _second_rows(data: AlignmentData, classes: np.ndarray) -> np.ndarray:
    """Second-modality rows whose means centre it (Note [centring the second modality])."""
    if data.labels2 is not None and classes.size:
        rows = np.flatnonzero(np.isin(data.labels2, classes))
        if rows.size:
            return rows
    return np.arange(len(data.x2))


def run_alignment(
    data: AlignmentData,
    *,
    n_anchor_classes: int = 10,
    map_type: str = "orthogonal",
    center: bool = True,
    allow_reflection: bool = True,
    semi_orthogonal: str = "least_squares",
    normalize: bool = True,
    centered_scoring: bool = True,
    center_second: bool = False,
    seed: int = 0,
    heldout_only: bool = False,
) -> AlignmentResult:
    """Fit ``map_type`` on the anchors' first modality and score it before and after.

    ``normalize``: L2-normalise every row first (the paper's pipeline). ``centered_scoring``:
    score in the centred frame (Note [centred scoring]). ``center_second``: carry the second
    modality with its own anchor means (Note [centring the second modality]).
    ``semi_orthogonal``: the orthogonal map between spaces of different widths
    (:class:`~lab.alignment.maps.ProcrustesAligner`). ``heldout_only`` scores only evaluation
    rows whose class is not among the anchors' (the generalisation test); otherwise every
    non-training row is scored.
    """
    if not isinstance(data, AlignmentData):
        raise TypeError(f"data: expected an AlignmentData (load_shipped, load_byo or from_arrays), "
                        f"got {type(data).__name__}")
    if map_type not in MAP_TYPES:
        raise ValueError(f"map_type: expected one of {MAP_TYPES}, got {map_type!r}")
    for name, flag in (("normalize", normalize), ("centered_scoring", centered_scoring),
                       ("center_second", center_second)):
        check_bool(name, flag)
    source = data
    if normalize:
        data = normalized(data)
    anchors, classes = select_anchors(data, n_anchor_classes, seed=seed)
    rows = data.test_rows()
    if heldout_only and classes.size:
        rows = rows[~np.isin(data.labels[rows], classes)]
        if rows.size < 2:
            raise ValueError("n_anchor_classes: no held-out classes are left to score; use fewer anchor classes")
    n_eval_total = int(rows.size)
    rows = _capped(rows, seed)
    aligner = make_aligner(map_type, center=center, allow_reflection=allow_reflection,
                           semi_orthogonal=semi_orthogonal, seed=seed)
    # Note [precision]: the closed-form maps are fitted in float64 (cheap at these sizes and
    # exact enough for the orthogonality-error read-out); the MLP trains in float32.
    dt = torch.float32 if map_type == "mlp" else torch.float64

    def carry(X: np.ndarray) -> np.ndarray:
        return to_numpy(aligner.transform(torch.from_numpy(np.ascontiguousarray(X)).to(dt))).astype(np.float32)

    aligner.fit(torch.from_numpy(data.x[anchors]).to(dt), torch.from_numpy(data.y[anchors]).to(dt))
    mu_x, mu_y = data.x[anchors].mean(0), data.y[anchors].mean(0)
    zero_x, zero_y = np.zeros_like(mu_x), np.zeros_like(mu_y)
    ox, oy = (mu_x, mu_y) if centered_scoring and center else (zero_x, zero_y)
    x_after = carry(data.x[rows]) - oy
    x2_after, rows2, ox2, oy2 = None, None, None, None
    if data.has_second:
        pool2 = np.arange(len(data.x2))
        if heldout_only and classes.size and data.labels2 is not None:
            pool2 = pool2[~np.isin(data.labels2, classes)]  # the held-out classes' captions only
        rows2 = _capped(pool2, seed)
        if center_second and center:
            # Note [centring the second modality]: the map is fitted on images, whose anchor means
            # are mu_x and mu_y; captions sit elsewhere (the modality gap). Optionally they are
            # carried with their own means over the anchor classes' captions: input shifted so
            # that mu_x2 lands on mu_x, output shifted so that mu_y lands on mu_y2.
            own = _second_rows(data, classes)
            mx2, my2 = data.x2[own].mean(0), data.y2[own].mean(0)
            x2_after = carry(data.x2[rows2] - mx2 + mu_x) - mu_y + my2
        else:
            mx2, my2 = mu_x, mu_y
            x2_after = carry(data.x2[rows2])
        ox2, oy2 = (mx2, my2) if centered_scoring and center else (zero_x, zero_y)
        x2_after = x2_after - oy2
    frame = _Frame(ox=ox, oy=oy, ox2=ox2, oy2=oy2)
    side = _side(data, rows, rows2, frame)
    if side.before is None:  # Note [scores that do not depend on the map]
        same = data.same_width
        x2b = data.x2[rows2] - ox2 if (same and rows2 is not None) else None
        side.before = _score_rows(data, data.x[rows] - ox if same else None, x2b, rows, rows2, side, frame)
    before = side.before
    after = _score_rows(data, x_after, x2_after, rows, rows2, side, frame)
    metrics = pd.DataFrame(
        [{"metric": m, "modality": mod, "before": b, "after": a} for (m, mod, b), (_, _, a) in zip(before, after)]
    )
    # The orthogonal map's own SVD is the spectrum shown; other maps fit it on the side.
    sv = aligner if isinstance(aligner, ProcrustesAligner) and dt == torch.float64 else \
        ProcrustesAligner(center=center, semi_orthogonal="polar").fit(data.x[anchors].astype(np.float64),
                                                                      data.y[anchors].astype(np.float64))
    return AlignmentResult(
        metrics=metrics,
        aligner=aligner,
        map_type=map_type,
        anchors=anchors,
        anchor_classes=classes,
        eval_rows=rows,
        x_after=x_after,
        x2_after=x2_after,
        singular_values=to_numpy(sv.singular_values_),
        orthogonality_error=orthogonality_error(aligner.matrix_),
        n_eval_total=n_eval_total,
        rows2=rows2,
        x_before=data.x[rows] - ox,
        y_target=side.yb,
        y2_target=None if rows2 is None else np.asarray(data.y2[rows2] - oy2, dtype=np.float32),
        scored=data,
        source=source,
    )


def _headline(result: AlignmentResult, data: AlignmentData) -> dict[str, float]:
    m = result.metrics.set_index(["metric", "modality"])["after"]
    m1, m2 = data.modalities
    out = {"image_top1": float(m[("retrieval top-1 (instance)", m1)])}
    if ("retrieval top-1 (same caption)", m1) in m.index:
        out["image_caption_top1"] = float(m[("retrieval top-1 (same caption)", m1)])
    if ("retrieval top-1 (class)", m1) in m.index:
        out["image_class_top1"] = float(m[("retrieval top-1 (class)", m1)])
    if ("retrieval top-1 (instance)", m2) in m.index:
        out["text_top1"] = float(m[("retrieval top-1 (instance)", m2)])
    key = (f"zero-shot: B {m1} vs A {m2}", m1)
    if key in m.index:
        out["zero_shot"] = float(m[key])
    return out


def compare_maps(
    data: AlignmentData,
    *,
    n_anchor_classes: int = 10,
    map_types: Sequence[str] = PRESETS["compare"]["map_types"],
    seeds: Sequence[int] = PRESETS["compare"]["seeds"],
    center: bool = True,
    progress: Progress | None = None,
    should_stop: ShouldStop | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Orthogonal vs least squares vs ridge (vs MLP) scored on held-out classes; one row per (map, seed).

    ``options`` go to :func:`run_alignment` (normalize, centered_scoring, ...). Each finished
    row is one progress event carrying that ``row``.
    """
    progress, should_stop = resolve(progress, should_stop)
    rows, total, done = [], len(map_types) * len(seeds), 0
    for seed in seeds:
        for mt in map_types:
            if should_stop():
                return pd.DataFrame(rows)
            res = run_alignment(data, n_anchor_classes=n_anchor_classes, map_type=mt, center=center, seed=seed,
                                heldout_only=True, **options)
            rows.append({"map_type": mt, "seed": seed, "n_anchors": len(res.anchors),
                         "orthogonality_error": res.orthogonality_error, **_headline(res, data)})
            done += 1
            progress(done / total, f"{mt}, seed {seed}", row=rows[-1])
    return pd.DataFrame(rows)


def anchor_curve(
    data: AlignmentData,
    *,
    counts: Sequence[int] | None = None,
    map_types: Sequence[str] = PRESETS["curve"]["map_types"],
    seeds: Sequence[int] = PRESETS["curve"]["seeds"],
    center: bool = True,
    progress: Progress | None = None,
    should_stop: ShouldStop | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Scores against the number of anchor classes (rows: map_type, n_anchor_classes, seed, ...).

    ``options`` go to :func:`run_alignment`.

    Scored on all evaluation rows (instances never used as anchors), so every count,
    including "all classes", is measured on the same rows. Each finished row is one progress
    event carrying that ``row``.
    """
    progress, should_stop = resolve(progress, should_stop)
    lo, hi, _ = anchor_range(data)
    if counts is None:
        n = PRESETS["curve"]["n_counts"]
        counts = sorted({int(c) for c in np.unique(np.geomspace(lo, hi, num=n).round())} | {hi})
    counts = [check_int("counts", c, lo=lo, hi=hi) for c in counts]
    out, total, done = [], len(counts) * len(map_types) * len(seeds), 0
    for k in counts:
        for mt in map_types:
            for seed in seeds:
                if should_stop():
                    return pd.DataFrame(out)
                res = run_alignment(data, n_anchor_classes=k, map_type=mt, center=center, seed=seed, **options)
                out.append({"map_type": mt, "n_anchor_classes": k, "seed": seed, "n_anchors": len(res.anchors),
                            **_headline(res, data)})
                done += 1
                progress(done / total, f"{k} anchors, {mt}, seed {seed}", row=out[-1])
    return pd.DataFrame(out)


def anchor_sweep(
    data: AlignmentData,
    *,
    center: bool = True,
    progress: Progress | None = None,
    should_stop: ShouldStop | None = None,
    **options: Any,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The page's background sweep: the anchor-count curve, then the held-out map comparison.

    Both with their PRESETS settings; the comparison uses :func:`comparison_size` anchors.
    Every finished row is one progress event carrying ``row`` and ``stage`` ("curve" for the
    first 70 % of the range, then "compare"). Returns (curve, comparison): what was finished
    when ``should_stop`` said so (the comparison empty if it never started).
    """
    progress, should_stop = resolve(progress, should_stop)
    curve = anchor_curve(data, center=center, progress=scaled(progress, 0.0, 0.7, stage="curve"),
                         should_stop=should_stop, **options)
    if should_stop():
        return curve, pd.DataFrame()
    comparison = compare_maps(data, n_anchor_classes=comparison_size(data), center=center,
                              progress=scaled(progress, 0.7, 1.0, stage="compare"), should_stop=should_stop, **options)
    return curve, comparison


# Note [one sweep for every visitor]: a shipped pair's sweep is the same for every visitor,
# so it is computed once per process: the first caller computes it (the others wait on the
# lock), and every later caller gets the stored rows at once, replayed as the same events.
_SHIPPED_SWEEPS: dict[tuple, tuple[pd.DataFrame, pd.DataFrame]] = {}
_SHIPPED_SWEEP_LOCK = threading.Lock()


def shipped_sweep(name: str, *, center: bool = True, root: str | None = None, progress: Progress | None = None,
                  should_stop: ShouldStop | None = None, **options: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`anchor_sweep` of the shipped pair ``name``, computed once per process and shared.

    ``options`` go to :func:`run_alignment`. Events and return value as :func:`anchor_sweep`.
    A sweep stopped part way is not stored.
    """
    progress, should_stop = resolve(progress, should_stop)
    key = (str(root or study_dir("alignment")), name, bool(center), tuple(sorted(options.items())))
    with _SHIPPED_SWEEP_LOCK:
        stored = _SHIPPED_SWEEPS.get(key)
        if stored is None:
            data = load_shipped(name, root=root)
            curve, comparison = anchor_sweep(data, center=center, progress=progress, should_stop=should_stop,
                                             **options)
            if not should_stop():
                _SHIPPED_SWEEPS[key] = (curve, comparison)
            return curve, comparison
    curve, comparison = stored
    rows = [("curve", r) for r in curve.to_dict("records")] + [("compare", r) for r in comparison.to_dict("records")]
    for i, (stage, row) in enumerate(rows):
        progress((i + 1) / len(rows), "stored sweep", stage=stage, row=row)
    return curve.copy(), comparison.copy()


# Note [shared shipped results]: every visitor starts on a shipped pair with the page's
# default controls, and many move the same slider to the same places. The pair is loaded once
# per process and shared read-only (its arrays are not writeable, so no caller can change
# another's data), and the fits of a shared pair are memoised: a result depends only on the
# pair and the controls. Pairs a visitor brings are fitted fresh, never stored.
_SHARED_PAIRS: dict[tuple[str, str], AlignmentData] = {}
_SHARED_FITS: "OrderedDict[tuple, AlignmentResult]" = OrderedDict()
_SHARED_FITS_MAX = 160  # every anchor count of the default controls of each shipped pair, and more
_SHARED_LOCK = threading.Lock()


def _read_only(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
    return value


def shared_shipped(name: str, *, root: str | None = None) -> AlignmentData:
    """:func:`load_shipped` ``name``, loaded once per process; its arrays are read-only."""
    key = (str(root or study_dir("alignment")), name)
    with _SHARED_LOCK:
        data = _SHARED_PAIRS.get(key)
        if data is None:
            data = load_shipped(name, root=root)
            for value in vars(data).values():
                _read_only(value)
            _SHARED_PAIRS[key] = data
        return data


def is_shared(data: Any) -> bool:
    """True for a pair returned by :func:`shared_shipped` (its fits are memoised)."""
    return any(data is d for d in _SHARED_PAIRS.values())


def shared_alignment(data: AlignmentData, **controls: Any) -> AlignmentResult:
    """:func:`run_alignment` ``(data, **controls)``; memoised (read-only) when ``data`` is shared.

    Equal controls on a shared pair return the same result object to every caller, so treat
    it as read-only; the memo keeps the last 160 results.
    """
    if not is_shared(data):
        return run_alignment(data, **controls)
    try:
        key = (id(data), tuple(sorted(controls.items())))
        hash(key)
    except TypeError:  # a control that is no plain value: run_alignment names it
        return run_alignment(data, **controls)
    with _SHARED_LOCK:
        if key in _SHARED_FITS:
            _SHARED_FITS.move_to_end(key)
            return _SHARED_FITS[key]
    result = run_alignment(data, **controls)  # outside the lock: other visitors' fits go on
    for value in vars(result).values():
        _read_only(value)
    with _SHARED_LOCK:
        _SHARED_FITS[key] = result
        while len(_SHARED_FITS) > _SHARED_FITS_MAX:
            _SHARED_FITS.popitem(last=False)
    return result


def cached_alignment(data: AlignmentData, **controls: Any) -> AlignmentResult | None:
    """The memoised :func:`shared_alignment` result for these controls, or None (computes nothing)."""
    if not is_shared(data):
        return None
    try:
        key = (id(data), tuple(sorted(controls.items())))
        hash(key)
    except TypeError:
        return None
    with _SHARED_LOCK:
        return _SHARED_FITS.get(key)


def retrain_pair(
    steps: int | None = None,
    *,
    preset: str = PRESETS["page"]["retrain"],
    name: str = "page-retrain",
    device: Any = None,
    progress: Progress | None = None,
    should_stop: ShouldStop | None = None,
) -> AlignmentData | None:
    """Train a fresh toy-CLIP pair of ``PRESETS[preset]`` (``steps`` per model) as a new run.

    The run is recorded with the study's runs under ``name``, so a stopped one can be resumed
    with ``ortholab train alignment --resume``. Returns the new pair's AlignmentData, or None
    when stopped. Progress events carry ``model``, ``step`` and ``loss``, one per logged
    training step, as :func:`~lab.alignment.training.train_pair` reports them.
    """
    if not isinstance(PRESETS.get(preset), PairConfig):
        pairs = sorted(k for k, v in PRESETS.items() if isinstance(v, PairConfig))
        raise ValueError(f"preset: expected one of {pairs}, got {preset!r}")
    cfg = PRESETS[preset]
    if steps is not None:
        cfg = replace(cfg, steps=check_int("steps", steps, lo=1))
    run = Run.create("alignment", {"pair": asdict(cfg)}, name=name)
    data, _ = train_pair(cfg, run=run, device=device, progress=progress, should_stop=should_stop)
    return data


def project_2d(
    before: np.ndarray,
    after: np.ndarray,
    target: np.ndarray,
    *,
    method: str = "pca",
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """2-D coordinates of space A before and after the map, and of space B, for plotting.

    'pca': one PCA basis fitted on space B; A before, A after and B are all shown in it, so
    B's points sit still and A's points move onto them when the map works.
    'umap': one UMAP of B and A-after together and one of B and A-before (each (2n, 2)),
    seeded; slower (seconds) and meant to run off the event loop.
    When space A is wider or narrower than B, A-before cannot share B's coordinates: it is
    drawn in its own PCA basis (or its own UMAP) and ``"before_own_axes"`` is True.
    Returns {"before": (n, 2), "after": (n, 2), "target_before": (n, 2), "target_after": (n, 2)}.
    """
    if method not in PROJECTIONS:
        raise ValueError(f"method: expected one of {PROJECTIONS}, got {method!r}")
    before, after, target = (np.asarray(a, dtype=np.float64) for a in (before, after, target))
    for name, arr in (("before", before), ("after", after), ("target", target)):
        if not np.isfinite(arr).all():
            raise ValueError(f"{name}: contains NaN or infinite values; a 2-D view of them is undefined")
    if not (after.shape == target.shape) or before.ndim != 2 or before.shape[0] != target.shape[0]:
        raise ValueError(f"before, after, target: expected (n, d_x), (n, d) and (n, d) shapes, got {before.shape}, "
                         f"{after.shape}, {target.shape}")
    own = before.shape[1] != target.shape[1]

    def pca(z: np.ndarray, ref: np.ndarray) -> np.ndarray:
        mu = ref.mean(0)
        _, _, vt = np.linalg.svd(ref - mu, full_matrices=False)  # vt: rows = principal axes
        return (z - mu) @ vt[:2].T  # (n, 2)

    if method == "pca":
        t = pca(target, target)
        b = pca(before, before) if own else pca(before, target)
        return {"before": b, "after": pca(after, target), "target_before": t, "target_after": t,
                "before_own_axes": own}
    import umap  # heavy import (numba), only when asked for

    n = target.shape[0]
    out: dict[str, Any] = {"before_own_axes": own}

    def embed(z: np.ndarray) -> np.ndarray:
        reducer = umap.UMAP(n_components=2, n_neighbors=min(15, len(z) - 1), random_state=seed, n_jobs=1)
        return reducer.fit_transform(z)

    for key, src in (("before", before), ("after", after)):
        if key == "before" and own:
            out[key], out[f"target_{key}"] = embed(src), embed(target)
            continue
        emb = embed(np.concatenate([src, target]))  # (2n, 2)
        out[key], out[f"target_{key}"] = emb[:n], emb[n:]
    return out
