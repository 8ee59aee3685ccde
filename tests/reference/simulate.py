"""Binary purchase tables simulated from known continuous structure (factors, parts, topics).

Used by the recovery tests and, once, to write the committed inputs of the R reference script
(`python -m tests.reference.simulate` rewrites tests/expected/*.csv; the seeds are fixed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tests.reference import EXPECTED

# 12 products, 3 correlated factors: simple structure with two cross-loading products.
TRUE_LOADINGS = np.array(
    [
        [0.80, 0.00, 0.00],
        [0.75, 0.00, 0.00],
        [0.70, 0.00, 0.00],
        [0.60, 0.30, 0.00],
        [0.00, 0.80, 0.00],
        [0.00, 0.70, 0.00],
        [0.00, 0.65, 0.00],
        [0.00, 0.60, 0.00],
        [0.00, 0.00, 0.80],
        [0.00, 0.00, 0.70],
        [0.25, 0.00, 0.60],
        [0.00, 0.00, 0.55],
    ]
)
TRUE_PHI = np.array([[1.0, 0.3, 0.2], [0.3, 1.0, 0.25], [0.2, 0.25, 1.0]])
# Penetration (share of households buying) of each product.
TRUE_PENETRATION = np.array(
    [0.45, 0.30, 0.20, 0.12, 0.50, 0.35, 0.25, 0.08, 0.40, 0.28, 0.15, 0.10]
)


@dataclass
class FactorSimulation:
    frame: pd.DataFrame
    products: list[str]
    loadings: np.ndarray
    phi: np.ndarray
    thresholds: np.ndarray

    @property
    def correlation(self) -> np.ndarray:
        """The latent (tetrachoric) correlation matrix the data were drawn from."""
        r = self.loadings @ self.phi @ self.loadings.T
        np.fill_diagonal(r, 1.0)
        return r


def simulate_factors(
    n: int = 3000,
    loadings: np.ndarray = TRUE_LOADINGS,
    phi: np.ndarray = TRUE_PHI,
    penetration: np.ndarray = TRUE_PENETRATION,
    seed: int = 11,
    missing_share: float = 0.0,
    id_column: str | None = "household_id",
) -> FactorSimulation:
    """Latent normal z = f Λᵀ + e (f ~ N(0, Φ), unit variances); bought = z above its threshold."""
    from scipy.stats import norm

    rng = np.random.default_rng(seed)
    p, k = loadings.shape
    f = rng.multivariate_normal(np.zeros(k), phi, size=n)
    h2 = np.einsum("ij,jk,ik->i", loadings, phi, loadings)
    z = f @ loadings.T + rng.standard_normal((n, p)) * np.sqrt(1.0 - h2)
    tau = norm.ppf(1.0 - penetration)
    X = (z > tau).astype(float)
    if missing_share > 0:
        X[rng.random(X.shape) < missing_share] = np.nan
    products = [f"prod_{j + 1:02d}" for j in range(p)]
    frame = pd.DataFrame(X, columns=products).astype("Int64")
    if id_column:
        frame.insert(0, id_column, [f"HH{i:06d}" for i in range(n)])
    return FactorSimulation(frame, products, loadings, phi, tau)


def write_reference_inputs() -> None:
    """The committed inputs of tests/reference/*.R (run once; seeds fixed)."""
    EXPECTED.mkdir(exist_ok=True)
    simulate_factors(n=3000, seed=11).frame.to_csv(EXPECTED / "factor_binary.csv", index=False)
    # Missing cells and a rare product: pairwise counts and the continuity correction.
    rare = TRUE_PENETRATION.copy()
    rare[7] = 0.006
    simulate_factors(n=1500, seed=12, penetration=rare, missing_share=0.04).frame.to_csv(
        EXPECTED / "factor_binary_missing.csv", index=False, na_rep="NA"
    )
    # Few households: a tetrachoric matrix that is not positive definite (smoothing).
    simulate_factors(n=60, seed=13).frame.to_csv(EXPECTED / "factor_binary_small.csv", index=False)


if __name__ == "__main__":
    write_reference_inputs()
