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
    unit_keys: list[str] = Field(
        default_factory=list,
        description="The model's units (raw names); the stored result also lists them under the "
        "family's own units field (classes, factors, …).",
    )
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


class TypingCreate(BaseModel):
    """A typing tool for a finished latent class model."""

    model_config = ConfigDict(extra="forbid")

    max_products: int = Field(
        15, ge=1, le=15, description="Products chosen at most (k = 1 … this)."
    )
    holdout: float = Field(
        0.2,
        ge=0.0,
        le=0.5,
        description="Share of the training households held back from the selection, on which "
        "the tool's accuracy is reported next to the full model's.",
    )
    random_state: int = Field(0, ge=0, le=2**32 - 1, description="Seed of the hold-back split.")
    name: str | None = Field(None, max_length=255)


class ProductPoints(BaseModel):
    product: str
    bought: list[int] = Field(description="Points per segment when the household bought it.")
    not_bought: list[int] = Field(description="Points per segment when it did not.")


class TypingStep(BaseModel):
    k: int = Field(description="Products asked: the first k of `order`.")
    product: str = Field(description="The product added at this step.")
    accuracy: float = Field(
        description="Share of the households used for the selection assigned their modal segment."
    )
    holdout_accuracy: float | None = Field(
        None, description="The same on the held-back households."
    )
    holdout_expected_accuracy: float | None = Field(
        None,
        description="Mean posterior probability (full model) of the segment the tool assigns, on "
        "the held-back households: how often it is right about the latent segment.",
    )
    confusion: list[list[int]] = Field(
        description="Modal segment (rows) × the tool's segment (columns), on the held-back "
        "households (all households when none are held back)."
    )


class TypingResult(FitResult):
    kind: str = "typing"
    source_run_id: str
    method: str = Field(description="How the products and points were chosen, in words.")
    segments: list[str]
    order: list[str] = Field(description="Products in the order forward selection chose them.")
    points: list[ProductPoints] = Field(description="Every product's points, in `order`.")
    constant: list[int] = Field(description="Starting points per segment (class sizes).")
    steps: list[TypingStep]
    suggested_k: int
    suggestion_rule: str
    full_model_holdout_expected_accuracy: float | None = Field(
        None, description="Mean largest posterior probability on the held-back households."
    )
    n_selection: int
    n_holdout: int
    id_column: str | None = None
