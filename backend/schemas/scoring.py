"""Runs made from a finished run: scoring new households (its model applied to them, with a
drift report) and the typing tool. Their requests and stored results (docs/scoring.md)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from backend.schemas.api import InlineData
from backend.schemas.results import FitResult


class ScoreCreate(BaseModel):
    """Households to score: a stored dataset or an inline CSV, as for runs."""

    model_config = ConfigDict(extra="forbid")

    dataset_id: str | None = None
    data: InlineData | None = None
    id_column: str | None = Field(
        None, description="The new data's household ID column: the scored table is keyed by it."
    )
    name: str | None = Field(None, max_length=255)


class ProductDrift(BaseModel):
    product: str
    penetration_now: float | None = Field(description="Share buying it among the new households.")
    penetration_training: float | None
    change_points: float | None = Field(description="100 × (now − training): percentage points.")


class UnitShare(BaseModel):
    unit: str = Field(description="The unit's raw name (Class 1, Component 2, …).")
    share_now: float
    share_training: float | None


class DriftReport(BaseModel):
    products: list[ProductDrift]
    shares: list[UnitShare] = Field(
        default_factory=list, description="Share of households per unit (modal or dominant)."
    )
    mean_loglik_now: float | None = Field(
        None, description="Mean log-likelihood per household of the new households."
    )
    mean_loglik_training: float | None = None
    summary: list[str] = Field(description="The report in plain words, most important first.")


class ScoreResult(FitResult):
    """What a scoring run stores: how many households it scored, their shares and the drift
    from the training data; the scored table is its `assignments`."""

    kind: str = "score"
    source_run_id: str
    model_type: str
    products: list[str] = Field(description="The model's products, in its order.")
    units: list[str] = Field(default_factory=list)
    n_rows: int
    id_column: str | None = None
    output_columns: list[str] = Field(description="The scored table's columns after the ID.")
    drift: DriftReport


class ModelDocument(BaseModel):
    """A finished run's model as one JSON document: what scoring reads (GET /runs/{id}/model)."""

    format: str = "market-structure-model/1"
    run_id: str
    model_type: str
    name: str
    products: list[str] = Field(description="The product columns, in the model's order.")
    household_features: list[str] = Field(default_factory=list)
    id_column: str | None = None
    params: dict[str, Any]
    library_versions: dict[str, str] = Field(default_factory=dict)
    service_version: str
    data_hash: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    model: dict[str, Any] = Field(
        description="The stored result: parameters (item probabilities, class sizes, "
        "coefficients and encodings, loadings and score weights, components, …)."
    )
