"""Discrete choice model of purchases (Bayesian, NUTS): parameters and result.

Each household's purchase of each product is a binary choice explained by product intercepts,
household features (the run's `covariate_columns`) with an effect per product, product features
(a small table keyed by product) with effects shared across products, optional household random
intercepts and an optional latent household × product interaction.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from backend.schemas.bayesian import BayesianFitChecks, Link, NUTSParams, ParameterSummary

FeatureValue = str | float | int | bool | None


class DCMParams(NUTSParams):
    """Purchase of each product by each household as a binary choice (hierarchical logit/probit)."""

    link: Link = Field("logit", description="logit or probit.")
    random_intercepts: bool = Field(
        True, description="Give each household its own propensity to buy (random intercept)."
    )
    n_latent: int = Field(
        0,
        ge=0,
        le=5,
        description="Dimensions of a latent household × product interaction (0 = none): "
        "unobserved tastes that make some households prefer some products.",
    )
    product_features: list[dict[str, FeatureValue]] | None = Field(
        None,
        description="Product features: one record per product, e.g. "
        '[{"product": "prod_1", "price": 2.5, "category": "dairy"}, ...]; numeric features '
        "are standardised, text ones one-hot encoded. Their effects are shared across products.",
    )
    product_features_dataset: str | None = Field(
        None,
        description="Product features as a table: the id of an uploaded dataset with one row "
        "per product (a `product` column naming it, every other column a feature; text columns "
        "are categories). Checked when the run is submitted and stored as product_features.",
    )
    max_categories: int = Field(
        20, ge=2, le=200, description="Most levels a categorical feature may have."
    )

    @field_validator("product_features", mode="before")
    @classmethod
    def _finite_features(cls, value: Any) -> Any:
        # One sentence naming the cell (the union of value types would give four).
        for number, record in enumerate(value if isinstance(value, list) else [], start=1):
            for name, cell in record.items() if isinstance(record, dict) else ():
                if isinstance(cell, float) and not math.isfinite(cell):
                    raise ValueError(
                        f"record {number}, feature {name!r} is {cell}; give a finite number, "
                        "or null for a missing value"
                    )
        return value


class FeatureEncoding(BaseModel):
    """How one input feature became model columns."""

    column: str
    kind: Literal["numeric", "binary", "categorical"]
    encoded_columns: list[str]
    mean: float | None = Field(None, description="Numeric: subtracted before dividing by sd.")
    sd: float | None = None
    levels: list[str] | None = Field(None, description="Categorical: levels seen.")
    reference: str | None = Field(
        None, description="Categorical: the level every other level is compared with."
    )
    n_missing: int = 0
    missing: str | None = Field(
        None, description="How missing values were handled (numeric: mean plus an indicator)."
    )


class EffectRow(BaseModel):
    """A household feature's effect on one product's purchase (link scale, per encoded unit)."""

    feature: str
    product: str
    mean: float
    sd: float
    hdi_low: float
    hdi_high: float
    r_hat: float | None = None
    ess_bulk: float | None = None
    credible: bool = Field(description="The 94% interval excludes zero.")


class DCMResult(BayesianFitChecks):
    link: Link
    products: list[str]
    household_features: list[str] = Field(description="Encoded household feature columns.")
    household_encoding: list[FeatureEncoding]
    product_features: list[str] = Field(description="Encoded product feature columns.")
    product_encoding: list[FeatureEncoding]
    intercepts: list[ParameterSummary] = Field(
        description="Per product, link scale: μ + product features·γ + the product's own effect."
    )
    baseline_probabilities: list[ParameterSummary] = Field(
        description="Per product: purchase probability of a household at the average of every "
        "household feature (reference level for categorical ones), random terms at zero."
    )
    household_effects: list[EffectRow]
    household_effect_means: list[list[float]] = Field(
        description="household features × products: posterior mean effects."
    )
    household_effect_average: list[ParameterSummary] = Field(
        description="Per household feature: the effect common to all products (pooling mean)."
    )
    product_feature_effects: list[ParameterSummary] = Field(
        description="Per encoded product feature: shared effect on every product's intercept."
    )
    hyperparameters: list[ParameterSummary] = Field(
        description="μ, σ of product intercepts, σ of random intercepts, pooling spreads."
    )
    latent_loadings: list[list[float]] | None = Field(
        None, description="products × latent dimensions: posterior mean interaction loadings."
    )
    parameters: list[ParameterSummary]
    loglik: float = Field(
        description="Log-likelihood at the posterior means, household random terms integrated out."
    )
