"""Householder latent directions: the projector, its baselines, and the shapes experiment.

Public names are re-exported here; see the submodules for the pieces:
``core`` (products, projector, SeFa/GANSpace), ``shapes`` (the procedural image set),
``model`` (generator, VAE, factor regressor), ``scoring`` (traversals and metrics),
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
