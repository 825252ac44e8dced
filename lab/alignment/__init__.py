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

- :mod:`lab.alignment.maps`        ProcrustesAligner, LinearMapAligner, MLPAligner
- :mod:`lab.alignment.metrics`     linear_cka, unbiased_cka, retrieval_top1, ...
- :mod:`lab.alignment.shapes`      the procedural captioned-shapes data set
- :mod:`lab.alignment.toyclip`     the two toy CLIP models and their training loop
- :mod:`lab.alignment.sources`     AlignmentData: shipped, MiniLM and bring-your-own sources
- :mod:`lab.alignment.training`    the toy-CLIP pair trained end to end (progress, stop, resume)
- :mod:`lab.alignment.experiment`  before/after metrics, map comparison, anchor curve, 2-D views,
                                   and PRESETS, the one table of named settings
- :mod:`lab.alignment.cli`         ``ortholab train alignment``
"""

from lab.alignment.experiment import (
    PRESETS,
    PROJECTIONS,
    AlignmentResult,
    anchor_curve,
    anchor_range,
    compare_maps,
    comparison_size,
    default_anchor_count,
    project_2d,
    run_alignment,
    select_anchors,
)
from lab.alignment.maps import (
    MAP_TYPES,
    CrossStats,
    LinearMapAligner,
    MLPAligner,
    ProcrustesAligner,
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
from lab.alignment.sources import SHIPPED, AlignmentData, from_arrays, load_byo, load_shipped
from lab.alignment.training import PairConfig, save_toy_npz, toy_arrays, train_pair

__all__ = [
    "PRESETS",
    "PROJECTIONS",
    "SHIPPED",
    "anchor_range",
    "comparison_size",
    "default_anchor_count",
    "PairConfig",
    "train_pair",
    "save_toy_npz",
    "toy_arrays",
    "AlignmentData",
    "from_arrays",
    "load_byo",
    "load_shipped",
    "AlignmentResult",
    "run_alignment",
    "compare_maps",
    "anchor_curve",
    "project_2d",
    "select_anchors",
    "ProcrustesAligner",
    "LinearMapAligner",
    "MLPAligner",
    "CrossStats",
    "cross_statistics",
    "make_aligner",
    "orthogonality_error",
    "MAP_TYPES",
    "linear_cka",
    "unbiased_cka",
    "retrieval_top1",
    "nearest_neighbors",
    "mutual_knn_alignment",
    "mean_pairwise_cosine",
    "procrustes_distance",
]
