"""The Three-Phase Transformer (3PT) and its RoPE-only baseline, in one decoder-only model.

``Transformer(ModelConfig(three_phase=False))`` is the baseline: pre-norm, RMSNorm, SwiGLU FFN,
RoPE (base 10000), grouped-query attention through ``scaled_dot_product_attention``, no biases,
an untied output head, and token embeddings scaled by sqrt(d_model). Weights keep PyTorch's
default init, as the reference implementation's do (``init="small"`` is N(0, 0.02)).

``three_phase=True`` adds the three 3PT operations (each has its own switch for ablations):

* per-phase RMSNorm: d_model is cut into ``n_phases`` contiguous stripes of width
  d_phase = d_model / n_phases; every norm site normalises each stripe on its own;
* phase rotation between attention and FFN, not residual::

      h = h + attn(norm1(h));  h = phase_rotate(h, theta);  h = h + ffn(norm2(h))

  inside phase i every (even, odd) coordinate pair k turns by theta_k + 2*pi*i/N, with theta
  (d_phase/2 angles) learned per block and shared by the phases;
* the horn: the embedding's mean over d_model is pinned to r(p) = 1/(p+1) at position p.

Bottom-up: helpers, norms, attention, FFN, block, model, then the drift read-outs.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from lab.checks import check_bool, check_finite, check_float, check_int
from lab.device import as_tensor

__all__ = [
    "ModelConfig",
    "Transformer",
    "RMSNorm",
    "PhaseRMSNorm",
    "phase_rotate",
    "phasor",
    "theta_init",
    "horn_values",
    "theta_drift",
    "theta_stats",
    "phase_means",
    "count_parameters",
]


INITS = ("reference", "small")  # ModelConfig.init: see Note [init]
MAX_VOCAB = 10_000_000  # the largest vocabulary a ModelConfig accepts (an embedding of 10M rows)


# --------------------------------------------------------------------------- configuration
@dataclass
class ModelConfig:
    vocab_size: int = 10_000
    d_model: int = 192
    n_layers: int = 4
    n_heads: int = 6  # query heads; d_head = d_model / n_heads
    n_kv_heads: int = 3  # key/value heads (GQA); must divide n_heads
    d_ff: int = 512  # hidden width of the SwiGLU FFN (each of the three matrices)
    max_seq_len: int = 128  # longest context; sizes the RoPE tables
    n_phases: int = 3  # N: number of contiguous d_model stripes (only used by 3PT operations)
    three_phase: bool = True  # False = the RoPE-only baseline (all 3PT operations off)
    # Ablation switches. None follows ``three_phase``; True/False forces the operation on/off.
    rotation: bool | None = None  # learned per-block phase rotation between attention and FFN
    phase_norm: bool | None = None  # N independent RMSNorm(d_phase) at every norm site
    horn: bool | None = None  # horn DC injection in the embedding: its mean over d_model pinned to 1/(p+1)
    # Scale the token embedding by sqrt(d_model). None follows the reference: scaled without
    # the horn (the paper's RoPE-only baseline), unscaled with it (the reference 3PT).
    embed_scale: bool | None = None
    rope_base: float = 10_000.0
    norm_eps: float = 1e-6  # RMSNorm epsilon, added to the mean square
    # Note [init]: "reference" keeps PyTorch's defaults, as the reference implementation does
    # (nn.Embedding N(0, 1); nn.Linear kaiming-uniform, U(-1/sqrt(fan_in), 1/sqrt(fan_in)));
    # "small" draws every matrix and the embedding from N(0, init_std).
    init: str = "reference"
    init_std: float = 0.02  # std of the "small" init

    # resolved switches -------------------------------------------------------
    @property
    def use_rotation(self) -> bool:
        return self.three_phase if self.rotation is None else bool(self.rotation)

    @property
    def use_phase_norm(self) -> bool:
        return self.three_phase if self.phase_norm is None else bool(self.phase_norm)

    @property
    def use_horn(self) -> bool:
        return self.three_phase if self.horn is None else bool(self.horn)

    @property
    def use_embed_scale(self) -> bool:
        return (not self.use_horn) if self.embed_scale is None else bool(self.embed_scale)

    @property
    def uses_phases(self) -> bool:
        return self.use_rotation or self.use_phase_norm

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_heads

    @property
    def d_phase(self) -> int:
        return self.d_model // self.n_phases

    def validate(self) -> "ModelConfig":
        """Raise ValueError naming the broken constraint; return self when all hold."""
        # Upper bounds far above any model here, so that a typo is refused before it allocates.
        for name, hi in (("vocab_size", MAX_VOCAB), ("d_model", 65_536), ("n_layers", 1024), ("n_heads", 1024),
                         ("n_kv_heads", 1024), ("d_ff", 262_144), ("max_seq_len", 1_048_576), ("n_phases", 64)):
            check_int(name, getattr(self, name), lo=1, hi=hi)
        check_bool("three_phase", self.three_phase)
        for name in ("rotation", "phase_norm", "horn", "embed_scale"):
            if getattr(self, name) is not None:
                check_bool(name, getattr(self, name))
        check_float("rope_base", self.rope_base, lo=1.0 + 1e-9)
        check_float("norm_eps", self.norm_eps, lo=0.0)
        check_float("init_std", self.init_std, lo=0.0)
        if self.init not in INITS:
            raise ValueError(f"init: expected one of {INITS}, got {self.init!r}")
        if self.d_model % self.n_heads:
            raise ValueError(f"n_heads: must divide d_model={self.d_model}, got n_heads={self.n_heads}")
        if self.d_head % 2:
            raise ValueError(f"n_heads: d_head = d_model/n_heads must be even for RoPE, got {self.d_head}")
        if self.n_heads % self.n_kv_heads:
            raise ValueError(f"n_kv_heads: must divide n_heads={self.n_heads}, got n_kv_heads={self.n_kv_heads}")
        if self.rope_base <= 1:
            raise ValueError(f"rope_base: expected > 1, got {self.rope_base}")
        if self.uses_phases:
            if self.d_model % self.n_phases:
                raise ValueError(f"n_phases: must divide d_model={self.d_model}, got n_phases={self.n_phases}")
            if self.d_phase % 2:
                raise ValueError(
                    f"n_phases: d_phase = d_model/n_phases must be even (rotation pairs), got "
                    f"d_model={self.d_model}, n_phases={self.n_phases}, d_phase={self.d_phase}"
                )
            # Note [phase-aligned GQA]: with contiguous head slices, N | n_heads puts every query
            # head inside one phase stripe, and N | n_kv_heads puts every KV group's query heads
            # inside one stripe too, so attention never mixes phases within a head.
            if self.n_heads % self.n_phases or self.n_kv_heads % self.n_phases:
                raise ValueError(
                    f"n_phases: phase-aligned GQA needs n_phases to divide both n_heads and n_kv_heads, "
                    f"got n_phases={self.n_phases}, n_heads={self.n_heads}, n_kv_heads={self.n_kv_heads}"
                )
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelConfig":
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"config: unknown ModelConfig fields {sorted(unknown)}")
        # Runs saved before the init switch existed were all initialised N(0, init_std).
        return cls(**{"init": "small", **d})


# --------------------------------------------------------------------------- 3PT operations
def theta_init(layer: int, n_layers: int, n_angles: int, *, dtype=torch.float32, device=None) -> torch.Tensor:
    """Initial angles of block ``layer`` (0-based): every entry (layer+1)*pi/(2*n_layers)."""
    check_int("n_layers", n_layers, lo=1)
    check_int("layer", layer, lo=0, hi=n_layers - 1)
    return torch.full((n_angles,), (layer + 1) * math.pi / (2 * n_layers), dtype=dtype, device=device)


def horn_values(seq_len: int, *, dtype=torch.float32, device=None) -> torch.Tensor:
    """The horn r(p) = 1/(p+1) for positions p = 0..seq_len-1, shape (seq_len,)."""
    return 1.0 / (torch.arange(seq_len, dtype=dtype, device=device) + 1.0)


def phase_rotate(x, theta, n_phases: int) -> torch.Tensor:
    """Rotate every (even, odd) pair k of phase i by theta_k + 2*pi*i/n_phases.

    x: (..., d_model); theta: (d_model / n_phases / 2,). Accepts numpy; returns torch on x's
    device (theta follows x). All phases are turned at once (one broadcast, no loop).

    Examples
    --------
    >>> x = torch.tensor([1.0, 0.0, 1.0, 0.0])  # d_model 4, N = 2: one pair per phase
    >>> y = phase_rotate(x, torch.zeros(1), 2)  # phase 1 turns by 2*pi/2 even at theta = 0
    >>> torch.allclose(y, torch.tensor([1.0, 0.0, -1.0, 0.0]), atol=1e-6)
    True
    """
    x = as_tensor(x, name="x")
    theta = as_tensor(theta, name="theta", device=x.device, dtype=x.dtype)
    n_phases = check_int("n_phases", n_phases, lo=1)
    if x.ndim < 1:
        raise ValueError("x: expected shape (..., d_model), got a scalar")
    d_model = x.shape[-1]
    if d_model % n_phases or (d_model // n_phases) % 2:
        raise ValueError(
            f"n_phases: d_model/n_phases must be an even integer, got d_model={d_model}, n_phases={n_phases}"
        )
    half = d_model // n_phases // 2
    if theta.shape != (half,):
        raise ValueError(f"theta: expected shape ({half},) = (d_model/n_phases/2,), got {tuple(theta.shape)}")
    check_finite("theta", theta)
    return _rotate_phases(x, theta, n_phases)


def _rotate_phases(x: torch.Tensor, theta: torch.Tensor, n_phases: int) -> torch.Tensor:
    """The rotation itself, for inputs already checked (the model's forward pass calls this)."""
    half = x.shape[-1] // n_phases // 2
    offsets = torch.arange(n_phases, device=x.device, dtype=x.dtype) * (2 * math.pi / n_phases)
    angles = theta[None, :] + offsets[:, None]  # (n_phases, half)
    cos, sin = torch.cos(angles), torch.sin(angles)
    pairs = x.reshape(*x.shape[:-1], n_phases, half, 2)  # (..., n_phases, half, 2)
    xe, xo = pairs[..., 0], pairs[..., 1]  # (..., n_phases, half)
    out = torch.stack((xe * cos - xo * sin, xe * sin + xo * cos), dim=-1)  # (..., n_phases, half, 2)
    return out.reshape(x.shape)  # (..., d_model)


def phasor(theta: float, n_phases: int, pair=(1.0, 0.0)) -> np.ndarray:
    """Where one channel pair lands in each of the N phases after ``phase_rotate``: (N, 2).

    Every phase holds the same pair; phase i turns it by theta + 2*pi*i/N, so the N points sit
    2*pi/N apart on a circle of the pair's radius.
    """
    n_phases = check_int("n_phases", n_phases, lo=1)
    p = np.asarray(pair, dtype=np.float64)
    if p.shape != (2,):
        raise ValueError(f"pair: expected 2 numbers (even, odd), got shape {p.shape}")
    x = torch.from_numpy(np.tile(p, n_phases))  # (N*2,): d_model = 2N, one pair per phase
    th = torch.tensor([float(theta)], dtype=torch.float64)  # (1,) = d_phase/2
    return phase_rotate(x, th, n_phases).reshape(n_phases, 2).numpy()  # (N, 2)


# --------------------------------------------------------------------------- norms
class RMSNorm(nn.Module):
    """y = x / sqrt(mean(x^2) + eps) * weight over the last dimension."""

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xf = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
        y = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return y.to(x.dtype) * self.weight


class PhaseRMSNorm(nn.Module):
    """N independent RMSNorm(d_phase) over the N contiguous stripes, concatenated.

    Note [per-phase norm parameter count]: N gains of width d_phase hold N*d_phase = d_model
    numbers, exactly as many as one RMSNorm(d_model). Per-phase normalisation therefore adds
    no parameters; the 3PT - baseline count is the rotation angles alone, L * d_phase / 2.
    The gains are stored as one (n_phases, d_phase) tensor so all stripes are normalised at once.
    """

    def __init__(self, dim: int, n_phases: int, eps: float = 1e-6):
        super().__init__()
        self.n_phases, self.eps = n_phases, eps
        self.weight = nn.Parameter(torch.ones(n_phases, dim // n_phases))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        xs = x.reshape(*shape[:-1], self.n_phases, shape[-1] // self.n_phases)  # (..., N, d_phase)
        xf = xs.float() if x.dtype in (torch.float16, torch.bfloat16) else xs
        y = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return (y.to(x.dtype) * self.weight).reshape(shape)  # (..., d_model)


def _norm(cfg: ModelConfig) -> nn.Module:
    if cfg.use_phase_norm:
        return PhaseRMSNorm(cfg.d_model, cfg.n_phases, cfg.norm_eps)
    return RMSNorm(cfg.d_model, cfg.norm_eps)


# --------------------------------------------------------------------------- attention
def rope_tables(seq_len: int, d_head: int, base: float, *, device=None,
                dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin tables, each (seq_len, d_head/2): angle p * base^(-2j/d_head)."""
    inv_freq = base ** (-torch.arange(0, d_head, 2, dtype=torch.float64, device=device) / d_head)  # (d_head/2,)
    ang = torch.arange(seq_len, dtype=torch.float64, device=device)[:, None] * inv_freq[None, :]  # (T, d_head/2)
    return torch.cos(ang).to(dtype), torch.sin(ang).to(dtype)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate the (even, odd) pairs of each head. x: (B, H, T, d_head); cos/sin: (T, d_head/2).

    Note [RoPE pairing]: we pair interleaved coordinates (2j, 2j+1), the same pairing the phase
    rotation uses, rather than the rotate-half layout; the two are equivalent up to a fixed
    permutation of the q/k projection rows.
    """
    xs = x.reshape(*x.shape[:-1], x.shape[-1] // 2, 2)  # (B, H, T, d_head/2, 2)
    xe, xo = xs[..., 0], xs[..., 1]
    c, s = cos.to(x.dtype), sin.to(x.dtype)
    return torch.stack((xe * c - xo * s, xe * s + xo * c), dim=-1).reshape(x.shape)  # (B, H, T, d_head)


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_heads, self.n_kv, self.d_head = cfg.n_heads, cfg.n_kv_heads, cfg.d_head
        self.wq = nn.Linear(cfg.d_model, cfg.n_heads * cfg.d_head, bias=False)
        self.wk = nn.Linear(cfg.d_model, cfg.n_kv_heads * cfg.d_head, bias=False)
        self.wv = nn.Linear(cfg.d_model, cfg.n_kv_heads * cfg.d_head, bias=False)
        self.wo = nn.Linear(cfg.n_heads * cfg.d_head, cfg.d_model, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        B, T, _ = x.shape
        q = self.wq(x).view(B, T, self.n_heads, self.d_head).transpose(1, 2)  # (B, H, T, d_head)
        k = self.wk(x).view(B, T, self.n_kv, self.d_head).transpose(1, 2)  # (B, Hkv, T, d_head)
        v = self.wv(x).view(B, T, self.n_kv, self.d_head).transpose(1, 2)  # (B, Hkv, T, d_head)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=self.n_kv != self.n_heads)
        y = y.transpose(1, 2).reshape(B, T, self.n_heads * self.d_head)  # (B, T, d_model)
        return self.wo(y)


class SwiGLU(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.w_gate = nn.Linear(cfg.d_model, cfg.d_ff, bias=False)
        self.w_up = nn.Linear(cfg.d_model, cfg.d_ff, bias=False)
        self.w_down = nn.Linear(cfg.d_ff, cfg.d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w_down(F.silu(self.w_gate(x)) * self.w_up(x))


# --------------------------------------------------------------------------- block and model
class Block(nn.Module):
    def __init__(self, cfg: ModelConfig, layer: int):
        super().__init__()
        self.layer, self.n_phases = layer, cfg.n_phases
        self.norm1, self.attn = _norm(cfg), Attention(cfg)
        self.norm2, self.ffn = _norm(cfg), SwiGLU(cfg)
        if cfg.use_rotation:
            self.theta = nn.Parameter(theta_init(layer, cfg.n_layers, cfg.d_phase // 2))
        else:
            self.register_parameter("theta", None)

    def forward(self, h: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        h = h + self.attn(self.norm1(h), cos, sin)
        if self.theta is not None:
            h = _rotate_phases(h, self.theta, self.n_phases)  # not residual: h is replaced
        return h + self.ffn(self.norm2(h))


class Transformer(nn.Module):
    """Decoder-only language model; ``forward(idx, targets=None) -> (logits, loss)``.

    Examples
    --------
    >>> cfg = ModelConfig(vocab_size=32, d_model=12, n_layers=2, n_heads=2, n_kv_heads=2, d_ff=16,
    ...                   max_seq_len=8, n_phases=2)
    >>> idx = torch.zeros(1, 5, dtype=torch.long)  # (batch, seq)
    >>> logits, loss = Transformer(cfg)(idx, targets=idx)
    >>> tuple(logits.shape), loss.ndim
    ((1, 5, 32), 0)
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        if not isinstance(config, ModelConfig):
            raise TypeError(f"config: expected a ModelConfig, got {type(config).__name__}")
        self.config = config.validate()
        c = config
        self.embed = nn.Embedding(c.vocab_size, c.d_model)
        self.blocks = nn.ModuleList(Block(c, i) for i in range(c.n_layers))
        self.norm_f = _norm(c)
        self.head = nn.Linear(c.d_model, c.vocab_size, bias=False)  # untied from the embedding
        cos, sin = rope_tables(c.max_seq_len, c.d_head, c.rope_base)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        self.apply(self._init_weights)

    def _init_weights(self, m: nn.Module) -> None:
        # Note [init]: "reference" leaves the modules as PyTorch built them.
        if self.config.init == "small" and isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, mean=0.0, std=self.config.init_std)

    def embed_tokens(self, idx: torch.Tensor) -> torch.Tensor:
        """Token embedding, times sqrt(d_model) if ``embed_scale``, then the horn if on. (B, T, d_model)."""
        x = self.embed(idx)  # (B, T, d_model)
        if self.config.use_embed_scale:
            x = x * math.sqrt(self.config.d_model)
        if self.config.use_horn:
            # Note [horn]: x' = x + (r(p) - mean_j x_j) moves every coordinate by the same amount,
            # so the mean over all d_model coordinates becomes exactly r(p) = 1/(p+1).
            r = horn_values(idx.shape[1], dtype=x.dtype, device=x.device)[None, :, None]  # (1, T, 1)
            x = x + (r - x.mean(-1, keepdim=True))
        return x

    def forward(self, idx: torch.Tensor,
                targets: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        if not isinstance(idx, torch.Tensor) or idx.dtype not in (torch.int64, torch.int32):
            got = getattr(idx, "dtype", type(idx).__name__)
            raise TypeError(f"idx: expected an integer tensor (batch, seq), got {got}")
        if idx.ndim != 2:
            raise ValueError(f"idx: expected shape (batch, seq), got {tuple(idx.shape)}")
        T = idx.shape[1]
        if T > self.config.max_seq_len:
            raise ValueError(f"idx: sequence length {T} exceeds max_seq_len={self.config.max_seq_len}")
        if T < 1:
            raise ValueError("idx: expected at least one token per sequence, got length 0")
        # Note [token range]: an id outside the vocabulary is an IndexError on the CPU and a
        # device-side assert on CUDA (which breaks the CUDA context), so it is refused here.
        lo, hi = (int(v) for v in torch.aminmax(idx))  # one reduction, one host sync
        if lo < 0 or hi >= self.config.vocab_size:
            raise ValueError(f"idx: token ids must lie in [0, {self.config.vocab_size}), got ids from {lo} to {hi}")
        if targets is not None:
            if not isinstance(targets, torch.Tensor) or targets.dtype not in (torch.int64, torch.int32):
                got = getattr(targets, "dtype", type(targets).__name__)
                raise TypeError(f"targets: expected an integer tensor (batch, seq) of next-token ids, got {got}")
            if targets.shape != idx.shape:
                raise ValueError(f"targets: expected the shape of idx {tuple(idx.shape)}, got {tuple(targets.shape)}")
        h = self.embed_tokens(idx)  # (B, T, d_model)
        cos, sin = self.rope_cos[:T], self.rope_sin[:T]
        if h.dtype == torch.float64:  # the float32 buffers would cap precision; rebuild exactly
            cos, sin = rope_tables(T, self.config.d_head, self.config.rope_base, device=h.device, dtype=torch.float64)
        for block in self.blocks:
            h = block(h, cos, sin)
        logits = self.head(self.norm_f(h))  # (B, T, vocab)
        loss = None
        if targets is not None:
            if targets.shape != idx.shape:
                raise ValueError(f"targets: expected shape {tuple(idx.shape)} like idx, got {tuple(targets.shape)}")
            flat = logits.reshape(-1, logits.shape[-1])  # (B*T, vocab)
            if flat.dtype in (torch.float16, torch.bfloat16):
                flat = flat.float()
            loss = F.cross_entropy(flat, targets.reshape(-1))
        return logits, loss

    def thetas(self) -> list[torch.Tensor | None]:
        return [b.theta for b in self.blocks]


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# --------------------------------------------------------------------------- drift read-outs
def _check_rotating(model: Transformer) -> None:
    if not isinstance(model, Transformer):
        raise TypeError(f"model: expected a lab.threephase.Transformer, got {type(model).__name__}")


def theta_drift(model: Transformer) -> list[float]:
    """Per-block L2 norm of |theta - theta_init|; an empty list for a model without rotation.

    Examples
    --------
    >>> cfg = ModelConfig(vocab_size=32, d_model=12, n_layers=2, n_heads=2, n_kv_heads=2, d_ff=16,
    ...                   max_seq_len=8, n_phases=2)
    >>> theta_drift(Transformer(cfg))  # untrained: every angle still sits at its start
    [0.0, 0.0]
    """
    _check_rotating(model)
    L = model.config.n_layers
    out = []
    for i, th in enumerate(model.thetas()):
        if th is None:
            return []
        t0 = theta_init(i, L, th.numel(), dtype=th.dtype, device=th.device)
        out.append(float(torch.linalg.vector_norm(th.detach() - t0)))
    return out


def theta_stats(model: Transformer) -> dict[str, list[float]]:
    """Per block: L2 drift, max |drift|, mean angle and its init (all lists of length L)."""
    _check_rotating(model)
    L = model.config.n_layers
    stats: dict[str, list[float]] = {"drift_l2": [], "drift_max": [], "mean_angle": [], "init_angle": []}
    for i, th in enumerate(model.thetas()):
        if th is None:
            return {k: [] for k in stats}
        t0 = theta_init(i, L, th.numel(), dtype=th.dtype, device=th.device)
        d = (th.detach() - t0).abs()
        stats["drift_l2"].append(float(torch.linalg.vector_norm(d)))
        stats["drift_max"].append(float(d.max()))
        stats["mean_angle"].append(float(th.detach().mean()))
        stats["init_angle"].append(float(t0[0]))
    return stats


def theta_matrix(model: Transformer) -> np.ndarray | None:
    """All learned angles as an array (n_layers, d_phase/2), or None without rotation."""
    th = model.thetas()
    if not th or th[0] is None:
        return None
    return torch.stack([t.detach().float().cpu() for t in th]).numpy()


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().to(torch.float64 if t.dtype == torch.float64 else torch.float32).numpy()


@torch.no_grad()
def phase_means(model: Transformer, idx: torch.Tensor) -> dict[str, np.ndarray]:
    """The horn witness: mean of the embedding output over d_model and per phase stripe.

    Returns ``position`` (T,), ``mean`` (T,) (averaged over the batch), ``per_phase`` (N, T)
    and ``horn`` (T,) = 1/(p+1). With the horn on, ``mean`` equals ``horn``.
    """
    _check_rotating(model)
    x = model.embed_tokens(idx)  # (B, T, d_model)
    N = model.config.n_phases if model.config.d_model % model.config.n_phases == 0 else 1
    T = idx.shape[1]
    stripes = x.reshape(*x.shape[:-1], N, -1)  # (B, T, N, d_phase)
    return {
        "position": np.arange(T),
        "mean": _np(x.mean(-1).mean(0)),
        "per_phase": _np(stripes.mean(-1).mean(0).T),  # (N, T)
        "horn": horn_values(T).numpy(),
    }
