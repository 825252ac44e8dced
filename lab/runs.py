"""Run storage: one directory per experiment run, written atomically, listable.

Layout of a run directory::

    <root>/<study>/<run_id>/
        config.json       the run's configuration (written once, atomically)
        status.json       {"state": "running" | "finished" | "stopped" | "failed", ...}; a running
                          run whose process is gone reads back as "interrupted"
        metrics.jsonl     one JSON object per logged step (append-only)
        <name>.safetensors  tensors (weights, embeddings), written atomically
        <name>.pt         training checkpoints (model + optimizer), loaded with weights_only

Every whole-file write goes to a temporary file in the same directory and is renamed into
place, so a reader (the dashboard listing runs) never sees a half-written file, and a crash
leaves the previous version intact. ``metrics.jsonl`` is append-only; a torn last line from a
crash is skipped on read.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import socket
import tempfile
from pathlib import Path
from typing import Any, Iterable, Mapping

import pandas as pd
import torch

from lab.paths import runs_dir

__all__ = ["Run", "list_runs", "atomic_write_bytes", "atomic_write_json", "atomic_save_tensors"]

_STATES = ("running", "finished", "stopped", "failed")


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_bytes(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default).encode())


def atomic_save_tensors(path: str | os.PathLike, tensors: Mapping[str, torch.Tensor],
                        metadata: Mapping[str, str] | None = None) -> Path:
    """Save a flat dict of tensors as safetensors at ``path``, atomically."""
    from safetensors.torch import save

    flat = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    atomic_write_bytes(path, save(flat, metadata=dict(metadata) if metadata else None))
    return Path(path)


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item") and callable(obj.item):  # numpy / torch scalars
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "run"


class Run:
    """A handle on one run directory. Create with :meth:`create`, reopen with :meth:`open`."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    # ----------------------------------------------------------------- creation
    @classmethod
    def create(
        cls,
        study: str,
        config: Mapping[str, Any],
        *,
        name: str | None = None,
        root: str | os.PathLike | None = None,
    ) -> "Run":
        """Make a fresh run directory ``<root>/<study>/<timestamp>-<name>`` with its config."""
        if not isinstance(study, str) or not study:
            raise ValueError(f"study: expected a non-empty string, got {study!r}")
        if not isinstance(config, Mapping):
            raise TypeError(f"config: expected a mapping, got {type(config).__name__}")
        base = Path(root) if root is not None else runs_dir()
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S-%f")
        path = base / _slug(study) / f"{stamp}-{_slug(name or study)}"
        path.mkdir(parents=True, exist_ok=False)
        run = cls(path)
        atomic_write_json(path / "config.json", dict(config))
        run.set_status("running")
        return run

    @classmethod
    def open(cls, path: str | os.PathLike) -> "Run":
        path = Path(path)
        if not (path / "config.json").is_file():
            raise ValueError(f"path: {str(path)!r} is not a run directory (no config.json)")
        return cls(path)

    # ----------------------------------------------------------------- reading
    @property
    def id(self) -> str:
        return self.path.name

    @property
    def study(self) -> str:
        return self.path.parent.name

    @property
    def config(self) -> dict[str, Any]:
        try:
            return json.loads((self.path / "config.json").read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"run: {self.id}/config.json is not valid JSON ({exc.msg} at line {exc.lineno}); "
                             "the run cannot be reopened") from exc

    def update_config(self, **changes: Any) -> dict[str, Any]:
        """Merge ``changes`` into config.json (atomically), e.g. a resumed run's new step budget."""
        cfg = {**self.config, **changes}
        atomic_write_json(self.path / "config.json", cfg)
        return cfg

    def truncate_metrics(self, max_step: int) -> int:
        """Keep only the logged rows with step <= ``max_step`` (rewritten atomically); returns how many were dropped.

        Note [metrics follow the checkpoint]: a run killed between logging a row and writing its
        checkpoint has rows past the checkpoint; a resume starts from the checkpoint, so those
        rows are dropped before it logs them again.
        """
        p = self.path / "metrics.jsonl"
        if not p.is_file():
            return 0
        kept, dropped = [], 0
        for line in p.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                dropped += 1  # a torn last line
                continue
            if int(row.get("step", 0)) <= max_step:
                kept.append(line)
            else:
                dropped += 1
        if dropped:
            atomic_write_bytes(p, "".join(f"{line}\n" for line in kept).encode())
        return dropped

    @property
    def status(self) -> dict[str, Any]:
        """The run's status; a "running" run whose process is gone reads as "interrupted".

        Note [stale runs]: a process killed with SIGKILL (or a machine that lost power) never
        writes its final status. A running status records the writer's host and pid, so a
        reader on the same host can see that nobody is writing any more.
        """
        p = self.path / "status.json"
        if not p.is_file():
            return {"state": "unknown"}
        try:
            st = json.loads(p.read_text())
        except json.JSONDecodeError:
            return {"state": "unknown", "error": "status.json is not valid JSON"}
        if st.get("state") == "running" and not _writer_alive(st):
            st = {**st, "state": "interrupted"}
        return st

    def metrics(self) -> pd.DataFrame:
        """All logged rows as a DataFrame (a torn trailing line is ignored)."""
        p = self.path / "metrics.jsonl"
        rows = []
        if p.is_file():
            for line in p.read_text().splitlines():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
        return pd.DataFrame(rows)

    # ----------------------------------------------------------------- writing
    def set_status(self, state: str, **info: Any) -> None:
        if state not in _STATES:
            raise ValueError(f"state: expected one of {_STATES}, got {state!r}")
        now = _dt.datetime.now(_dt.timezone.utc).isoformat()
        if state == "running":  # who writes, so a reader can tell a stale run (Note [stale runs])
            info = {"host": socket.gethostname(), "pid": os.getpid(), **info}
        atomic_write_json(self.path / "status.json", {"state": state, "updated": now, **info})

    def log_metrics(self, step: int, **metrics: Any) -> None:
        """Append one row ``{"step": step, **metrics}`` to metrics.jsonl."""
        line = json.dumps({"step": int(step), **metrics}, default=_json_default)
        with open(self.path / "metrics.jsonl", "a") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())

    def save_json(self, name: str, obj: Any) -> Path:
        p = self.path / f"{_slug(name)}.json"
        atomic_write_json(p, obj)
        return p

    def load_json(self, name: str) -> Any:
        return json.loads((self.path / f"{_slug(name)}.json").read_text())

    def save_tensors(self, name: str, tensors: Mapping[str, torch.Tensor],
                     metadata: Mapping[str, str] | None = None) -> Path:
        """Save a flat dict of tensors as ``<name>.safetensors``, atomically."""
        return atomic_save_tensors(self.path / f"{_slug(name)}.safetensors", tensors, metadata)

    def load_tensors(self, name: str, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
        from safetensors.torch import load_file

        return load_file(str(self.path / f"{_slug(name)}.safetensors"), device=str(device))

    def save_checkpoint(self, state: Mapping[str, Any], name: str = "checkpoint") -> Path:
        """Save a training checkpoint (model/optimizer state dicts, step, RNG) atomically."""
        import io

        buf = io.BytesIO()
        torch.save(dict(state), buf)
        p = self.path / f"{_slug(name)}.pt"
        atomic_write_bytes(p, buf.getvalue())
        return p

    def load_checkpoint(self, name: str = "checkpoint", device: str | torch.device = "cpu") -> dict[str, Any] | None:
        """Load a checkpoint written by :meth:`save_checkpoint`; ``None`` if there is none.

        ``weights_only=True``: only tensors and plain containers are unpickled.
        """
        p = self.path / f"{_slug(name)}.pt"
        if not p.is_file():
            return None
        try:
            return torch.load(p, map_location=device, weights_only=True)
        except Exception as exc:  # noqa: BLE001 - a truncated or corrupt file, whatever torch raises for it
            raise ValueError(f"checkpoint: {self.id}/{p.name} is truncated or corrupt and cannot be loaded "
                             f"({type(exc).__name__})") from exc

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"


def _writer_alive(status: Mapping[str, Any]) -> bool:
    """Whether the process that wrote a running status still exists (unknown: assume it does)."""
    pid, host = status.get("pid"), status.get("host")
    if not isinstance(pid, int) or host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def list_runs(root: str | os.PathLike | None = None, study: str | None = None) -> pd.DataFrame:
    """One row per run under ``root`` (optionally one study): id, study, path, state, created.

    Newest first. Folders without a config.json are ignored.
    """
    base = Path(root) if root is not None else runs_dir()
    studies: Iterable[Path]
    if study is not None:
        studies = [base / _slug(study)]
    else:
        studies = sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
    rows = []
    for sdir in studies:
        if not sdir.is_dir():
            continue
        for rdir in sdir.iterdir():
            if not (rdir / "config.json").is_file():
                continue
            run = Run(rdir)
            st = run.status
            rows.append(
                {
                    "id": run.id,
                    "study": run.study,
                    "path": str(rdir),
                    "state": st.get("state", "unknown"),
                    "updated": st.get("updated"),
                }
            )
    df = pd.DataFrame(rows, columns=["id", "study", "path", "state", "updated"])
    return df.sort_values("id", ascending=False, ignore_index=True)
