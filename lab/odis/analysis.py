"""The ODiS analysis as plain data: correlations, selections, overlaps, baselines, maps.

What the /odis page and the notebook show comes out of :func:`analyse` (one call per slider
move: cheap, no model, no embedding) and :func:`compare_selections`; :func:`embedding_map`
(UMAP or PCA of the embeddings) is the slow part and takes progress / stop callbacks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from lab.checks import check_int
from lab.device import to_numpy
from lab.odis.selector import OrthogonalSelector, overlap_matrix, select_baseline, union_of
from lab.progress import Progress, ShouldStop, resolve

__all__ = ["Analysis", "analyse", "correlation", "compare_selections", "embedding_map", "selection_labels",
           "selection_table", "MAP_METHODS"]

MAP_METHODS = ("umap", "pca")


def correlation(x) -> np.ndarray:
    """Pearson correlation matrix (d, d) of the columns of ``x`` (n, d); constant columns -> 0."""
    a = np.asarray(x.to_numpy(dtype=np.float64) if isinstance(x, pd.DataFrame) else to_numpy(x), dtype=np.float64)
    c = a - a.mean(0)
    sd = np.sqrt((c**2).mean(0))
    z = c / np.where(sd > 0, sd, 1.0)
    r = z.T @ z / len(a)
    np.fill_diagonal(r, np.where(sd > 0, 1.0, 0.0))
    return r


@dataclass
class Analysis:
    """One ODiS analysis of a scored corpus at one budget."""

    dimensions: list[str]  # raw dimension names (columns of the scores)
    selector: OrthogonalSelector  # fitted
    pc_scores: np.ndarray  # (n, k) component scores
    selections: dict[int, np.ndarray]  # component -> row indices, best first
    union: np.ndarray  # distinct selected rows
    raw_corr: np.ndarray  # (d, d) correlation of the raw dimensions
    pc_corr: np.ndarray  # (k, k) correlation of the component scores (identity up to rounding)
    overlap_docs: np.ndarray  # (k, k) document-level overlap of the selections
    overlap_tokens: np.ndarray | None  # (k, k) token-level overlap (None without token counts)
    intersections: np.ndarray  # (k, k) |S_i ∩ S_j| in documents
    spectrum: np.ndarray  # (d,) explained-variance ratio of every component (scree)
    budget: int
    quotas: np.ndarray  # (k,) documents per component
    component_names: list[str] = field(default_factory=list)  # "PC1: +long_word_share, -real_word_share"

    @property
    def max_offdiag_overlap(self) -> float:
        k = len(self.overlap_docs)
        off = self.overlap_docs[~np.eye(k, dtype=bool)]
        return float(off.max()) if off.size else 0.0

    @property
    def mean_offdiag_overlap(self) -> float:
        k = len(self.overlap_docs)
        off = self.overlap_docs[~np.eye(k, dtype=bool)]
        return float(off.mean()) if off.size else 0.0


def _component_names(components: np.ndarray, dims: list[str], top: int = 2) -> list[str]:
    names = []
    for i, row in enumerate(components):
        order = np.argsort(-np.abs(row))[:top]
        parts = [f"{'+' if row[j] >= 0 else '-'}{dims[j]}" for j in order]
        names.append(f"PC{i + 1}: " + ", ".join(parts))
    return names


def analyse(scores: pd.DataFrame, *, n_components: int = 4, budget: int = 200, weights: Sequence[float] | None = None,
            duplicates: str = "keep", standardize: bool = True, token_counts=None,
            device: str | torch.device | None = None) -> Analysis:
    """Fit the selector on ``scores`` and select ``budget`` documents; everything the page shows."""
    if not isinstance(scores, pd.DataFrame):
        raise TypeError(f"scores: expected a DataFrame of raw dimension scores, got {type(scores).__name__}")
    sel = OrthogonalSelector(n_components, standardize=standardize, weights=weights, duplicates=duplicates,
                             device=device).fit(scores)
    pcs = to_numpy(sel.transform(scores))
    selections = sel.select(pcs, budget)
    full = OrthogonalSelector(scores.shape[1], standardize=standardize, device=device).fit(scores)
    sets = [set(v.tolist()) for v in selections.values()]
    inter = np.array([[len(a & b) for b in sets] for a in sets], dtype=np.int64)
    return Analysis(
        dimensions=[str(c) for c in scores.columns],
        selector=sel,
        pc_scores=pcs,
        selections=selections,
        union=union_of(selections),
        raw_corr=correlation(scores),
        pc_corr=correlation(pcs),
        overlap_docs=overlap_matrix(selections),
        overlap_tokens=None if token_counts is None else overlap_matrix(selections, token_counts=token_counts),
        intersections=inter,
        spectrum=full.explained_variance_ratio_,
        budget=int(budget),
        quotas=sel.quotas(budget),
        component_names=_component_names(sel.components_, [str(c) for c in scores.columns]),
    )


def selection_labels(n: int, selections: dict[int, np.ndarray]) -> np.ndarray:
    """(n,) label per row: -1 not selected, c selected by component c only, -2 by two or more."""
    lab = np.full(n, -1, dtype=np.int64)
    for c, rows in selections.items():
        rows = np.asarray(rows, dtype=np.int64)
        lab[rows] = np.where(lab[rows] == -1, c, -2)
    return lab


def selection_table(analysis: Analysis, texts: Sequence[str], *, doc_ids: Sequence[str] | None = None,
                    preview_chars: int = 160, max_rows: int = 500) -> pd.DataFrame:
    """One row per selected document: component, rank, text preview, component and raw scores."""
    rows = []
    for c, idx in analysis.selections.items():
        for rank, i in enumerate(np.asarray(idx)[:max_rows]):
            t = texts[int(i)]
            rows.append({"component": f"PC{c + 1}", "rank": rank + 1, "row": int(i),
                         "doc_id": doc_ids[int(i)] if doc_ids is not None else str(int(i)),
                         "preview": (t[:preview_chars] + "…") if len(t) > preview_chars else t,
                         "score": float(analysis.pc_scores[int(i), c])})
    return pd.DataFrame(rows, columns=["component", "rank", "row", "doc_id", "preview", "score"])


def compare_selections(scores: pd.DataFrame, analysis: Analysis, *, embeddings=None,
                       seed: int = 0, single: Sequence[str] | None = None) -> pd.DataFrame:
    """ODiS against the baselines at the same size (the size of the ODiS union).

    Columns: method, docs, mean PCk score per component (how much of each orthogonal
    direction the selection covers), quality (mean z-scored oriented raw score),
    diversity (mean pairwise cosine distance of the embeddings; NaN without embeddings) and
    coverage (share of components whose mean score in the selection is above the corpus mean).
    ``single`` names the raw dimensions of the single-dimension baselines (default: the first
    three; the page passes ``PRESETS["page"]["single_baselines"]`` of them).
    """
    size = len(analysis.union)
    if size < 1:
        raise ValueError("analysis: the ODiS selection is empty; increase the budget")
    picks: dict[str, np.ndarray] = {"ODiS (union of PC tops)": analysis.union}
    picks["random"] = select_baseline("random", scores, size, seed=seed)
    picks["top by mean score"] = select_baseline("mean", scores, size)
    picks["PC average top"] = select_baseline("pc_average", scores, size, pc_scores=analysis.pc_scores)
    for dim in (single if single is not None else analysis.dimensions[:3]):
        picks[f"top {dim}"] = select_baseline("single", scores, size, dimension=dim)
    x = scores.to_numpy(dtype=np.float64)
    sd = x.std(0)
    z = (x - x.mean(0)) / np.where(sd > 0, sd, 1.0) * analysis.selector.signs_
    emb = None if embeddings is None else np.asarray(to_numpy(embeddings), dtype=np.float64)
    if emb is not None:
        emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    rows = []
    for name, idx in picks.items():
        idx = np.asarray(idx)
        row = {"method": name, "docs": len(idx)}
        means = analysis.pc_scores[idx].mean(0)
        for c, m in enumerate(means):
            row[f"mean PC{c + 1}"] = float(m)
        row["quality"] = float(z[idx].mean())
        row["coverage"] = float((means > 0).mean())
        if emb is not None and len(idx) >= 2:
            e = emb[idx]
            sims = e @ e.T
            m = len(idx)
            row["diversity"] = float(1.0 - (sims.sum() - m) / (m * (m - 1)))
        else:
            row["diversity"] = float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def embedding_map(embeddings, *, method: str = "umap", seed: int = 0, n_neighbors: int = 15, min_dist: float = 0.1,
                  progress: Progress | None = None, should_stop: ShouldStop | None = None) -> np.ndarray | None:
    """2-D map (n, 2) of the documents: UMAP (cosine) or PCA of the embeddings.

    Returns None when ``should_stop()`` is already true at a checkpoint. UMAP runs with one
    thread and a fixed ``random_state`` so the map is reproducible.
    """
    if method not in MAP_METHODS:
        raise ValueError(f"method: expected one of {MAP_METHODS}, got {method!r}")
    e = np.asarray(to_numpy(embeddings), dtype=np.float32)
    if e.ndim != 2 or e.shape[0] < 3:
        raise ValueError(f"embeddings: expected an (n, f) array with n >= 3, got shape {e.shape}")
    progress, should_stop = resolve(progress, should_stop)
    progress(0.05, f"{method.upper()} of {e.shape[0]} documents…")
    if should_stop():
        return None
    if method == "pca":
        c = e - e.mean(0)
        _, _, vt = np.linalg.svd(c.astype(np.float64), full_matrices=False)
        out = c @ vt[:2].T  # (n, 2)
        out = out * np.sign(out[np.abs(out).argmax(0), [0, 1]])  # deterministic orientation
    else:
        import umap

        n_neighbors = check_int("n_neighbors", n_neighbors, lo=2, hi=max(2, e.shape[0] - 1))
        out = umap.UMAP(n_neighbors=n_neighbors, min_dist=float(min_dist), metric="cosine", random_state=seed,
                        n_jobs=1).fit_transform(e)
    progress(1.0, "map ready")
    return np.asarray(out, dtype=np.float64)
