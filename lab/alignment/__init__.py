"""Representation alignment via orthogonal maps.

Two models trained apart embed the same inputs in spaces related, to a good approximation,
by one orthogonal map (up to a mean shift). This package fits that map (orthogonal
Procrustes, streaming over row chunks), the baselines it is compared with (an unconstrained
least-squares map and a small MLP), the similarity measures used to judge it (linear and
unbiased CKA, tiled retrieval, mutual k-NN, cosine), and the default experiments: two toy
contrastive image-text models trained here on procedurally drawn captioned shapes, and the
packaged MiniLM against one of its own intermediate layers.

The public face: views, notebooks, scripts and benchmarks import from here only. The rooms
hold one idea each:

- :mod:`lab.alignment.maps`        ProcrustesAligner, LinearMapAligner, RidgeCVAligner, MLPAligner
- :mod:`lab.alignment.stiefel`     the least-squares map with orthonormal columns (unequal widths)
- :mod:`lab.alignment.metrics`     linear_cka, unbiased_cka, retrieval_top1, ...
- :mod:`lab.alignment.shapes`      the procedural captioned-shapes data set
- :mod:`lab.alignment.toyclip`     the two toy CLIP models and their training loop
- :mod:`lab.alignment.sources`     AlignmentData: shipped, MiniLM, encoder pairs and bring-your-own sources
- :mod:`lab.alignment.encoders`    the packaged text encoders (MiniLM, e5, WordLlama) and local models, offline
- :mod:`lab.alignment.training`    the toy-CLIP pair trained end to end (progress, stop, resume)
- :mod:`lab.alignment.calibration` each score beside its permutation null and a bootstrap interval
- :mod:`lab.alignment.experiment`  before/after metrics, map comparison, anchor curve, 2-D views,
                                   and PRESETS, the one table of named settings
- :mod:`lab.alignment.cli`         ``ortholab train alignment``
"""

from lab.alignment.calibration import CALIBRATED_METRICS, calibrate, shared_calibration
from lab.alignment.encoders import ENCODERS, Encoder, embed_with, get_encoder, local_encoder, read_texts
from lab.alignment.experiment import (
    PRESETS,
    PROJECTIONS,
    AlignmentResult,
    anchor_curve,
    anchor_range,
    anchor_sweep,
    cached_alignment,
    compare_maps,
    comparison_size,
    default_anchor_count,
    project_2d,
    retrain_pair,
    run_alignment,
    select_anchors,
    shared_alignment,
    shared_shipped,
    shipped_sweep,
)
from lab.alignment.maps import (
    MAP_TYPES,
    SEMI_ORTHOGONAL,
    CrossStats,
    LinearMapAligner,
    MLPAligner,
    ProcrustesAligner,
    RidgeCVAligner,
    cross_statistics,
    make_aligner,
    orthogonality_error,
)
from lab.alignment.metrics import (
    linear_cka,
    mean_pairwise_cosine,
    mutual_knn_alignment,
    nearest_neighbors,
    procrustes_distance,
    retrieval_top1,
    unbiased_cka,
)
from lab.alignment.sources import (
    ENCODER_PAIRS,
    SHIPPED,
    AlignmentData,
    embed_pair,
    encoder_corpus,
    from_arrays,
    load_byo,
    load_shipped,
)
from lab.alignment.training import PairConfig, own_retrieval, save_toy_npz, toy_arrays, train_pair

__all__ = [
    # the maps (estimators) and the metrics
    "ProcrustesAligner",
    "LinearMapAligner",
    "RidgeCVAligner",
    "MLPAligner",
    "MAP_TYPES",
    "SEMI_ORTHOGONAL",
    "make_aligner",
    "orthogonality_error",
    "CrossStats",
    "cross_statistics",
    "linear_cka",
    "unbiased_cka",
    "retrieval_top1",
    "nearest_neighbors",
    "mutual_knn_alignment",
    "mean_pairwise_cosine",
    "procrustes_distance",
    # the data, and the text encoders that make the real pairs
    "AlignmentData",
    "ENCODER_PAIRS",
    "encoder_corpus",
    "Encoder",
    "ENCODERS",
    "get_encoder",
    "local_encoder",
    "embed_with",
    "embed_pair",
    "read_texts",
    "SHIPPED",
    "from_arrays",
    "load_byo",
    "load_shipped",
    # training the toy-CLIP pair
    "PairConfig",
    "train_pair",
    "toy_arrays",
    "own_retrieval",
    "save_toy_npz",
    # calibrated scores: permutation null and bootstrap interval
    "calibrate",
    "shared_calibration",
    "CALIBRATED_METRICS",
    # the experiments and their settings
    "PRESETS",
    "PROJECTIONS",
    "AlignmentResult",
    "run_alignment",
    "select_anchors",
    "anchor_range",
    "comparison_size",
    "default_anchor_count",
    "compare_maps",
    "anchor_curve",
    "anchor_sweep",
    "shipped_sweep",
    "shared_shipped",
    "shared_alignment",
    "cached_alignment",
    "retrain_pair",
    "project_2d",
]
