"""Rubric raters: the score is the rubric's cosine difference on its scale, the AUC is brute force."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lab.odis import raters
from lab.odis.raters import CALIBRATION, RATER_CRITERIA, RubricRater


def hashed_embed(texts):
    """A deterministic stand-in encoder: hashed bag of words, L2-normalised (no model needed)."""
    out = np.zeros((len(texts), 64))
    for i, t in enumerate(texts):
        for w in t.lower().split():
            out[i, hash(w) % 64] += 1.0
    out += 1e-3
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_scores_are_the_cosine_difference_on_the_calibrated_scale():
    rater = RubricRater(embed=hashed_embed)
    rng = np.random.default_rng()
    words = "the return value of a function raises error list file click here lol buy thread lock".split()
    texts = [" ".join(rng.choice(words, size=int(rng.integers(3, 20)))) for _ in range(30)]
    got = rater.score(texts)
    assert list(got.columns) == list(RATER_CRITERIA) and len(got) == 30
    emb = hashed_embed(texts)
    cal = hashed_embed([t for t, _ in CALIBRATION])
    for name, crit in RATER_CRITERIA.items():
        hi = hashed_embed(list(crit.high)).mean(0)
        lo = hashed_embed(list(crit.low)).mean(0)
        hi, lo = hi / np.linalg.norm(hi), lo / np.linalg.norm(lo)

        def raw(e):
            return e @ hi - e @ lo

        labels = np.array([lab.get(crit.group, -1) for _, lab in CALIBRATION])
        r = raw(cal)
        m_hi, m_lo = r[labels == 1].mean(), r[labels == 0].mean()
        want = 3.0 + (raw(emb) - (m_hi + m_lo) / 2) * 4.0 / abs(m_hi - m_lo)
        np.testing.assert_allclose(got[name].to_numpy(), want, rtol=1e-9, atol=1e-9)
        # the AUC by counting every (high, low) pair
        pairs = [(a > b) + 0.5 * (a == b) for a in r[labels == 1] for b in r[labels == 0]]
        row = rater.calibration.set_index("criterion").loc[name]
        assert row["auc"] == pytest.approx(np.mean(pairs))
    np.testing.assert_allclose(rater.score(embeddings=emb).to_numpy(), got.to_numpy())
    with pytest.raises(ValueError, match="embeddings"):
        rater.score(embeddings=np.ones((3, 7)))
    with pytest.raises(ValueError, match="texts"):
        rater.score()


def test_registered_raters_score_beside_the_text_statistics(monkeypatch):
    from lab.odis import score_dimensions, unregister_scorer

    fake = RubricRater(embed=hashed_embed)
    monkeypatch.setattr(raters, "_default_rater", lambda: fake)
    names = raters.register_raters()
    try:
        texts = ["Return the sum of a and b.", "click here lol", "A lock orders threads so that none waits."] * 3
        got = score_dimensions(texts, dimensions=["repetition", *names], workers=1)
        want = fake.score(texts)
        for name in RATER_CRITERIA:
            np.testing.assert_allclose(got[f"rater_{name}"].to_numpy(), want[name].to_numpy())
        assert isinstance(got, pd.DataFrame) and "repetition" in got.columns
    finally:
        for name in names:
            unregister_scorer(name)
