"""The downstream check on a tiny configuration: equal-size selections, one common validation set, resume."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import lab.odis as odis
from lab.runs import Run
from tests.lab.odis.odis_texts import random_texts


@pytest.fixture
def corpus():
    texts = [t + " The model returns the value of the data." for t in random_texts(np.random.default_rng(20), 60)]
    return pd.DataFrame({"doc_id": [f"d{i}" for i in range(60)], "source": "test", "text": texts})


def test_equal_size_selections_and_a_resumable_run(corpus, tmp_path):
    flag = {"stop": False}

    def progress(fraction, message="", **partial):  # stop once the first (method, seed) run has finished
        if partial.get("row"):  # one event per finished run
            flag["stop"] = True

    rows = odis.downstream_check(corpus, methods=("odis", "random"), seeds=(0,), steps=2, batch_size=2,
                                 vocab_size=200, root=tmp_path, progress=progress, should_stop=lambda: flag["stop"])
    assert len(rows) == 1 and rows["method"].tolist() == ["odis"]
    run_dir = next((tmp_path / "odis").iterdir())
    assert Run.open(run_dir).status["state"] == "stopped"
    full = odis.downstream_check(corpus, methods=("odis", "random"), seeds=(0,), steps=2, batch_size=2,
                                 vocab_size=200, resume=str(run_dir))
    assert full["method"].tolist() == ["odis", "random"]
    assert full.loc[0, "val_ppl"] == pytest.approx(rows.loc[0, "val_ppl"])  # resumed, not retrained
    assert full["docs"].nunique() == 1  # equal-size selections
    assert np.isfinite(full[["val_loss", "val_ppl", "val_bpb"]].to_numpy()).all()
    summary = odis.summarise_downstream(full)
    assert set(summary["method"]) == {"odis", "random"} and (summary["runs"] == 1).all()
    with pytest.raises(ValueError, match="methods"):
        odis.downstream_check(corpus, methods=("best",), save=False)


def test_selection_is_deterministic():
    rng = np.random.default_rng(21)
    texts = random_texts(rng, 200)
    runs = []
    for _ in range(2):
        s = odis.score_dimensions(texts)
        sel = odis.OrthogonalSelector(4).fit(s)
        runs.append(sel.select(sel.transform(s), 40))
    assert all(np.array_equal(runs[0][c], runs[1][c]) for c in range(4))


def test_text_regressor_with_an_embedding_function():
    texts = random_texts(np.random.default_rng(22), 120)
    feats = lambda batch: np.array([[t.count("data"), t.count("model"), len(t)] for t in batch], dtype=float)  # noqa: E731
    y = feats(texts) @ np.array([[1.0], [-2.0], [0.01]])
    reg = odis.ComponentRegressor(features="minilm", embed_fn=feats, seed=1).fit(texts, y)
    assert reg.r2_[0] > 0.99
    np.testing.assert_allclose(reg.predict(texts[:3]), y[:3], atol=0.1)
