"""Random prose-like texts for the ODiS tests: words, numbers, accents and every sentence separator."""

from __future__ import annotations

import numpy as np

WORDS = ("the", "data", "model", "learns", "Python", "returns", "value", "x", "orthogonal", "selection", "qzxv",
         "Paris", "é", "42", "3.14", "function", "of", "and", "a", "kwargs")
SEPS = (" ", " ", " ", ". ", "! ", "? ", ", ", "\n", "\n\n", "\n \n", "...", "  ", "(", ")", "_", "#", "\t")


def random_texts(rng: np.random.Generator, n: int) -> list[str]:
    out = []
    for _ in range(n):
        k = int(rng.integers(0, 60))
        parts = []
        for _ in range(k):
            parts.append(WORDS[rng.integers(len(WORDS))])
            parts.append(SEPS[rng.integers(len(SEPS))])
        out.append("".join(parts))
    return out
