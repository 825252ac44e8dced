"""Moving a generator along directions of any linear layer, not only its first one.

A direction of a layer lives in that layer's input space. For the first layer the input is the
latent code, so "move along n" means decoding ``z + t n``. For a deeper layer (SeFa's own use
on intermediate layers) it means adding ``t n`` to whatever the layer receives for ``z``. Both
are the same operation here: a forward pre-hook adds a per-row shift to the layer's input.

The hook goes on a deep copy of the generator, never on the caller's module: the dashboard
shares one loaded model between sessions, and a hook on it would shift every other session's
forward pass while it ran.
"""

from __future__ import annotations

import copy

import torch
import torch.nn as nn

from lab.checks import check_matrix
from lab.device import as_tensor
from lab.householder.core import HouseholderProjector, get_submodule_by_name

__all__ = ["linear_layer_names", "linear_layer", "forward_with_input_shift", "layer_inputs"]

LINEAR_KINDS = (nn.Linear, HouseholderProjector)


def linear_layer_names(model: nn.Module) -> list[str]:
    """Dotted names of the layers whose directions can be traversed (nn.Linear or projectors), in order."""
    return [name for name, m in model.named_modules() if name and isinstance(m, LINEAR_KINDS)]


def linear_layer(model: nn.Module, name: str) -> nn.Module:
    """The nn.Linear or HouseholderProjector at ``name``; a ValueError lists the valid names otherwise."""
    layer = get_submodule_by_name(model, name)
    if not isinstance(layer, LINEAR_KINDS):
        raise ValueError(f"layer: {name!r} is a {type(layer).__name__}; expected one of the linear layers "
                         f"{linear_layer_names(model)}")
    return layer


def _check_shift(layer: nn.Module, shift, rows: int) -> torch.Tensor:
    S = check_matrix("shift", as_tensor(shift, name="shift"), cols=layer.in_features)
    if S.shape[0] not in (1, rows):
        raise ValueError(f"shift: expected 1 or {rows} rows (one per input row), got {S.shape[0]}")
    return S


@torch.no_grad()
def forward_with_input_shift(generator: nn.Module, name: str, z: torch.Tensor, shift) -> torch.Tensor:
    """``generator(z)`` with ``shift`` (n or 1, in_features) added to the input of layer ``name``.

    The generator itself is left untouched (the hook lives on a copy).
    """
    layer = linear_layer(generator, name)
    S = _check_shift(layer, shift, z.shape[0])
    work = copy.deepcopy(generator)
    target = work.get_submodule(name)
    S = S.to(device=next(target.parameters()).device, dtype=next(target.parameters()).dtype)

    def add_shift(_module, args):
        return (args[0] + S, *args[1:])

    target.register_forward_pre_hook(add_shift)
    return work(z)


@torch.no_grad()
def layer_inputs(generator: nn.Module, name: str, z: torch.Tensor) -> torch.Tensor:
    """(n, in_features): what layer ``name`` receives when the generator decodes ``z``."""
    linear_layer(generator, name)
    work = copy.deepcopy(generator)
    seen: list[torch.Tensor] = []
    work.get_submodule(name).register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach()))
    work(z)
    if not seen:
        raise ValueError(f"layer: {name!r} is not called when the generator decodes z")
    return seen[0]
