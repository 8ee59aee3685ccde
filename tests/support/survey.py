"""A survey simulated from known values: purchases from latent classes whose membership depends
on a six-level region (one level held by about 1 % of households) and a binary feature, with
the true multinomial-logit coefficients kept for recovery tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from workers.models.base import BinaryMatrix

REGIONS = ["north", "south", "east", "west", "centre", "islands"]
REGION_SHARES = [0.3, 0.25, 0.2, 0.145, 0.097, 0.008]


@dataclass
class Survey:
    data: BinaryMatrix
    classes: np.ndarray
    probs: np.ndarray  # classes × products
    beta: np.ndarray  # terms × classes: intercept, region levels (vs north), female; class 1 = 0


def item_probabilities(k: int, p: int, seed: int) -> np.ndarray:
    """Well separated classes: each buys its own block of products often, the rest rarely."""
    rng = np.random.default_rng(seed)
    probs = np.full((k, p), 0.15) + rng.uniform(0, 0.1, size=(k, p))
    for c in range(k):
        block = [(c * 3 + j) % p for j in range(4)]
        probs[c, block] = 0.8 + rng.uniform(0, 0.1, size=len(block))
    return probs


def survey(n: int, k: int, p: int = 12, seed: int = 0, effect: float = 0.8) -> Survey:
    """Region and a binary feature (female) shift class membership by about `effect` log-odds."""
    rng = np.random.default_rng(seed)
    counts = np.floor(np.asarray(REGION_SHARES) * n).astype(int)
    counts[0] += n - counts.sum()
    region = rng.permutation(np.repeat(np.arange(len(REGIONS)), counts))
    female = (rng.random(n) < 0.5).astype(float)
    beta = np.zeros((1 + (len(REGIONS) - 1) + 1, k))
    beta[1:-1, 1:] = rng.normal(0, effect, size=(len(REGIONS) - 1, k - 1))
    beta[-1, 1:] = rng.normal(0, effect, size=k - 1)
    Z = np.column_stack(
        [np.ones(n)] + [(region == r).astype(float) for r in range(1, len(REGIONS))] + [female]
    )
    eta = Z @ beta
    P = np.exp(eta - eta.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    classes = (rng.random(n)[:, None] > np.cumsum(P, axis=1)).sum(axis=1)
    probs = item_probabilities(k, p, seed + 1)
    X = (rng.random((n, p)) < probs[classes]).astype(np.float64)
    features = pd.DataFrame({"region": [REGIONS[r] for r in region], "female": female})
    data = BinaryMatrix(values=X, products=[f"prod_{j + 1}" for j in range(p)], covariates=features)
    return Survey(data, classes, probs, beta)
