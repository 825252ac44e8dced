"""The factor regressor: the measuring instrument of the shapes' six factors.

Trained on real shapes (``train_regressor``); its penultimate layer is the feature space of the
study's KID, PPL and PIPL (no Inception network is downloaded).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from lab.householder.shapes import N_SHAPES

__all__ = ["FactorRegressor"]



def image_trunk(channels: int) -> nn.Sequential:
    """(n, 3, 32, 32) -> (n, 2 * channels, 4, 4): three stride-2 convolutions, shared by the image encoders."""
    c = channels
    return nn.Sequential(
        nn.Conv2d(3, c, 3, stride=2, padding=1), nn.ReLU(),  # 16x16
        nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), nn.ReLU(),  # 8x8
        nn.Conv2d(2 * c, 2 * c, 3, stride=2, padding=1), nn.ReLU(),  # 4x4
    )


class FactorRegressor(nn.Module):
    """images (n, 3, 32, 32) in [0, 1] -> (continuous factors normalised to [0, 1] (n, 5), shape logits (n, 3)).

    ``features`` (n, 64) is its penultimate layer, used as a perceptual feature space.
    """

    def __init__(self, channels: int = 16) -> None:
        super().__init__()
        c = channels
        self.conv = image_trunk(c)
        self.fc = nn.Linear(2 * c * 16, 64)
        self.out = nn.Linear(64, 5 + N_SHAPES)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.fc(self.conv(x).flatten(1)))  # (n, 64)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        o = self.out(self.features(x))  # (n, 8)
        return o[:, :5], o[:, 5:]
