"""The /odis page: orthogonal data selection on the scored default corpus.

Every number comes from lab.odis (``analyse``, ``compare_selections``, ``embedding_map``);
``widgets.odis_figures`` draws it. Slider moves recompute the selection (cheap: a PCA of a
(n, 10) matrix) and recolour the document map; the map's coordinates (UMAP / PCA of the
MiniLM embeddings) are shipped in data/odis or computed once in a background job and cached.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pandas as pd
import panel as pn
import param

from lab.odis import (
    CORPUS_FORMATS,
    DIMENSIONS,
    PRESETS,
    SCORE_SETS,
    OdisData,
    analyse,
    compare_selections,
    corpus_data,
    embedding_map,
    expected_overlap,
    load_default,
    load_json_artifact,
    read_corpus,
    read_scores,
    scores_data,
    selection_labels,
    selection_table,
    shuffled_overlap,
    summarise_downstream,
    with_score_set,
)
from lab.paths import study_dir
from widgets import odis_figures as figs
from widgets.common import MAX_UPLOAD_BYTES, StudyView, keeps_last, plotly_pane
from widgets.figures import empty_figure

__all__ = ["OdisView", "create_view"]

PAGE = PRESETS["page"]
PAGE_SHUFFLES = 20  # shuffles behind each overlap cell's second null (about 20 ms on the default corpus)
MAP = PRESETS["map"]  # seed, n_neighbors, min_dist of the document map
MAX_COMPONENTS = PAGE["max_components"]
WEIGHTS = [f"weight_{i + 1}" for i in range(MAX_COMPONENTS)]
TABLE_COLUMNS = ["component", "rank", "score", "preview", "doc_id"]

INTRO = """
### ODiS: orthogonal data selection

Each document of the corpus (Python standard-library docstrings and reference topics) is scored
on **10 interpretable quality dimensions**: language quality, knowledge / information content and
comprehension difficulty; or (*Scores*) on **11 rater-style criteria** in the paper's four groups,
each a MiniLM similarity to written descriptions of high and low quality (an offline stand-in for
the paper's LLM rater), or on your own ratings. Averaging such scores favours one kind of document, because the scores
are correlated. ODiS first **decorrelates** them with PCA (on standardised scores), then takes the
**top documents within each principal component** and unions them. Move the sliders: the
selection, the overlap between the per-component selections and the map recompute at once.
"""

DIM_HELP = "\n".join(f"* **{d.name}** ({d.group}; {d.range}; {'higher' if d.higher_is_better else 'lower'} "
                     f"is better): {d.doc}" for d in DIMENSIONS.values())


@functools.lru_cache(maxsize=8)
def _cached_map(folder: str, method: str, n_neighbors: int) -> np.ndarray:
    """A map of the shipped embeddings (read-only artifact; shared by sessions)."""
    data = load_default(folder)
    out = embedding_map(data.embeddings, method=method, **{**MAP, "n_neighbors": n_neighbors})
    out.setflags(write=False)
    return out


# One budget weight per component slot; the view shows as many as it keeps components.
BudgetWeights = param.parameterized_class("BudgetWeights", {
    name: param.Number(default=1.0, bounds=(0.0, 3.0), step=0.1, label=f"Weight PC{i + 1}",
                       doc=f"Budget weight of PC{i + 1}.")
    for i, name in enumerate(WEIGHTS)})


class OdisView(StudyView, BudgetWeights):
    """One session's ODiS page; the controls are generated from these parameters."""

    intro = INTRO

    budget = param.Integer(default=PAGE["budget"], bounds=(4, 2000), label="Budget (documents)",
                           doc="Total number of selections, split across the components by the weights.")
    n_components = param.Integer(default=PAGE["n_components"], bounds=(1, MAX_COMPONENTS), label="Principal components",
                                 doc="How many orthogonal directions ODiS selects from (the paper keeps about 4).")
    score_set = param.Selector(default=SCORE_SETS[0], objects=list(SCORE_SETS), label="Scores",
                               doc="What scores the shipped corpus: the ten text statistics, eleven rater-style "
                                   "rubric ratings (MiniLM similarity to written descriptions of high and low "
                                   "quality, an offline stand-in for an LLM rater), or both.")
    duplicates = param.Selector(default="keep", objects=["keep", "fill"], label="Documents chosen by two PCs",
                                doc="keep: each PC takes its own top (the union may be smaller than the budget); "
                                    "fill: each document goes to one PC and the union is exactly the budget.")
    overlap_level = param.Selector(default="documents", objects=["documents", "tokens"], label="Overlap counted in",
                                   doc="Overlap |S_i ∩ S_j| / min(|S_i|, |S_j|) in documents or in tokens.")
    map_kind = param.Selector(default="umap", objects=["umap", "pca"], label="Document map",
                              doc="2-D map of the MiniLM embeddings: UMAP (cosine) or PCA.")
    n_neighbors = param.Integer(default=PRESETS["map"]["n_neighbors"], bounds=(5, 100), label="UMAP neighbours",
                                doc="n_neighbors of a recomputed UMAP (the shipped map uses 15).")
    recompute = param.Action(lambda self: self.recompute_map(), label="Recompute UMAP",
                             doc="Compute the document map again with these settings, in the background.")
    use_scores = param.Action(lambda self: self.load_scores_upload(), label="Use these scores",
                              doc="Run the page on the uploaded scores (CSV or parquet: doc_id + one column per "
                                  "criterion).")
    score_corpus = param.Action(lambda self: self.start_corpus(), label="Score this corpus",
                                doc="Score, embed and map the uploaded documents in the background (MiniLM "
                                    "embeds about 10-30 documents a second on a 2-core CPU); Stop keeps the "
                                    "scores without embeddings.")
    back_to_shipped = param.Action(lambda self: self.use_shipped(), label="Back to the shipped corpus",
                                   doc="Leave the uploaded scores and show the shipped corpus again.")
    # Results, shown by the figures that depend on them (not controls).
    data = param.ClassSelector(class_=OdisData, default=None, allow_None=True, precedence=-1,
                               doc="The scored corpus with its embeddings and maps.")
    analysis = param.Parameter(default=None, precedence=-1, doc="The selection for the current controls.")
    comparison = param.DataFrame(default=None, allow_None=True, precedence=-1,
                                 doc="ODiS against the baselines at the same budget.")
    map_override = param.Dict(default={}, precedence=-1, doc="Map kind -> coordinates computed on this page.")

    def __init__(self, data: OdisData | None = None, data_folder: str | None = None, **params: Any) -> None:
        super().__init__(**params)
        self.job = self.add_job("UMAP", errors_here=True).locks((self, "recompute"))
        # Bring your own scores: the upload, its own error box beside it, and the way back.
        self.scores_file = pn.widgets.FileInput(accept=".csv,.parquet", sizing_mode="stretch_width")
        self.scores_errors = self.error_box()
        self.scores_note = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.param["back_to_shipped"].constant = True  # nothing to go back from yet
        # Bring your own corpus: read on the loop (cheap, checked), scored and embedded in the background.
        self.corpus_file = pn.widgets.FileInput(accept=",".join(CORPUS_FORMATS), sizing_mode="stretch_width")
        self.corpus_job = self.add_job("your corpus", errors_here=True).locks((self, "score_corpus"))
        self._folder = data_folder
        self._from_default = data is None
        if data is None:
            data = self.guard(load_default)(self._folder)
        self._shipped = data if self._from_default else None
        if data is not None:
            self._set_data(data)
        self._show_weights()
        self.refresh()
        self._downstream = load_json_artifact("downstream", self._folder) if self._from_default else None
        self._sweep = load_json_artifact("overlap_sweep", self._folder) if self._from_default else None

    def _set_data(self, data: OdisData) -> None:
        with param.parameterized.batch_call_watchers(self):
            self.param.budget.bounds = (4, max(4, data.n))
            self.budget = min(self.budget, data.n)
            d = data.scores.shape[1]
            self.param.n_components.bounds = (1, min(MAX_COMPONENTS, d))
            self.n_components = min(self.n_components, d)
            if self.map_kind not in data.maps:
                self.map_kind = "pca" if "pca" in data.maps else self.map_kind
            self.map_override = {}
            self.data = data

    @param.depends("score_set", watch=True)
    def _use_score_set(self) -> None:
        if self._shipped is None:
            self.errors.show("score_set: only the shipped corpus has rater-style scores")
            return
        data = self.guard(with_score_set)(self._shipped, self.score_set, self._folder)
        if data is None:
            return
        self._set_data(data)
        self.refresh()
        self.scores_note.object = ""
        self.param["back_to_shipped"].constant = True

    # ------------------------------------------------------------------ bring your own scores
    def load_scores_upload(self) -> bool:
        """Read the uploaded scores and run the page on them; on bad input the message shows beside
        the upload and the page keeps what it had."""
        value, name = self.scores_file.value, self.scores_file.filename
        if not name:
            self.scores_errors.show("scores file: choose a .csv or .parquet file first")
            return False
        if not value:
            self.scores_errors.show(f"scores file: {name!r} is empty")
            return False

        def load():
            table = read_scores(value, filename=name, max_bytes=MAX_UPLOAD_BYTES)
            return table, scores_data(table, self._shipped)

        loaded = self.guard(load, errors=self.scores_errors)()
        if loaded is None:
            return False
        table, data = loaded
        previous = self.data
        self._set_data(data)
        if not self.refresh():  # e.g. too few documents for the budget: back to what it was
            self._set_data(previous)
            self.refresh()
            return False
        known = int((data.docs["source"] != "uploaded scores").sum())
        self.scores_note.object = (f"Showing **{name}**: {data.n:,} documents × {data.scores.shape[1]} criteria "
                                   f"({', '.join(data.scores.columns[:6])}{'…' if data.scores.shape[1] > 6 else ''}); "
                                   f"{known:,} of them are documents of the shipped corpus (their text is shown).")
        self.param["back_to_shipped"].constant = self._shipped is None
        return True

    def start_corpus(self) -> bool:
        """Read the uploaded corpus (errors beside the upload) and score, embed and map it in the background."""
        name, value = self.corpus_file.filename, self.corpus_file.value
        if not name:
            self.corpus_job.errors.show("corpus file: choose a .jsonl, .parquet, .txt or .md file first")
            return False
        if not value:
            self.corpus_job.errors.show(f"corpus file: {name!r} is empty")
            return False
        corpus = self.guard(read_corpus, errors=self.corpus_job.errors)(value, filename=name,
                                                                         max_bytes=MAX_UPLOAD_BYTES)
        if corpus is None:
            return False
        cut = corpus.attrs.get("cut_documents", 0)

        def work(progress, should_stop):
            return corpus_data(corpus, progress=progress, should_stop=should_stop)

        def done(data):
            if data is None:
                return
            previous = self.data
            self._set_data(data)
            if not self.refresh():
                self._set_data(previous)
                self.refresh()
                return
            embedded = "embedded with MiniLM" if data.embeddings is not None else \
                "not embedded (stopped): the map is a PCA of the scores"
            self.scores_note.object = (f"Showing **{name}**: {data.n:,} documents, scored on the text statistics, "
                                       f"{embedded}" + (f"; {cut} long documents were cut" if cut else "") + ".")
            self.param["back_to_shipped"].constant = self._shipped is None

        return self.corpus_job.start(work, on_done=done)

    def use_shipped(self) -> None:
        """Back to the shipped corpus (scored by the chosen score set) after an upload."""
        if self._shipped is None:
            return
        data = self.guard(with_score_set)(self._shipped, self.score_set, self._folder)
        self._set_data(data if data is not None else self._shipped)
        self.refresh()
        self.scores_errors.clear()
        self.scores_note.object = ""
        self.param["back_to_shipped"].constant = True

    def _weights(self) -> list[float]:
        return [float(getattr(self, name)) for name in WEIGHTS[: self.n_components]]

    # ------------------------------------------------------------------ the selection
    @param.depends("budget", "n_components", *WEIGHTS, "duplicates", watch=True)
    def refresh(self) -> bool:
        """Recompute the selection and the baseline comparison (cheap); False (and a message) on failure."""
        return self.guard(self._select)() is not None

    def _select(self) -> bool:
        d = self.data
        if d is None:
            raise ValueError("No scored corpus is loaded.")
        if self.budget > d.n:
            raise ValueError(f"budget: expected at most the corpus size {d.n}, got {self.budget}")
        a = analyse(d.scores, n_components=self.n_components, budget=self.budget, weights=self._weights(),
                    duplicates=self.duplicates, token_counts=d.docs["n_tokens"].to_numpy())
        comparison = compare_selections(d.scores, a, embeddings=d.embeddings,
                                        single=a.dimensions[:PAGE["single_baselines"]])
        with param.parameterized.batch_call_watchers(self):
            self.analysis, self.comparison = a, comparison
        return True

    @param.depends("n_components", watch=True)
    def _show_weights(self) -> None:
        for i, name in enumerate(WEIGHTS):
            self.param[name].precedence = 1 if i < self.n_components else -1

    def _pcs(self) -> list[str]:
        return [f"PC{i + 1}" for i in range(self.analysis.pc_scores.shape[1])]

    # ------------------------------------------------------------------ figures and tables
    @param.depends("analysis", "overlap_level", "duplicates")
    @keeps_last
    def overlap_figure(self) -> dict:
        a = self.analysis
        if a is None:
            return empty_figure("Overlap of per-PC selections", "no corpus loaded", height=360)
        pcs = self._pcs()
        level = a.overlap_tokens if self.overlap_level == "tokens" and a.overlap_tokens is not None else a.overlap_docs
        # each cell beside its independence null (Note [fill overlap]: fill is 0 by construction)
        # (analytic, and by shuffling each component alone; in documents, as the selections are made)
        null = expected_overlap(a.quotas, self.data.n)
        shuffled, _ = shuffled_overlap(a.pc_scores, a.quotas, n_shuffles=PAGE_SHUFFLES, seed=0)
        cells = [[f"{level[i, j]:.1%}<br>{a.intersections[i, j]} docs"
                  + (f"<br>null {null[i, j]:.1%} / {shuffled[i, j]:.1%}" if i != j and self.duplicates == "keep"
                     else "")
                  for j in range(len(pcs))] for i in range(len(pcs))]
        return figs.heatmap(level, pcs, title=f"Overlap of per-PC selections ({self.overlap_level})",
                            zmin=0.0, zmax=1.0, colorscale="Blues", text=cells,
                            colorbar="overlap", height=360)

    @param.depends("analysis")
    @keeps_last
    def raw_figure(self) -> dict:
        a = self.analysis
        if a is None:
            return empty_figure("Raw dimensions: Pearson correlation", "no corpus loaded")
        return figs.heatmap(a.raw_corr, a.dimensions, title="Raw dimensions: Pearson correlation (hover for r)",
                            colorbar="r", height=430, show_text=len(a.dimensions) <= 6)

    @param.depends("analysis")
    @keeps_last
    def pc_figure(self) -> dict:
        if self.analysis is None:
            return empty_figure("Component scores: correlation", "no corpus loaded")
        return figs.heatmap(self.analysis.pc_corr, self._pcs(), title="Component scores: correlation",
                            colorbar="r", height=360)

    @param.depends("analysis")
    @keeps_last
    def variance_figure(self) -> dict:
        if self.analysis is None:
            return empty_figure("Explained variance", "no corpus loaded")
        return figs.variance_bars(self.analysis.spectrum, self.analysis.pc_scores.shape[1])

    @param.depends("comparison")
    @keeps_last
    def baseline_figure(self) -> dict:
        if self.comparison is None:
            return empty_figure("How much of each orthogonal direction each selection covers", "no corpus loaded")
        return figs.baseline_bars(self.comparison, [f"mean {p}" for p in self._pcs()])

    @param.depends("comparison")
    def baseline_frame(self) -> pd.DataFrame:
        return self.comparison.round(3) if self.comparison is not None else pd.DataFrame()

    @param.depends("analysis")
    def selection_frame(self) -> pd.DataFrame:
        if self.analysis is None:
            return pd.DataFrame(columns=TABLE_COLUMNS)
        d = self.data
        table = selection_table(self.analysis, d.docs["preview"].tolist(), doc_ids=d.docs["doc_id"].tolist(),
                                preview_chars=PAGE["preview_chars"])
        return table[TABLE_COLUMNS].round({"score": 3})

    @param.depends("analysis", "duplicates")
    def summary(self) -> str:
        a, d = self.analysis, self.data
        if a is None:
            return ""
        off = a.overlap_docs[~np.eye(len(a.quotas), dtype=bool)]
        if self.duplicates == "fill":
            # Note [fill overlap]: fill hands each document to one component, so the overlap is 0
            # by construction; quoting it against the paper's bound would compare nothing.
            overlap = ("Overlap: **0 by construction** in *fill* mode (each document goes to one component); "
                       "choose *keep* to see how much the components' tops overlap.")
        else:
            null = expected_overlap(a.quotas, d.n)[~np.eye(len(a.quotas), dtype=bool)]
            overlap = (f"Largest pairwise overlap **{(off.max() if off.size else 0):.1%}**, mean {off.mean():.1%} "
                       f"(the paper reports under 2% on a far larger pool). With independent component scores the "
                       f"expected overlap here would be about {null.max() if null.size else 0:.1%} "
                       f"(quota / corpus size): what exceeds it is dependence in the tails, which PCA does not "
                       f"remove.")
        return (f"**{len(a.union)} distinct documents** selected from {d.n} (budget {a.budget}, quotas "
                f"{', '.join(str(int(q)) for q in a.quotas)}). Kept components explain "
                f"**{a.selector.explained_variance_ratio_.sum():.0%}** of the variance. {overlap} Components, by "
                f"their two largest loadings: {'; '.join(a.component_names)}.")

    # ------------------------------------------------------------------ the document map
    def _coords(self) -> np.ndarray | None:
        if self.map_kind in self.map_override:
            return self.map_override[self.map_kind]
        if self.data is not None and self.map_kind in self.data.maps:
            return self.data.maps[self.map_kind]
        return None

    @param.depends("analysis", "map_kind", "map_override")
    @keeps_last
    def map_figure(self) -> dict:
        d, a = self.data, self.analysis
        if d is None or a is None:
            return empty_figure("Documents on a map of their embeddings", "no corpus loaded", height=520)
        xy = self._coords()
        if xy is None:
            if d.embeddings is None:
                raise ValueError("No embeddings are shipped, so no document map can be drawn.")
            return empty_figure("Documents on a map of their embeddings", "the map is being computed…", height=520)
        title = (f"Documents on a {'UMAP' if self.map_kind == 'umap' else 'PCA'} map of their MiniLM embeddings, "
                 f"coloured by the component that selected them (hover: the text)")
        return figs.doc_map(xy, selection_labels(d.n, a.selections), self._hover, a.pc_scores.shape[1], title=title)

    @functools.cached_property
    def _hover(self) -> list[str]:
        out = []
        for did, prev in zip(self.data.docs["doc_id"], self.data.docs["preview"]):
            short = prev[:180].replace("<", "&lt;").replace("\n", " ")
            out.append(f"<b>{did}</b><br>" + "<br>".join(short[i:i + 60] for i in range(0, len(short), 60)))
        return out

    @param.depends("map_kind", watch=True)
    def _ensure_map(self) -> None:
        if self._coords() is None and self.data is not None and self.data.embeddings is not None:
            self.recompute_map()

    def recompute_map(self) -> bool:
        """Compute the current map kind in a background job (cached per corpus and n_neighbors)."""
        d = self.data
        if d is None or d.embeddings is None:
            self.errors.show("No embeddings are loaded, so no map can be computed.")
            return False
        if self.closed:
            return False
        method, k = self.map_kind, int(self.n_neighbors)
        folder = str(self._folder or study_dir("odis")) if self._from_default else None

        def work(progress, should_stop):
            progress(0.05, f"{method.upper()} of {d.n} documents (runs once, then cached)…")
            if folder is not None:
                return _cached_map(folder, method, k)
            return embedding_map(d.embeddings, method=method, **{**MAP, "n_neighbors": k}, progress=progress,
                                 should_stop=should_stop)

        def done(xy):
            if xy is not None:
                self.map_override = {**self.map_override, method: np.asarray(xy)}

        return self.job.start(work, on_done=done)

    # ------------------------------------------------------------------ downstream check
    def downstream_note(self) -> str:
        ds = self._downstream
        if not ds or not ds.get("rows"):
            return ("*The downstream check has not been run for this corpus yet: "
                    "`ortholab train odis` or `python scripts/make_odis_data.py --downstream`.*")
        summary = summarise_downstream(pd.DataFrame(ds["rows"]))
        best = summary.sort_values("val_ppl_mean").iloc[0]
        return (f"The same RoPE-only baseline transformer (lab.threephase) trained for {ds.get('steps', '?')} steps "
                f"on equal-size selections, evaluated on one common held-out set; mean ± std over "
                f"{int(summary['runs'].max())} seeds. Lowest perplexity: **{best['method']}** "
                f"({best['val_ppl_mean']:.1f} ± {best['val_ppl_std']:.1f}).")

    def sweep_figure(self) -> dict:
        """The shipped sweep (scripts/odis_overlap_sweep.py): where the overlap stays under 2 %."""
        sweep = self._sweep
        if not sweep or not sweep.get("summary"):
            return empty_figure("Overlap by budget and corpus size", "not computed for this corpus "
                                "(python scripts/odis_overlap_sweep.py)")
        return figs.overlap_sweep_figure(sweep["summary"])

    def downstream_figure(self) -> dict:
        ds = self._downstream
        if not ds or not ds.get("rows"):
            return empty_figure("Downstream check", "not run for this corpus yet")
        return figs.downstream_bars(summarise_downstream(pd.DataFrame(ds["rows"])))

    # ------------------------------------------------------------------ layout
    def controls(self) -> pn.Column:
        throttled = {"type": pn.widgets.IntSlider, "throttled": True, "width": 260}
        selection = pn.Param(self.param, parameters=["budget", "n_components"], show_name=False, width=280,
                             widgets={"budget": throttled, "n_components": throttled})
        weights = pn.Param(  # bound to value_throttled: the selection recomputes on release
            self.param, parameters=WEIGHTS, show_name=False, width=280,
            widgets={name: {"type": pn.widgets.FloatSlider, "throttled": True, "width": 260} for name in WEIGHTS})
        rest = pn.Param(self.param, parameters=["score_set", "duplicates", "overlap_level", "map_kind", "n_neighbors",
                                                "recompute"], show_name=False, width=280,
                        widgets={"score_set": {"type": pn.widgets.Select, "width": 260},
                                 "duplicates": {"type": pn.widgets.Select, "width": 260},
                                 "overlap_level": {"type": pn.widgets.Select, "width": 260},
                                 "map_kind": {"type": pn.widgets.Select, "width": 260},
                                 "n_neighbors": {"type": pn.widgets.IntSlider, "throttled": True},
                                 "recompute": {"type": pn.widgets.Button, "color": "primary", "width": 150}})
        upload = pn.Card(
            pn.pane.Markdown("A `.csv` or `.parquet` file with a `doc_id` column and one numeric column per "
                             f"criterion (higher = better), e.g. an LLM's ratings; {MAX_UPLOAD_BYTES // 2**20} MB "
                             "at most. Documents of the shipped corpus keep their text.",
                             styles={"font-size": "0.85em"}),
            self.scores_file,
            pn.Param(self.param, parameters=["use_scores", "back_to_shipped"], show_name=False, width=270,
                     widgets={"use_scores": {"type": pn.widgets.Button, "color": "primary", "width": 220},
                              "back_to_shipped": {"type": pn.widgets.Button, "width": 220}}),
            self.scores_errors,
            title="Bring your own scores", collapsed=True, width=290)
        corpus = pn.Card(
            pn.pane.Markdown("JSON lines (a `text` field per line, optional `doc_id`), parquet (a `text` column), "
                             "or a text file (documents separated by blank lines); "
                             f"{MAX_UPLOAD_BYTES // 2**20} MB at most. Scored and embedded in the background.",
                             styles={"font-size": "0.85em"}),
            self.corpus_file,
            pn.Param(self.param, parameters=["score_corpus"], show_name=False, width=270,
                     widgets={"score_corpus": {"type": pn.widgets.Button, "color": "primary", "width": 220}}),
            self.corpus_job,
            title="Bring your own corpus", collapsed=True, width=290)
        return pn.Column(pn.pane.Markdown("#### Selection"), selection, pn.pane.Markdown("#### Budget weights"),
                         weights, rest, self.job, upload, corpus, self.scores_note, width=300)

    def body(self) -> pn.viewable.Viewable:
        table = pn.widgets.Tabulator(self.selection_frame, pagination="local", page_size=12, disabled=True,
                                     sizing_mode="stretch_width", height=420, show_index=False, layout="fit_columns",
                                     widths={"component": "12%", "rank": "7%", "score": "9%", "preview": "50%",
                                             "doc_id": "22%"})
        baseline_table = pn.widgets.Tabulator(self.baseline_frame, disabled=True, show_index=False,
                                              sizing_mode="stretch_width", layout="fit_columns")
        figures = pn.Column(
            pn.pane.Markdown(self.summary, sizing_mode="stretch_width"),
            pn.Row(plotly_pane(self.overlap_figure), plotly_pane(self.variance_figure), sizing_mode="stretch_width"),
            pn.pane.Markdown("Each cell of the overlap matrix is |S_i ∩ S_j| / min(|S_i|, |S_j|) for the "
                             "documents (or tokens) picked by components i and j, with what independent components "
                             "would give beneath it (*null*: max(k_i, k_j) / n, then the mean over 20 shuffles of "
                             "each component's scores on its own). The correlation heatmaps show "
                             "why averaging fails: the raw dimensions are correlated, the component scores are not.",
                             sizing_mode="stretch_width"),
            plotly_pane(self.sweep_figure()),
            pn.pane.Markdown("The dotted lines are what independent components would give (the largest quota over "
                             "the corpus size): PCA makes the components uncorrelated, not independent, and what "
                             "rises above the null is dependence in their tails. Computed on the shipped corpus, "
                             "its halves and quarters (`scripts/odis_overlap_sweep.py`, which also takes a larger "
                             "scored corpus).", sizing_mode="stretch_width"),
            pn.Row(plotly_pane(self.raw_figure), plotly_pane(self.pc_figure), sizing_mode="stretch_width"),
            plotly_pane(self.map_figure),
            pn.pane.Markdown("#### Selected documents (text preview, component score)"),
            table,
            pn.pane.Markdown("#### ODiS against the baselines (same number of documents)\n"
                             "*quality*: mean z-scored raw score (sign-oriented); *coverage*: share of components "
                             "whose mean score in the selection is above the corpus mean; *diversity*: mean "
                             "pairwise cosine distance of the MiniLM embeddings."),
            plotly_pane(self.baseline_figure), baseline_table,
            pn.pane.Markdown("#### Downstream check"),
            pn.pane.Markdown(self.downstream_note(), sizing_mode="stretch_width"),
            plotly_pane(self.downstream_figure()),
            pn.Card(pn.pane.Markdown(DIM_HELP), title="The 10 raw dimensions", collapsed=True,
                    sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )
        return pn.Row(self.controls(), figures, sizing_mode="stretch_width")


def create_view() -> OdisView:
    """A fresh view for one browser session."""
    return OdisView()
