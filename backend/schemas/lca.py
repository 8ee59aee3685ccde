"""Latent class analysis: parameters and result."""

from __future__ import annotations

from pydantic import BaseModel, Field

from backend.schemas.params import ModelParams
from backend.schemas.results import FitResult


class LCAParams(ModelParams):
    """Latent class analysis of binary product columns (EM, many random starts)."""

    n_classes: int = Field(3, ge=1, le=30, description="Number of latent classes (segments).")
    n_init: int = Field(
        10, ge=1, le=1000, description="Random starts; the best log-likelihood wins."
    )
    max_iter: int = Field(1000, ge=1, le=100_000, description="EM iterations per start.")
    tol: float = Field(
        1e-6, gt=0, le=1, description="Stop a start when the average log-likelihood moves less."
    )
    random_state: int | None = Field(
        None, ge=0, le=2**32 - 1, description="Seed; empty picks one and records it."
    )


class StartRecord(BaseModel):
    start: int
    seed: int
    loglik: float
    iterations: int
    converged: bool


class LCAResult(FitResult):
    n_classes: int
    products: list[str]
    classes: list[str]
    loglik: float
    npar: int
    aic: float
    bic: float
    sabic: float
    caic: float
    entropy: float | None = Field(
        description="Relative entropy (1 = perfectly separated classes; none for one class)."
    )
    n_obs: int
    n_missing_cells: int
    class_sizes: list[float] = Field(description="Estimated share of households per class.")
    class_counts: list[int] = Field(description="Households whose modal class is each class.")
    smallest_class_share: float
    avg_posterior: list[float]
    item_probabilities: list[list[float]] = Field(
        description="classes × products: probability of buying each product in each class."
    )
    converged: bool
    iterations: int
    starts: list[StartRecord]
    n_starts_at_best: int
