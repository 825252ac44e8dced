"""The generator of the shapes experiment, its VAE wrapper, and the factor regressor.

The generator's first layer ``fc`` maps the latent code to features; it is either a
:class:`~lab.householder.core.HouseholderProjector` (rank ``rank``) or an unconstrained
``nn.Linear`` (the SeFa baseline). Everything after it is the same for both.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from lab.householder.core import HouseholderProjector
from lab.householder.shapes import N_SHAPES

__all__ = ["GeneratorConfig", "Generator", "Encoder", "ShapesVAE", "FactorRegressor", "LAYER_KINDS"]

LAYER_KINDS = ("householder", "linear")


@dataclass
class GeneratorConfig:
    latent_dim: int = 8  # size of the latent code z
    rank: int = 6  # rank of the Householder projector (number of discoverable directions)
    hidden: int = 128  # width of the feature vector the first layer writes
    channels: int = 16  # base channel count of the convolutional decoder/encoder
    image_size: int = 32  # output images are (3, image_size, image_size); must be 32
    first_layer: str = "householder"  # 'householder' (projector) or 'linear' (unconstrained)

    def validate(self) -> "GeneratorConfig":
        if self.first_layer not in LAYER_KINDS:
            raise ValueError(f"first_layer: expected one of {LAYER_KINDS}, got {self.first_layer!r}")
        if self.image_size != 32:
            raise ValueError(f"image_size: the decoder upsamples 4 -> 32, so expected 32, got {self.image_size}")
        for name in ("latent_dim", "rank", "hidden", "channels"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"{name}: expected a positive int, got {v!r}")
        if self.rank > min(self.latent_dim, self.hidden):
            raise ValueError(f"rank: expected 1 <= rank <= min(latent_dim, hidden) = "
                             f"{min(self.latent_dim, self.hidden)}, got {self.rank}")
        return self

    def to_dict(self) -> dict:
        return asdict(self)


class Generator(nn.Module):
    """z (n, latent_dim) -> images (n, 3, 32, 32) in [0, 1]."""

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.config = config.validate()
        c, h = config.channels, config.hidden
        if config.first_layer == "householder":
            self.fc = HouseholderProjector(config.latent_dim, h, config.rank, bias=True)
        else:
            self.fc = nn.Linear(config.latent_dim, h)
        self.up = nn.Linear(h, 2 * c * 4 * 4)
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(2 * c, 2 * c, 4, stride=2, padding=1), nn.LeakyReLU(0.2),  # 8x8
            nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1), nn.LeakyReLU(0.2),  # 16x16
            nn.ConvTranspose2d(c, 3, 4, stride=2, padding=1),  # 32x32
        )

    def features(self, z: torch.Tensor) -> torch.Tensor:
        return self.fc(z)  # (n, hidden)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu(self.fc(z), 0.2)  # (n, hidden)
        h = F.leaky_relu(self.up(h), 0.2)  # (n, 2c*16)
        h = h.view(h.shape[0], -1, 4, 4)  # (n, 2c, 4, 4)
        return torch.sigmoid(self.deconv(h))  # (n, 3, 32, 32)


class Encoder(nn.Module):
    """images (n, 3, 32, 32) -> (mu, logvar), each (n, latent_dim)."""

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        c = config.channels
        self.conv = nn.Sequential(
            nn.Conv2d(3, c, 4, stride=2, padding=1), nn.LeakyReLU(0.2),  # 16x16
            nn.Conv2d(c, 2 * c, 4, stride=2, padding=1), nn.LeakyReLU(0.2),  # 8x8
            nn.Conv2d(2 * c, 2 * c, 4, stride=2, padding=1), nn.LeakyReLU(0.2),  # 4x4
        )
        self.head = nn.Linear(2 * c * 16, 2 * config.latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.conv(x).flatten(1)  # (n, 2c*16)
        mu, logvar = self.head(h).chunk(2, dim=1)  # (n, latent), (n, latent)
        return mu, logvar.clamp(-10.0, 6.0)


class ShapesVAE(nn.Module):
    """A VAE whose decoder is the :class:`Generator`; the prior N(0, I) is what pages sample."""

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.config = config.validate()
        self.encoder = Encoder(config)
        self.generator = Generator(config)

    def loss(self, x: torch.Tensor, beta: float, generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict]:
        """Negative ELBO per image (reconstruction as summed squared error) and its parts."""
        mu, logvar = self.encoder(x)
        eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
        z = mu + torch.exp(0.5 * logvar) * eps  # (n, latent)
        recon = self.generator(z)
        rec = ((recon - x) ** 2).flatten(1).sum(1).mean()
        kl = (0.5 * (mu ** 2 + logvar.exp() - 1.0 - logvar)).sum(1).mean()
        return rec + beta * kl, {"recon": float(rec.detach()), "kl": float(kl.detach())}


class FactorRegressor(nn.Module):
    """images -> (continuous factors normalised to [0, 1] (n, 5), shape logits (n, 3)).

    Trained on the generated set; it is the measuring instrument of the sensitivity matrix.
    ``features`` (n, 64) is its penultimate layer, used as a perceptual distance.
    """

    def __init__(self, channels: int = 16) -> None:
        super().__init__()
        c = channels
        self.conv = nn.Sequential(
            nn.Conv2d(3, c, 3, stride=2, padding=1), nn.ReLU(),  # 16x16
            nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), nn.ReLU(),  # 8x8
            nn.Conv2d(2 * c, 2 * c, 3, stride=2, padding=1), nn.ReLU(),  # 4x4
        )
        self.fc = nn.Linear(2 * c * 16, 64)
        self.out = nn.Linear(64, 5 + N_SHAPES)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.fc(self.conv(x).flatten(1)))  # (n, 64)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        o = self.out(self.features(x))  # (n, 8)
        return o[:, :5], o[:, 5:]
