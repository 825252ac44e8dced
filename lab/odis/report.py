"""The default experiment's numbers in one JSON-ready dict (what data/odis/report.json holds)."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from lab.odis.analysis import analyse

__all__ = ["default_report"]


def default_report(scores: pd.DataFrame, *, texts=None, embeddings=None, token_counts=None, n_components: int = 4,
                   budget_fractions=(0.05, 0.1, 0.2), seed: int = 0,
                   progress: Callable[..., None] | None = None) -> dict:
    """Correlations before/after PCA, explained variance, overlaps, and per-component regressor R^2.

    ``embeddings`` (n, f) enables the MiniLM regressors; ``texts`` enables the TF-IDF ones.
    """
    from lab.odis.regress import ComponentRegressor

    progress = progress or (lambda *a, **k: None)
    n = len(scores)
    out: dict = {"n_docs": n, "dimensions": list(scores.columns), "n_components": n_components}
    base = analyse(scores, n_components=n_components, budget=max(1, int(0.1 * n)), token_counts=token_counts)
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
               "doc_overlap_max": float(a.overlap_docs[mask].max()), "doc_overlap_mean": float(a.overlap_docs[mask].mean()),
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
        reg = ComponentRegressor(features="precomputed", seed=seed).fit(np.asarray(embeddings, dtype=np.float64), targets)
        r2["minilm_ridge"] = {"test": reg.r2_.tolist(), "train": reg.r2_train_.tolist(), "alpha": reg.alpha_.tolist()}
    if texts is not None:
        reg = ComponentRegressor(features="tfidf", seed=seed).fit(list(texts), targets)
        r2["tfidf_ridge"] = {"test": reg.r2_.tolist(), "train": reg.r2_train_.tolist(), "alpha": reg.alpha_.tolist()}
    out["regressor_r2"] = r2
    progress(1.0, "report ready")
    return out
