"""Where the two embedding spaces come from: shipped toy CLIPs, MiniLM layers, your own files.

Every source becomes an :class:`AlignmentData`: paired rows of space A and space B for a
first modality (images for the toy CLIPs), optional class labels, an optional second
modality (captions) embedded by both models, and a split into rows that may serve as
anchors (``train_mask``) and rows kept for evaluation.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from lab.files import DEFAULT_MAX_BYTES, load_arrays
from lab.paths import study_dir

__all__ = ["AlignmentData", "from_arrays", "load_byo", "load_shipped", "encoder_corpus", "embed_pair", "SHIPPED",
           "ENCODER_PAIRS"]

# name -> (file under data/alignment/, short description)
SHIPPED = {
    "toyclip": ("toyclip_embeddings.npz",
                "Two toy CLIPs trained here (CNN+bag-of-words vs MLP+ordered words) on drawn shapes"),
    "minilm_layer3": ("minilm_layers.npz",
                      "MiniLM sentence embedding vs its own layer-3 mean-pooled states, stdlib docs"),
    "minilm_layer1": ("minilm_layers.npz",
                      "MiniLM sentence embedding vs its own layer-1 mean-pooled states, stdlib docs"),
    # Independently trained encoders of the same documents (scripts/make_alignment_encoders.py).
    "minilm_e5": ("text_encoders.npz", "MiniLM (384-d) vs multilingual-e5-small (384-d), stdlib docs"),
    "minilm_wordllama": ("text_encoders.npz", "MiniLM (384-d) vs WordLlama (256-d), stdlib docs"),
    "e5_wordllama": ("text_encoders.npz", "multilingual-e5-small (384-d) vs WordLlama (256-d), stdlib docs"),
}
# The encoder pairs: source name -> (space A's array, space B's array) in text_encoders.npz
ENCODER_PAIRS = {"minilm_e5": ("minilm", "e5"), "minilm_wordllama": ("minilm", "wordllama"),
                 "e5_wordllama": ("e5", "wordllama")}
ENCODER_NAMES = {"minilm": "MiniLM (all-MiniLM-L6-v2, 384-d)", "e5": "multilingual-e5-small (4-bit, 384-d)",
                 "wordllama": "WordLlama (l2_supercat, 256-d)"}
MIN_ROWS = 10


@dataclass
class AlignmentData:
    """Two embedding spaces of the same items, ready for an alignment experiment."""

    name: str
    x: np.ndarray  # (n, d) space A, first modality (e.g. model A's image embeddings)
    y: np.ndarray  # (n, d) space B, same rows
    labels: np.ndarray | None = None  # (n,) int class ids, or None (instance level only)
    train_mask: np.ndarray | None = None  # (n,) bool: rows that may be anchors; the rest evaluate
    x2: np.ndarray | None = None  # (m, d) space A, second modality (e.g. captions), optional
    y2: np.ndarray | None = None  # (m, d) space B, same rows as x2
    labels2: np.ndarray | None = None  # (m,) class ids of the second-modality rows
    label_names: list[str] | None = None  # class id -> name, for hover text
    # (n,) ids of interchangeable items, e.g. the caption an image was drawn from: items of one
    # group cannot be told apart at instance level (Note [well-posed retrieval] in experiment)
    groups: np.ndarray | None = None
    modalities: tuple[str, str] = ("image", "text")
    spaces: tuple[str, str] = ("model A", "model B")
    description: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.x.shape[0])

    @property
    def dim(self) -> int:
        """Width of space A (the widest the map's input can be)."""
        return int(self.x.shape[1])

    @property
    def dim_y(self) -> int:
        return int(self.y.shape[1])

    @property
    def same_width(self) -> bool:
        """Both spaces have one width: raw rows of A and B can be compared before any map."""
        return self.dim == self.dim_y

    @property
    def has_second(self) -> bool:
        return self.x2 is not None

    @property
    def n_classes(self) -> int:
        return 0 if self.labels is None else int(len(np.unique(self.labels[self.train_mask])))

    def train_rows(self) -> np.ndarray:
        return np.flatnonzero(self.train_mask)

    def test_rows(self) -> np.ndarray:
        return np.flatnonzero(~self.train_mask)


def _matrix(name: str, a: Any, *, cols: int | None = None) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"{name}: expected a numeric matrix, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array (rows, dims), got shape {arr.shape}")
    if cols is not None and arr.shape[1] != cols:
        raise ValueError(f"{name}: expected {cols} columns (the width of the other space), got shape {arr.shape}")
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).any(axis=1).sum())
        raise ValueError(f"{name}: {bad} row(s) contain NaN or infinite values; drop or fix them first")
    return np.ascontiguousarray(arr, dtype=np.float32)


def _label_array(name: str, a: Any, n: int) -> np.ndarray:
    arr = np.asarray(a)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{name}: expected one label per row, shape ({n},), got shape {arr.shape}")
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64)
    # Any other labels (strings, floats that are ids) become integer codes in sorted order.
    _, codes = np.unique(arr.astype(str), return_inverse=True)
    return codes.astype(np.int64)


def from_arrays(
    x: Any,
    y: Any,
    *,
    labels: Any = None,
    x2: Any = None,
    y2: Any = None,
    labels2: Any = None,
    train_mask: Any = None,
    groups: Any = None,
    name: str = "custom",
    seed: int = 0,
    **kwargs: Any,
) -> AlignmentData:
    """Validate paired arrays into an :class:`AlignmentData` (clear ValueErrors otherwise).

    Without ``train_mask`` a seeded random half of the rows may serve as anchors.
    """
    X = _matrix("x", x)
    Y = _matrix("y", y)
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"x, y: expected paired rows (the same count), got {X.shape[0]} and {Y.shape[0]}")
    # Different widths are allowed: the map is then semi-orthogonal (ProcrustesAligner), and the
    # scores that compare raw rows of A and B before any map are reported as undefined.
    if X.shape[0] < MIN_ROWS:
        raise ValueError(f"x: expected at least {MIN_ROWS} paired rows, got {X.shape[0]}")
    lab = None if labels is None else _label_array("labels", labels, X.shape[0])
    grp = None if groups is None else _label_array("groups", groups, X.shape[0])
    X2 = Y2 = lab2 = None
    if (x2 is None) != (y2 is None):
        raise ValueError("x2, y2: the second modality needs both spaces (x2 and y2) or neither")
    if x2 is not None:
        X2 = _matrix("x2", x2, cols=X.shape[1])
        Y2 = _matrix("y2", y2, cols=Y.shape[1])
        if X2.shape[0] != Y2.shape[0]:
            raise ValueError(f"x2, y2: expected paired rows, got {X2.shape[0]} and {Y2.shape[0]}")
        if labels2 is not None:
            lab2 = _label_array("labels2", labels2, X2.shape[0])
    if train_mask is None:
        rng = np.random.default_rng(seed)
        mask = np.zeros(X.shape[0], dtype=bool)
        mask[rng.permutation(X.shape[0])[: X.shape[0] // 2]] = True
    else:
        mask = np.asarray(train_mask)
        if mask.shape != (X.shape[0],):
            raise ValueError(f"train_mask: expected shape ({X.shape[0]},), got {mask.shape}")
        mask = mask.astype(bool)
    if mask.sum() < 2 or (~mask).sum() < 2:
        raise ValueError(f"train_mask: expected at least 2 anchor rows and 2 evaluation rows, got {int(mask.sum())} "
                         f"and {int((~mask).sum())}")
    return AlignmentData(name=name, x=X, y=Y, labels=lab, train_mask=mask, x2=X2, y2=Y2, labels2=lab2, groups=grp,
                         **kwargs)


_ALIASES = {
    "x": ("x", "a", "x_image", "image_a", "emb_a"),
    "y": ("y", "b", "y_image", "image_b", "emb_b"),
    "labels": ("labels", "label", "y_labels", "classes"),
    "x2": ("x2", "x_text", "text_a"),
    "y2": ("y2", "y_text", "text_b"),
    "labels2": ("labels2", "text_labels", "labels_text"),
    "train_mask": ("train_mask", "train"),
}


def _pick(arrays: Mapping[str, np.ndarray], role: str) -> np.ndarray | None:
    for key in _ALIASES[role]:
        if key in arrays:
            return arrays[key]
    return None


def _primary(arrays: Mapping[str, np.ndarray], filename: str) -> np.ndarray:
    for key in ("array", "x", "embeddings", "embedding"):
        if key in arrays and np.asarray(arrays[key]).ndim == 2:
            return arrays[key]
    two_d = [k for k, v in arrays.items() if np.asarray(v).ndim == 2]
    if len(two_d) == 1:
        return arrays[two_d[0]]
    raise ValueError(
        f"source: {filename!r} should hold one 2-D embedding matrix (or one named 'embeddings'); found "
        f"{ {k: tuple(np.asarray(v).shape) for k, v in arrays.items()} }"
    )


def load_byo(
    source_a: str | os.PathLike | bytes,
    source_b: str | os.PathLike | bytes | None = None,
    *,
    filename_a: str | None = None,
    filename_b: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    name: str = "your embeddings",
) -> AlignmentData:
    """Bring your own embeddings: paths or uploaded bytes of .npy/.npz/.safetensors/.parquet.

    One file: it holds arrays named ``x`` and ``y`` (paired rows), optionally ``labels``,
    ``x2``/``y2`` (a second modality) with ``labels2``, and ``train_mask``.
    Two files: each holds one embedding matrix (space A, space B); file A may add ``labels``.
    Nothing is unpickled; oversized files, wrong shapes, NaNs and mismatched rows raise a
    ValueError that says what was found.
    """
    label_a = filename_a or str(source_a if not isinstance(source_a, (bytes, bytearray)) else "upload A")
    if source_b is None:
        arrays_a = load_arrays(source_a, filename=filename_a, max_bytes=max_bytes)
    else:
        with _naming("space A", label_a):
            arrays_a = load_arrays(source_a, filename=filename_a, max_bytes=max_bytes)
    if source_b is None:
        x, y = _pick(arrays_a, "x"), _pick(arrays_a, "y")
        if x is None or y is None:
            raise ValueError(
                f"source_a: {label_a!r} should hold arrays named 'x' and 'y' (paired rows), or give a second file "
                f"for space B; it holds {sorted(arrays_a)}"
            )
        return from_arrays(x, y, labels=_pick(arrays_a, "labels"), x2=_pick(arrays_a, "x2"), y2=_pick(arrays_a, "y2"),
                           labels2=_pick(arrays_a, "labels2"), train_mask=_pick(arrays_a, "train_mask"), name=name,
                           description=f"uploaded: {label_a}")
    label_b = filename_b or str(source_b if not isinstance(source_b, (bytes, bytearray)) else "upload B")
    # Two files: every message names the space (file) it is about, so a bad file B is never
    # reported as a problem of space A.
    with _naming("space B", label_b):
        arrays_b = load_arrays(source_b, filename=filename_b, max_bytes=max_bytes)
        y = _primary(arrays_b, label_b)
    with _naming("space A", label_a):
        x = _primary(arrays_a, label_a)
    try:
        return from_arrays(x, y, labels=_pick(arrays_a, "labels"), x2=_pick(arrays_a, "x2"), y2=_pick(arrays_b, "y2"),
                           labels2=_pick(arrays_a, "labels2"), train_mask=_pick(arrays_a, "train_mask"), name=name,
                           description=f"uploaded: {label_a} vs {label_b}")
    except ValueError as exc:
        text = str(exc)
        for prefix, space, label in (("y: ", "space B", label_b), ("y2: ", "space B", label_b),
                                     ("x: ", "space A", label_a), ("x2: ", "space A", label_a)):
            if text.startswith(prefix):
                raise ValueError(f"{space} ({label!r}): {text}") from None
        raise


@contextlib.contextmanager
def _naming(space: str, label: str):
    """Prefix a ValueError raised inside with the space and file it is about."""
    try:
        yield
    except ValueError as exc:
        raise ValueError(f"{space} ({label!r}): {exc}") from None


def embed_pair(
    encoder_a: Any,
    encoder_b: Any,
    texts: Any = None,
    *,
    name: str = "your encoders",
    progress: Any = None,
    should_stop: Any = None,
) -> AlignmentData | None:
    """Embed the same documents with two encoders into a new pair; None when stopped.

    ``encoder_a``/``encoder_b``: a packaged encoder's name (:data:`~lab.alignment.encoders.ENCODERS`),
    a local sentence-transformers folder, or an Encoder. ``texts``: a list of documents
    (default: :func:`encoder_corpus`). Progress runs 0-0.5 for A and 0.5-1 for B.
    """
    from lab.alignment.encoders import _resolve, embed_with
    from lab.progress import resolve, scaled

    progress, should_stop = resolve(progress, should_stop)
    if texts is None:
        texts = encoder_corpus()["text"].tolist()
    enc_a, enc_b = _resolve(encoder_a), _resolve(encoder_b)
    xa = embed_with(enc_a, texts, progress=scaled(progress, 0.0, 0.5, space="A"), should_stop=should_stop)
    if xa is None:
        return None
    xb = embed_with(enc_b, texts, progress=scaled(progress, 0.5, 1.0, space="B"), should_stop=should_stop)
    if xb is None:
        return None
    return from_arrays(xa, xb, name=name, modalities=("document", "-"), spaces=(enc_a.description, enc_b.description),
                       description=f"{enc_a.name} vs {enc_b.name} on {len(texts)} documents",
                       meta={"n_texts": len(texts)})


def encoder_corpus():
    """The documents of the encoder pairs: distinct stdlib docstrings and topics, cut to their first characters.

    Settings: PRESETS["encoders-data"] (min_chars, max_chars). A DataFrame with doc_id, source, text.
    """
    from lab.alignment.experiment import PRESETS
    from lab.corpus import stdlib_corpus

    cfg = PRESETS["encoders-data"]
    df = stdlib_corpus(min_chars=cfg["min_chars"])
    df["text"] = df["text"].str[: cfg["max_chars"]]
    return df.drop_duplicates("text", ignore_index=True)


@functools.lru_cache(maxsize=8)
def _read_shipped(path: str) -> dict[str, np.ndarray]:
    arrays = load_arrays(path)
    for v in arrays.values():
        v.setflags(write=False)  # cached and shared between sessions: read-only
    return arrays


def load_shipped(name: str = "toyclip", *, root: str | os.PathLike | None = None) -> AlignmentData:
    """A shipped default (see :data:`SHIPPED`), made by scripts/make_alignment_data.py."""
    if name not in SHIPPED:
        raise ValueError(f"name: expected one of {sorted(SHIPPED)}, got {name!r}")
    fname, description = SHIPPED[name]
    base = Path(root) if root is not None else study_dir("alignment")
    path = base / fname
    if not path.is_file():
        raise FileNotFoundError(
            f"name: the artifact {str(path)!r} is missing; run `python scripts/"
            f"{'make_alignment_encoders' if name in ENCODER_PAIRS else 'make_alignment_data'}.py` to build it"
        )
    arrays = _read_shipped(str(path))
    meta_path = path.with_suffix(".json")
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    if name in ENCODER_PAIRS:
        a, b = ENCODER_PAIRS[name]
        return from_arrays(
            arrays[a], arrays[b], train_mask=arrays["train_mask"], name=name, modalities=("document", "-"),
            spaces=(ENCODER_NAMES[a], ENCODER_NAMES[b]), description=description, meta=meta,
        )
    if name == "toyclip":
        return from_arrays(
            arrays["x"], arrays["y"], labels=arrays["labels"], x2=arrays["x2"], y2=arrays["y2"],
            labels2=arrays["labels2"], train_mask=arrays["train_mask"], groups=arrays.get("caption_ids"), name=name,
            label_names=meta.get("label_names"), modalities=("image", "text"),
            spaces=tuple(meta.get("spaces", ("model A", "model B"))), description=description, meta=meta,
        )
    layer = int(name.removeprefix("minilm_layer"))
    return from_arrays(
        arrays["final"], arrays[f"layer{layer}"], labels=arrays["labels"], train_mask=arrays["train_mask"],
        name=name, label_names=meta.get("label_names"), modalities=("sentence", "-"),
        spaces=("MiniLM sentence embedding", f"MiniLM layer {layer}"), description=description, meta=meta,
    )
