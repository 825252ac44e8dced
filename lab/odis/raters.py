"""Rater-style scores offline: each document against a written rubric, with a sentence encoder.

The paper rates every document with an LLM on eleven criteria in four groups (language quality,
knowledge quality, comprehension difficulty, information quality); its sub-criteria and prompt
are unpublished. This module is an approximation that runs with no network: for each of eleven
criteria (our own, named below, in the paper's four groups) it holds short written
descriptions of a high-scoring and a low-scoring document, embeds them with the packaged MiniLM,
and scores a document by how much closer it lies to the high descriptions than to the low ones
(cosine). A small labelled set written for the purpose (:data:`CALIBRATION`) sets each criterion's
scale (about 1-5: low examples' mean 1, high examples' mean 5) and says how well each criterion
separates the labelled texts (AUC); the rubric alone sets the direction. Rubric and labelled set
were written by the same hand, so those AUCs are in-sample: a check that a criterion is not
broken, not a measure of agreement with an LLM rater. It is not an LLM's judgement: it measures
resemblance to a description, and its correlation structure is what ODiS then works on.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd

__all__ = ["Criterion", "RATER_CRITERIA", "RATER_GROUPS", "CALIBRATION", "RubricRater", "rater_scores",
           "register_raters"]

RATER_GROUPS = ("language quality", "knowledge quality", "comprehension difficulty", "information quality")


@dataclass(frozen=True)
class Criterion:
    group: str  # one of RATER_GROUPS
    high: tuple[str, ...]  # what a document that scores high on it reads like
    low: tuple[str, ...]  # what a document that scores low on it reads like


RATER_CRITERIA: dict[str, Criterion] = {
    "fluency": Criterion(
        "language quality",
        ("Well-written, fluent prose in complete, grammatical sentences that read naturally.",
         "Polished text with correct spelling, punctuation and natural word order."),
        ("Broken text full of typos, fragments and garbled word order, like 'thing do it when lol ok'.",
         "Keyword lists and stray symbols rather than sentences: 'free buy now ### ;;; click'.")),
    "coherence": Criterion(
        "language quality",
        ("Each sentence follows from the one before; the text develops one topic logically.",
         "A coherent explanation whose parts connect into a clear line of thought."),
        ("Disconnected words and phrases that jump between unrelated topics: 'cats. tax forms. lol. the sun'.",
         "A jumble of chat, links and fragments with no thread connecting them.")),
    "clarity": Criterion(
        "language quality",
        ("Clear, precise wording that says exactly what is meant without ambiguity.",
         "Plain explanations that a reader understands on first reading."),
        ("Vague, ambiguous wording that leaves the meaning unclear.",
         "Confusing phrasing that hides what the text is about.")),
    "knowledge_density": Criterion(
        "knowledge quality",
        ("Dense with facts, definitions and concrete details about the subject.",
         "Packs specific, substantive information into every sentence."),
        ("Says almost nothing of substance; filler and pleasantries.",
         "Empty text with no facts or details.")),
    "technical_depth": Criterion(
        "knowledge quality",
        ("An expert-level technical description of how a mechanism, algorithm or system works.",
         "Detailed technical content about parameters, return values, errors and edge cases."),
        ("A superficial remark with no technical content.",
         "Casual chatter that never explains how anything works.")),
    "precision": Criterion(
        "knowledge quality",
        ("States exact conditions, values and behaviour, leaving nothing to guess.",
         "Careful, accurate statements with precise terms and qualifications."),
        ("Loose, approximate claims with no specifics.",
         "Hand-waving generalities that could mean anything.")),
    "reading_difficulty": Criterion(
        "comprehension difficulty",
        ("Demanding text with long sentences, specialised vocabulary and abstract concepts.",
         "Advanced material written for specialists, hard for a beginner to follow."),
        ("Very simple text with short sentences and everyday words.",
         "Easy reading for a child or a complete beginner.")),
    "reasoning_depth": Criterion(
        "comprehension difficulty",
        ("Explains why: multi-step reasoning, trade-offs, conditions and consequences.",
         "Works through an argument or derivation step by step."),
        ("States a single fact without any reasoning or explanation.",
         "A bare label or name with nothing to think through.")),
    "educational_value": Criterion(
        "information quality",
        ("Teaches the reader something useful, like a good textbook or tutorial passage.",
         "Instructive content a student could learn a skill or concept from."),
        ("Nothing a reader could learn from; boilerplate, navigation or noise.",
         "Advertising, legal boilerplate or placeholder text.")),
    "structure": Criterion(
        "information quality",
        ("Well organised: a summary first, then details, examples and notes in order.",
         "Structured text with clear sections, lists of parameters and an example."),
        ("Scattered fragments, navigation links or chat with no organisation: 'Home | About | see above'.",
         "A few stray words and symbols in no particular order.")),
    "self_containedness": Criterion(
        "information quality",
        ("Complete on its own: a reader understands it without any other context.",
         "Defines what it talks about and needs no outside reference."),
        ("Makes no sense on its own: 'see above. that one. yes.' refers to things never introduced.",
         "A stray fragment such as 'also the other one' cut from something else.")),
}

_HIGH = dict.fromkeys(RATER_GROUPS, 1)  # a text written to be high in every group
_LOW = dict.fromkeys(RATER_GROUPS, 0)

# A small labelled set, written for calibration: each text with a 1 (high) or 0 (low) label
# for each of the four groups it was written to exemplify.
CALIBRATION: tuple[tuple[str, dict[str, int]], ...] = (
    ("Return the greatest common divisor of the integers a and b. If either argument is nonzero, the result is "
     "the largest positive integer that divides both; gcd(0, 0) returns 0. Raises TypeError for non-integers.",
     {"language quality": 1, "knowledge quality": 1, "information quality": 1}),
    ("The garbage collector finds reference cycles by tracking container objects in three generations. Objects "
     "that survive a collection move to an older generation, which is examined less often, because most objects "
     "die young; the thresholds trade pause length against memory held by unreachable cycles.",
     _HIGH),
    ("To read a file line by line, open it in a with statement and loop over the file object. Each iteration "
     "yields one line including its newline; call rstrip() to drop it. The file is closed when the block ends.",
     {"language quality": 1, "knowledge quality": 1, "comprehension difficulty": 0, "information quality": 1}),
    ("Because the hash of a key decides its slot, two keys that compare equal must have equal hashes; otherwise "
     "a lookup probes the wrong slot and misses an entry that is present. Mutable objects therefore cannot be "
     "keys: mutating one after insertion would change its hash and strand it.",
     _HIGH),
    ("The cat sat on the mat. It was a sunny day. The cat was happy.",
     {"language quality": 1, "knowledge quality": 0, "comprehension difficulty": 0, "information quality": 0}),
    ("click here!!! best deals buy now free free free limited offer click",
     _LOW),
    ("see above. also the other one. yes that.",
     _LOW),
    ("foo bar baz qux x1 x2 x3 TODO TODO fix later ??? ;;; --- ###",
     _LOW),
    ("Home | About | Contact | Privacy | Terms | Copyright 2020 All rights reserved",
     {"language quality": 0, "knowledge quality": 0, "information quality": 0}),
    ("hello how are you i am fine thanks and you lol ok bye",
     _LOW),
    ("A deadlock needs four conditions at once: mutual exclusion, hold and wait, no preemption and a circular "
     "wait. Acquiring locks in one global order breaks the cycle, so no thread can wait on a lock held by a "
     "thread that waits, directly or not, on it.",
     _HIGH),
    ("it does the thing with the stuff when it is called sometimes",
     _LOW),
)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def _auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(a random positive scores above a random negative), ties counted half."""
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    diff = pos[:, None] - neg[None, :]
    return float((diff > 0).mean() + 0.5 * (diff == 0).mean())


class RubricRater:
    """Scores texts on :data:`RATER_CRITERIA` with a sentence encoder; calibrated on :data:`CALIBRATION`.

    ``embed`` maps a list of texts to L2-normalised rows (default: the packaged MiniLM).
    """

    def __init__(self, embed: Callable[[Sequence[str]], np.ndarray] | None = None,
                 criteria: dict[str, Criterion] | None = None) -> None:
        if embed is None:
            from lab.embed import embed_texts

            embed = embed_texts
        self.embed = embed
        self.criteria = dict(RATER_CRITERIA if criteria is None else criteria)
        names = list(self.criteria)
        high = [_unit(np.mean(np.asarray(embed(list(c.high)), dtype=np.float64), 0)) for c in self.criteria.values()]
        low = [_unit(np.mean(np.asarray(embed(list(c.low)), dtype=np.float64), 0)) for c in self.criteria.values()]
        self._high, self._low = np.stack(high), np.stack(low)  # (criteria, dim)
        texts = [t for t, _ in CALIBRATION]
        raw = self._raw(np.asarray(embed(texts), dtype=np.float64))
        rows, self._scale = [], {}
        for j, name in enumerate(names):
            group = self.criteria[name].group
            labels = np.array([lab.get(group, -1) for _, lab in CALIBRATION])
            pos, neg = raw[labels == 1, j], raw[labels == 0, j]
            lo, hi = float(neg.mean()), float(pos.mean())
            # The rubric sets the direction; the labelled set only the scale: the midpoint of the
            # two means -> 3, and a rating step of 4 / |high mean - low mean| per unit of raw
            # score, so low examples average 1 and high ones 5 where the rubric agrees with the
            # labels (AUC > 0.5), and the reverse where it does not (reported, never flipped).
            self._scale[name] = ((lo + hi) / 2, 4.0 / max(abs(hi - lo), 1e-6))
            rows.append({"criterion": name, "group": group, "auc": _auc(pos, neg), "n_high": int(len(pos)),
                         "n_low": int(len(neg)), "raw_low_mean": lo, "raw_high_mean": hi})
        self.calibration = pd.DataFrame(rows)

    def _raw(self, emb: np.ndarray) -> np.ndarray:
        e = _unit(np.asarray(emb, dtype=np.float64))
        return e @ self._high.T - e @ self._low.T  # (n, criteria)

    def score(self, texts: Sequence[str] | None = None, *, embeddings: np.ndarray | None = None) -> pd.DataFrame:
        """(n, criteria) calibrated ratings; pass ``embeddings`` (the encoder's rows) to skip encoding."""
        if embeddings is None:
            if texts is None:
                raise ValueError("texts: expected texts or their embeddings, got neither")
            embeddings = self.embed(list(texts))
        emb = np.asarray(embeddings)
        if emb.ndim != 2 or emb.shape[1] != self._high.shape[1]:
            raise ValueError(f"embeddings: expected (n, {self._high.shape[1]}) rows of the rater's encoder, "
                             f"got shape {emb.shape}")
        raw = self._raw(emb)
        out = {name: 3.0 + (raw[:, j] - mid) * step for j, (name, (mid, step)) in enumerate(self._scale.items())}
        return pd.DataFrame(out)


@functools.lru_cache(maxsize=1)
def _default_rater() -> RubricRater:
    return RubricRater()


def rater_scores(texts: Sequence[str] | None = None, *, embeddings: np.ndarray | None = None) -> pd.DataFrame:
    """The default (MiniLM) rater's calibrated scores of ``texts`` (or of their MiniLM ``embeddings``)."""
    return _default_rater().score(texts, embeddings=embeddings)


def register_raters() -> list[str]:
    """Register every criterion as a scorer (group "rater: <group>"), beside the text statistics.

    The criteria share one encoding of a batch: the last batch's scores are kept, so scoring
    all eleven embeds each text once.
    """
    from lab.odis.scorers import register_scorer

    last: dict[str, object] = {}

    def scores_of(texts: list[str]) -> pd.DataFrame:
        key = (len(texts), hash(tuple(texts)))
        if last.get("key") != key:
            last.update(key=key, frame=rater_scores(texts))
        return last["frame"]  # type: ignore[return-value]

    names = []
    for name, crit in RATER_CRITERIA.items():
        register_scorer(f"rater_{name}", lambda texts, n=name: scores_of(list(texts))[n].to_numpy(),
                        group=f"rater: {crit.group}",
                        doc=f"MiniLM rubric rating (about 1-5) of {name.replace('_', ' ')}", range="about 1-5")
        names.append(f"rater_{name}")
    return names
