"""Binary purchase data simulated from latent class models: known models of any size (tests,
bench) and draws from a fitted model (bootstrap)."""

from __future__ import annotations

import numpy as np


def simulate_binary(
    n: int,
    p: int,
    k: int,
    seed: int,
    sep: float = 1.0,
    density: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """X (n × p float64 0/1), class sizes, item probabilities (k × p).

    Each product has a base purchase logit (about 27% on average, or `density`); each class
    moves it by N(0, sep²). sep ≈ 0.5 is weak separation, 1 moderate, 2 strong."""
    rng = np.random.default_rng(seed)
    sizes = rng.dirichlet(np.full(k, 5.0))
    if density is None:
        base = rng.normal(-1.0, 1.0, size=p)
    else:
        base = np.full(p, np.log(density / (1 - density))) + rng.normal(0, 0.5, size=p)
    logit = base[None, :] + rng.normal(0.0, sep, size=(k, p))
    probs = 1.0 / (1.0 + np.exp(-logit))
    classes = rng.choice(k, size=n, p=sizes)
    X = np.empty((n, p))
    step = 100_000
    for start in range(0, n, step):  # in blocks: 1M × 50 without a 1M × 50 float64 temporary
        c = classes[start : start + step]
        X[start : start + step] = rng.random((len(c), p), dtype=np.float32) < probs[c]
    return X, sizes, probs


def simulate_with_covariates(
    n: int,
    probs: np.ndarray,
    beta: np.ndarray,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """X (n × p), covariates Z (n × q, standard normal; no intercept column) and classes drawn
    with P(class k | z) = softmax(b0 + z·B)_k, `beta` = (q + 1) × K with the intercept row first
    and class 1 as reference (column of zeros)."""
    rng = np.random.default_rng(seed)
    q = beta.shape[0] - 1
    Z = rng.normal(size=(n, q))
    eta = beta[0][None, :] + Z @ beta[1:]
    P = np.exp(eta - eta.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    classes = (rng.random(n)[:, None] > np.cumsum(P, axis=1)).sum(axis=1)
    X = (rng.random((n, probs.shape[1])) < probs[classes]).astype(np.float64)
    return X, Z, classes


def draw_from_model(
    theta: np.ndarray,
    pi: np.ndarray,
    n: int,
    rng: np.random.Generator,
    missing: np.ndarray | None = None,
) -> np.ndarray:
    """n rows from a fitted latent class model (θ: K × p, π: K); `missing` (n × p bool) puts
    NaN in the same cells as the data (parametric bootstrap)."""
    classes = rng.choice(len(pi), size=n, p=pi / pi.sum())
    X = (rng.random((n, theta.shape[1])) < theta[classes]).astype(np.float64)
    if missing is not None:
        X[missing] = np.nan
    return X


def realistic_purchases(
    n: int, p: int = 20, k: int = 5, seed: int = 1, missing: float = 0.0
) -> np.ndarray:
    """Purchase-like data that a latent class model does not fit exactly: unequal classes,
    purchase rates from 5% to 50%, three pairs of products bought together beyond the classes
    (local dependence), optionally a share of missing cells (at random)."""
    rng = np.random.default_rng(seed)
    sizes = rng.dirichlet(np.full(k, 3.0))
    base = np.log(rng.uniform(0.05, 0.5, p) / (1 - rng.uniform(0.05, 0.5, p)))
    probs = 1 / (1 + np.exp(-(base[None, :] + rng.normal(0, 1.0, (k, p)))))
    classes = rng.choice(k, size=n, p=sizes)
    X = (rng.random((n, p)) < probs[classes]).astype(np.float64)
    for a, b in ((0, 1), (2, 3), (4, 5)):
        together = rng.random(n) < 0.3
        X[together, b] = X[together, a]
    if missing:
        X[rng.random((n, p)) < missing] = np.nan
    return X
