"""Tetrachoric correlations from pair counts (workers/models/pair_counts.py).

The tetrachoric correlation of each pair is psych's estimate (`psych::tetrachoric` with its
defaults): thresholds from each product's own share of buyers over its observed cells
(`global = TRUE`), a 2×2 cell with no households counted as `correct` households, then the
maximum-likelihood correlation of the bivariate normal with those thresholds, and the matrix
smoothed to positive definite exactly as `psych::cor.smooth` does when it is not. Also the phi
correlations and column moments the factor scores use.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import ndtr, ndtri

from backend.errors import DataError
from workers.models.pair_counts import PairCounts

_EPS = float(np.finfo(float).eps)

# Gauss–Legendre nodes on [0, 1] for the integral form of the bivariate normal CDF.
_GL_X, _GL_W = np.polynomial.legendre.leggauss(48)
_GL_X = (_GL_X + 1.0) / 2.0
_GL_W = _GL_W / 2.0


def bvn_lower(h: np.ndarray, k: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """P(X < h, Y < k) for standard bivariate normals with correlation rho (|rho| < 1).

    Φ2 = Φ(h)Φ(k) + ∫₀^{asin ρ} exp(-(h² + k² - 2hk·sin t) / (2cos² t)) dt / 2π, with 48-point
    Gauss–Legendre quadrature (the t = asin r substitution keeps the integrand smooth; error
    below 1e-10 for |rho| ≤ 0.999).
    """
    h, k, rho = np.broadcast_arrays(
        np.asarray(h, float), np.asarray(k, float), np.asarray(rho, float)
    )
    a = np.arcsin(rho)
    t = a[..., None] * _GL_X
    s = np.sin(t)
    c2 = 1.0 - s * s
    hk = (h * k)[..., None]
    hs = ((h * h + k * k) / 2.0)[..., None]
    integrand = np.exp((s * hk - hs) / c2)
    integral = (integrand * _GL_W).sum(axis=-1) * a / (2.0 * np.pi)
    return np.clip(ndtr(h) * ndtr(k) + integral, 0.0, 1.0)


def bvn_density(h: np.ndarray, k: np.ndarray, rho: np.ndarray) -> np.ndarray:
    one_minus = 1.0 - rho * rho
    return np.exp(-(h * h - 2.0 * rho * h * k + k * k) / (2.0 * one_minus)) / (
        2.0 * np.pi * np.sqrt(one_minus)
    )


def tetrachoric_ml(
    cells: np.ndarray, tau_x: np.ndarray, tau_y: np.ndarray, max_iter: int = 100, tol: float = 1e-12
) -> np.ndarray:
    """Maximum-likelihood correlation of each 2×2 table given fixed thresholds (vectorised).

    `cells` stacks the tables' counts n00, n01, n10, n11 (4 × tables). The score
    n00/P00 - n01/P01 - n10/P10 + n11/P11 falls monotonically in rho, so its root is found by
    Newton steps kept inside a shrinking bracket (bisection when a step leaves it).
    Cells: first index x (tau_x), second y (tau_y); 0 = below the threshold = not bought.
    """
    shape = cells.shape[1:]
    lo = np.full(shape, -1.0 + 1e-9)
    hi = np.full(shape, 1.0 - 1e-9)
    rho = np.zeros(shape)
    active = np.arange(cells[0].size)
    for _ in range(max_iter):
        a = active
        g, slope = _tetrachoric_score(rho[a], cells[:, a], tau_x[a], tau_y[a])
        r, low, high = rho[a], lo[a], hi[a]
        low = np.where(g > 0, r, low)
        high = np.where(g <= 0, r, high)
        with np.errstate(divide="ignore", invalid="ignore"):
            new = r - g / slope
        outside = ~np.isfinite(new) | (new <= low) | (new >= high)
        new = np.where(outside, (low + high) / 2.0, new)
        done = (np.abs(new - r) < tol) | (high - low < tol)
        rho[a], lo[a], hi[a] = new, low, high
        active = a[~done]
        if active.size == 0:
            break
    return rho


def _tetrachoric_score(
    r: np.ndarray, cells: np.ndarray, tau_x: np.ndarray, tau_y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The log-likelihood's derivative in rho (up to the positive density factor) and its slope."""
    n00, n01, n10, n11 = cells
    tiny = 1e-300
    fx, fy = ndtr(tau_x), ndtr(tau_y)
    p00 = bvn_lower(tau_x, tau_y, r)
    p01 = np.maximum(fx - p00, tiny)
    p10 = np.maximum(fy - p00, tiny)
    p11 = np.maximum(1.0 - fx - fy + p00, tiny)
    p00 = np.maximum(p00, tiny)
    g = n00 / p00 - n01 / p01 - n10 / p10 + n11 / p11
    slope = -bvn_density(tau_x, tau_y, r) * (
        n00 / p00**2 + n01 / p01**2 + n10 / p10**2 + n11 / p11**2
    )
    return g, slope


def cor_smooth(r: np.ndarray, eig_tol: float = 1e-12) -> tuple[np.ndarray, bool, float]:
    """psych::cor.smooth: when an eigenvalue is below machine epsilon, raise those below
    eig_tol to 100·eig_tol, rescale the eigenvalues to sum to p, rebuild and rescale to unit
    diagonal. Returns (matrix, smoothed?, smallest eigenvalue before)."""
    values, vectors = np.linalg.eigh(r)
    smallest = float(values.min())
    if smallest >= _EPS:
        return r, False, smallest
    values = np.where(values < eig_tol, 100 * eig_tol, values)
    values = values * r.shape[0] / values.sum()
    rebuilt = (vectors * values) @ vectors.T
    d = np.sqrt(np.diag(rebuilt))
    rebuilt = rebuilt / np.outer(d, d)
    rebuilt = (rebuilt + rebuilt.T) / 2.0
    np.fill_diagonal(rebuilt, 1.0)
    return rebuilt, True, smallest


@dataclass
class Tetrachoric:
    rho: np.ndarray
    tau: np.ndarray
    smoothed: bool
    min_eigenvalue: float
    corrected_pairs: list[tuple[int, int]] = field(default_factory=list)
    min_pair_n: int = 0


def tetrachoric(
    counts: PairCounts,
    products: list[str],
    correct: float = 0.5,
    smooth: bool = True,
) -> Tetrachoric:
    """psych::tetrachoric(x, correct, smooth, global = TRUE) from pair counts."""
    p = counts.n11.shape[0]
    bought, observed = counts.bought, counts.observed
    share = np.divide(bought, observed, out=np.full(p, np.nan), where=observed > 0)
    constant = [products[j] for j in range(p) if not (0.0 < share[j] < 1.0)]
    if constant:
        raise DataError(
            "Tetrachoric correlations need products that some households bought and some did "
            f"not; these never vary: {', '.join(constant[:10])}. Leave them out of the run."
        )
    tau = -ndtri(share)
    iu, ju = np.triu_indices(p, 1)
    n00, n01, n10, n11 = (t[iu, ju].astype(float) for t in counts.tables())
    pair_n = counts.n_obs[iu, ju]
    if pair_n.size and pair_n.min() <= 2:
        worst = int(np.argmin(pair_n))
        raise DataError(
            f"Products {products[iu[worst]]} and {products[ju[worst]]} are both observed for only "
            f"{int(pair_n[worst])} households; a correlation needs more. Drop one of them."
        )
    cells = np.stack([n00, n01, n10, n11])
    empty = (cells == 0).any(axis=0) & (pair_n > 1) & (correct > 0)
    if correct > 0:
        cells = np.where((cells == 0) & empty, correct, cells)
    r_pairs = tetrachoric_ml(cells, tau[iu], tau[ju])
    rho = np.eye(p)
    rho[iu, ju] = r_pairs
    rho[ju, iu] = r_pairs
    smoothed, smallest = False, float(np.linalg.eigvalsh(rho).min())
    if smooth:
        rho, smoothed, smallest = cor_smooth(rho)
    corrected = [(int(i), int(j)) for i, j in zip(iu[empty], ju[empty], strict=True)]
    return Tetrachoric(rho, tau, smoothed, smallest, corrected, int(pair_n.min(initial=0)))


def phi_correlations(counts: PairCounts) -> np.ndarray:
    """Pearson (phi) correlations of the 0/1 columns over pairwise-complete households, as
    `cor(x, use = "pairwise")` gives them."""
    m = counts.n_obs
    a = counts.n11
    b = counts.bought_where_observed
    c = b.T
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (m * a - b * c) / np.sqrt((m * b - b * b) * (m * c - c * c))
    np.fill_diagonal(r, 1.0)
    return np.nan_to_num(r)


def column_moments(counts: PairCounts) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation (n - 1 denominator) of each 0/1 column over observed cells."""
    obs = counts.observed
    mean = counts.bought / obs
    sd = np.sqrt(mean * (1.0 - mean) * obs / np.maximum(obs - 1.0, 1.0))
    return mean, sd
