"""The ODiS study's experiments as plain functions, and its one table of presets.

:func:`default_report` gives the default experiment's numbers in one JSON-ready dict (what
data/odis/report.json holds); the downstream language-model check is a long training job in
:mod:`lab.odis.training`. Every setting they, the page or a script use by default is a named
entry of :data:`PRESETS`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from lab.progress import Progress, resolve

__all__ = ["PRESETS", "default_report"]

PRESETS: dict[str, dict[str, Any]] = {
    # The default experiment's report (scripts/make_odis_data.py): the selection at several
    # budgets, each a fraction of the corpus.
    "report": {"n_components": 4, "budget_fractions": (0.05, 0.1, 0.2), "base_fraction": 0.1, "seed": 0},
    # The downstream check (`ortholab train odis`): equal-size selections by each method, the
    # same small RoPE-only model trained on each, one common validation split.
    "downstream": {"methods": ("odis", "random", "mean", "single"), "seeds": (0, 1, 2), "budget_fraction": 0.3,
                   "n_components": 4, "single_dimension": "real_word_share", "steps": 200, "batch_size": 16,
                   "vocab_size": 4000, "val_fraction": 0.1},
    # The document map: UMAP (cosine) of the MiniLM embeddings, or PCA.
    "map": {"n_neighbors": 15, "min_dist": 0.1, "seed": 0},
    # What the page starts with, how much of each selected document it shows, and how many
    # single-dimension baselines (the first raw dimensions) it compares ODiS with.
    "page": {"budget": 200, "n_components": 4, "preview_chars": 140, "max_components": 6, "single_baselines": 2},
    # The shipped artifacts in data/odis (scripts/make_odis_data.py).
    "shipped": {"preview_chars": 400, "embed_batch_size": 64},
}


def default_report(scores: pd.DataFrame, *, texts=None, embeddings=None, token_counts=None,
                   n_components: int = PRESETS["report"]["n_components"],
                   budget_fractions=PRESETS["report"]["budget_fractions"], seed: int = PRESETS["report"]["seed"],
                   progress: Progress | None = None) -> dict:
    """Correlations before/after PCA, explained variance, overlaps, and per-component regressor R^2.

    ``embeddings`` (n, f) enables the MiniLM regressors; ``texts`` enables the TF-IDF ones.
    """
    # Imported here: the role modules read PRESETS from this module at import time.
    from lab.odis.analysis import analyse
    from lab.odis.regress import ComponentRegressor

    progress, _ = resolve(progress, None)
    n = len(scores)
    out: dict = {"n_docs": n, "dimensions": list(scores.columns), "n_components": n_components}
    base_budget = max(1, int(PRESETS["report"]["base_fraction"] * n))
    base = analyse(scores, n_components=n_components, budget=base_budget, token_counts=token_counts)
    out["raw_corr"] = base.raw_corr.round(6).tolist()
    off = base.raw_corr[~np.eye(len(base.raw_corr), dtype=bool)]
    out["raw_corr_max_abs_offdiag"] = float(np.abs(off).max())
    out["pc_corr_max_abs_offdiag"] = float(np.abs(base.pc_corr - np.diag(np.diag(base.pc_corr))).max())
    out["explained_variance_ratio"] = base.selector.explained_variance_ratio_.tolist()
    out["spectrum"] = base.spectrum.tolist()
    out["components"] = base.selector.components_.round(6).tolist()
    out["component_names"] = base.component_names
    overlaps = []
    for f in budget_fractions:
        a = analyse(scores, n_components=n_components, budget=max(n_components, int(f * n)), token_counts=token_counts)
        k = n_components
        mask = ~np.eye(k, dtype=bool)
        row = {"budget_fraction": f, "budget": a.budget, "union": int(len(a.union)),
               "doc_overlap_max": float(a.overlap_docs[mask].max()),
               "doc_overlap_mean": float(a.overlap_docs[mask].mean()),
               "doc_overlap": a.overlap_docs.round(6).tolist()}
        if a.overlap_tokens is not None:
            row["token_overlap_max"] = float(a.overlap_tokens[mask].max())
            row["token_overlap_mean"] = float(a.overlap_tokens[mask].mean())
        overlaps.append(row)
    out["overlaps"] = overlaps
    progress(0.3, "regressors…")
    targets = base.pc_scores
    r2 = {}
    if embeddings is not None:
        features = np.asarray(embeddings, dtype=np.float64)
        reg = ComponentRegressor(features="precomputed", seed=seed).fit(features, targets)
        r2["minilm_ridge"] = {"test": reg.r2_.tolist(), "train": reg.r2_train_.tolist(), "alpha": reg.alpha_.tolist()}
    if texts is not None:
        reg = ComponentRegressor(features="tfidf", seed=seed).fit(list(texts), targets)
        r2["tfidf_ridge"] = {"test": reg.r2_.tolist(), "train": reg.r2_train_.tolist(), "alpha": reg.alpha_.tolist()}
    out["regressor_r2"] = r2
    progress(1.0, "report ready")
    return out
