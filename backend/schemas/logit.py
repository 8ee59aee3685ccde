"""A multinomial logit of class membership on household features, as covariate LCA and 3-step
estimation report it: its design columns, coefficients with odds ratios, joint Wald tests."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class CovariateTerm(BaseModel):
    name: str
    covariate: str
    kind: Literal["intercept", "numeric", "binary", "category"]
    level: str | None = None
    mean: float | None = None
    sd: float | None = None


class LogitCoefficient(BaseModel):
    class_name: str
    term: str
    coef: float
    se: float | None
    z: float | None
    p_value: float | None
    odds_ratio: float
    ci_low: float | None = Field(
        None,
        description="95% interval of the odds ratio, computed in log space (exp(coef ± 1.96 "
        "se)); null without a standard error, 0.0 below the smallest float.",
    )
    ci_high: float | None = Field(
        None,
        description="Upper end of the interval; null without a standard error, or when it "
        "is unbounded (past the largest float, about 1.8e308: the feature all but separates "
        "the classes) while `se` is given.",
    )
    flagged: bool = Field(
        False,
        description="|coef| above 5 (an odds ratio beyond about 150): the feature all but "
        "separates the classes; with a Bayes constant the prior keeps it finite.",
    )


class WaldTest(BaseModel):
    """Whether a household feature matters at all: all its coefficients (every level, every
    class against the reference) zero; the same whichever class is the reference."""

    covariate: str
    statistic: float = Field(description="b' V⁻¹ b over the feature's coefficients.")
    df: int
    p_value: float
