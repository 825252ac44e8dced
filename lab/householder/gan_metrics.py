"""Scoring the GAN and its directions: the paper's metrics and the ground-truth ones.

The paper's metrics, in the factor regressor's feature space (the lab's perceptual space; no
Inception network is downloaded):

- :func:`kid`: kernel inception distance (unbiased MMD^2, cubic polynomial kernel) between
  generated and real features, averaged over subsets;
- :func:`ppl`: perceptual path length of the generator in W (lerp between two codes);
- :func:`pipl_matched`: path length along each direction *at matched image change*: each
  direction's step is scaled so that the mean feature change over the whole path equals one
  target for every method; the path length is then reported relative to target^2, so 1 is a
  perfectly even path and more is a path whose change bunches up. (Raw PIPL grows with a
  direction's gain, which differs by method; this removes that confound.)

Ground truth, from the shapes' six factors:

- :func:`gan_sensitivity`: (k, 6) factor change along each direction, measured by the factor
  regressor; purity per direction and an automatic label (:func:`direction_labels`);
- :func:`posthoc_codes`: the post-hoc protocol: an encoder trained on generated images regresses
  the coordinates of the edits along the directions; applied to real held-out shapes it gives
  codes that :func:`~lab.householder.scoring.mig`, :func:`dci` and
  :func:`~lab.householder.scoring.sap` score against the known factors.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from lab.checks import as_array, check_float, check_int
from lab.householder.edits import direction_scales, edit_ws, sample_ws, traverse_ws
from lab.householder.gan import StyleGenerator, to_unit
from lab.householder.model import image_trunk
from lab.householder.scoring import _codes_and_factors, predict_factors, purity
from lab.householder.shapes import FACTORS
from lab.seeding import seeded_init

__all__ = ["generated_features", "kid", "ppl", "pipl_matched", "gan_sensitivity", "direction_labels",
           "CodeEncoder", "posthoc_codes", "dci_from_importance", "dci"]


# --------------------------------------------------------------------------- the paper's metrics
@torch.no_grad()
def generated_features(generator: StyleGenerator, feature_fn, n: int, *, seed: int = 0, batch: int = 256) -> np.ndarray:
    """(n, f) features of ``n`` generated images (mapped to [0, 1])."""
    out = []
    for i in range(0, n, batch):
        ws = sample_ws(generator, min(batch, n - i), seed * 100_003 + i)
        out.append(feature_fn(to_unit(generator.synthesis(ws))).cpu())
    return torch.cat(out).numpy().astype(np.float64)


def kid(x, y, *, subsets: int = 20, subset_size: int = 500, seed: int = 0) -> tuple[float, float]:
    """KID: unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3, mean and std over random subsets.

    x (n, d), y (m, d) feature rows. Returns (mean, std) over ``subsets`` draws of
    ``min(subset_size, n, m)`` rows from each.
    """
    X, Y = as_array("x", x, dtype=np.float64), as_array("y", y, dtype=np.float64)
    if X.ndim != 2 or Y.ndim != 2 or X.shape[1] != Y.shape[1]:
        raise ValueError(f"x, y: expected (n, d) and (m, d) with the same d, got {X.shape} and {Y.shape}")
    if not (np.isfinite(X).all() and np.isfinite(Y).all()):
        raise ValueError("x, y: contain NaN or infinite values")
    m = min(check_int("subset_size", subset_size, lo=2), X.shape[0], Y.shape[0])
    if m < 2:
        raise ValueError(f"x, y: need at least 2 rows each, got {X.shape[0]} and {Y.shape[0]}")
    d = X.shape[1]
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(check_int("subsets", subsets, lo=1)):
        a = X[rng.choice(X.shape[0], m, replace=False)]
        b = Y[rng.choice(Y.shape[0], m, replace=False)]
        kxx, kyy, kxy = (a @ a.T / d + 1) ** 3, (b @ b.T / d + 1) ** 3, (a @ b.T / d + 1) ** 3
        off = m * (m - 1)
        vals.append((kxx.sum() - np.trace(kxx)) / off + (kyy.sum() - np.trace(kyy)) / off - 2 * kxy.mean())
    return float(np.mean(vals)), float(np.std(vals))


def _filtered_mean(d: np.ndarray) -> float:
    lo, hi = np.percentile(d, [1, 99])
    keep = d[(d >= lo) & (d <= hi)]
    return float(keep.mean()) if keep.size else float(d.mean())


@torch.no_grad()
def ppl(generator: StyleGenerator, feature_fn, *, n: int = 256, eps: float = 1e-2, seed: int = 0) -> float:
    """Perceptual path length in W: mean of |f(G(lerp(w1, w2, t + eps))) - f(G(lerp(w1, w2, t)))|^2 / eps^2
    over t ~ U(0, 1) and pairs of codes, after the 1-99 percentile filter."""
    eps = check_float("eps", eps, lo=1e-6, hi=0.5)
    w1, w2 = sample_ws(generator, n, seed), sample_ws(generator, n, seed + 1)
    t = torch.rand(n, generator=torch.Generator().manual_seed(seed + 2)).to(w1)[:, None, None] * (1 - eps)
    a = feature_fn(to_unit(generator.synthesis(torch.lerp(w1, w2, t))))
    b = feature_fn(to_unit(generator.synthesis(torch.lerp(w1, w2, t + eps))))
    return _filtered_mean(((b - a) ** 2).sum(1).cpu().numpy().astype(np.float64) / eps ** 2)


@torch.no_grad()
def _chord(generator, feature_fn, ws, base, direction, slots, scale) -> float:
    moved = feature_fn(to_unit(generator.synthesis(edit_ws(ws, direction[None], ws.new_full((1, 1), scale), slots))))
    return float((moved - base).norm(dim=1).mean())


@torch.no_grad()
def pipl_matched(generator: StyleGenerator, feature_fn, directions, slots, *, target: float, n: int = 48,
                 eps: float = 0.05, seed: int = 0, iterations: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Per direction: (path length at matched change / target^2 (k,), the step a_j in w that matched it (k,)).

    For direction n_j the step a_j is solved (secant on the mean chord) so that
    E |f(G(w + a_j n_j)) - f(G(w))| = ``target``; then PIPL_j = E |f(G(w + (t + eps) a_j n_j)) -
    f(G(w + t a_j n_j))|^2 / eps^2 over t ~ U(0, 1 - eps), 1-99 percentile filter, over target^2.
    A direction that cannot reach the target (a change below 1e-3 of it at 100 sigma) gets NaN.
    """
    target = check_float("target", target, lo=1e-9)
    D = torch.as_tensor(np.asarray(directions), dtype=next(generator.parameters()).dtype)
    ws = sample_ws(generator, n, seed)
    base = feature_fn(to_unit(generator.synthesis(ws)))
    sig = direction_scales(generator, D)
    t = torch.rand(n, generator=torch.Generator().manual_seed(seed + 5)).to(ws)[:, None] * (1 - eps)  # (n, 1)
    out, steps = [], []
    for j in range(D.shape[0]):
        a = float(sig[j])
        c = _chord(generator, feature_fn, ws, base, D[j], slots, a)
        for _ in range(iterations):
            if c <= 1e-12:
                break
            a = float(np.clip(a * target / c, 1e-3 * float(sig[j]), 100 * float(sig[j])))
            c = _chord(generator, feature_fn, ws, base, D[j], slots, a)
        if c < 1e-3 * target:
            out.append(float("nan"))
            steps.append(a)
            continue
        f0 = feature_fn(to_unit(generator.synthesis(edit_ws(ws, D[j][None], t * a, slots))))
        f1 = feature_fn(to_unit(generator.synthesis(edit_ws(ws, D[j][None], (t + eps) * a, slots))))
        d = ((f1 - f0) ** 2).sum(1).cpu().numpy().astype(np.float64) / eps ** 2
        out.append(_filtered_mean(d) / target ** 2)
        steps.append(a)
    return np.array(out), np.array(steps)


# --------------------------------------------------------------------------- ground truth
def gan_sensitivity(generator: StyleGenerator, regressor: nn.Module, directions, slots, *, n: int = 16,
                    span: float = 2.0, steps: int = 7, seed: int = 0) -> np.ndarray:
    """(k, 6) change of each factor (columns in FACTORS order) along each direction.

    The edit runs over t in [-span, span] sigma_j at ``slots``. Continuous factors: mean over
    samples of (max - min) of the regressor's normalised prediction (1 = the factor's whole
    range); the shape: mean of the largest (max - min) of a class probability.
    """
    imgs = traverse_ws(generator, directions, slots, n=n, span=span, steps=steps, seed=seed)  # (n, k, s, 3, R, R)
    n_, k, s = imgs.shape[:3]
    cont, prob = predict_factors(regressor, to_unit(imgs.reshape(n_ * k * s, *imgs.shape[3:])))
    cont, prob = cont.reshape(n_, k, s, -1), prob.reshape(n_, k, s, -1)
    rng_cont = (cont.max(axis=2) - cont.min(axis=2)).mean(axis=0)  # (k, 5)
    rng_shape = (prob.max(axis=2) - prob.min(axis=2)).max(axis=-1).mean(axis=0)  # (k,)
    return np.concatenate([rng_shape[:, None], rng_cont], axis=1)


def direction_labels(sensitivity, factors=FACTORS) -> list[str]:
    """Each direction's automatic label: its top factor and purity, e.g. 'hue (purity 0.62)'."""
    S = as_array("sensitivity", sensitivity, dtype=np.float64)
    p = purity(S)
    return [f"{factors[int(np.argmax(row))]} (purity {q:.2f})" if np.isfinite(q) else "no change"
            for row, q in zip(S, p)]


class CodeEncoder(nn.Module):
    """images (n, 3, 32, 32) in [0, 1] -> (n, codes): the post-hoc protocol's encoder."""

    def __init__(self, codes: int, channels: int = 16) -> None:
        super().__init__()
        c = channels
        self.conv = image_trunk(c)
        self.head = nn.Sequential(nn.Linear(2 * c * 16, 128), nn.ReLU(), nn.Linear(128, codes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.conv(x).flatten(1))


def posthoc_codes(generator: StyleGenerator, direction_sets, slot_sets, real_images: torch.Tensor, *,
                  n_images: int = 4096, steps: int = 400, batch: int = 64, lr: float = 2e-3,
                  n_test: int = 512, seed: int = 0) -> tuple[np.ndarray, float]:
    """The post-hoc protocol: codes of ``real_images`` along every direction set.

    ``direction_sets``: list of (k_b, w_dim) direction sets (e.g. one per block), moved at
    ``slot_sets[b]``. Generated images draw independent coordinates c_bj ~ N(0, 1) for every
    direction (edit c_bj sigma_bj n_bj); an encoder is trained to regress all coordinates (MSE);
    applied to ``real_images`` (n, 3, R, R in [0, 1]) it returns (n, sum k_b) codes, in the
    sets' order, and its R^2 on ``n_test`` fresh generated images.
    """
    if len(direction_sets) != len(slot_sets) or not direction_sets:
        raise ValueError(f"direction_sets, slot_sets: expected equal non-empty lists, got {len(direction_sets)} "
                         f"and {len(slot_sets)}")
    p = next(generator.parameters())
    Ds = [torch.as_tensor(np.asarray(D), dtype=p.dtype, device=p.device) for D in direction_sets]
    sigs = [direction_scales(generator, D) for D in Ds]
    total = sum(D.shape[0] for D in Ds)
    g = torch.Generator().manual_seed(int(seed) + 31)

    @torch.no_grad()
    def make(count: int, base_seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        xs, cs = [], []
        for i in range(0, count, 256):
            m = min(256, count - i)
            ws = sample_ws(generator, m, base_seed + i)
            c = torch.randn(m, total, generator=g).to(p)
            off = 0
            for D, sig, slots in zip(Ds, sigs, slot_sets):
                k = D.shape[0]
                ws = edit_ws(ws, D, c[:, off:off + k] * sig[None], slots)
                off += k
            xs.append(to_unit(generator.synthesis(ws)))
            cs.append(c)
        return torch.cat(xs), torch.cat(cs)

    x, c = make(check_int("n_images", n_images, lo=batch), 7_000_000 + seed * 10_007)
    x_test, c_test = make(check_int("n_test", n_test, lo=2), 9_000_000 + seed * 10_007)
    with seeded_init(seed):
        enc = CodeEncoder(total)
    opt = torch.optim.Adam(enc.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    for _ in range(check_int("steps", steps, lo=1)):
        idx = torch.randint(0, x.shape[0], (batch,), generator=g)
        loss = F.mse_loss(enc(x[idx]), c[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    enc.eval()
    with torch.no_grad():
        pred = enc(x_test)
        r2 = float(1 - ((pred - c_test) ** 2).mean() / c_test.var())
        codes = torch.cat([enc(real_images[i:i + 512]) for i in range(0, real_images.shape[0], 512)])
    return codes.numpy().astype(np.float64), r2


def dci_from_importance(R) -> tuple[float, float]:
    """(disentanglement, completeness) from a (codes, factors) non-negative importance matrix.

    Disentanglement: per code, 1 - entropy (base = number of factors) of its normalised row,
    averaged with weights = the code's share of total importance. Completeness: per factor,
    1 - entropy (base = number of codes) of its normalised column, averaged.
    """
    R = as_array("importance", R, dtype=np.float64)
    if R.ndim != 2 or min(R.shape) < 2 or (R < 0).any() or not np.isfinite(R).all():
        raise ValueError(f"importance: expected a finite non-negative (codes >= 2, factors >= 2) matrix, got {R.shape}")

    def one_minus_entropy(P: np.ndarray, base: int) -> np.ndarray:
        P = P / np.maximum(P.sum(axis=1, keepdims=True), 1e-12)
        H = -(P * np.log(np.where(P > 0, P, 1.0))).sum(axis=1) / np.log(base)
        return 1.0 - H

    code_w = R.sum(axis=1) / max(R.sum(), 1e-12)
    disent = float((one_minus_entropy(R, R.shape[1]) * code_w).sum())
    comp = float(one_minus_entropy(R.T, R.shape[0]).mean())
    return disent, comp


def dci(codes, factors, *, train_frac: float = 0.7, seed: int = 0) -> dict:
    """DCI (Eastwood and Williams) with linear predictors of each factor from the codes.

    Importance of code i for factor j: |standardised coefficient| of a ridge regression
    (continuous factors) or the summed |coefficient| over classes of a multinomial logistic
    regression (the shape). Informativeness: held-out R^2 (continuous) / accuracy (shape),
    averaged. Returns {'disentanglement', 'completeness', 'informativeness', 'importance'}.
    """
    from sklearn.linear_model import LogisticRegression, Ridge

    C, Fa = _codes_and_factors(codes, factors)
    if C.shape[1] < 2:
        raise ValueError(f"codes: DCI needs at least 2 codes (columns), got {C.shape[1]}")
    Cs = (C - C.mean(0)) / np.maximum(C.std(0), 1e-12)
    rng = np.random.default_rng(seed)
    order = rng.permutation(C.shape[0])
    cut = int(check_float("train_frac", train_frac, lo=0.1, hi=0.95) * C.shape[0])
    tr, te = order[:cut], order[cut:]
    R = np.zeros((C.shape[1], Fa.shape[1]))
    info = []
    shape = np.round(Fa[:, 0]).astype(int)
    clf = LogisticRegression(max_iter=500).fit(Cs[tr], shape[tr])
    R[:, 0] = np.abs(clf.coef_).sum(axis=0)
    info.append(float((clf.predict(Cs[te]) == shape[te]).mean()))
    for j in range(1, Fa.shape[1]):
        y = (Fa[:, j] - Fa[tr, j].mean()) / max(Fa[tr, j].std(), 1e-12)
        reg = Ridge(alpha=1.0).fit(Cs[tr], y[tr])
        R[:, j] = np.abs(reg.coef_)
        info.append(float(1 - np.mean((reg.predict(Cs[te]) - y[te]) ** 2) / max(np.var(y[te]), 1e-12)))
    d, c = dci_from_importance(R)
    return {"disentanglement": d, "completeness": c, "informativeness": float(np.mean(info)), "importance": R}
