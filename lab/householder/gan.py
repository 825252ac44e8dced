"""A small style-based GAN (StyleGAN2's structure at 32 px) for the paper's protocol.

- :class:`MappingNetwork`: z -> w, an MLP (pixel-normalised input), with a running mean of w.
- :class:`ModulatedConv`: a convolution whose input channels are scaled by a style
  ``s = affine(w)`` (the *style affine*, an ``nn.Linear`` w -> in-channels), then demodulated.
- :class:`StyleGenerator`: a learnt 4x4 constant and one block per resolution (4, 8, 16, 32);
  each block has two modulated convolutions (``conv0``, ``conv1``) and a modulated 1x1 ``torgb``
  whose output is added to the upsampled image so far (the "skip" generator). Every one of
  those takes its own slot of w+ (``num_ws`` = 3 per block).
- :class:`Discriminator`: a plain convolutional critic with a minibatch-std channel.

The paper swaps the *first style affine of each resolution* (``blocks.<i>.conv0.affine``) for a
:class:`~lab.householder.core.HouseholderProjector`; :func:`swap_style_affines` does that.
Images are in [-1, 1] inside the GAN; :func:`to_unit` maps them to [0, 1] (the shapes' range).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from lab.checks import check_int
from lab.householder.core import HouseholderProjector

__all__ = ["GanConfig", "MappingNetwork", "ModulatedConv", "StyleGenerator", "Discriminator", "swap_style_affines",
           "first_affine_names", "to_unit", "SLOTS_PER_BLOCK"]

SLOTS_PER_BLOCK = 3  # conv0, conv1, torgb: the w+ slots of one resolution, in this order


@dataclass
class GanConfig:
    z_dim: int = 64  # latent code z ~ N(0, I)
    w_dim: int = 64  # intermediate latent w (the paper: 512); well above the projector's rank
    mapping_layers: int = 3  # depth of the z -> w MLP
    channels: tuple = (64, 64, 32, 16)  # feature channels of the blocks at 4, 8, 16, 32 px
    d_channels: tuple = (16, 32, 64, 64)  # discriminator channels at 32, 16, 8, 4 px

    def __post_init__(self) -> None:
        self.channels = tuple(int(c) for c in self.channels)
        self.d_channels = tuple(int(c) for c in self.d_channels)

    @property
    def resolution(self) -> int:
        return 4 * 2 ** (len(self.channels) - 1)

    @property
    def num_ws(self) -> int:
        return SLOTS_PER_BLOCK * len(self.channels)

    def validate(self) -> "GanConfig":
        for name in ("z_dim", "w_dim", "mapping_layers"):
            check_int(name, getattr(self, name), lo=1, hi=4096)
        if not 2 <= len(self.channels) <= 5 or any(c < 1 for c in self.channels):
            raise ValueError(f"channels: expected 2 to 5 positive channel counts (4 px upward), got {self.channels}")
        if len(self.d_channels) != len(self.channels) or any(c < 1 for c in self.d_channels):
            raise ValueError(f"d_channels: expected {len(self.channels)} positive counts (one per resolution, "
                             f"largest first), got {self.d_channels}")
        return self

    def to_dict(self) -> dict:
        d = asdict(self)
        d["channels"], d["d_channels"] = list(self.channels), list(self.d_channels)
        return d


def _lrelu(x: torch.Tensor) -> torch.Tensor:
    # sqrt(2) keeps the activations' scale through a leaky ReLU (StyleGAN's gain).
    return F.leaky_relu(x, 0.2) * math.sqrt(2.0)


class MappingNetwork(nn.Module):
    """z (n, z_dim) -> w (n, w_dim); ``w_avg`` is the running mean of w during training."""

    def __init__(self, config: GanConfig) -> None:
        super().__init__()
        dims = [config.z_dim] + [config.w_dim] * config.mapping_layers
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.register_buffer("w_avg", torch.zeros(config.w_dim))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = z * torch.rsqrt(z.pow(2).mean(dim=1, keepdim=True) + 1e-8)  # pixel norm (n, z_dim)
        for layer in self.layers:
            x = _lrelu(layer(x))
        return x  # (n, w_dim)


class ModulatedConv(nn.Module):
    """A k x k convolution with per-sample input scaling by a style, demodulated.

    ``affine`` (nn.Linear w_dim -> in_ch, bias 1) is the style affine; it can be replaced by a
    HouseholderProjector of the same shape. Modulating the input and demodulating the output is
    the same map as StyleGAN2's modulated weights (Note [modulate the input]), without a grouped
    convolution.
    """

    def __init__(self, in_ch: int, out_ch: int, w_dim: int, kernel: int = 3, *, demodulate: bool = True,
                 up: bool = False, activate: bool = True) -> None:
        super().__init__()
        self.affine = nn.Linear(w_dim, in_ch)
        nn.init.ones_(self.affine.bias)
        # Equalised learning rate (StyleGAN): the weight is stored N(0, 1) and scaled at run time.
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel, kernel))
        self.scale = 1.0 / math.sqrt(in_ch * kernel * kernel)
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.demodulate, self.up, self.activate, self.padding = demodulate, up, activate, kernel // 2

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        s = self.affine(w)  # (n, in_ch)
        # Note [modulate the input]: conv(x, W * s) = conv(x * s, W) for a per-input-channel s,
        # and the demodulation factor 1/|W_o * s| depends only on s, so it scales the output.
        x = x * s[:, :, None, None]
        if self.up:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)  # (n, in, 2h, 2w)
        weight = self.weight * self.scale
        y = F.conv2d(x, weight, padding=self.padding)  # (n, out, h, w)
        if self.demodulate:
            d = torch.rsqrt(s.pow(2) @ weight.pow(2).sum(dim=(2, 3)).T + 1e-8)  # (n, out)
            y = y * d[:, :, None, None]
        y = y + self.bias[None, :, None, None]
        return _lrelu(y) if self.activate else y


class SynthesisBlock(nn.Module):
    """One resolution: conv0 (upsampling, except in the first block), conv1, torgb."""

    def __init__(self, in_ch: int, out_ch: int, w_dim: int, first: bool) -> None:
        super().__init__()
        self.conv0 = ModulatedConv(in_ch, out_ch, w_dim, up=not first)
        self.conv1 = ModulatedConv(out_ch, out_ch, w_dim)
        self.torgb = ModulatedConv(out_ch, 3, w_dim, kernel=1, demodulate=False, activate=False)

    def forward(self, x: torch.Tensor, img: torch.Tensor | None, ws: torch.Tensor):
        x = self.conv0(x, ws[:, 0])
        x = self.conv1(x, ws[:, 1])
        rgb = self.torgb(x, ws[:, 2])  # (n, 3, h, w)
        if img is not None:
            img = F.interpolate(img, scale_factor=2, mode="bilinear", align_corners=False)
            rgb = rgb + img
        return x, rgb


class StyleGenerator(nn.Module):
    """z (n, z_dim) -> images (n, 3, R, R) in about [-1, 1]; or w+ (n, num_ws, w_dim) -> images.

    Examples
    --------
    >>> import torch
    >>> G = StyleGenerator(GanConfig(channels=(8, 8), d_channels=(8, 8), z_dim=8, w_dim=8))
    >>> tuple(G(torch.randn(2, 8)).shape), G.config.num_ws
    ((2, 3, 8, 8), 6)
    """

    def __init__(self, config: GanConfig) -> None:
        super().__init__()
        self.config = config.validate()
        ch = config.channels
        self.mapping = MappingNetwork(config)
        self.const = nn.Parameter(torch.randn(1, ch[0], 4, 4))
        self.blocks = nn.ModuleList(
            SynthesisBlock(ch[max(i - 1, 0)], ch[i], config.w_dim, first=(i == 0)) for i in range(len(ch)))

    def ws(self, z: torch.Tensor) -> torch.Tensor:
        """(n, num_ws, w_dim): the same w in every slot."""
        w = self.mapping(z)
        return w[:, None, :].expand(-1, self.config.num_ws, -1)

    def synthesis(self, ws: torch.Tensor) -> torch.Tensor:
        n, slots, width = ws.shape
        if slots != self.config.num_ws or width != self.config.w_dim:
            raise ValueError(f"ws: expected (n, {self.config.num_ws}, {self.config.w_dim}) w+ codes, got "
                             f"{tuple(ws.shape)}")
        x = self.const.expand(n, -1, -1, -1)  # (n, ch0, 4, 4)
        img = None
        for i, block in enumerate(self.blocks):
            x, img = block(x, img, ws[:, SLOTS_PER_BLOCK * i: SLOTS_PER_BLOCK * (i + 1)])
        return img  # (n, 3, R, R)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.synthesis(self.ws(z))

    def first_affines(self) -> list[nn.Module]:
        """Each block's first style affine (``blocks.<i>.conv0.affine``): the layers the paper swaps."""
        return [b.conv0.affine for b in self.blocks]


class _EqConv(nn.Module):
    """A convolution (or, with kernel 0, a linear layer) with an equalised learning rate."""

    def __init__(self, in_f: int, out_f: int, kernel: int = 0) -> None:
        super().__init__()
        shape = (out_f, in_f, kernel, kernel) if kernel else (out_f, in_f)
        self.weight = nn.Parameter(torch.randn(shape))
        self.bias = nn.Parameter(torch.zeros(out_f))
        self.scale = 1.0 / math.sqrt(in_f * max(kernel, 1) ** 2)
        self.kernel = kernel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kernel:
            return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.kernel // 2)
        return F.linear(x, self.weight * self.scale, self.bias)


class Discriminator(nn.Module):
    """images (n, 3, R, R) in [-1, 1] -> (n,) realness logits."""

    def __init__(self, config: GanConfig) -> None:
        super().__init__()
        self.config = config.validate()
        ch = config.d_channels  # largest resolution first
        self.fromrgb = _EqConv(3, ch[0], 1)
        self.convs = nn.ModuleList(_EqConv(ch[i], ch[i + 1], 3) for i in range(len(ch) - 1))
        self.final_conv = _EqConv(ch[-1] + 1, ch[-1], 3)
        self.fc = _EqConv(ch[-1] * 16, ch[-1])
        self.out = _EqConv(ch[-1], 1)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        x = _lrelu(self.fromrgb(img))
        for conv in self.convs:
            x = F.avg_pool2d(_lrelu(conv(x)), 2)  # halves the resolution
        # Minibatch standard deviation (one extra channel) discourages collapse onto a few images.
        group = min(4, x.shape[0])
        if x.shape[0] % group:
            group = 1
        y = x.reshape(group, -1, *x.shape[1:]).std(dim=0, unbiased=False).mean(dim=(1, 2, 3))  # (n / group,)
        y = y.repeat(group)[:, None, None, None].expand(-1, 1, *x.shape[2:])  # (n, 1, 4, 4)
        x = _lrelu(self.final_conv(torch.cat([x, y], dim=1)))
        return self.out(_lrelu(self.fc(x.flatten(1)))).squeeze(1)


def first_affine_names(generator: StyleGenerator) -> list[str]:
    """Dotted names of each block's first style affine, in block order."""
    return [f"blocks.{i}.conv0.affine" for i in range(len(generator.blocks))]


def swap_style_affines(generator: StyleGenerator, rank: int) -> list[HouseholderProjector]:
    """Replace every block's first style affine by ``HouseholderProjector.from_linear(affine, rank)`` (in place).

    Returns the projectors, in block order. The bias (StyleGAN's style offset, initialised to 1)
    is kept. Raises ValueError when ``rank`` exceeds a layer's smaller side.
    """
    if not isinstance(generator, StyleGenerator):
        raise TypeError(f"generator: expected a StyleGenerator, got {type(generator).__name__}")
    hi = min(min(generator.config.channels[max(i - 1, 0)], generator.config.w_dim)
             for i in range(len(generator.blocks)))
    rank = check_int("rank", rank, lo=1, hi=hi)
    out = []
    for block in generator.blocks:
        if not isinstance(block.conv0.affine, nn.Linear):
            raise ValueError("generator: its first style affines are already projectors; swap a pretrained copy")
        block.conv0.affine = HouseholderProjector.from_linear(block.conv0.affine, rank)
        out.append(block.conv0.affine)
    return out


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """GAN images in [-1, 1] -> [0, 1] (clamped), the range of the shapes and the factor regressor."""
    return ((images + 1.0) * 0.5).clamp(0.0, 1.0)
