"""Factories for test data: binary purchase tables simulated from a known latent class model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# The model type the service benchmarks submit (bench/): a quick EM fit whose length is set by
# its iterations.
SEGMENT_MODEL = "lca"

TRUE_SIZES = np.array([0.5, 0.3, 0.2])
TRUE_PROBS = np.array(
    [
        [0.85, 0.80, 0.75, 0.15, 0.10, 0.10, 0.50, 0.20],
        [0.10, 0.15, 0.10, 0.80, 0.90, 0.75, 0.50, 0.15],
        [0.50, 0.10, 0.10, 0.10, 0.20, 0.85, 0.90, 0.90],
    ]
)


@dataclass
class Simulated:
    frame: pd.DataFrame
    products: list[str]
    classes: np.ndarray
    sizes: np.ndarray
    probs: np.ndarray

    def csv(self) -> bytes:
        return self.frame.to_csv(index=False).encode()


def simulate_lca(
    n: int = 3000,
    sizes: np.ndarray = TRUE_SIZES,
    probs: np.ndarray = TRUE_PROBS,
    seed: int = 7,
    id_column: str | None = "household_id",
) -> Simulated:
    rng = np.random.default_rng(seed)
    classes = rng.choice(len(sizes), size=n, p=sizes)
    X = (rng.random((n, probs.shape[1])) < probs[classes]).astype(int)
    products = [f"prod_{j + 1}" for j in range(probs.shape[1])]
    frame = pd.DataFrame(X, columns=products)
    if id_column:
        frame.insert(0, id_column, [f"HH{i:06d}" for i in range(n)])
    return Simulated(frame, products, classes, np.asarray(sizes), np.asarray(probs))


def match_classes(estimated: np.ndarray, truth: np.ndarray) -> list[int]:
    """Permutation of estimated classes (rows) closest to the true ones, by brute force."""
    from itertools import permutations

    k = truth.shape[0]
    best = min(
        permutations(range(k)),
        key=lambda perm: float(np.abs(estimated[list(perm)] - truth).sum()),
    )
    return list(best)


def slow_fit_table(n: int = 50_000, p: int = 30, seed: int = 0) -> bytes:
    """Unstructured 0/1 data with (almost) no repeated rows: an LCA on it costs about 10 ms
    per EM iteration here, so `slow_lca_params(seconds)` sets how long a fit runs."""
    rng = np.random.default_rng(seed)
    X = (rng.random((n, p)) < rng.uniform(0.1, 0.6, p)).astype(int)
    return pd.DataFrame(X, columns=[f"item_{j + 1}" for j in range(p)]).to_csv(index=False).encode()


def slow_lca_params(seconds: float) -> dict[str, float | int]:
    """A tolerance never met, so every start runs max_iter iterations (~10 ms each); one round
    of starts (`replicate: 1`), so the search for a replicated best does not lengthen it, and
    no stability resamples (each would refit for as long again)."""
    return {
        "n_classes": 6,
        "n_init": 4,
        "max_iter": max(int(seconds * 100), 1),
        "tol": 1e-15,
        "replicate": 1,
        "stability_samples": 0,
    }
