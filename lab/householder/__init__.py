"""Householder latent directions: the projector, its baselines, and the paper's protocol on a style-based GAN.

The public face: views, notebooks, scripts and benchmarks import from here only. The rooms:
``core`` (products, projector, SeFa/GANSpace), ``shapes`` (the procedural image set with six
known factors), ``gan`` (the style-based generator and discriminator), ``gan_training``
(pretraining, swap + fine-tuning, files), ``edits`` (direction methods and w+ edits), ``model``
and ``training`` (the factor regressor, the measuring instrument), ``scoring`` and
``gan_metrics`` (KID, PPL, PIPL at matched change, sensitivity, MIG / DCI / SAP), ``experiment``
(the protocol over seeds and :data:`PRESETS`), ``artifacts`` (the shipped checkpoints), ``cli``
(``ortholab train householder``).
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
from lab.householder.edits import (
    GAN_METHODS,
    block_slots,
    direction_scales,
    edit_ws,
    random_rotation,
    render_edit,
    sample_ws,
    style_directions,
    traverse_ws,
    w_samples,
)
from lab.householder.experiment import (
    PRESETS,
    VARIANT_LABELS,
    VARIANTS,
    evaluate_seed,
    finetune_steps,
    generator_scores,
    paired_differences,
    score_variant,
    summarise,
    variant_directions,
    variant_source,
)
from lab.householder.gan import (
    SLOTS_PER_BLOCK,
    Discriminator,
    GanConfig,
    StyleGenerator,
    first_affine_names,
    swap_style_affines,
    to_unit,
)
from lab.householder.gan_metrics import (
    CodeEncoder,
    dci,
    dci_from_importance,
    direction_labels,
    gan_sensitivity,
    generated_features,
    kid,
    pipl_matched,
    posthoc_codes,
    ppl,
)
from lab.householder.gan_training import (
    FINETUNE_TRAINABLE,
    GanState,
    GanTrainConfig,
    finetune_swapped,
    load_gan,
    save_gan,
    train_gan,
)
from lab.householder.model import FactorRegressor
from lab.householder.scoring import discretize, mig, mutual_info_matrix, predict_factors, purity, sap, sap_matrix
from lab.householder.shapes import FACTORS, ShapesData, make_shapes, normalise_factors, render, sample_factors
from lab.householder.training import load_regressor, regressor_accuracy, save_regressor, train_regressor

__all__ = [
    # core: the projector and the direction methods
    "householder_product", "HouseholderProjector", "sefa_directions", "ganspace_directions", "random_directions",
    "layer_directions", "orthogonality_error", "householder_vectors_from_frame", "swap_for_projector",
    "train_only_reflectors", "get_submodule_by_name", "DIRECTION_METHODS",
    # shapes and the factor regressor
    "FACTORS", "ShapesData", "make_shapes", "render", "sample_factors", "normalise_factors", "FactorRegressor",
    "train_regressor", "regressor_accuracy", "save_regressor", "load_regressor",
    # the GAN
    "GanConfig", "StyleGenerator", "Discriminator", "SLOTS_PER_BLOCK", "first_affine_names", "swap_style_affines",
    "to_unit", "GanTrainConfig", "GanState", "train_gan", "finetune_swapped", "save_gan", "load_gan",
    "FINETUNE_TRAINABLE",
    # directions and edits
    "GAN_METHODS", "block_slots", "style_directions", "random_rotation", "direction_scales", "edit_ws",
    "traverse_ws", "render_edit", "sample_ws", "w_samples",
    # scores
    "predict_factors", "purity", "discretize", "mutual_info_matrix", "mig", "sap_matrix", "sap", "dci",
    "dci_from_importance", "kid", "ppl", "pipl_matched", "gan_sensitivity", "direction_labels", "generated_features",
    "CodeEncoder", "posthoc_codes",
    # experiment
    "PRESETS", "VARIANTS", "VARIANT_LABELS", "variant_source", "variant_directions", "finetune_steps",
    "score_variant", "generator_scores", "evaluate_seed", "summarise", "paired_differences",
    # shipped artifacts
    "Artifacts", "load_artifacts", "image_grid", "to_uint8_image",
]
