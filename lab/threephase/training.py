"""Training the 3PT model and its baseline: AdamW, warmup + cosine, clipping, checkpoints, resume.

``Trainer`` owns one model and its run directory (lab.runs.Run):

* ``config.json`` holds ``{"model": ModelConfig, "train": TrainConfig, "data": ...}``;
* ``metrics.jsonl`` gets one row per evaluation: train/val loss, perplexity, bits per byte,
  the per-block theta drift (L2, max), mean angle and all angles, and the horn witness (embedding mean over
  d_model and per phase stripe, at the first positions);
* ``checkpoint.pt`` (model + optimizer + step) at every evaluation, so a run resumes where
  it stopped with the same batches (each step's batch is drawn from a generator seeded by
  (seed, step, rank)) and the same learning rate.

Multi-GPU: started under ``torchrun`` (WORLD_SIZE > 1) the trainer wraps the model in
DistributedDataParallel; every rank draws its own batches and rank 0 evaluates and writes.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from dataclasses import asdict, dataclass, replace
from typing import Any

import pandas as pd
import torch

from lab.checks import TrainingDiverged, check_float, check_int
from lab.device import pick_device
from lab.progress import Progress, ShouldStop, resolve
from lab.runs import Run
from lab.seeding import seeded_init
from lab.threephase.data import TokenData, build_token_data, eval_windows, sample_batch
from lab.threephase.model import ModelConfig, Transformer, count_parameters, phase_means, theta_matrix, theta_stats

__all__ = ["TrainConfig", "Trainer", "TrainResult", "TrainingDiverged", "lr_at", "train_model", "train_language_model",
           "parameter_groups", "DECAY_POLICIES",
           "STUDY"]

STUDY = "threephase"

DECAY_POLICIES = ("all", "matrices")  # TrainConfig.decay: see Note [decay]
HORN_POSITIONS = 16  # positions of the horn witness logged at every evaluation


def parameter_groups(model: torch.nn.Module, tcfg: "TrainConfig") -> list[dict[str, Any]]:
    """AdamW's parameter groups under ``tcfg.decay`` (Note [decay])."""
    params = list(model.parameters())
    if tcfg.decay == "all":
        return [{"params": params, "weight_decay": tcfg.weight_decay}]
    decay = [p for p in params if p.ndim >= 2]  # matrices
    no_decay = [p for p in params if p.ndim < 2]  # gains, per-phase gains, theta
    return [{"params": decay, "weight_decay": tcfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


@dataclass
class TrainConfig:
    steps: int = 300
    batch_size: int = 16  # sequences per step (per rank under DDP)
    seq_len: int = 0  # tokens per sequence; 0 = the model's max_seq_len
    lr: float = 3e-4
    min_lr_frac: float = 0.1  # cosine decays to lr * min_lr_frac at the last step
    warmup: int = 30  # linear warmup steps
    weight_decay: float = 0.1
    # Note [decay]: "all" decays every parameter, as the reference (AdamW over
    # model.parameters()), the angles theta and the norm gains included; "matrices" spares
    # every parameter with ndim < 2 (gains, theta). Decay pulls each theta toward 0.
    decay: str = "all"
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0  # max global grad norm; 0 disables clipping
    eval_every: int = 50  # steps between evaluations (also the checkpoint cadence)
    eval_windows: int = 32  # validation windows of seq_len tokens per evaluation
    seed: int = 0  # model init and batch order
    device: str | None = None  # None = lab.device.pick_device()
    amp: str = "auto"  # "auto" = bf16 autocast on CUDA, float32 on CPU; "bf16"; "off"
    compile: bool = False  # torch.compile the model

    def validate(self) -> "TrainConfig":
        check_int("steps", self.steps, lo=1)
        check_int("batch_size", self.batch_size, lo=1, hi=65_536)
        check_int("seq_len", self.seq_len, lo=0)
        check_int("warmup", self.warmup, lo=0)
        check_int("eval_every", self.eval_every, lo=1)
        check_int("eval_windows", self.eval_windows, lo=1)
        check_float("lr", self.lr, lo=0.0)
        check_float("min_lr_frac", self.min_lr_frac, lo=0.0, hi=1.0)
        check_float("grad_clip", self.grad_clip, lo=0.0)
        if self.decay not in DECAY_POLICIES:
            raise ValueError(f"decay: expected one of {DECAY_POLICIES}, got {self.decay!r}")
        if self.amp not in ("auto", "bf16", "off"):
            raise ValueError(f"amp: expected 'auto', 'bf16' or 'off', got {self.amp!r}")
        return self


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Learning rate for optimizer step ``step`` (0-based): linear warmup, then cosine to min_lr_frac."""
    if cfg.warmup and step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    span = max(1, cfg.steps - cfg.warmup)
    t = min(1.0, (step - cfg.warmup) / span)
    return cfg.lr * (cfg.min_lr_frac + (1 - cfg.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * t)))


@dataclass
class TrainResult:
    model: Transformer
    history: pd.DataFrame  # one row per evaluation
    final: dict  # the last evaluation row
    run_path: str | None
    stopped: bool = False


def _dist_info() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return world, int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))


class Trainer:
    """Train one model on a TokenData; ``run(progress, should_stop)`` drives it to ``steps``."""

    def __init__(self, model_config: ModelConfig, train_config: TrainConfig, data: TokenData, *,
                 run: Run | None = None, name: str | None = None, root: str | os.PathLike | None = None,
                 save: bool = True, keep_weights: bool = True, extra_config: dict | None = None):
        if not isinstance(model_config, ModelConfig):
            raise TypeError(f"model_config: expected a ModelConfig, got {type(model_config).__name__}")
        if not isinstance(train_config, TrainConfig):
            raise TypeError(f"train_config: expected a TrainConfig, got {type(train_config).__name__}")
        if not isinstance(data, TokenData):
            raise TypeError(f"data: expected a TokenData, got {type(data).__name__}")
        if model_config.vocab_size < data.vocab_size:
            raise ValueError(f"model_config: vocab_size={model_config.vocab_size} is smaller than the tokenizer's "
                             f"{data.vocab_size}")
        self.mcfg, self.tcfg, self.data = model_config.validate(), train_config.validate(), data
        self.run_handle, self.name, self.root, self.save = run, name, root, save
        self.keep_weights = keep_weights  # False: the run keeps metrics only (no checkpoint, no resume)
        self.extra_config = dict(extra_config or {})
        self.step = 0
        self._checkpoint_step = 0  # the step of the last checkpoint written or loaded
        self.history: list[dict] = []
        self.model: Transformer | None = None

    # ------------------------------------------------------------------ setup
    @property
    def seq_len(self) -> int:
        return self.tcfg.seq_len or self.mcfg.max_seq_len

    def config_dict(self) -> dict:
        return {"model": self.mcfg.to_dict(), "train": asdict(self.tcfg), "data": self.data.describe(),
                "tokenizer": self.data.tokenizer.to_json(), **self.extra_config}

    def setup(self) -> "Trainer":
        if self.seq_len > self.mcfg.max_seq_len:
            raise ValueError(f"seq_len: {self.seq_len} exceeds the model's max_seq_len={self.mcfg.max_seq_len}")
        self.world, self.rank, local = _dist_info()
        if self.world > 1 and not torch.distributed.is_initialized():
            backend = "nccl" if torch.cuda.is_available() else "gloo"
            torch.distributed.init_process_group(backend)
        if self.world > 1 and torch.cuda.is_available():
            torch.cuda.set_device(local)
            self.device = torch.device("cuda", local)
        else:
            self.device = pick_device(self.tcfg.device)
        with seeded_init(self.tcfg.seed):
            model = Transformer(self.mcfg)
        self.model = model.to(self.device)
        fused = self.device.type == "cuda"
        self.optimizer = torch.optim.AdamW(
            parameter_groups(self.model, self.tcfg), lr=self.tcfg.lr, betas=(self.tcfg.beta1, self.tcfg.beta2),
            fused=fused or None,
        )
        self.forward_model: torch.nn.Module = self.model
        if self.tcfg.compile:
            self.forward_model = torch.compile(self.model)
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            device_ids = [self.device.index] if self.device.type == "cuda" else None
            self.forward_model = DDP(self.forward_model, device_ids=device_ids)
        use_bf16 = self.tcfg.amp == "bf16" or (self.tcfg.amp == "auto" and self.device.type == "cuda")
        if use_bf16:
            self.autocast = lambda: torch.autocast(self.device.type, dtype=torch.bfloat16)
        else:
            self.autocast = contextlib.nullcontext
        if self.save and self.rank == 0 and self.run_handle is None:
            self.run_handle = Run.create(STUDY, self.config_dict(), name=self.name, root=self.root)
        self._val = eval_windows(self.data.val, self.seq_len, self.tcfg.eval_windows)
        self._train_losses: list[float] = []
        self._t0 = time.perf_counter()
        return self

    # ------------------------------------------------------------------ one step
    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(self.tcfg.seed * 1_000_003 + step * 7_919 + getattr(self, "rank", 0))
        x, y = sample_batch(self.data.train, self.tcfg.batch_size, self.seq_len, g)
        return x.to(self.device), y.to(self.device)

    def train_step(self) -> float:
        """One optimizer step; returns the training loss of its batch."""
        if self.model is None:
            self.setup()
        x, y = self.batch(self.step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr_at(self.step, self.tcfg)
        self.model.train()
        with self.autocast():
            _, loss = self.forward_model(x, y)
        if not torch.isfinite(loss.detach()).all():
            # Note [divergence]: no step is taken on a non-finite loss, so the model keeps the
            # weights of the last finite step, and the run keeps its last checkpoint.
            raise TrainingDiverged(
                f"lr: training diverged at step {self.step + 1} (loss {float(loss.detach())}); the run keeps its "
                f"last checkpoint (step {self._checkpoint_step}); lower the learning rate or resume from there")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.tcfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.tcfg.grad_clip)
        self.optimizer.step()
        self.step += 1
        value = float(loss.detach())
        self._train_losses.append(value)
        return value

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def evaluate(self) -> dict:
        """Validation loss/perplexity/bits per byte, theta statistics and the horn witness."""
        self.model.eval()
        xv, yv = self._val
        total, count = 0.0, 0
        for i in range(0, xv.shape[0], self.tcfg.batch_size):
            xb, yb = xv[i : i + self.tcfg.batch_size].to(self.device), yv[i : i + self.tcfg.batch_size].to(self.device)
            with self.autocast():
                _, loss = self.model(xb, yb)
            total += float(loss) * yb.numel()
            count += yb.numel()
        val_loss = total / count
        stats = theta_stats(self.model)
        angles = theta_matrix(self.model)  # (n_layers, d_phase/2) or None for the baseline
        witness = phase_means(self.model, xv[: self.tcfg.batch_size, :HORN_POSITIONS].to(self.device))
        train_loss = sum(self._train_losses) / len(self._train_losses) if self._train_losses else float("nan")
        self._train_losses = []
        row = {
            "step": self.step,
            "tokens": self.step * self.tcfg.batch_size * self.seq_len * getattr(self, "world", 1),
            "lr": lr_at(max(0, self.step - 1), self.tcfg),
            "train_loss": train_loss,
            "val_loss": val_loss,
            "val_ppl": math.exp(min(val_loss, 50.0)),
            "val_bpb": val_loss / math.log(2) * self.data.val_tokens_per_byte,
            "elapsed_s": time.perf_counter() - self._t0,
            **stats,
            "theta": angles.tolist() if angles is not None else [],
            "horn_mean": witness["mean"].tolist(),
            "horn_phase_means": witness["per_phase"].tolist(),
        }
        self.history.append(row)
        if self.run_handle is not None:
            self.run_handle.log_metrics(**row)
        return row

    # ------------------------------------------------------------------ checkpoints
    def state(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(), "step": self.step}

    def save_checkpoint(self) -> None:
        if self.run_handle is not None and self.keep_weights:
            self.run_handle.save_checkpoint(self.state())
            self._checkpoint_step = self.step

    def load_state(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = int(state["step"])
        self._checkpoint_step = self.step

    @classmethod
    def resume(cls, path: str | os.PathLike, data: TokenData, **overrides: Any) -> "Trainer":
        """Reopen a run directory and continue from its checkpoint (``overrides`` patch TrainConfig, e.g. steps)."""
        run = Run.open(path)
        cfg = run.config
        mcfg = ModelConfig.from_dict(cfg["model"])
        saved = {"decay": "matrices", **cfg["train"]}  # runs saved before the switch decayed matrices only
        tcfg = replace(TrainConfig(**saved), **overrides)
        if not (run.path / "checkpoint.pt").is_file():
            raise ValueError(f"path: run {run.id!r} has no checkpoint.pt (a metrics-only run cannot be resumed)")
        saved_tokens = cfg.get("data", {}).get("train_tokens")
        if saved_tokens is not None and saved_tokens != int(data.train.numel()):
            raise ValueError(f"data: run {run.id!r} was trained on {saved_tokens:,} tokens, these data have "
                             f"{int(data.train.numel()):,}; resume with the corpus and --max-docs it started with")
        if tcfg != TrainConfig(**saved):
            cfg = run.update_config(train=asdict(tcfg))  # config.json says what the run now trains to
        trainer = cls(mcfg, tcfg, data, run=run).setup()
        trainer.load_state(run.load_checkpoint(device=trainer.device))
        run.truncate_metrics(trainer.step)
        old = run.metrics()
        if len(old):
            trainer.history = [r for r in old.to_dict("records") if r["step"] <= trainer.step]
        run.set_status("running")
        return trainer

    # ------------------------------------------------------------------ the loop
    def run(self, progress: Progress | None = None, should_stop: ShouldStop | None = None) -> TrainResult:
        """Train to ``steps``; one progress event per step, with the evaluation ``row`` when one was made."""
        progress, should_stop = resolve(progress, should_stop)
        if self.model is None:
            self.setup()
        steps, stopped = self.tcfg.steps, False
        writer = self.rank == 0
        if writer and self.step == 0 and not self.history:
            progress(0.0, "step 0", row=self.evaluate())
        try:
            while self.step < steps:
                if should_stop():
                    stopped = True
                    break
                loss = self.train_step()
                at_eval = self.step % self.tcfg.eval_every == 0 or self.step == steps
                row = None
                if at_eval and writer:
                    row = self.evaluate()
                    self.save_checkpoint()
                extra = {"row": row} if row is not None else {}
                progress(self.step / steps, f"step {self.step}/{steps}  loss {loss:.3f}", step=self.step, loss=loss,
                         **extra)
        except TrainingDiverged as exc:
            if self.run_handle is not None:
                self.run_handle.set_status("stopped", reason=str(exc), step=self._checkpoint_step)
            raise
        except KeyboardInterrupt:  # Ctrl-C, or SIGTERM through lab.command: a stop, not a failure
            if self.run_handle is not None:
                self.run_handle.set_status("stopped", reason="interrupted", step=self._checkpoint_step)
            raise
        except BaseException as exc:
            if self.run_handle is not None:
                self.run_handle.set_status("failed", error=f"{type(exc).__name__}: {exc}", step=self.step)
            raise
        if writer and (not self.history or self.history[-1]["step"] != self.step):
            self.evaluate()
        if self.run_handle is not None:
            self.save_checkpoint()
            if self.keep_weights:
                self.run_handle.save_tensors("model", self.model.state_dict(), metadata={"step": str(self.step)})
            self.run_handle.set_status("stopped" if stopped else "finished", step=self.step)
        hist = pd.DataFrame(self.history)
        return TrainResult(self.model, hist, self.history[-1] if self.history else {},
                           str(self.run_handle.path) if self.run_handle else None, stopped)


def train_model(model_config: ModelConfig, train_config: TrainConfig, data: TokenData, *, name: str | None = None,
                root: str | os.PathLike | None = None, save: bool = True, keep_weights: bool = True,
                progress: Progress | None = None, should_stop: ShouldStop | None = None,
                extra_config: dict | None = None) -> TrainResult:
    """Train one model from scratch and return its result (the run is written unless save=False)."""
    return Trainer(model_config, train_config, data, name=name, root=root, save=save, keep_weights=keep_weights,
                   extra_config=extra_config).run(progress, should_stop)


def train_language_model(texts_train, texts_val, config: ModelConfig | None = None, steps: int = 200, seed: int = 0, *,
                         tokenizer=None, tokenizer_kind: str = "word", vocab_size: int = 8_000, batch_size: int = 16,
                         lr: float = 1e-3, eval_every: int | None = None, device: str | None = None, save: bool = False,
                         root: str | os.PathLike | None = None, name: str | None = None,
                         progress: Progress | None = None, should_stop: ShouldStop | None = None) -> dict:
    """Train a small language model on documents and return its validation metrics.

    The simple entry point for other studies: ``texts_train``/``texts_val`` are lists of
    strings. ``config`` defaults to a small RoPE-only baseline (d_model 96, 2 layers); its
    vocab_size is set to the tokenizer's. Pass one fitted ``tokenizer`` (e.g.
    ``WordTokenizer(vocab_size=8000).fit(all_texts)``) to compare perplexities across
    selections; bits per byte is comparable either way.

    Returns a dict: val_loss, val_ppl, val_bpb, train_loss, steps, params, train_tokens,
    run_path (None unless save=True) and history (a list of evaluation rows).
    """
    data = build_token_data(texts_train, texts_val, tokenizer=tokenizer, kind=tokenizer_kind, vocab_size=vocab_size)
    if config is None:
        config = ModelConfig(vocab_size=data.vocab_size, d_model=96, n_layers=2, n_heads=4, n_kv_heads=2, d_ff=256,
                             max_seq_len=64, n_phases=2, three_phase=False)
    elif not isinstance(config, ModelConfig):
        raise TypeError(f"config: expected a ModelConfig or None, got {type(config).__name__}")
    else:
        config = replace(config, vocab_size=data.vocab_size)
    tcfg = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, warmup=max(1, steps // 10),
                       eval_every=eval_every or steps, seed=seed, device=device)
    res = train_model(config, tcfg, data, name=name, root=root, save=save, progress=progress, should_stop=should_stop)
    f = res.final
    keep = ("step", "val_loss", "val_ppl", "val_bpb", "train_loss")
    return {
        **{k: f[k] for k in keep},
        "steps": res.final["step"],
        "params": count_parameters(res.model),
        "train_tokens": int(data.train.numel()),
        "run_path": res.run_path,
        "stopped": res.stopped,
        "history": [{k: r[k] for k in keep} for r in res.history.to_dict("records")],
    }
