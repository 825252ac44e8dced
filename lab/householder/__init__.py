"""Householder latent directions: the projector, its baselines, and the shapes experiment.

Public names are re-exported here; see the submodules for the pieces:
``core`` (products, projector, SeFa/GANSpace), ``shapes`` (the procedural image set),
``model`` (generator, VAE, factor regressor), ``layers`` (moving along any linear layer's
directions), ``scoring`` (traversals and metrics),
``training`` (runs with progress, stop and resume).
"""

from lab.householder.core import (  # noqa: F401
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
from lab.householder.experiment import MODEL_METHODS, ComparisonResult, compare_directions, model_directions, summarise  # noqa: F401,E402
from lab.householder.layers import forward_with_input_shift, layer_inputs, linear_layer_names  # noqa: F401,E402
from lab.householder.model import FactorRegressor, Generator, GeneratorConfig, ShapesVAE  # noqa: F401,E402
from lab.householder.scoring import (  # noqa: F401,E402
    DirectionScores,
    decode_offset,
    mig,
    path_length,
    purity,
    sap,
    score_directions,
    sensitivity_matrix,
    traverse,
)
from lab.householder.shapes import FACTORS, ShapesData, make_shapes, render, sample_factors  # noqa: F401,E402
from lab.householder.training import (  # noqa: F401,E402
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
from lab.householder.artifacts import Artifacts, artifact_dir, image_grid, load_artifacts  # noqa: F401,E402
