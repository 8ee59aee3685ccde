"""3-step estimation's results (workers/models/lca/three_step.py; docs/profiles.md): the classes
of a finished latent class model related to household features (a multinomial logit of class
membership) and to distal outcomes (class means or shares), with the BCH and ML corrections for
the classification error of modal assignment, the classes held fixed."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from backend.schemas.logit import CovariateTerm, LogitCoefficient, WaldTest

Correction = Literal["BCH", "ML"]


class CovariateEffects(BaseModel):
    """Who is more likely to be in each class: the step-3 multinomial logit, against the
    reference class, by one correction."""

    correction: Correction
    reference_class: str
    n_rows: int = Field(description="Households in step 3 (a missing numeric feature drops one).")
    terms: list[CovariateTerm]
    coefficients: list[LogitCoefficient]
    wald_tests: list[WaldTest] = Field(
        default_factory=list, description="Per household feature: all its coefficients zero."
    )
    loglik: float | None = Field(
        None, description="ML: the step-3 log-likelihood; BCH: the weighted logit's objective."
    )
    converged: bool
    iterations: int


class DistalEstimate(BaseModel):
    class_name: str
    level: str | None = Field(None, description="Categorical outcomes: the category.")
    estimate: float = Field(description="The class mean (numeric) or share (binary: of 1).")
    se: float | None
    ci_low: float | None = Field(None, description="95% interval (shares: kept in [0, 1]).")
    ci_high: float | None = None
    sd: float | None = Field(None, description="ML, numeric: the class's standard deviation.")


class DistalTest(BaseModel):
    statistic: float = Field(description="Wald χ² of equal means (or distributions) over classes.")
    df: int
    p_value: float


class DistalOutcome(BaseModel):
    """One distal outcome by one correction: its mean or distribution in each class."""

    outcome: str
    kind: Literal["numeric", "binary", "categorical"]
    correction: Correction
    n_rows: int = Field(description="Households with the outcome observed.")
    levels: list[str] = Field(
        default_factory=list, description="Categorical outcomes: the categories (binary: 1)."
    )
    overall: list[float] = Field(
        default_factory=list,
        description="All households: the mean (numeric) or each level's share (weighted).",
    )
    estimates: list[DistalEstimate]
    test: DistalTest | None = None
    converged: bool = True
    note: str | None = None


class ThreeStepResult(BaseModel):
    """Step 1 the fitted classes; step 2 modal assignment, with the classification error D;
    step 3 the relation to household features and outcomes, corrected by BCH and/or ML."""

    method: str = Field(description="The method in words.")
    corrections: list[Correction]
    assignment: Literal["modal"] = "modal"
    classes: list[str]
    classification_error: list[list[float]] = Field(
        description="D[c][s] = P(assigned to class s | in class c) (rows sum to one): what "
        "the corrections undo."
    )
    error_rate: float = Field(
        description="Expected share of households assigned to a class they are not in."
    )
    n_rows: int
    weighted: bool = False
    covariates: list[CovariateEffects] = Field(default_factory=list)
    distal: list[DistalOutcome] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
