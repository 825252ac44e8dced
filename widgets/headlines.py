"""Each study's headline for the index page: one sentence with its number and one small figure.

Everything is read from what the project ships (data/<study>/ and benchmarks/results/), never
typed in: re-making the shipped results changes the index. A study whose results are missing
says so instead of showing a number. The figures are plain Plotly dicts, like every study's.
"""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from lab.paths import study_dir
from widgets.figures import ROLE_COLORS, empty_figure, layout

__all__ = ["Headline", "headline", "HEADLINES"]

log = logging.getLogger("ortholab")

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
HEIGHT = 230


@dataclass(frozen=True)
class Headline:
    text: str  # markdown: the study's number in one or two sentences, with its source
    figure: dict[str, Any]


def _bars(title: str, names: list[str], means: list[float], stds: list[float] | None, y: str,
          highlight: int = 0, fmt: str = ".3f") -> dict[str, Any]:
    colors = [ROLE_COLORS["method"] if i == highlight else ROLE_COLORS["baseline"] for i in range(len(names))]
    trace: dict[str, Any] = {"type": "bar", "x": names, "y": means, "marker": {"color": colors},
                             "hovertemplate": "%{x}: %{y:" + fmt + "}<extra></extra>"}
    if stds is not None:
        trace["error_y"] = {"type": "data", "array": stds, "visible": True, "color": "#333"}
    return {"data": [trace], "layout": layout(title, "", y, height=HEIGHT, showlegend=False,
                                              margin={"l": 55, "r": 10, "t": 40, "b": 60})}


def householder() -> Headline:
    """Purity of the fine-tuned projector's directions against the within-span control, SeFa and GANSpace
    at the paper's rank (the shipped seeds; mean ± std)."""
    res = json.loads((study_dir("householder") / "results.json").read_text())
    rank = max(int(r["rank"]) for r in res["summary"])
    rows = {r["variant"]: r for r in res["summary"] if int(r["rank"]) == rank}
    order = [("householder", "projector"), ("within_span", "within span"), ("sefa", "SeFa"),
             ("ganspace", "GANSpace"), ("random", "random")]
    picked = [(label, rows[v]) for v, label in order if v in rows]
    hh, ctrl = rows["householder"], rows.get("within_span")
    n = int(hh["n_seeds"])
    text = (f"Rank {rank} projector directions (style GAN, {n} seeds): purity **{hh['purity_mean']:.2f} ± "
            f"{hh['purity_std']:.2f}**, MIG {hh['mig_mean']:.3f} ± {hh['mig_std']:.3f}")
    if ctrl is not None:
        apart = abs(hh["purity_mean"] - ctrl["purity_mean"]) > hh["purity_std"] + ctrl["purity_std"]
        text += (f"; a random rotation within the same span: purity {ctrl['purity_mean']:.2f} ± "
                 f"{ctrl['purity_std']:.2f} — " + ("apart beyond the seed spread." if apart
                                                    else "no difference beyond the seed spread."))
    fig = _bars(f"Direction purity by method (rank {rank})", [p[0] for p in picked],
                [p[1]["purity_mean"] for p in picked], [p[1]["purity_std"] for p in picked], "purity")
    return Headline(text, fig)


def _encoder_pairs_sentence() -> str:
    """The real encoder pairs' best whole-pool retrieval (scripts/alignment_encoders_report.py), or ''."""
    report = study_dir("alignment") / "encoder_report.json"
    if not report.is_file():
        return ""
    pairs = json.loads(report.read_text())["pairs"]

    def whole_pool(rep: dict) -> dict:
        return next(r for r in rep["curve"] if r["map_type"] == "orthogonal" and r["n_anchors"] == rep["pool"])

    rep = max(pairs.values(), key=lambda p: whole_pool(p)["top1_after_mean"])
    raw = rep["before"]["top1"]
    start = f"{raw:.1%}" if raw == raw else "chance"  # NaN: the widths differ
    encoders = " vs ".join(space.split(" (")[0] for space in rep["spaces"])
    return (f" Between real text encoders trained apart ({encoders}), document retrieval goes from {start} to "
            f"**{whole_pool(rep)['top1_after_mean']:.1%}** with {rep['pool']:,} anchors.")


def alignment() -> Headline:
    """Cross-model scores before and after the map, as a fresh /alignment page shows them (its default fit)."""
    from widgets.alignment import AlignmentView

    result = AlignmentView.default_fit()
    m = result.metrics.set_index(["metric", "modality"])
    picks = [("retrieval top-1 (same caption)", "image", "image, same caption"),
             ("retrieval top-1 (class)", "image", "image, class"),
             ("retrieval top-1 (instance)", "text", "text (image map)")]
    picks = [p for p in picks if (p[0], p[1]) in m.index]
    before = [float(m.loc[(a, b), "before"]) for a, b, _ in picks]
    after = [float(m.loc[(a, b), "after"]) for a, b, _ in picks]
    names = [label for _, _, label in picks]
    # Many toy images share their caption, so the well-posed image score is "same caption" (Note
    # [well-posed retrieval] in lab.alignment.experiment); plain instance retrieval where it is absent.
    key = ("retrieval top-1 (same caption)", "image") if ("retrieval top-1 (same caption)", "image") in m.index \
        else ("retrieval top-1 (instance)", "image")
    inst = m.loc[key]
    what = "retrieval of the same caption" if key[0].endswith("(same caption)") else "retrieval"
    text = (f"On the shipped toy pair, with {len(result.anchors)} anchor images, cross-model image {what} "
            f"(top-1) goes from **{inst['before']:.0%} to {inst['after']:.0%}**")
    if ("retrieval top-1 (instance)", "text") in m.index:
        t = m.loc[("retrieval top-1 (instance)", "text")]
        text += f", and text, with the map fitted on images only, from {t['before']:.0%} to {t['after']:.0%}"
    text += " (the paper reports 88–98 % for real image-text models)."
    text += _encoder_pairs_sentence()
    fig = {"data": [{"type": "bar", "name": "before", "x": names, "y": before,
                     "marker": {"color": ROLE_COLORS["baseline"]}},
                    {"type": "bar", "name": "after the map", "x": names, "y": after,
                     "marker": {"color": ROLE_COLORS["after"]}}],
           "layout": layout("Cross-model retrieval top-1", "", "top-1", height=HEIGHT, barmode="group",
                            yaxis={"title": {"text": "top-1"}, "range": [0, 1], "tickformat": ".0%"},
                            legend={"orientation": "h", "y": -0.3}, margin={"l": 55, "r": 10, "t": 40, "b": 60})}
    return Headline(text, fig)


def threephase() -> Headline:
    """Validation perplexity of the reference 3PT against both baselines (3 seeds, benchmarks/results).

    The longest comparison shipped: the ``operations`` part when it was run, else ``variants``.
    """
    fid = json.loads((RESULTS / "threephase_fidelity.json").read_text())
    if fid.get("operations_summary"):
        table = {r["variant"]: r for r in fid["operations_summary"]}
        steps = fid["args"]["operations"]["ops_steps"]
    else:
        table = {r["variant"]: r for r in fid["summary_ppl"]}
        steps = fid["args"].get("variants", fid["args"]).get("steps")
    names = [v for v in ("3pt-reference", "baseline-paper", "baseline-matched") if v in table]
    ref = table["3pt-reference"]
    parts = []
    for base in names[1:]:
        b = table[base]
        clear = abs(ref["mean"] - b["mean"]) > ref["std"] + b["std"]
        parts.append(f"{base} {b['mean']:.1f} ({100 * (ref['mean'] / b['mean'] - 1):+.0f} %"
                     f"{'' if clear else ', within the seed spread'})")
    text = (f"Reference 3PT: validation perplexity **{ref['mean']:.1f} ± {ref['std']:.1f}** against "
            + "; ".join(parts) + f" ({int(ref['n'])} seeds, {steps} steps on a 2-core CPU).")
    fig = _bars("Validation perplexity (lower is better)", names, [table[v]["mean"] for v in names],
                [table[v]["std"] for v in names], "perplexity", fmt=".1f")
    return Headline(text, fig)


def odis() -> Headline:
    """Largest overlap of the per-component selections at each shipped budget, and the downstream check."""
    report = json.loads((study_dir("odis") / "report.json").read_text())
    rows = sorted(report["overlaps"], key=lambda r: r["budget_fraction"])
    fractions = [r["budget_fraction"] for r in rows]
    worst = [r["doc_overlap_max"] for r in rows]
    text = (f"Over {report['n_docs']:,} documents and {report['n_components']} components, the largest overlap "
            f"between two components' selections is **{min(worst):.0%}–{max(worst):.0%}** at budgets of "
            f"{min(fractions):.0%}–{max(fractions):.0%}")
    down = study_dir("odis") / "downstream.json"
    if down.is_file():
        summary = {r["method"]: r for r in json.loads(down.read_text())["summary"]}
        if {"odis", "random"} <= summary.keys():
            o, r = summary["odis"], summary["random"]
            apart = abs(o["val_ppl_mean"] - r["val_ppl_mean"]) > o["val_ppl_std"] + r["val_ppl_std"]
            text += (f"; trained on the selection, ODiS {o['val_ppl_mean']:.1f} ± {o['val_ppl_std']:.1f} against "
                     f"random {r['val_ppl_mean']:.1f} ± {r['val_ppl_std']:.1f} perplexity "
                     + ("(apart beyond the seed spread)." if apart else "(within the seed spread: undecided)."))
        else:
            text += "."
    else:
        text += "."
    fig = {"data": [{"type": "scatter", "mode": "lines+markers", "x": fractions, "y": worst,
                     "marker": {"color": ROLE_COLORS["method"]}, "name": "largest overlap"},
                    {"type": "scatter", "mode": "lines", "x": fractions, "y": [0.02] * len(fractions),
                     "line": {"color": ROLE_COLORS["muted"], "dash": "dot"}, "name": "2 % (the paper's bound)"}],
           "layout": layout("Largest pairwise overlap by budget", height=HEIGHT,
                            xaxis={"title": {"text": "budget (share of the corpus)"}, "tickformat": ".0%"},
                            yaxis={"title": {"text": "overlap"}, "tickformat": ".0%", "rangemode": "tozero"},
                            legend={"orientation": "h", "y": -0.45}, margin={"l": 55, "r": 10, "t": 40, "b": 70})}
    return Headline(text, fig)


HEADLINES: dict[str, Callable[[], Headline]] = {"householder": householder, "alignment": alignment,
                                                 "threephase": threephase, "odis": odis}


@functools.lru_cache(maxsize=None)
def headline(route: str) -> Headline:
    """The study's headline (computed once per process); a note where its results are missing."""
    if route not in HEADLINES:
        raise ValueError(f"route: expected one of {sorted(HEADLINES)}, got {route!r}")
    try:
        return HEADLINES[route]()
    except (OSError, KeyError, ValueError, IndexError) as exc:
        log.warning("no headline for %s: %s", route, exc)
        return Headline(f"_No shipped results found for this study ({type(exc).__name__}: {exc})._",
                        empty_figure("", "no shipped results", height=HEIGHT))
