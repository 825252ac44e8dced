"""Householder latent directions: the projector, its baselines, and the shapes experiment.

The public face: views, notebooks, scripts and benchmarks import from here only. The rooms:
``core`` (products, projector, SeFa/GANSpace), ``shapes`` (the procedural image set),
``model`` (generator, VAE, factor regressor), ``layers`` (moving along any linear layer's
directions), ``scoring`` (traversals and metrics), ``training`` (runs with progress, stop and
resume), ``experiment`` (the comparison over seeds and :data:`PRESETS`), ``artifacts`` (the
shipped models and image helpers), ``cli`` (``ortholab train householder``).
"""

from lab.householder.artifacts import Artifacts, image_grid, load_artifacts, to_uint8_image
from lab.householder.core import (
    DIRECTION_METHODS,
    HouseholderProjector,
    ganspace_directions,
    get_submodule_by_name,
    householder_product,
    householder_vectors_from_frame,
    layer_directions,
    orthogonality_error,
    random_directions,
    sefa_directions,
    swap_for_projector,
    train_only_reflectors,
)
from lab.householder.experiment import (
    MODEL_METHODS,
    PRESETS,
    ComparisonResult,
    compare_directions,
    directions_of,
    model_directions,
    page_train_config,
    summarise,
)
from lab.householder.layers import forward_with_input_shift, layer_inputs, linear_layer_names
from lab.householder.model import FactorRegressor, Generator, GeneratorConfig, ShapesVAE
from lab.householder.scoring import (
    DirectionScores,
    decode_offset,
    mig,
    path_length,
    prior_samples,
    purity,
    sap,
    score_directions,
    sensitivity_matrix,
    traverse,
)
from lab.householder.shapes import FACTORS, ShapesData, make_shapes, render, sample_factors
from lab.householder.training import (
    TrainConfig,
    TrainResult,
    load_regressor,
    load_vae,
    regressor_accuracy,
    save_regressor,
    save_vae,
    train_regressor,
    train_vae,
)

__all__ = [
    # core: the projector and the direction methods
    "householder_product", "HouseholderProjector", "sefa_directions", "ganspace_directions", "random_directions",
    "layer_directions", "orthogonality_error", "householder_vectors_from_frame", "swap_for_projector",
    "train_only_reflectors", "get_submodule_by_name", "DIRECTION_METHODS",
    # shapes and models
    "FACTORS", "ShapesData", "make_shapes", "render", "sample_factors",
    "GeneratorConfig", "Generator", "ShapesVAE", "FactorRegressor",
    "forward_with_input_shift", "layer_inputs", "linear_layer_names",
    # scoring
    "DirectionScores", "score_directions", "traverse", "decode_offset", "sensitivity_matrix", "purity", "mig",
    "sap", "path_length", "prior_samples",
    # training
    "TrainConfig", "TrainResult", "train_vae", "train_regressor", "regressor_accuracy", "save_vae", "load_vae",
    "save_regressor", "load_regressor",
    # experiment
    "PRESETS", "MODEL_METHODS", "model_directions", "directions_of", "page_train_config", "ComparisonResult",
    "compare_directions", "summarise",
    # shipped artifacts
    "Artifacts", "load_artifacts", "image_grid", "to_uint8_image",
]
