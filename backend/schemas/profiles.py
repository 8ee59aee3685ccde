"""Profiles by household features (who is in each segment, who scores high on each factor):
what every family's result carries as `profiles` when its run names household features.
Method: docs/profiles.md."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ProfileCell(BaseModel):
    """One unit (segment, factor, …) × one level of a feature (or the feature's mean)."""

    unit: str = Field(description="The unit's raw key (e.g. 'Class 1').")
    level: str | None = Field(None, description="The category; null for a numeric summary.")
    share: float | None = Field(
        None, description="Segments: share of the segment's households in this category."
    )
    mean: float | None = Field(
        None,
        description="Segments × numeric feature: the segment's mean of it; scores: the mean "
        "score of the households in this category.",
    )
    median: float | None = None
    index: float | None = Field(
        None, description="100 × share (or mean) / the whole base's (100 = average); segments."
    )
    residual: float | None = Field(
        None,
        description="Adjusted residual (categories) or z of the difference from the whole base "
        "(means): about N(0, 1) when the unit does not differ.",
    )
    significant: bool = Field(
        False, description="|residual| above the corrected critical value (see `critical_z`)."
    )


class FeatureTest(BaseModel):
    unit: str | None = Field(None, description="Scores: the unit tested; segments: null (all).")
    method: str = Field(description="chi2 (independence), wald (equal means) or anova (F).")
    statistic: float
    df: float
    p_value: float


class FeatureProfile(BaseModel):
    feature: str
    kind: Literal["categorical", "numeric"]
    levels: list[str] = Field(
        default_factory=list,
        description="Categories in order (a numeric feature profiled by scores: its quartiles).",
    )
    overall: list[float] = Field(
        default_factory=list,
        description="The whole base: share of each level, or [mean, median] of a numeric one.",
    )
    cells: list[ProfileCell]
    tests: list[FeatureTest]
    sparse_levels: list[str] = Field(
        default_factory=list, description="Levels held by under 1% of households (or < 10)."
    )


class HouseholdProfiles(BaseModel):
    """Units described by the household features that did not shape them (LatentGOLD's inactive
    covariates, a banner table). Weighted by each household's probability of each segment (and
    its case weight); for scores, the mean score per category."""

    measure: Literal["membership", "score"] = Field(
        description="membership: posterior class probabilities weight each household; score: "
        "the mean of each unit's household score."
    )
    units: list[str]
    features: list[FeatureProfile]
    alpha: float = 0.05
    n_cells: int = Field(0, description="Cells tested: the Bonferroni correction's count.")
    critical_z: float = Field(
        description="Two-sided critical value with Bonferroni over every cell of every feature: "
        "Φ⁻¹(1 − alpha / (2 n_cells))."
    )
    method: str = Field(description="The method in words (tests, marks, weights).")
    weighted: bool = Field(False, description="Case weights were applied.")
    warnings: list[str] = Field(default_factory=list)
