"""The study's experiment as plain functions, and its one table of presets.

The paper's protocol on a small style-based GAN, per pretrained seed:

1. Swap every block's first style affine for ``HouseholderProjector.from_linear(rank)`` and
   fine-tune for ``PRESETS['finetune']['fraction']`` of the pretraining steps (Adam lr 0.002,
   betas (0, 0.99)); ranks 4, 6 and 10 (the paper's).
2. Directions of every block's first affine by each *variant* (:data:`VARIANTS`): the fine-tuned
   projector's own (``householder``), the same span under a random rotation (``within_span``),
   the swap's own directions without fine-tuning (``swap``), and on the SAME pretrained generator
   SeFa, GANSpace and random directions.
3. Edits move that block's first slot of w+ (the paper's per-layer edit); every variant is
   scored with the same instruments: factor sensitivity and purity, PIPL at matched image change,
   and MIG / DCI / SAP by the post-hoc protocol on real held-out shapes. Each generator gets KID
   and PPL in the factor regressor's feature space.
"""

from __future__ import annotations

import copy
import time

import numpy as np
import pandas as pd
import torch

from lab.householder.core import orthogonality_error
from lab.householder.edits import block_slots, direction_scales, sample_ws, style_directions
from lab.householder.gan import StyleGenerator, to_unit
from lab.householder.gan_metrics import dci, gan_sensitivity, generated_features, kid, pipl_matched, posthoc_codes, ppl
from lab.householder.gan_training import GanTrainConfig, finetune_swapped
from lab.householder.scoring import mig, predict_factors, purity, sap
from lab.householder.shapes import CONTINUOUS, ShapesData
from lab.progress import Progress, ShouldStop, resolve

__all__ = ["PRESETS", "VARIANTS", "VARIANT_LABELS", "variant_source", "finetune_steps", "variant_directions",
           "score_variant", "generator_scores", "evaluate_seed", "summarise", "paired_differences"]

PRESETS: dict[str, dict] = {
    "seeds": (0, 1, 2),
    # The shapes: training set (the GAN and the factor regressor) and held-out real shapes.
    "data": {"n_train": 12000, "train_seed": 0, "n_held_out": 3000, "held_out_seed": 1},
    # Pretraining (scripts/householder_pretrain.py): GanTrainConfig fields.
    "pretrain": {"steps": 1500, "batch_size": 32},
    # The paper's protocol: ranks swept, share of the pretraining steps spent fine-tuning.
    "finetune": {"ranks": (4, 6, 10), "fraction": 0.02, "trainable": "all"},
    # The page: the rank and fine-tuning steps it offers by default.
    "page": {"rank": 10, "steps": 30},
    # The instruments (scripts/householder_experiment.py and the page's heatmap).
    "sensitivity": {"n": 8, "span": 2.0, "steps": 7},
    "pipl": {"n": 24, "eps": 0.05, "iterations": 2},
    "posthoc": {"n_images": 2048, "steps": 300},
    "kid": {"n": 2000, "subsets": 20, "subset_size": 500},
    "coverage": {"n": 1000},  # generated images whose factors the regressor reads (coverage)
    "targets": {"n": 48},  # samples of the per-block matched-change target
    "ppl": {"n": 256},
    "within_span_rotations": 1,  # random rotations of the fine-tuned span per seed and rank
}

VARIANTS = ("householder", "within_span", "swap", "sefa", "ganspace", "random")
VARIANT_LABELS = {
    "householder": "Householder projector, fine-tuned (its own directions)",
    "within_span": "Random rotation within the fine-tuned projector's span (control)",
    "swap": "Projector swapped in, no fine-tuning (its own directions)",
    "sefa": "SeFa of the pretrained style affine",
    "ganspace": "GANSpace: PCA of w (pretrained mapping)",
    "random": "Random orthonormal directions of w",
}


def variant_source(variant: str) -> tuple[str, str]:
    """(which generator, which direction method) a variant reads: 'finetuned' / 'swap' / 'pretrained'."""
    table = {"householder": ("finetuned", "householder"), "within_span": ("finetuned", "within_span"),
             "swap": ("swap", "householder"), "sefa": ("pretrained", "sefa"),
             "ganspace": ("pretrained", "ganspace"), "random": ("pretrained", "random")}
    if variant not in table:
        raise ValueError(f"variant: expected one of {VARIANTS}, got {variant!r}")
    return table[variant]


def finetune_steps(pretrain_steps: int, fraction: float | None = None) -> int:
    """Fine-tuning budget: ``fraction`` (default the preset's 2 %) of the pretraining steps, at least 1."""
    fraction = PRESETS["finetune"]["fraction"] if fraction is None else fraction
    return max(1, int(round(pretrain_steps * fraction)))


def variant_directions(generators: dict, variant: str, k: int, *, seed: int = 0) -> list[torch.Tensor]:
    """One (k, w_dim) direction set per block for ``variant``, from ``generators[variant_source(variant)[0]]``."""
    source, method = variant_source(variant)
    G = generators[source]
    return [style_directions(G, method, b, k, seed=seed) for b in range(len(G.blocks))]


@torch.no_grad()
def _chord_targets(G: StyleGenerator, feature_fn, seed: int) -> list[float]:
    """Per block: mean feature change of a 1-sigma step along 4 random directions (the matched change)."""
    ws = sample_ws(G, PRESETS["targets"]["n"], seed + 777)
    base = feature_fn(to_unit(G.synthesis(ws)))
    out = []
    for b in range(len(G.blocks)):
        D = style_directions(G, "random", b, 4, seed=seed + 555)
        sig = direction_scales(G, D)
        slots = block_slots(G, b)
        ch = []
        for j in range(D.shape[0]):
            moved = ws.clone()
            moved[:, slots] += sig[j] * D[j]
            ch.append(float((feature_fn(to_unit(G.synthesis(moved))) - base).norm(dim=1).mean()))
        out.append(float(np.mean(ch)))
    return out


def score_variant(G: StyleGenerator, regressor, dirs: list[torch.Tensor], held: ShapesData, *, targets: list[float],
                  seed: int = 0, posthoc: bool = True) -> tuple[dict, list[np.ndarray]]:
    """Every direction metric of one variant (direction sets per block, edits at each block's first slot).

    Returns (summary row, per-block (k, 6) sensitivity matrices). Per-block scores are averaged
    over blocks.
    """
    S_blocks, pur, maxs, pipl, gain = [], [], [], [], []
    for b, D in enumerate(dirs):
        slots = block_slots(G, b)
        S = gan_sensitivity(G, regressor, D, slots, seed=seed, **PRESETS["sensitivity"])
        S_blocks.append(S)
        pur.append(np.nanmean(purity(S)))
        maxs.append(S.max(axis=1).mean())
        p, a = pipl_matched(G, regressor.features, D, slots, target=targets[b], seed=seed, **PRESETS["pipl"])
        pipl.append(np.nanmean(p) if np.isfinite(p).any() else np.nan)
        gain.append(float(np.mean(direction_scales(G, D).cpu().numpy() / a)))
    row = {"purity": float(np.mean(pur)), "max_sensitivity": float(np.mean(maxs)),
           "pipl_matched": float(np.nanmean(pipl)), "gain": float(np.mean(gain))}
    if posthoc:
        slots = [block_slots(G, b) for b in range(len(dirs))]
        codes, r2 = posthoc_codes(G, dirs, slots, held.images, seed=seed, **PRESETS["posthoc"])
        ms, ss, dd, dc, di = [], [], [], [], []
        off = 0
        for D in dirs:
            c = codes[:, off:off + D.shape[0]]
            off += D.shape[0]
            ms.append(mig(c, held.factors)[0])
            ss.append(sap(c, held.factors)[0])
            r = dci(c, held.factors, seed=seed)
            dd.append(r["disentanglement"])
            dc.append(r["completeness"])
            di.append(r["informativeness"])
        row.update({"mig": float(np.mean(ms)), "sap": float(np.mean(ss)), "dci_d": float(np.mean(dd)),
                    "dci_c": float(np.mean(dc)), "dci_i": float(np.mean(di)), "encoder_r2": r2})
    return row, S_blocks


def _entropy(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def generator_scores(G: StyleGenerator, regressor, real_features: np.ndarray, *, seed: int = 0,
                     real_predictions=None) -> dict:
    """KID (mean, std over subsets) against real held-out features, PPL (both in the regressor's
    feature space), the projectors' orthogonality error, and each factor's coverage.

    ``real_predictions``: :func:`predict_factors` of the real held-out images (coverage's reference).
    """
    cfg = PRESETS["kid"]
    fake = generated_features(G, regressor.features, cfg["n"], seed=seed + 4242)
    k_mean, k_std = kid(fake, real_features, subsets=cfg["subsets"], subset_size=cfg["subset_size"], seed=seed)
    cover = {}
    if real_predictions is not None:
        cover = _coverage(G, regressor, real_predictions, seed)
    projs = [m for m in G.first_affines() if not isinstance(m, torch.nn.Linear)]
    orth = max(orthogonality_error(m.weight.detach()) for m in projs) if projs else float("nan")
    return {"kid": k_mean, "kid_subset_std": k_std, **cover,
            "ppl": ppl(G, regressor.features, seed=seed, **PRESETS["ppl"]), "orth_error": orth}


def _coverage(G: StyleGenerator, regressor, real_predictions, seed: int) -> dict:
    """Spread of each factor the regressor reads off generated images over its spread on real
    shapes (1 = the generator varies that factor as much as the data does; shape: entropy ratio)."""
    with torch.no_grad():
        imgs = to_unit(G.synthesis(sample_ws(G, PRESETS["coverage"]["n"], seed + 99)))
    cont_g, prob_g = predict_factors(regressor, imgs)
    cont_r, prob_r = real_predictions
    cover = {f"coverage_{name}": float(cont_g[:, j].std() / max(cont_r[:, j].std(), 1e-12))
             for j, name in enumerate(CONTINUOUS)}
    cover["coverage_shape"] = float(_entropy(prob_g.mean(0)) / max(_entropy(prob_r.mean(0)), 1e-12))
    return cover


def evaluate_seed(G_pre: StyleGenerator, D_pre, regressor, train: ShapesData, held: ShapesData, *, seed: int,
                  pretrain_steps: int, ranks=None, variants=VARIANTS, train_config: GanTrainConfig | None = None,
                  posthoc: bool = True, progress: Progress | None = None,
                  should_stop: ShouldStop | None = None) -> dict:
    """The whole protocol for one pretrained seed. Returns {'generators': rows, 'directions': rows,
    'sensitivity': {(rank, variant): [per-block (k, 6)]}, 'finetuned': {rank: generator}, 'seconds': {...}}."""
    progress, should_stop = resolve(progress, should_stop)
    ranks = tuple(PRESETS["finetune"]["ranks"] if ranks is None else ranks)
    steps = finetune_steps(pretrain_steps)
    train_config = train_config or GanTrainConfig(seed=seed, **{k: v for k, v in PRESETS["pretrain"].items()
                                                                if k != "steps"})
    with torch.no_grad():
        real_feat = regressor.features(held.images).numpy().astype(np.float64)
    real_pred = predict_factors(regressor, held.images)
    targets = _chord_targets(G_pre, regressor.features, seed)
    gen_rows, dir_rows, sens, tuned, seconds = [], [], {}, {}, {}
    gen_rows.append({"seed": seed, "generator": "pretrained", "rank": 0,
                     **generator_scores(G_pre, regressor, real_feat, seed=seed, real_predictions=real_pred)})
    jobs = [(r, v) for r in ranks for v in variants]
    done = 0
    for rank in ranks:
        if should_stop():
            break
        t0 = time.time()
        swap = finetune_swapped(G_pre, D_pre, rank, train, steps=0).generator
        ft = finetune_swapped(G_pre, D_pre, rank, train, steps=steps, train=copy.deepcopy(train_config),
                              trainable=PRESETS["finetune"]["trainable"]).generator
        seconds[f"finetune_rank{rank}"] = round(time.time() - t0, 1)
        tuned[rank] = ft
        gens = {"pretrained": G_pre, "swap": swap, "finetuned": ft}
        for name, G in (("swap", swap), ("finetuned", ft)):
            gen_rows.append({"seed": seed, "generator": name, "rank": rank,
                             "steps": steps if name == "finetuned" else 0,
                             **generator_scores(G, regressor, real_feat, seed=seed, real_predictions=real_pred)})
        for variant in variants:
            if should_stop():
                break
            progress(done / len(jobs), f"seed {seed}, rank {rank}: scoring {variant}")
            t1 = time.time()
            reps = PRESETS["within_span_rotations"] if variant == "within_span" else 1
            for rep in range(reps):
                rot_seed = seed * 1000 + rank * 10 + rep
                dirs = variant_directions(gens, variant, rank, seed=rot_seed if variant == "within_span" else seed)
                G = gens[variant_source(variant)[0]]
                row, S = score_variant(G, regressor, dirs, held, targets=targets, seed=seed, posthoc=posthoc)
                dir_rows.append({"seed": seed, "rank": rank, "variant": variant, "rotation": rep, **row})
                if rep == 0:
                    sens[(rank, variant)] = S
            seconds[f"rank{rank}_{variant}"] = round(time.time() - t1, 1)
            done += 1
    progress(1.0, f"seed {seed}: done")
    return {"generators": gen_rows, "directions": dir_rows, "sensitivity": sens, "finetuned": tuned,
            "seconds": seconds, "targets": targets, "finetune_steps": steps}


def summarise(table: pd.DataFrame, keys=("rank", "variant")) -> pd.DataFrame:
    """Mean and standard deviation over seeds (within-span rotations averaged within a seed first)."""
    keys = list(keys)
    metrics = [c for c in table.columns if c not in (*keys, "seed", "rotation", "generator", "steps")
               and pd.api.types.is_numeric_dtype(table[c])]
    per_seed = table.groupby([*keys, "seed"])[metrics].mean().reset_index()
    g = per_seed.groupby(keys)[metrics]
    out = g.mean().add_suffix("_mean").join(g.std(ddof=1).add_suffix("_std")).join(g.size().rename("n_seeds"))
    return out.reset_index()


def paired_differences(table: pd.DataFrame, a: str, b: str, metric: str, rank: int) -> dict:
    """``a`` minus ``b`` on ``metric`` at ``rank``, paired by seed: mean, std, wins of a, seeds."""
    t = table[table["rank"] == rank].groupby(["variant", "seed"])[metric].mean()
    if a not in t.index.get_level_values(0) or b not in t.index.get_level_values(0):
        raise ValueError(f"a, b: both variants must be in the table at rank {rank}; got {a!r}, {b!r}")
    d = (t.loc[a] - t.loc[b]).dropna()
    return {"mean": float(d.mean()), "std": float(d.std(ddof=1)) if len(d) > 1 else float("nan"),
            "wins": int((d > 0).sum()), "n": int(len(d))}
