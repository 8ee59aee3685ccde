"""Latent class analysis: parameters and results (`lca`, `lca_covariates`, class-number comparison
and the bootstrap likelihood-ratio test). Formulas: docs/lca.md."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from backend.schemas.logit import CovariateTerm, LogitCoefficient, WaldTest
from backend.schemas.params import ModelParams
from backend.schemas.results import FitResult
from backend.schemas.three_step import ThreeStepResult

# The default start search (docs/lca.md, "Random starts"): measured on the multimodal cases of
# tests/expected/lca_multimodal.json.
MAX_STARTS_DEFAULT = 640
MAX_SECONDS_DEFAULT = 300.0
STABILITY_SAMPLES_DEFAULT = 20


class LCAParams(ModelParams):
    """Latent class analysis of binary product columns (EM, many random starts)."""

    n_classes: int = Field(3, ge=1, le=30, description="Number of latent classes (segments).")
    n_init: int = Field(
        10,
        ge=1,
        le=1000,
        description="Random starts of the first round; the best log-likelihood wins. Further "
        "rounds (each twice as large) follow until the best is replicated (see `replicate`).",
    )
    max_iter: int = Field(
        5000,
        ge=1,
        le=100_000,
        description="EM iterations per start at most (past 1,000 only the best few starts still "
        "climbing go on).",
    )
    tol: float = Field(
        1e-8,
        gt=0,
        le=1,
        description="A start has converged when one EM iteration, projected to the end of the "
        "climb (EM's measured rate of convergence), changes the average log-likelihood per "
        "household by less than this and no item probability or class share by more than its "
        "square root (docs/lca.md).",
    )
    random_state: int | None = Field(
        None, ge=0, le=2**32 - 1, description="Seed; empty picks one and records it."
    )
    n_final: int | None = Field(
        None,
        ge=1,
        le=1000,
        description="Starts carried to convergence after the short first stage over all "
        "n_init starts (the best ones by log-likelihood); empty = max(2, n_init/4). "
        "Set it to n_init to finish every start.",
    )
    stage1_iter: int = Field(
        30, ge=1, le=10_000, description="EM iterations of the first stage (every start)."
    )
    bootstrap_lrt: int = Field(
        0,
        ge=0,
        le=999,
        description="Bootstrap samples for the likelihood-ratio test of n_classes against "
        "n_classes - 1 classes (0 = no test).",
    )
    bootstrap_l2: int = Field(
        0,
        ge=0,
        le=999,
        description="Bootstrap samples for the p-value of L² (lca): data of the same size drawn "
        "from the fitted model and refitted with the same number of classes; p = the share of "
        "samples whose L² is at least the data's. Complete data with at most 40 products; the χ² "
        "p-value does not hold on sparse tables, this one does (0 = the χ² p-value only).",
    )
    replicate: int = Field(
        2,
        ge=1,
        le=100,
        description="Keep starting until the best log-likelihood has been reached by at least "
        "this many independent starts (Mplus's advice: 2), or a budget (max_starts, "
        "max_seconds) is spent; 1 = one round of n_init starts.",
    )
    max_starts: int = Field(
        MAX_STARTS_DEFAULT,
        ge=1,
        le=10_000,
        description="Start budget: random starts drawn at most while the best is not "
        "replicated (at least n_init).",
    )
    max_seconds: float | None = Field(
        MAX_SECONDS_DEFAULT,
        gt=0,
        le=86_400,
        description="Time budget of the start search in seconds: no new round starts after "
        "it (empty = no time limit).",
    )
    criterion: Literal["bic", "aic", "sabic", "caic", "blrt"] = Field(
        "bic",
        description="How a class-number sweep recommends: the lowest BIC (default), AIC, SABIC "
        "or CAIC, or `blrt`: the largest number whose bootstrap likelihood-ratio test beats "
        "one class fewer at 5% (needs bootstrap_lrt > 0).",
    )
    max_classes: int = Field(
        10,
        ge=1,
        le=30,
        description="A sweep whose criterion is still falling at the top of its range fits the "
        "next number of classes, up to this many, until the criterion rises.",
    )
    stability_samples: int = Field(
        STABILITY_SAMPLES_DEFAULT,
        ge=0,
        le=1000,
        description="Bootstrap resamples refitted to measure how stable the segments are "
        "(adjusted Rand index, per-segment Jaccard); 0 = no stability check.",
    )
    distal_columns: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="Outcome columns of the dataset (binary, categorical or numeric, e.g. "
        "spend) compared between the segments by 3-step estimation, without moving them.",
    )
    three_step: Literal["both", "BCH", "ML", "off"] = Field(
        "both",
        description="3-step estimation (Vermunt 2010; Bakk, Tekle & Vermunt 2013) of the "
        "segments' relation to the household features (covariate_columns; for lca only) and "
        "to the distal_columns, corrected for the classification error of modal assignment: "
        "by BCH, ML or both; off = none.",
    )

    def refusal(self, n_rows: int, n_products: int) -> str | None:
        """More parameters than households, or than the distinct answers p products can give
        (3^p − 1 with missing cells as a third answer), can never be estimated."""
        k, p = self.n_classes, n_products
        npar = (k - 1) + k * p
        limit = min(n_rows, 3**p - 1 if p <= 30 else n_rows)
        if npar < limit:
            return None
        most = max((c for c in range(1, k) if (c - 1) + c * p < limit), default=0)
        what = (
            f"the data have {n_rows:,} households"
            if limit == n_rows
            else f"{p} products give at most {limit:,} distinct response patterns"
        )
        hint = f"use at most {most} classes" if most else "use more households or products"
        return (
            f"n_classes={k} on {p} products needs {npar} parameters, but {what}: it can never be "
            f"estimated; {hint}."
        )


class StartRecord(BaseModel):
    start: int
    seed: int
    loglik: float
    iterations: int
    converged: bool
    finished: bool = Field(
        True, description="False when the start was dropped after the first stage."
    )


class BivariateResidual(BaseModel):
    product_a: str
    product_b: str
    bvr: float = Field(description="Pearson χ² of the pair's 2×2 table, observed vs model (df 1).")
    flagged: bool


class BootstrapLRT(BaseModel):
    """Parametric bootstrap likelihood-ratio test (McLachlan 1987; Nylund et al. 2007)."""

    n_classes: int
    null_classes: int
    lr: float = Field(description="2 × (loglik with n_classes − loglik with null_classes).")
    p_value: float = Field(description="(1 + #{bootstrap LR ≥ LR}) / (1 + n_boot).")
    n_boot: int
    bootstrap_lr: list[float]
    loglik: float
    null_loglik: float


class SegmentStabilityRow(BaseModel):
    segment: str
    mean_jaccard: float = Field(description="Mean over resamples of the best Jaccard match.")
    reappears: float = Field(
        description="Share of resamples in which the segment reappears (Jaccard ≥ 0.5)."
    )
    stable: bool = Field(description="Mean Jaccard at least 0.75 (Hennig's rule of thumb).")


class SegmentStability(BaseModel):
    """Bootstrap stability of the segments (Hennig's clusterboot, adapted to latent classes)."""

    n_samples: int
    ari_mean: float = Field(
        description="Mean adjusted Rand index between the full-data segments and each "
        "resample's segments, both assigning every household (modal class)."
    )
    ari_low: float = Field(description="5th percentile of the ARI over the resamples.")
    ari: list[float]
    segments: list[SegmentStabilityRow]
    verdict: str = Field(description="A sentence for a person.")


class LCAResult(FitResult):
    n_classes: int
    products: list[str]
    classes: list[str]
    loglik: float
    npar: int = Field(description="(K − 1) class shares + K × p item probabilities.")
    aic: float
    bic: float
    sabic: float
    caic: float
    entropy: float | None = Field(
        description="Relative entropy (1 = perfectly separated classes; none for one class)."
    )
    n_obs: int = Field(description="Rows in the data, all kept (missing cells drop out).")
    n_missing_cells: int
    n_rows_all_missing: int = Field(
        0, description="Rows with every product missing: no information, left out of the fit."
    )
    total_weight: float = Field(
        0.0, description="Households in the fit: N in BIC, SABIC, CAIC, entropy, class sizes."
    )
    n_patterns: int | None = Field(
        None, description="Distinct response patterns when EM ran on them (missing as a value)."
    )
    layout: str = Field(
        "dense", description="How EM read the data: dense, patterns (with counts) or sparse."
    )
    class_sizes: list[float] = Field(description="Estimated share of households per class.")
    class_counts: list[int] = Field(description="Households whose modal class is each class.")
    smallest_class_share: float
    avg_posterior: list[float] = Field(
        description="Average posterior probability of each class among its modal members."
    )
    item_probabilities: list[list[float]] = Field(
        description="classes × products: probability of buying each product in each class."
    )
    overall_rates: list[float] = Field(
        default_factory=list, description="Share of households buying each product (observed)."
    )
    item_index: list[list[float]] = Field(
        default_factory=list,
        description="classes × products: 100 × class probability / overall rate (100 = average).",
    )
    bivariate_residuals: list[BivariateResidual] = Field(
        default_factory=list, description="Product pairs, largest residual first."
    )
    bvr_threshold: float = 3.84
    n_bvr_flagged: int = 0
    bvr_truncated: bool = Field(
        False, description="True when only the largest pairs are listed (many products)."
    )
    n_boundary_parameters: int = Field(
        0, description="Item probabilities held at the bound 3.06e-7 or 1 − 3.06e-7."
    )
    converged: bool
    iterations: int
    starts: list[StartRecord]
    n_starts_at_best: int
    n_starts_finished: int = 0
    blrt: BootstrapLRT | None = None
    n_starts: int = Field(0, description="Random starts drawn by the start search.")
    start_rounds: int = Field(1, description="Rounds of the start search (each twice as large).")
    replicated: bool = Field(
        True, description="The best log-likelihood was reached by at least `replicate` starts."
    )
    replication_tolerance: float = Field(
        1e-3, description="Starts within this of the best log-likelihood count as reaching it."
    )
    search_stopped_by: str = Field(
        "replicated",
        description="Why the start search stopped: replicated, max_starts, max_seconds or "
        "starts (a fixed number of starts, no replication asked).",
    )
    l_squared: float | None = Field(
        None,
        description="Likelihood-ratio chi-square against the saturated model, 2 Σ n log(n / "
        "expected) over the response patterns (complete data only).",
    )
    l_squared_df: int | None = Field(None, description="2^p − 1 − npar.")
    l_squared_p_value: float | None = Field(
        None,
        description="χ² p-value of L²; none when the table is sparse (2^p above the households), "
        "where the asymptotic χ² does not hold.",
    )
    l_squared_bootstrap_p_value: float | None = Field(
        None,
        description="Parametric bootstrap p-value of L² (`bootstrap_l2` samples from the fitted "
        "model): (1 + samples with L² at least the data's) / (1 + samples).",
    )
    l_squared_bootstrap: list[float] = Field(
        default_factory=list, description="L² of each bootstrap sample (`bootstrap_l2`)."
    )
    classification_error: float | None = Field(
        None, description="Share of households expected to be misassigned by their modal class."
    )
    information_rank: int | None = Field(
        None, description="Rank of the information matrix (outer product of the scores)."
    )
    n_free_parameters: int | None = Field(
        None, description="Parameters not held at a bound: the information matrix's size."
    )
    stability: SegmentStability | None = None
    three_step: ThreeStepResult | None = Field(
        None,
        description="The segments related to household features and distal outcomes by 3-step "
        "estimation (BCH and ML corrections), when the run names either.",
    )


class LCACovariatesParams(LCAParams):
    """Latent classes whose membership depends on household covariates (multinomial logit)."""

    reference_class: int | None = Field(
        None,
        ge=1,
        le=30,
        description="Class (after ordering by size, 1 = largest) whose logit is fixed at zero; "
        "empty = the largest class.",
    )
    standardize: bool = Field(
        True, description="Standardise numeric covariates (coefficients per standard deviation)."
    )
    bayes_constant: float = Field(
        1.0,
        ge=0,
        le=100,
        description="Posterior-mode priors (LatentGOLD's Bayes constants): a Dirichlet on each "
        "household's class probabilities and on the item probabilities worth this many "
        "households in all, and a normal prior (sd 5/sqrt(c)) on the slopes. They keep every "
        "estimate off the boundary (a feature that separates the classes gets a finite, flagged "
        "coefficient). 0 = plain maximum likelihood, as poLCA.",
    )
    se_method: Literal["observed", "outer_product"] = Field(
        "observed",
        description="Standard errors from the observed information (Louis' formula, exact) or "
        "from the outer product of the per-household scores (poLCA's method; smaller samples "
        "give it larger errors).",
    )


class LCACovariatesResult(LCAResult):
    reference_class: str
    terms: list[CovariateTerm] = Field(
        description="Design columns: numeric standardised, categories one-hot against the most "
        "frequent level (the reference level)."
    )
    coefficients: list[LogitCoefficient]
    n_rows_dropped: int = Field(0, description="Rows left out for a missing numeric covariate.")
    unconditional_loglik: float = Field(
        description="Log-likelihood of the same classes without covariates (the `lca` fit)."
    )
    covariate_lr: float = Field(
        description="2 × (loglik − unconditional loglik): joint test of all covariates."
    )
    covariate_df: int
    covariate_p_value: float
    wald_tests: list[WaldTest] = Field(
        default_factory=list, description="One joint Wald test per household feature."
    )
    bayes_constant: float = Field(0.0, description="The Bayes constant used (0 = plain ML).")
    penalized_loglik: float | None = Field(
        None,
        description="The objective maximised: loglik plus the log prior of the Bayes constants "
        "(equal to loglik when bayes_constant is 0). loglik and the criteria are the "
        "log-likelihood itself at these estimates.",
    )
    se_method: str = Field(
        "observed",
        description="observed: inverse observed information of all free parameters (Louis' "
        "formula; with a Bayes constant, of the penalised log-likelihood); outer_product: "
        "inverse of the sum of per-household score outer products (poLCA).",
    )
    measurement_starts: list[StartRecord] = Field(
        default_factory=list,
        description="The random starts of the model without covariates (the `lca` fit), whose "
        "best solution is the covariate model's first start.",
    )
    sparse_levels: list[str] = Field(
        default_factory=list,
        description="Category levels held by under 1% of households or fewer than 10 "
        "(feature=level): kept, named in a warning; their coefficients are uncertain.",
    )


class InformationCriteria(BaseModel):
    """The log-likelihood, parameter count and information criteria of a latent class fit
    (formulas in docs/lca.md), as the fit computes them and the comparison table lists them."""

    loglik: float
    npar: int
    aic: float
    bic: float
    sabic: float
    caic: float


class SolutionRow(InformationCriteria):
    n_classes: int
    entropy: float | None
    smallest_class_share: float
    n_starts_at_best: int
    converged: bool
    blrt_p_value: float | None = None
    l_squared: float | None = None
    l_squared_df: int | None = None
    l_squared_p_value: float | None = None
    l_squared_bootstrap_p_value: float | None = None
    classification_error: float | None = None
    n_starts: int = 0
    replicated: bool = True
    stability_ari: float | None = None


class LCAComparison(BaseModel):
    """Solutions for several class numbers side by side; the lowest value of `criterion` is
    recommended (the bootstrap test: the last number that beats one fewer)."""

    table: list[SolutionRow]
    recommended: int
    criterion: str = "bic"
    best_by_criterion: dict[str, int]
    elbow: int | None = None
    at_top: bool = Field(
        False,
        description="The criterion is lowest at the largest number fitted: more may fit "
        "better (a sweep then extends its range).",
    )
    reason: str = ""
