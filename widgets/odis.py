"""The /odis page: orthogonal data selection on the scored default corpus.

Every number comes from lab.odis (``analyse``, ``compare_selections``, ``embedding_map``);
this module only arranges figures. Slider moves recompute the selection (cheap: a PCA of a
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

from lab.device import describe_device
from lab.odis import (OdisData, analyse, compare_selections, embedding_map, load_default, load_json_artifact,
                      selection_labels, selection_table)
from lab.odis.downstream import summarise_downstream
from lab.odis.scorers import DIMENSIONS
from widgets.common import ErrorBox, guarded, plotly_pane
from widgets.jobs import BackgroundJob
from widgets.odis_figures import baseline_bars, doc_map, downstream_bars, heatmap, variance_bars

__all__ = ["OdisView", "create_view"]

MAX_COMPONENTS = 6

INTRO = """
### ODiS: orthogonal data selection

Each document of the corpus (Python standard-library docstrings and reference topics) is scored
on **10 interpretable quality dimensions**: language quality, knowledge / information content and
comprehension difficulty. Averaging such scores favours one kind of document, because the scores
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
    out = embedding_map(data.embeddings, method=method, n_neighbors=n_neighbors)
    out.setflags(write=False)
    return out


class OdisView(pn.viewable.Viewer):
    """One session's ODiS page; the controls are generated from these parameters."""

    budget = param.Integer(default=200, bounds=(4, 2000), label="Budget (documents)",
                           doc="Total number of selections, split across the components by the weights.")
    n_components = param.Integer(default=4, bounds=(1, MAX_COMPONENTS), label="Principal components",
                                 doc="How many orthogonal directions ODiS selects from (the paper keeps about 4).")
    weight_1 = param.Number(default=1.0, bounds=(0.0, 3.0), step=0.1, label="Weight PC1", doc="Budget weight of PC1.")
    weight_2 = param.Number(default=1.0, bounds=(0.0, 3.0), step=0.1, label="Weight PC2", doc="Budget weight of PC2.")
    weight_3 = param.Number(default=1.0, bounds=(0.0, 3.0), step=0.1, label="Weight PC3", doc="Budget weight of PC3.")
    weight_4 = param.Number(default=1.0, bounds=(0.0, 3.0), step=0.1, label="Weight PC4", doc="Budget weight of PC4.")
    weight_5 = param.Number(default=1.0, bounds=(0.0, 3.0), step=0.1, label="Weight PC5", doc="Budget weight of PC5.")
    weight_6 = param.Number(default=1.0, bounds=(0.0, 3.0), step=0.1, label="Weight PC6", doc="Budget weight of PC6.")
    duplicates = param.Selector(default="keep", objects=["keep", "fill"], label="Documents chosen by two PCs",
                                doc="keep: each PC takes its own top (the union may be smaller than the budget); "
                                    "fill: each document goes to one PC and the union is exactly the budget.")
    overlap_level = param.Selector(default="documents", objects=["documents", "tokens"], label="Overlap counted in",
                                   doc="Overlap |S_i ∩ S_j| / min(|S_i|, |S_j|) in documents or in tokens.")
    map_kind = param.Selector(default="umap", objects=["umap", "pca"], label="Document map",
                              doc="2-D map of the MiniLM embeddings: UMAP (cosine) or PCA.")
    n_neighbors = param.Integer(default=15, bounds=(5, 100), label="UMAP neighbours",
                                doc="n_neighbors of a recomputed UMAP (the shipped map uses 15).")

    def __init__(self, data: OdisData | None = None, data_folder: str | None = None, **params: Any) -> None:
        super().__init__(**params)
        self.errors = ErrorBox()
        self.job = BackgroundJob(name="UMAP")
        self._folder = data_folder
        self._data = data
        self._from_default = False
        self._map_override: dict[str, np.ndarray] = {}
        self.analysis = None
        self.comparison: pd.DataFrame | None = None
        self.overlap_pane = plotly_pane({"data": [], "layout": {}})
        self.raw_pane = plotly_pane({"data": [], "layout": {}})
        self.pc_pane = plotly_pane({"data": [], "layout": {}})
        self.variance_pane = plotly_pane({"data": [], "layout": {}})
        self.map_pane = plotly_pane({"data": [], "layout": {}})
        self.baseline_pane = plotly_pane({"data": [], "layout": {}})
        self.downstream_pane = plotly_pane({"data": [], "layout": {}})
        self.summary = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.table = pn.widgets.Tabulator(pd.DataFrame(), pagination="local", page_size=12, disabled=True,
                                          sizing_mode="stretch_width", height=420, show_index=False,
                                          layout="fit_columns", widths={"component": 90, "rank": 60, "score": 70,
                                                                        "preview": "55%", "doc_id": "25%"})
        self.baseline_table = pn.widgets.Tabulator(pd.DataFrame(), disabled=True, show_index=False,
                                                   sizing_mode="stretch_width", layout="fit_data_stretch")
        self.downstream_note = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.umap_button = pn.widgets.Button(label="Recompute UMAP", color="primary", width=150)
        self.umap_button.on_click(lambda _e: self.recompute_map())
        self._load()
        self.refresh()
        self._show_downstream()

    # ------------------------------------------------------------------ data
    def _load(self) -> None:
        """Load the shipped default corpus unless data was given; size the budget slider to it."""
        if self._data is None:
            try:
                self._data = load_default(self._folder)
                self._from_default = True
            except (ValueError, OSError) as exc:
                self.errors.show(exc)
                return
        n = self._data.n
        self.param.budget.bounds = (4, max(4, n))
        self.budget = min(self.budget, n)

    @property
    def data(self) -> OdisData | None:
        return self._data

    def _weights(self) -> list[float]:
        return [float(getattr(self, f"weight_{i + 1}")) for i in range(self.n_components)]

    # ------------------------------------------------------------------ updates
    @param.depends("budget", "n_components", "weight_1", "weight_2", "weight_3", "weight_4", "weight_5", "weight_6",
                   "duplicates", "overlap_level", watch=True)
    def refresh(self) -> None:
        """Recompute the selection and every figure that depends on it (cheap)."""
        ok = guarded(self.errors)(self._refresh)()
        return ok

    def _refresh(self) -> bool:
        d = self.data
        if d is None:
            raise ValueError("No scored corpus is loaded.")
        if self.budget > d.n:
            raise ValueError(f"budget: expected at most the corpus size {d.n}, got {self.budget}")
        a = analyse(d.scores, n_components=self.n_components, budget=self.budget, weights=self._weights(),
                    duplicates=self.duplicates, token_counts=d.docs["n_tokens"].to_numpy())
        self.analysis = a
        dims = a.dimensions
        pcs = [f"PC{i + 1}" for i in range(self.n_components)]
        level = a.overlap_tokens if self.overlap_level == "tokens" and a.overlap_tokens is not None else a.overlap_docs
        cells = [[f"{level[i, j]:.1%}<br>{a.intersections[i, j]} docs" for j in range(len(pcs))] for i in range(len(pcs))]
        self.overlap_pane.object = heatmap(
            level, pcs, title=f"Overlap of per-PC selections ({self.overlap_level})",
            zmin=0.0, zmax=1.0, colorscale="Blues", text=cells, colorbar="overlap", height=360)
        self.raw_pane.object = heatmap(a.raw_corr, dims, title="Raw dimensions: Pearson correlation (hover for r)",
                                       colorbar="r", height=430, show_text=len(dims) <= 6)
        self.pc_pane.object = heatmap(a.pc_corr, pcs, title="Component scores: correlation",
                                      colorbar="r", height=360)
        self.variance_pane.object = variance_bars(a.spectrum, self.n_components)
        self._recolour()
        self.comparison = compare_selections(d.scores, a, embeddings=d.embeddings, single=dims[:2])
        self.baseline_pane.object = baseline_bars(self.comparison, [f"mean {p}" for p in pcs])
        self.baseline_table.value = self.comparison.round(3)
        texts = d.docs["preview"].tolist()
        table = selection_table(a, texts, doc_ids=d.docs["doc_id"].tolist(), preview_chars=140)
        self.table.value = table[["component", "rank", "score", "preview", "doc_id"]].round({"score": 3})
        off = a.overlap_docs[~np.eye(len(pcs), dtype=bool)]
        names = "; ".join(a.component_names)
        self.summary.object = (
            f"**{len(a.union)} distinct documents** selected from {d.n} (budget {a.budget}, quotas "
            f"{', '.join(str(int(q)) for q in a.quotas)}). Kept components explain "
            f"**{a.selector.explained_variance_ratio_.sum():.0%}** of the variance. Largest pairwise overlap "
            f"**{(off.max() if off.size else 0):.1%}** (the paper reports under 2%). Components, by their two "
            f"largest loadings: {names}.")
        for i, w in enumerate(getattr(self, "_weight_widgets", [])):
            w.visible = i < self.n_components
        return True

    @param.depends("map_kind", watch=True)
    def _on_map_kind(self) -> None:
        guarded(self.errors)(self._recolour)()

    def _coords(self) -> np.ndarray | None:
        d = self.data
        if self.map_kind in self._map_override:
            return self._map_override[self.map_kind]
        if d is not None and self.map_kind in d.maps:
            return d.maps[self.map_kind]
        return None

    def _recolour(self) -> None:
        d, a = self.data, self.analysis
        if d is None or a is None:
            return
        xy = self._coords()
        if xy is None:
            if d.embeddings is None:
                raise ValueError("No embeddings are shipped, so no document map can be drawn.")
            self.recompute_map()
            return
        labels = selection_labels(d.n, a.selections)
        hover = self._hover()
        title = (f"Documents on a {'UMAP' if self.map_kind == 'umap' else 'PCA'} map of their MiniLM embeddings, "
                 f"coloured by the component that selected them (hover: the text)")
        self.map_pane.object = doc_map(xy, labels, hover, self.n_components, title=title)

    @functools.cached_property
    def _hover_cache(self) -> list[str]:
        d = self.data
        out = []
        for did, prev in zip(d.docs["doc_id"], d.docs["preview"]):
            short = prev[:180].replace("<", "&lt;").replace("\n", " ")
            out.append(f"<b>{did}</b><br>" + "<br>".join(short[i:i + 60] for i in range(0, len(short), 60)))
        return out

    def _hover(self) -> list[str]:
        return self._hover_cache

    def recompute_map(self) -> bool:
        """Compute the current map kind in a background job (cached per corpus and n_neighbors)."""
        d = self.data
        if d is None or d.embeddings is None:
            self.errors.show("No embeddings are loaded, so no map can be computed.")
            return False
        method, k = self.map_kind, int(self.n_neighbors)
        folder = str(self._folder or _default_folder()) if self._from_default else None

        def work(progress, should_stop):
            progress(0.05, f"{method.upper()} of {d.n} documents (runs once, then cached)…")
            if folder is not None:
                return _cached_map(folder, method, k)
            return embedding_map(d.embeddings, method=method, n_neighbors=k, progress=progress,
                                 should_stop=should_stop)

        def done(xy):
            if xy is not None:
                self._map_override[method] = np.asarray(xy)
                self._recolour()

        return self.job.start(work, on_done=done)

    def _show_downstream(self) -> None:
        ds = load_json_artifact("downstream", self._folder) if self._from_default else None
        if not ds or not ds.get("rows"):
            self.downstream_note.object = ("*The downstream check has not been run for this corpus yet: "
                                           "`ortholab train odis` or `python scripts/make_odis_data.py --downstream`.*")
            return
        summary = summarise_downstream(pd.DataFrame(ds["rows"]))
        self.downstream_pane.object = downstream_bars(summary)
        best = summary.sort_values("val_ppl_mean").iloc[0]
        self.downstream_note.object = (
            f"The same RoPE-only baseline transformer (lab.threephase) trained for {ds.get('steps', '?')} steps on "
            f"equal-size selections, evaluated on one common held-out set; mean ± std over "
            f"{int(summary['runs'].max())} seeds. Lowest perplexity: **{best['method']}** "
            f"({best['val_ppl_mean']:.1f} ± {best['val_ppl_std']:.1f}).")

    # ------------------------------------------------------------------ layout
    def controls(self) -> pn.Column:
        throttled = {"type": pn.widgets.IntSlider, "throttled": True}
        main = pn.Param(self.param, parameters=["budget", "n_components"], show_name=False, width=280,
                        widgets={"budget": dict(throttled, width=260), "n_components": dict(throttled, width=260)})
        self._weight_widgets = [  # bound to value_throttled: the selection recomputes on release
            pn.Param(self.param, parameters=[f"weight_{i + 1}"], show_name=False, width=280,
                     widgets={f"weight_{i + 1}": {"type": pn.widgets.FloatSlider, "throttled": True, "width": 260}},
                     visible=i < self.n_components)
            for i in range(MAX_COMPONENTS)
        ]
        rest = pn.Param(self.param, parameters=["duplicates", "overlap_level", "map_kind", "n_neighbors"],
                        show_name=False, width=280,
                        widgets={"duplicates": {"type": pn.widgets.Select, "width": 260},
                                 "overlap_level": {"type": pn.widgets.Select, "width": 260},
                                 "map_kind": {"type": pn.widgets.Select, "width": 260},
                                 "n_neighbors": {"type": pn.widgets.IntSlider, "throttled": True}})
        return pn.Column(pn.pane.Markdown("#### Selection"), main, pn.pane.Markdown("#### Budget weights"),
                         *self._weight_widgets, rest, self.umap_button, self.job, width=300)

    def __panel__(self) -> pn.viewable.Viewable:
        header = pn.Column(pn.pane.Markdown(INTRO, sizing_mode="stretch_width"),
                           pn.pane.Markdown(f"**Experiments run on:** {describe_device()}"),
                           self.errors, self.summary, sizing_mode="stretch_width")
        figures = pn.Column(
            pn.Row(self.overlap_pane, self.variance_pane, sizing_mode="stretch_width"),
            pn.pane.Markdown("Each cell of the overlap matrix is |S_i ∩ S_j| / min(|S_i|, |S_j|) for the "
                             "documents (or tokens) picked by components i and j. The correlation heatmaps show "
                             "why averaging fails: the raw dimensions are correlated, the component scores are not.",
                             sizing_mode="stretch_width"),
            pn.Row(self.raw_pane, self.pc_pane, sizing_mode="stretch_width"),
            self.map_pane,
            pn.pane.Markdown("#### Selected documents (text preview, component score)"),
            self.table,
            pn.pane.Markdown("#### ODiS against the baselines (same number of documents)\n"
                             "*quality*: mean z-scored raw score (sign-oriented); *coverage*: share of components "
                             "whose mean score in the selection is above the corpus mean; *diversity*: mean "
                             "pairwise cosine distance of the MiniLM embeddings."),
            self.baseline_pane, self.baseline_table,
            pn.pane.Markdown("#### Downstream check"), self.downstream_note, self.downstream_pane,
            pn.Card(pn.pane.Markdown(DIM_HELP), title="The 10 raw dimensions", collapsed=True,
                    sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )
        return pn.Column(header, pn.Row(self.controls(), figures, sizing_mode="stretch_width"),
                         sizing_mode="stretch_width")


def _default_folder():
    from lab.odis.artifacts import odis_dir

    return odis_dir()


def create_view() -> pn.viewable.Viewable:
    """A fresh view for one browser session."""
    return OdisView()
