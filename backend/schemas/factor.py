"""Exploratory factor analysis of the tetrachoric correlations: parameters and result."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from backend.schemas.params import ModelParams
from backend.schemas.results import FitResult

Extraction = Literal["minres", "ml", "pa"]
Rotation = Literal["oblimin", "varimax", "promax", "none"]
ScoreMethod = Literal["regression", "bartlett", "none"]


class TetrachoricFactorParams(ModelParams):
    """Factor analysis of binary product columns through their tetrachoric correlations."""

    n_factors: int | None = Field(
        None,
        ge=1,
        le=50,
        description="Number of factors; empty uses the number parallel analysis suggests "
        "(eigenvalues above 1 when n_parallel is 0).",
    )
    extraction: Extraction = Field(
        "minres",
        description="minres (minimum residual, psych's default), ml (maximum likelihood) or "
        "pa (principal axis).",
    )
    rotation: Rotation = Field(
        "oblimin",
        description="oblimin or promax (oblique: factors may correlate), varimax (orthogonal) "
        "or none.",
    )
    correct: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Continuity correction: a cell of a product pair's 2×2 table with no "
        "households counts as this many (0 turns it off).",
    )
    smooth: bool = Field(
        True, description="Smooth the tetrachoric matrix to positive definite when it is not."
    )
    scores: ScoreMethod = Field(
        "regression", description="Factor scores per household: regression, bartlett or none."
    )
    n_parallel: int = Field(
        20,
        ge=0,
        le=500,
        description="Random permutations of the data for parallel analysis (0 skips it).",
    )
    max_iter: int = Field(
        1000, ge=1, le=100_000, description="Iterations for extraction and rotation."
    )
    tol: float = Field(1e-6, gt=0, le=0.1, description="Convergence tolerance of the extraction.")
    random_state: int | None = Field(
        None, ge=0, le=2**32 - 1, description="Seed of parallel analysis; empty picks one."
    )


class VarianceRow(BaseModel):
    factor: str
    ss_loadings: float
    proportion_var: float
    cumulative_var: float
    proportion_explained: float
    cumulative_proportion: float


class ScreeRow(BaseModel):
    number: int
    eigenvalue: float = Field(description="Eigenvalue of the tetrachoric matrix (components).")
    eigenvalue_factor: float = Field(
        description="Eigenvalue of the reduced matrix of a one-factor fit (psych's fa.parallel)."
    )
    random_mean: float | None = None
    random_p95: float | None = None
    random_factor_mean: float | None = None
    random_factor_p95: float | None = None


class FactorFitStatistics(BaseModel):
    """How well the factors reproduce the tetrachoric correlations (psych's fa.stats): the
    result reports each under its name, and the fit computes them as one value."""

    rmsr: float = Field(description="Root mean square of the off-diagonal residuals.")
    crms: float | None = Field(description="RMSR corrected for degrees of freedom.")
    objective: float
    chi_square: float
    dof: int
    p_value: float | None
    tli: float | None
    rmsea: float | None
    bic: float | None
    null_chi_square: float
    null_dof: int
    fit: float = Field(description="1 - Σ residual² / Σ r²")
    fit_off: float = Field(description="The same over off-diagonal entries.")


class TetrachoricFactorResult(FactorFitStatistics, FitResult):
    n_factors: int
    n_factors_suggested: int | None = Field(
        description="The suggested number of factors, by the rule in `suggestion_rule`: the "
        "leading eigenvalues of the tetrachoric matrix above the 95th percentile of the same "
        "eigenvalues from permuted data (what the scree chart draws; the default n_factors)."
    )
    n_components_suggested: int | None
    suggestion_rule: str = Field(
        "", description="How n_factors_suggested was found, in a sentence for a person."
    )
    n_factors_suggested_reduced: int | None = Field(
        None,
        description="psych's fa.parallel factor count (reduced eigenvalues of a one-factor fit "
        "against permuted data): shown for comparison only; it suggests more factors, often too "
        "many for binary data (Heywood cases).",
    )
    extraction: Extraction
    rotation: Rotation
    products: list[str]
    factors: list[str]
    loadings: list[list[float]] = Field(description="products × factors (pattern loadings).")
    structure: list[list[float]] | None = Field(
        description="products × factors: correlations of products with factors (oblique only)."
    )
    factor_correlations: list[list[float]] | None
    communalities: list[float] = Field(
        description="Model communalities, diag(Λ Φ Λᵀ) (psych's `communality`)."
    )
    uniquenesses: list[float]
    complexity: list[float] = Field(description="Hofmann's complexity of each product.")
    eigenvalues: list[float] = Field(description="Eigenvalues of the tetrachoric matrix.")
    eigenvalues_reduced: list[float] = Field(
        description="Eigenvalues with the communalities on the diagonal (psych's `values`)."
    )
    variance: list[VarianceRow]
    correlation: list[list[float]] = Field(description="The tetrachoric correlation matrix.")
    thresholds: list[float]
    smoothed: bool
    min_eigenvalue: float = Field(description="Smallest eigenvalue before any smoothing.")
    corrected_pairs: list[list[str]] = Field(
        description="Product pairs with an empty 2×2 cell (continuity correction applied)."
    )
    n_obs: int
    n_missing_cells: int
    scree: list[ScreeRow]
    heywood_products: list[str]
    score_method: ScoreMethod
    converged: bool
    iterations: int
