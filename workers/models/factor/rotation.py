"""Factor rotations as psych::fa applies them: varimax, oblimin (quartimin), promax, none.

- varimax: R's `stats::varimax` (Kaiser-normalised rows, SVD updates).
- oblimin: GPArotation's `GPFoblq` gradient projection with the oblimin criterion (gamma = 0,
  i.e. quartimin), from the identity, unnormalised, as `GPArotation::oblimin` runs it.
- promax: psych's `kaiser(loadings, rotate = "Promax")`: rows normalised by their communality,
  psych's `Promax` (varimax, then the power-4 target fitted by least squares), rows scaled back.

Afterwards, as psych does: each factor's sign is flipped so its loadings sum positive, and the
factors are ordered by the variance they account for. `phi` is the factor correlation matrix
(None for orthogonal solutions).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

IterationCallback = Callable[[int, float], None]


@dataclass
class Rotated:
    loadings: np.ndarray  # pattern
    phi: np.ndarray | None
    iterations: int
    converged: bool


def varimax(
    a: np.ndarray,
    max_iter: int = 1000,
    eps: float = 1e-10,
    normalize: bool = True,
    callback: IterationCallback | None = None,
) -> tuple[np.ndarray, np.ndarray, int, bool]:
    """stats::varimax; returns (loadings, rotation matrix, iterations, converged)."""
    p, k = a.shape
    if k < 2:
        return a.copy(), np.eye(k), 0, True
    sc = np.sqrt(np.einsum("ij,ij->i", a, a)) if normalize else np.ones(p)
    x = a / sc[:, None]
    t = np.eye(k)
    d = 0.0
    converged = False
    iterations = 0
    for iterations in range(1, max_iter + 1):
        z = x @ t
        b = x.T @ (z**3 - z * ((z**2).sum(axis=0) / p))
        u, s, vt = np.linalg.svd(b)
        t = u @ vt
        d_past, d = d, float(s.sum())
        if callback is not None:
            callback(iterations, d)
        if d < d_past * (1 + eps):
            converged = True
            break
    return (x @ t) * sc[:, None], t, iterations, converged


def _quartimin(lam: np.ndarray) -> tuple[float, np.ndarray]:
    """GPArotation's vgQ.oblimin with gam = 0: f = Σ L² ∘ (L² N) / 4, N = 1 - I."""
    l2 = lam**2
    x = l2 @ (1.0 - np.eye(lam.shape[1]))
    return float(np.sum(l2 * x) / 4.0), lam * x


# Oblimin has converged when the projected gradient's norm is below OBLIMIN_EPS, or when the
# criterion has stopped moving (relative change under CRITERION_RTOL over CRITERION_WINDOW
# iterations: the arithmetic's precision) with the gradient's norm under GPArotation's own
# default tolerance, GPA_EPS. A fixed 1e-8 on the gradient alone is not reachable on ordinary
# data at 5–6 factors: the criterion settles to every digit while the norm stays near 1e-7.
OBLIMIN_EPS = 1e-8
GPA_EPS = 1e-5
CRITERION_RTOL = 1e-13
CRITERION_WINDOW = 10


def oblimin(
    a: np.ndarray,
    max_iter: int = 1000,
    eps: float = OBLIMIN_EPS,
    callback: IterationCallback | None = None,
) -> Rotated:
    """GPArotation::GPFoblq(A, Tmat = I, normalize = FALSE, method = "oblimin", gam = 0), with
    the convergence rule above."""
    k = a.shape[1]
    t = np.eye(k)
    alpha = 1.0
    lam = a @ np.linalg.inv(t).T
    f, gq = _quartimin(lam)
    g = -(lam.T @ gq @ np.linalg.inv(t)).T
    converged = False
    iterations = 0
    history: list[float] = []
    for iterations in range(max_iter + 1):
        gp = g - t * np.sum(t * g, axis=0)
        s = float(np.sqrt(np.sum(gp**2)))
        if callback is not None:
            callback(iterations, f)
        history.append(f)
        settled = len(history) > CRITERION_WINDOW and abs(
            history[-CRITERION_WINDOW - 1] - f
        ) <= CRITERION_RTOL * max(abs(f), 1e-300)
        if s < eps or (settled and s < GPA_EPS):
            converged = True
            break
        alpha *= 2.0
        t_new, lam_new, f_new, gq_new = t, lam, f, gq
        for _ in range(11):
            x = t - alpha * gp
            t_new = x / np.sqrt(np.sum(x**2, axis=0))
            lam_new = a @ np.linalg.inv(t_new).T
            f_new, gq_new = _quartimin(lam_new)
            if f - f_new > 0.5 * s**2 * alpha:
                break
            alpha /= 2.0
        t, lam, f, gq = t_new, lam_new, f_new, gq_new
        g = -(lam.T @ gq @ np.linalg.inv(t)).T
    return Rotated(loadings=lam, phi=t.T @ t, iterations=iterations, converged=converged)


def promax(
    a: np.ndarray, power: int = 4, max_iter: int = 1000, callback: IterationCallback | None = None
) -> Rotated:
    """psych::kaiser(A, rotate = "Promax"): psych::Promax on communality-normalised rows."""
    h = np.sqrt(np.einsum("ij,ij->i", a, a))
    x, rotmat, iterations, converged = varimax(a / h[:, None], max_iter=max_iter, callback=callback)
    q = x * np.abs(x) ** (power - 1)
    u = np.linalg.lstsq(x, q, rcond=None)[0]
    d = np.diag(np.linalg.inv(u.T @ u))
    u = u * np.sqrt(d)
    z = x @ u
    u_total = rotmat @ u
    ui = np.linalg.inv(u_total)
    return Rotated(
        loadings=z * h[:, None], phi=ui @ ui.T, iterations=iterations, converged=converged
    )


def rotate(
    a: np.ndarray,
    method: str,
    max_iter: int = 1000,
    callback: IterationCallback | None = None,
) -> Rotated:
    """Rotate unrotated loadings `a`, then flip signs and order factors as psych does."""
    k = a.shape[1]
    if k < 2 or method == "none":
        rotated = Rotated(a.copy(), None, 0, True)
    elif method == "varimax":
        lam, _, iterations, converged = varimax(a, max_iter=max_iter, callback=callback)
        rotated = Rotated(lam, None, iterations, converged)
    elif method == "oblimin":
        rotated = oblimin(a, max_iter=max_iter, callback=callback)
    elif method == "promax":
        rotated = promax(a, max_iter=max_iter, callback=callback)
    else:
        raise ValueError(f"unknown rotation {method!r}")
    return sign_and_order(rotated)


def sign_and_order(rotated: Rotated) -> Rotated:
    lam, phi = rotated.loadings, rotated.phi
    signs = np.sign(lam.sum(axis=0))
    signs[signs == 0] = 1.0
    lam = lam * signs
    if phi is not None:
        phi = phi * np.outer(signs, signs)
    if lam.shape[1] > 1:
        ss = np.diag(phi @ lam.T @ lam) if phi is not None else (lam**2).sum(axis=0)
        order = np.argsort(-ss, kind="stable")
        lam = lam[:, order]
        if phi is not None:
            phi = phi[np.ix_(order, order)]
    return Rotated(lam, phi, rotated.iterations, rotated.converged)
