"""Factor extraction from a correlation matrix: minres, maximum likelihood, principal axis.

The three follow `psych::fa` (fm = "minres", "ml", "pa"): the same starting values (squared
multiple correlations), the same bounds on the uniquenesses (0.005 .. max(1, SMC)) and the same
loadings at the solution. minres and ml optimise the uniquenesses with L-BFGS-B and exact
gradients, to a tighter tolerance than psych's defaults; principal axis iterates the
communalities on the diagonal until their sum moves less than `tol` (psych's `min.err`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

LOWER_PSI = 0.005

IterationCallback = Callable[[int, float], None]
Objective = Callable[[np.ndarray], tuple[float, np.ndarray]]  # ψ -> (value, gradient)
Loadings = Callable[[np.ndarray, np.ndarray, int], np.ndarray]  # (R, ψ, k) -> Λ at the optimum


@dataclass
class Extraction:
    loadings: np.ndarray  # p × k, unrotated
    uniquenesses: np.ndarray  # the optimised ψ (psych's 1 - `communalities`)
    iterations: int
    converged: bool
    objective: float
    message: str = ""


def smc(r: np.ndarray) -> np.ndarray:
    """Squared multiple correlations, 1 - 1/diag(R⁻¹) (pseudo-inverse), clipped to 0..1."""
    inv = np.linalg.pinv(r, hermitian=True)
    return np.clip(1.0 - 1.0 / np.diag(inv), 0.0, 1.0)


def _top_eigen(a: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    values, vectors = np.linalg.eigh(a)
    order = np.argsort(values)[::-1]
    return values[order], vectors[:, order]


def _scaled_top(values: np.ndarray, vectors: np.ndarray, k: int) -> np.ndarray:
    """The top-k eigenvectors scaled by √max(λ, 0): loadings of a reduced correlation matrix."""
    return vectors[:, :k] * np.sqrt(np.maximum(values[:k], 0.0))


def _loadings_uls(r: np.ndarray, psi: np.ndarray, k: int) -> np.ndarray:
    """psych's FAout.wls: top-k eigenvectors of R - Ψ scaled by √max(λ, 0)."""
    values, vectors = _top_eigen(r - np.diag(psi), k)
    return _scaled_top(values, vectors, k)


def _ml_from_eigen(values: np.ndarray, vectors: np.ndarray, psi: np.ndarray, k: int) -> np.ndarray:
    """ML loadings from the eigenpairs of Ψ^-1/2 R Ψ^-1/2: Ψ^1/2 V_k √max(λ_k - 1, 0)."""
    load = vectors[:, :k] * np.sqrt(np.maximum(values[:k] - 1.0, 0.0))
    return load * np.sqrt(psi)[:, None]


def _loadings_ml(r: np.ndarray, psi: np.ndarray, k: int) -> np.ndarray:
    """psych's FAout (factanal): from the eigenvectors of Ψ^-1/2 R Ψ^-1/2."""
    sc = 1.0 / np.sqrt(psi)
    values, vectors = _top_eigen(r * np.outer(sc, sc), k)
    return _ml_from_eigen(values, vectors, psi, k)


def extract(
    method: str,
    r: np.ndarray,
    k: int,
    max_iter: int,
    tol: float,
    callback: IterationCallback | None = None,
) -> Extraction:
    """k factors of the correlation matrix r by psych's `fm` method: "minres" or "ml" (the
    uniquenesses optimised by L-BFGS-B on that method's objective) or "pa" (principal axis).
    `callback(iteration, objective or change)` after each iteration."""
    if method == "pa":
        return _principal_axis(r, k, max_iter, tol, callback)
    objective, loadings = _OPTIMISED[method]
    return _optimise(r, k, objective(r, k), loadings, max_iter, tol, callback)


def _minres_objective(r: np.ndarray, k: int) -> Objective:
    """Unweighted least squares: minimise ½‖R - Ψ - ΛΛᵀ‖² over ψ with Λ from the top-k
    eigenpairs of R - Ψ. At the optimum the diagonal residuals vanish, so this is psych's
    minres solution (the sum of squared off-diagonal residuals); the gradient is exact."""

    def objective(psi: np.ndarray) -> tuple[float, np.ndarray]:
        values, vectors = _top_eigen(r - np.diag(psi), k)
        rest = values.copy()
        rest[:k] = np.minimum(values[:k], 0.0)  # negative top roots are not fitted either
        f = 0.5 * float(np.sum(rest**2))
        grad = -((vectors**2) @ rest)
        return f, grad

    return objective


def _ml_objective(r: np.ndarray, k: int) -> Objective:
    """factanal's / psych's ML objective and gradient in ψ (Jöreskog's concentrated form)."""
    p = r.shape[0]

    def objective(psi: np.ndarray) -> tuple[float, np.ndarray]:
        sc = 1.0 / np.sqrt(psi)
        values, vectors = _top_eigen(r * np.outer(sc, sc), k)
        e = values[k:]
        f = -float(np.sum(np.log(e) - e) - k + p)
        load = _ml_from_eigen(values, vectors, psi, k)
        g = np.einsum("ij,ij->i", load, load) + psi - np.diag(r)
        return f, g / psi**2

    return objective


# The methods that optimise ψ: the objective for (R, k) and the loadings at the optimum.
_OPTIMISED: dict[str, tuple[Callable[[np.ndarray, int], Objective], Loadings]] = {
    "minres": (_minres_objective, _loadings_uls),
    "ml": (_ml_objective, _loadings_ml),
}


def _optimise(
    r: np.ndarray,
    k: int,
    objective: Objective,
    loadings: Loadings,
    max_iter: int,
    tol: float,
    callback: IterationCallback | None,
) -> Extraction:
    s = smc(r)
    upper = max(float(s.max()), 1.0)
    start = np.clip(np.diag(r) - s, LOWER_PSI, upper)
    iterations = 0

    def on_iteration(intermediate: object) -> None:
        nonlocal iterations
        iterations += 1
        if callback is not None:
            fun = getattr(intermediate, "fun", float("nan"))
            callback(iterations, float(fun))

    result = minimize(
        objective,
        start,
        jac=True,
        method="L-BFGS-B",
        bounds=[(LOWER_PSI, upper)] * len(start),
        callback=on_iteration,
        options={"maxiter": max_iter, "ftol": 1e-15, "gtol": tol, "maxcor": 20},
    )
    psi = np.asarray(result.x)
    return Extraction(
        loadings=loadings(r, psi, k),
        uniquenesses=psi,
        iterations=int(result.nit),
        converged=bool(result.success) or _at_stationary_point(objective, psi, tol),
        objective=float(result.fun),
        message=str(result.message),
    )


def _at_stationary_point(objective: Objective, psi: np.ndarray, tol: float) -> bool:
    """L-BFGS-B sometimes stops on 'abnormal line search' exactly at the optimum: accept when
    the projected gradient is small."""
    _, grad = objective(psi)
    free = psi > LOWER_PSI + 1e-9
    return bool(np.max(np.abs(grad[free]), initial=0.0) < max(tol * 100, 1e-5))


def _principal_axis(
    r: np.ndarray, k: int, max_iter: int, tol: float, callback: IterationCallback | None
) -> Extraction:
    """psych's iterated principal axes: SMCs on the diagonal, then the diagonal replaced by
    the communalities of the top-k eigenpairs until their sum moves less than `tol`."""
    reduced = r.copy()
    np.fill_diagonal(reduced, smc(r))
    total = float(np.trace(reduced))
    converged = False
    iterations = 0
    h2 = np.diag(reduced).copy()
    load = np.zeros((r.shape[0], k))
    for iterations in range(1, max_iter + 1):
        values, vectors = _top_eigen(reduced, k)
        load = _scaled_top(values, vectors, k)
        h2 = np.einsum("ij,ij->i", load, load)
        np.fill_diagonal(reduced, h2)
        new_total = float(h2.sum())
        change = abs(total - new_total)
        total = new_total
        if callback is not None:
            callback(iterations, change)
        if change < tol:
            converged = True
            break
    return Extraction(
        loadings=load,
        uniquenesses=1.0 - h2,
        iterations=iterations,
        converged=converged,
        objective=float("nan"),
    )
