"""Result models, stored as JSON in the results table; plain names (DESIGN.md) for statistics."""

from __future__ import annotations

from typing import Any

import pandas as pd
from pydantic import BaseModel, Field, PrivateAttr


class Provenance(BaseModel):
    model_type: str
    params: dict[str, Any]
    random_state: int | None = None
    data_hash: str | None = None
    library_versions: dict[str, str] = Field(default_factory=dict)
    n_rows: int
    n_products: int
    warnings: list[str] = Field(default_factory=list)


class FitResult(BaseModel):
    """Base of every family's result. Per-row outputs (one row per household) travel beside the
    JSON as a DataFrame and are stored as the run's `assignments` artifact."""

    provenance: Provenance
    _rows: pd.DataFrame | None = PrivateAttr(default=None)

    @property
    def rows(self) -> pd.DataFrame | None:
        return self._rows

    def attach_rows(self, rows: pd.DataFrame) -> None:
        self._rows = rows


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
