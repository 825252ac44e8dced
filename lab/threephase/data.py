"""Token pipeline for language-model training: local tokenizers, token streams, batches.

Shared by the 3PT study and any study that trains a small language model on a text selection
(ODiS's downstream check). No downloads: the tokenizers are fitted on the training texts.

Tokenizers
----------
* ``WordTokenizer`` (default, like the paper's 5.5M word-level vocabulary): text is split into
  runs of word characters and single punctuation marks (whitespace dropped); the
  ``vocab_size - 2`` most frequent pieces get ids, everything else maps to ``<unk>``.
* ``ByteTokenizer``: the UTF-8 bytes, 256 ids plus the document separator; nothing is unknown.

Note [bits per byte]: validation loss is in nats per token. Bits per byte divides the total
nats by ln 2 and by the UTF-8 byte count of the validation texts (whitespace included), so it
is comparable across tokenizers. With the word tokenizer every ``<unk>`` stands for a whole
out-of-vocabulary word, which makes its bits per byte somewhat optimistic; the byte tokenizer
gives the exact figure.
"""

from __future__ import annotations

import collections
import functools
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch

from lab.checks import check_fitted, check_int
from lab.files import load_arrays
from lab.paths import study_dir
from lab.runs import atomic_write_bytes

__all__ = ["WordTokenizer", "ByteTokenizer", "TokenData", "build_token_data", "default_token_data",
           "tokenizer_from_json", "sample_batch", "eval_windows", "save_token_data", "shipped_token_data"]

_PIECE = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def _check_texts(name: str, texts) -> list[str]:
    if isinstance(texts, str):
        raise TypeError(f"{name}: expected a sequence of strings (documents), got one str")
    try:
        texts = list(texts)
    except TypeError as exc:
        raise TypeError(f"{name}: expected a sequence of strings, got {type(texts).__name__}") from exc
    if not texts:
        raise ValueError(f"{name}: expected at least one document, got none")
    bad = [type(t).__name__ for t in texts if not isinstance(t, str)]
    if bad:
        raise TypeError(f"{name}: every document must be a str, got {bad[0]}")
    return texts


class WordTokenizer:
    """Word-level vocabulary of the most frequent pieces; ids 0 = <unk>, 1 = <eos> (document end).

    Parameters
    ----------
    vocab_size : int, default 10000
        Largest vocabulary, the two special ids included (at least 3).
    lowercase : bool, default False
        Fold case before splitting into pieces (words and single punctuation marks).

    Attributes
    ----------
    vocab_ : list of str of shape (n_vocab,)
        The pieces by id, most frequent first (ties alphabetical).
    index_ : dict of str to int
        Piece -> id.

    Examples
    --------
    >>> tok = WordTokenizer(vocab_size=6).fit(["the cat sat", "the cat ran."])
    >>> tok.vocab_
    ['<unk>', '<eos>', 'cat', 'the', '.', 'ran']
    >>> tok.encode("the dog sat.")
    [3, 0, 0, 4]
    """

    kind = "word"
    UNK, EOS = 0, 1

    def __init__(self, *, vocab_size: int = 10_000, lowercase: bool = False):
        self.vocab_size = vocab_size
        self.lowercase = lowercase

    def _pieces(self, text: str) -> list[str]:
        return _PIECE.findall(text.lower() if self.lowercase else text)

    def fit(self, texts: Iterable[str]) -> "WordTokenizer":
        """Count pieces over ``texts`` (sequence of str of shape (n_texts,)) and keep the most frequent."""
        texts = _check_texts("texts", texts)
        check_int("vocab_size", self.vocab_size, lo=3)
        counts = collections.Counter()
        for t in texts:
            counts.update(self._pieces(t))
        # ties broken alphabetically so the vocabulary is deterministic
        common = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: self.vocab_size - 2]
        self.vocab_ = ["<unk>", "<eos>"] + [w for w, _ in common]
        self.index_ = {w: i for i, w in enumerate(self.vocab_)}
        return self

    @property
    def n_vocab(self) -> int:
        return len(self.vocab_)

    def encode(self, text: str) -> list[int]:
        check_fitted(self, "index_", fit_call="fit(texts)")
        get = self.index_.get
        return [get(p, self.UNK) for p in self._pieces(text)]

    def decode(self, ids: Sequence[int]) -> str:
        return " ".join(self.vocab_[int(i)] for i in ids)

    def to_json(self) -> str:
        return json.dumps({"kind": self.kind, "lowercase": self.lowercase, "vocab": self.vocab_})


class ByteTokenizer:
    """UTF-8 bytes as ids 0..255; 256 = <eos> (document end).

    The vocabulary is fixed, so there are no hyper-parameters and fitting learns nothing.

    Parameters
    ----------
    texts : sequence of str of shape (n_texts,), optional
        Accepted by ``fit`` only for symmetry with :class:`WordTokenizer`; ignored.

    Attributes
    ----------
    vocab_ : int
        257: the 256 byte values and ``<eos>``.

    Examples
    --------
    >>> tok = ByteTokenizer().fit()
    >>> tok.encode("hé")
    [104, 195, 169]
    >>> tok.decode([104, 195, 169, 256])
    'hé'
    """

    kind = "byte"
    EOS = 256

    def fit(self, texts: Iterable[str] | None = None) -> "ByteTokenizer":
        self.vocab_ = 257
        return self

    @property
    def n_vocab(self) -> int:
        return 257

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def decode(self, ids: Sequence[int]) -> str:
        return bytes(int(i) for i in ids if int(i) < 256).decode("utf-8", errors="replace")

    def to_json(self) -> str:
        return json.dumps({"kind": self.kind})


def tokenizer_from_json(text: str):
    """Rebuild a tokenizer written by ``to_json``."""
    if not isinstance(text, (str, bytes)):
        raise TypeError(f"text: expected the JSON text of a tokenizer, got {type(text).__name__}")
    try:
        d = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"text: not the JSON of a tokenizer ({exc.msg} at line {exc.lineno})") from exc
    if not isinstance(d, dict):
        raise ValueError(f"text: expected a JSON object with a 'kind', got a JSON {type(d).__name__}")
    if d.get("kind") == "byte":
        return ByteTokenizer().fit()
    if d.get("kind") == "word":
        vocab = d.get("vocab")
        if not isinstance(vocab, list) or not all(isinstance(w, str) for w in vocab) or len(vocab) < 3:
            raise ValueError("text: a word tokenizer needs 'vocab', a list of at least 3 strings")
        tok = WordTokenizer(vocab_size=len(d["vocab"]), lowercase=bool(d.get("lowercase")))
        tok.vocab_ = list(d["vocab"])
        tok.index_ = {w: i for i, w in enumerate(tok.vocab_)}
        return tok
    raise ValueError(f"text: unknown tokenizer kind {d.get('kind')!r}; expected 'word' or 'byte'")


def _stream(tokenizer, texts: list[str]) -> torch.Tensor:
    ids: list[int] = []
    eos = tokenizer.EOS
    for t in texts:
        ids.extend(tokenizer.encode(t))
        ids.append(eos)
    return torch.tensor(ids, dtype=torch.long)  # (n_tokens,)


@dataclass
class TokenData:
    """Train and validation token streams (documents joined by <eos>) and their tokenizer."""

    train: torch.Tensor  # (n_train_tokens,) int64
    val: torch.Tensor  # (n_val_tokens,) int64
    tokenizer: object
    val_bytes: int  # UTF-8 bytes of the validation texts, for bits per byte

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.n_vocab

    @property
    def val_tokens_per_byte(self) -> float:
        return self.val.numel() / max(1, self.val_bytes)

    def describe(self) -> dict:
        return {"tokenizer": self.tokenizer.kind, "vocab_size": self.vocab_size,
                "train_tokens": int(self.train.numel()), "val_tokens": int(self.val.numel()),
                "val_bytes": int(self.val_bytes)}


def build_token_data(texts_train, texts_val, *, tokenizer=None, kind: str = "word",
                     vocab_size: int = 10_000) -> TokenData:
    """Tokenise documents into streams. ``tokenizer`` (fitted) is reused; else one is fitted on texts_train.

    Pass the same fitted tokenizer to compare runs on different training selections by
    validation perplexity; bits per byte is comparable across tokenizers anyway.
    """
    texts_train = _check_texts("texts_train", texts_train)
    texts_val = _check_texts("texts_val", texts_val)
    if tokenizer is None:
        if kind == "word":
            tokenizer = WordTokenizer(vocab_size=vocab_size).fit(texts_train)
        elif kind == "byte":
            tokenizer = ByteTokenizer().fit()
        else:
            raise ValueError(f"kind: expected 'word' or 'byte', got {kind!r}")
    else:
        check_fitted(tokenizer, "vocab_", fit_call="fit(texts)")
    val_bytes = sum(len(t.encode("utf-8")) for t in texts_val)
    return TokenData(_stream(tokenizer, texts_train), _stream(tokenizer, texts_val), tokenizer, val_bytes)


@functools.lru_cache(maxsize=4)
def default_token_data(*, kind: str = "word", vocab_size: int = 10_000, val_fraction: float = 0.1, seed: int = 0,
                       max_docs: int | None = None) -> TokenData:
    """The default corpus (stdlib docstrings, lab.corpus) split by document and tokenised.

    Cached (read-only: do not modify the returned tensors in place).
    """
    from lab.corpus import split_corpus, stdlib_corpus

    df = stdlib_corpus(max_docs=max_docs)
    train, val = split_corpus(df, val_fraction=val_fraction, seed=seed)
    return build_token_data(train["text"].tolist(), val["text"].tolist(), kind=kind, vocab_size=vocab_size)


def sample_batch(tokens: torch.Tensor, batch_size: int, seq_len: int,
                 generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Random windows: inputs and next-token targets, each (batch_size, seq_len)."""
    n = tokens.numel()
    if n < seq_len + 2:
        raise ValueError(f"tokens: need at least seq_len+2 = {seq_len + 2} tokens, got {n}")
    starts = torch.randint(0, n - seq_len - 1, (batch_size,), generator=generator)
    offs = starts[:, None] + torch.arange(seq_len + 1)[None, :]  # (batch, seq+1)
    w = tokens[offs]
    return w[:, :-1], w[:, 1:]


def eval_windows(tokens: torch.Tensor, seq_len: int, n_windows: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Up to ``n_windows`` non-overlapping windows spread evenly over the stream, (k, seq_len) each."""
    n = tokens.numel()
    avail = (n - 1) // seq_len
    if avail < 1:
        raise ValueError(f"tokens: validation stream of {n} tokens is shorter than seq_len+1 = {seq_len + 1}")
    k = min(n_windows, avail)
    starts = (torch.linspace(0, avail - 1, k).round().long() * seq_len)  # (k,)
    offs = starts[:, None] + torch.arange(seq_len + 1)[None, :]  # (k, seq+1)
    w = tokens[offs]
    return w[:, :-1], w[:, 1:]


def save_token_data(data: TokenData, folder) -> None:
    """Write ``tokens.npz`` (int16/int32 streams + val_bytes) and ``tokenizer.json`` into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    dtype = np.int16 if data.vocab_size <= 32_767 else np.int32
    buf = io.BytesIO()
    np.savez_compressed(buf, train=data.train.numpy().astype(dtype), val=data.val.numpy().astype(dtype),
                        val_bytes=np.array(data.val_bytes, dtype=np.int64))
    atomic_write_bytes(folder / "tokens.npz", buf.getvalue())
    atomic_write_bytes(folder / "tokenizer.json", data.tokenizer.to_json().encode())


@functools.lru_cache(maxsize=2)
def shipped_token_data(folder: str | None = None) -> TokenData:
    """The tokenised default corpus shipped in data/threephase/ (written by scripts/make_threephase_data.py).

    Loads in milliseconds, so pages and notebooks train at once. Cached read-only.
    """
    base = Path(folder) if folder else study_dir("threephase")
    if not (base / "tokens.npz").is_file():
        raise FileNotFoundError(f"folder: no tokens.npz in {str(base)!r}; run scripts/make_threephase_data.py")
    arrays = load_arrays(base / "tokens.npz")
    tok = tokenizer_from_json((base / "tokenizer.json").read_text())
    return TokenData(torch.from_numpy(arrays["train"].astype("int64")), torch.from_numpy(arrays["val"].astype("int64")),
                     tok, int(arrays["val_bytes"]))
