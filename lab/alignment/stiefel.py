"""Least-squares maps with orthonormal columns: the unbalanced orthogonal Procrustes problem.

For two spaces of different widths, d_x > d_y, the map R of shape (d_x, d_y) with orthonormal
columns (R^T R = I, a "semi-orthogonal" map: it keeps d_y directions of space A and rotates
them onto space B) that best carries Xc onto Yc minimises

    f(R) = ||Xc R - Yc||^2 = tr(R^T G R) - 2 tr(R^T C) + ||Yc||^2,   G = Xc^T Xc, C = Xc^T Yc.

Note [polar factor is not the least-squares map]: with d_x == d_y (or d_x < d_y, orthonormal
rows) ||Xc R||^2 = ||Xc||^2 whatever R is, so the minimiser is the polar factor U V^T of C.
With d_x > d_y the first term depends on R, and the polar factor of C ignores it: it favours
directions where C is large even when X has a lot of variance there that Y does not explain.
There is no closed form; this module solves it iteratively from the sufficient statistics
(G, C), so a fit still streams over row chunks.

Note [Newton steps on the Stiefel manifold]: every step solves the Riemannian Newton
equation Hess f(R)[xi] = -grad f(R) by truncated conjugate gradients, then retracts R + t xi
to the manifold with the polar factor (the nearest matrix with orthonormal columns), halving
t until the objective drops enough (Armijo). With the embedded metric, grad f = P_R(E) and
Hess f(R)[Z] = P_R(G Z - Z sym(R^T E)), where E = G R - C and P_R(Z) = Z - R sym(R^T Z)
projects on the tangent space. A Hessian-vector product is one (d_x, d_x) x (d_x, d_y)
product, so a step costs far less than the factorisations first-order methods repeat:
the majorisation iteration of Kiers (1990), R <- polar(C + (lambda_max I - G) R), needs a
thousand steps when X is anisotropic (condition number 1e3); Newton needs about ten. When
CG meets negative curvature far from the answer, it stops and steps along what it has (or
along -grad), and if no step t passes the Armijo test, the majorisation step is taken,
which never increases f.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["StiefelFit", "polar_factor", "semi_orthogonal_lstsq"]



def polar_factor(M: torch.Tensor) -> torch.Tensor:
    """(a, b) -> (a, b): the nearest matrix with orthonormal columns (or rows): U V^T of M's thin SVD."""
    U, _, Vh = torch.linalg.svd(M, full_matrices=False)
    return U @ Vh


@dataclass
class StiefelFit:
    """The solver's answer and how it got there."""

    R: torch.Tensor  # (d_x, d_y) orthonormal columns
    n_iter: int  # iterations taken
    converged: bool  # the Riemannian gradient fell below the tolerance
    objective: float  # tr(R^T G R) - 2 tr(R^T C), the loss up to the constant ||Yc||^2
    grad_norm: float  # ||Riemannian gradient|| / ||C|| at the answer


def _objective(G: torch.Tensor, C: torch.Tensor, R: torch.Tensor) -> float:
    return float(torch.sum(R * (G @ R)) - 2 * torch.sum(R * C))


def _sym(M: torch.Tensor) -> torch.Tensor:
    return 0.5 * (M + M.T)


def _tangent(R: torch.Tensor, Z: torch.Tensor) -> torch.Tensor:
    """P_R(Z): the part of Z tangent to the Stiefel manifold at R."""
    return Z - R @ _sym(R.T @ Z)


def _newton_direction(G: torch.Tensor, R: torch.Tensor, S: torch.Tensor, g: torch.Tensor, g_norm: float,
                      max_cg: int = 500) -> torch.Tensor:
    """Truncated CG on Hess[xi] = -g (Note [Newton steps on the Stiefel manifold])."""
    forcing = min(0.5, g_norm**0.5) * g_norm  # inexact Newton: superlinear near the answer
    xi = torch.zeros_like(g)
    r = -g
    p = r
    rr = float(torch.sum(r * r))
    for _ in range(max_cg):
        Hp = _tangent(R, G @ p - p @ S)
        pHp = float(torch.sum(p * Hp))
        if pHp <= 0:  # negative curvature: step along what CG has so far (or along -grad)
            return xi if torch.any(xi != 0) else -g
        alpha = rr / pHp
        xi = xi + alpha * p
        r = r - alpha * Hp
        rr_new = float(torch.sum(r * r))
        if rr_new**0.5 <= forcing:
            break
        p = r + (rr_new / rr) * p
        rr = rr_new
    return xi


def _riemannian_grad(G: torch.Tensor, C: torch.Tensor, R: torch.Tensor) -> torch.Tensor:
    """Half the Euclidean gradient, G R - C, projected on the tangent space of the Stiefel manifold at R."""
    return _tangent(R, G @ R - C)


def semi_orthogonal_lstsq(
    G: torch.Tensor,
    C: torch.Tensor,
    *,
    init: torch.Tensor | None = None,
    tol: float = 1e-4,
    max_iter: int = 100,
) -> StiefelFit:
    """argmin over R^T R = I of tr(R^T G R) - 2 tr(R^T C) (Note [Newton steps on the Stiefel manifold]).

    Parameters
    ----------
    G : Tensor of shape (d_x, d_x)
        Xc^T Xc, symmetric positive semi-definite.
    C : Tensor of shape (d_x, d_y), d_x >= d_y
        Xc^T Yc.
    init : Tensor of shape (d_x, d_y), optional
        Starting point with orthonormal columns; default the polar factor of C.
    tol : float
        Stop when ||Riemannian gradient||_F <= tol * ||C||_F.
    max_iter : int
        Newton-step cap (the answer says whether it converged).

    The problem is not convex: the answer is a stationary point reached by monotone descent
    from ``init``; from the polar factor it is the global minimum in every planted test we ran.
    """
    if G.ndim != 2 or G.shape[0] != G.shape[1]:
        raise ValueError(f"G: expected a square (d_x, d_x) matrix, got shape {tuple(G.shape)}")
    if C.ndim != 2 or C.shape[0] != G.shape[0] or C.shape[0] < C.shape[1]:
        raise ValueError(f"C: expected shape (d_x, d_y) with d_x = {G.shape[0]} >= d_y, got {tuple(C.shape)}")
    R = polar_factor(C) if init is None else init
    lam_max = float(torch.linalg.eigvalsh(G)[-1])
    scale = float(torch.linalg.matrix_norm(C)) or 1.0
    if lam_max <= 0:  # X has no variance: every R gives the same loss
        return StiefelFit(R, 0, True, _objective(G, C, R), 0.0)
    safe = 1.0 / lam_max  # the majorisation step: never increases the objective
    f = _objective(G, C, R)
    radius = float(R.shape[1]) ** 0.5
    it, converged = 0, False
    for it in range(1, max_iter + 1):
        E = G @ R - C  # (d_x, d_y) half the Euclidean gradient
        S = _sym(R.T @ E)  # (d_y, d_y)
        g = E - R @ S  # the Riemannian gradient
        g_norm = float(torch.linalg.matrix_norm(g))
        if g_norm <= tol * scale:
            converged = True
            it -= 1
            break
        xi = _newton_direction(G, R, S, g, g_norm)
        # Note [step cap]: near-zero curvature (directions of X with no variance) can make the
        # CG step huge; a step longer than R itself (||R|| = sqrt(d_y)) is cut to that length,
        # since the retraction of a longer one says nothing about the manifold near R.
        xi_norm = float(torch.linalg.matrix_norm(xi))
        if xi_norm > radius:
            xi = xi * (radius / xi_norm)
        slope = float(torch.sum(g * xi))  # < 0: a descent direction
        t, accepted = 1.0, False
        while t > 1e-6:
            R_new = polar_factor(R + t * xi)
            f_new = _objective(G, C, R_new)
            if f_new <= f + 1e-4 * t * slope:
                accepted = True
                break
            t *= 0.5
        if not accepted:
            R_new = polar_factor(R - safe * E)
            f_new = _objective(G, C, R_new)
        R, f = R_new, f_new
    g = _riemannian_grad(G, C, R)
    grad_norm = float(torch.linalg.matrix_norm(g)) / scale
    return StiefelFit(R, it, converged or grad_norm <= tol, f, grad_norm)
