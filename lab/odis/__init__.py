"""ODiS: orthogonal data selection (score, decorrelate with PCA, select the top of each component).

The public face: views, notebooks, scripts and benchmarks import from here only. Stable names:
:func:`score_dimensions`, :class:`OrthogonalSelector`, :func:`overlap_matrix`. The rooms:

* :mod:`lab.odis.scorers`    raw quality dimensions (vectorised) and the scorer registry
* :mod:`lab.odis.selector`   the selector, budget split, overlap, baselines
* :mod:`lab.odis.regress`    per-component regressors on text embeddings (scalable inference)
* :mod:`lab.odis.analysis`   everything the page shows, as plain data
* :mod:`lab.odis.overlap_null` the overlap's independence null, tail dependence, budget x size sweep
* :mod:`lab.odis.raters`     rater-style scores: documents against written rubrics (MiniLM), calibrated
* :mod:`lab.odis.user_corpus` bring your own corpus (jsonl / parquet / text / folder): read, score, embed
* :mod:`lab.odis.user_scores` bring your own scores (CSV / parquet, one column per criterion)
* :mod:`lab.odis.scale`      scoring parquet shards on Dask
* :mod:`lab.odis.artifacts`  the shipped default-corpus artifacts in data/odis
* :mod:`lab.odis.training`   the long job: the downstream language-model check (stop, resume)
* :mod:`lab.odis.experiment` the default report and PRESETS, the one table of named settings
* :mod:`lab.odis.cli`        ``ortholab train odis``
"""

from lab.odis.analysis import (
    MAP_METHODS,
    Analysis,
    analyse,
    compare_selections,
    correlation,
    embedding_map,
    selection_labels,
    selection_table,
)
from lab.odis.artifacts import (
    SCORE_SETS,
    OdisData,
    load_default,
    load_json_artifact,
    load_rater_scores,
    with_score_set,
)
from lab.odis.experiment import PRESETS, default_report
from lab.odis.overlap_null import expected_overlap, overlap_sweep, shuffled_overlap, tail_dependence
from lab.odis.raters import RATER_CRITERIA, RubricRater, rater_scores, register_raters
from lab.odis.regress import ComponentRegressor, r2_score
from lab.odis.scale import score_shards, write_shards
from lab.odis.scorers import (
    BUILTIN_DIMENSIONS,
    DIMENSIONS,
    Dimension,
    NotTextError,
    available_dimensions,
    default_workers,
    dimension_signs,
    english_vocabulary,
    minilm_vocabulary,
    register_scorer,
    score_dimensions,
    score_one,
    unregister_scorer,
    word_counts,
)
from lab.odis.selector import (
    BASELINES,
    OrthogonalSelector,
    overlap_matrix,
    select_baseline,
    split_budget,
    top_k,
    union_of,
)
from lab.odis.training import DOWNSTREAM_METHODS, downstream_check, summarise_downstream
from lab.odis.user_corpus import CORPUS_FORMATS, corpus_data, read_corpus
from lab.odis.user_scores import read_scores, scores_data

__all__ = [
    "expected_overlap",
    "SCORE_SETS",
    "load_rater_scores",
    "with_score_set",
    "RATER_CRITERIA",
    "RubricRater",
    "rater_scores",
    "register_raters",
    "read_scores",
    "read_corpus",
    "CORPUS_FORMATS",
    "corpus_data",
    "scores_data",
    "shuffled_overlap",
    "tail_dependence",
    "overlap_sweep",
    "score_dimensions",
    "score_one",
    "word_counts",
    "register_scorer",
    "unregister_scorer",
    "available_dimensions",
    "dimension_signs",
    "english_vocabulary",
    "minilm_vocabulary",
    "default_workers",
    "Dimension",
    "DIMENSIONS",
    "BUILTIN_DIMENSIONS",
    "NotTextError",
    "OrthogonalSelector",
    "overlap_matrix",
    "split_budget",
    "top_k",
    "select_baseline",
    "union_of",
    "BASELINES",
    "ComponentRegressor",
    "r2_score",
    "Analysis",
    "analyse",
    "correlation",
    "compare_selections",
    "embedding_map",
    "selection_labels",
    "selection_table",
    "MAP_METHODS",
    "score_shards",
    "write_shards",
    "downstream_check",
    "summarise_downstream",
    "DOWNSTREAM_METHODS",
    "OdisData",
    "load_default",
    "load_json_artifact",
    "default_report",
    "PRESETS",
]
