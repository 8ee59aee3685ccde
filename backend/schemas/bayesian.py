"""Bayesian factor models (NUTS and variational): parameters, result and shared result parts.

Pure pydantic (the API imports this; PyMC never). The discrete choice model (backend/schemas/dcm.py)
reuses the shared parts: posterior summaries, sampler diagnostics, model comparison, the posterior
predictive check and the artifact slot for the full posterior.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from backend.schemas.params import ModelParams
from backend.schemas.results import FitResult

Link = Literal["logit", "probit"]
Sampler = Literal["nutpie", "pymc"]
VIMethod = Literal["advi", "fullrank_advi"]

HDI_PROB = 0.94
POSTERIOR_ARTIFACT = "posterior"
NETCDF_CONTENT_TYPE = "application/x-netcdf"


# ---------------------------------------------------------------------------------------------
# Parameters


class NUTSParams(ModelParams):
    """Sampler settings shared by every NUTS model."""

    draws: int = Field(1000, ge=10, le=50_000, description="Posterior draws kept per chain.")
    tune: int = Field(
        1000, ge=10, le=50_000, description="Warm-up (tuning) draws per chain, discarded."
    )
    chains: int = Field(2, ge=1, le=16, description="Independent chains (R-hat needs ≥ 2).")
    target_accept: float = Field(
        0.9,
        ge=0.5,
        le=0.999,
        description="Target acceptance rate of NUTS; raise it (0.95, 0.99) when there are "
        "divergences.",
    )
    sampler: Sampler = Field(
        "nutpie", description="nutpie (Rust NUTS, default, faster) or pymc (PyMC's own NUTS)."
    )
    random_state: int | None = Field(
        None, ge=0, le=2**32 - 1, description="Seed; empty picks one and records it."
    )


class BayesianFactorPymcParams(NUTSParams):
    """Bayesian factor model for binary purchases (logit or probit link), sampled with NUTS."""

    n_factors: int = Field(2, ge=1, le=10, description="Number of latent factors.")
    link: Link = Field(
        "logit", description="logit or probit (probit loadings match tetrachoric factor analysis)."
    )


class BayesianFactorVIParams(ModelParams):
    """The same Bayesian factor model fitted by variational inference (ADVI), with minibatches."""

    n_factors: int = Field(2, ge=1, le=10, description="Number of latent factors.")
    link: Link = Field("logit", description="logit or probit.")
    method: VIMethod = Field(
        "advi",
        description="advi (mean-field) or fullrank_advi (full-rank Gaussian over intercepts and "
        "loadings; factor scores stay mean-field).",
    )
    max_iter: int = Field(
        20_000, ge=100, le=1_000_000, description="Optimisation iterations (upper bound)."
    )
    tol: float = Field(
        1e-3,
        ge=0,
        le=1,
        description="Stop early once the mean loss of successive windows of 500 iterations "
        "changes relatively less than this, twice in a row (0 never stops early).",
    )
    learning_rate: float = Field(0.01, gt=0, le=1, description="Adam learning rate.")
    batch_size: int | None = Field(
        None,
        ge=16,
        le=1_000_000,
        description="Households per minibatch; empty uses all households up to 5,000 and "
        "minibatches of 1,000 above.",
    )
    draws: int = Field(
        1000, ge=50, le=20_000, description="Draws taken from the fitted approximation."
    )
    random_state: int | None = Field(
        None, ge=0, le=2**32 - 1, description="Seed; empty picks one and records it."
    )


# ---------------------------------------------------------------------------------------------
# Result parts shared by the Bayesian families


class ParameterSummary(BaseModel):
    """Posterior summary of one scalar (94% highest-density interval)."""

    name: str = Field(description="Parameter name, e.g. loadings[prod_3, Factor 1].")
    mean: float
    sd: float
    hdi_low: float = Field(description="Lower end of the 94% highest-density interval.")
    hdi_high: float
    r_hat: float | None = Field(None, description="Rank-normalised split R-hat (NUTS only).")
    ess_bulk: float | None = None
    ess_tail: float | None = None
    credible: bool | None = Field(
        None, description="Whether the 94% interval excludes zero (for effects and loadings)."
    )


class SamplingDiagnostics(BaseModel):
    method: str = Field(description="nuts or advi / fullrank_advi.")
    sampler: str = Field(description="nutpie, pymc or pymc-vi.")
    chains: int
    draws: int
    tune: int
    divergences: int | None = Field(None, description="Divergent transitions after warm-up.")
    max_treedepth_hits: int | None = None
    max_r_hat: float | None = None
    max_r_hat_parameter: str | None = None
    min_ess_bulk: float | None = None
    min_ess_tail: float | None = None
    min_bfmi: float | None = Field(None, description="Energy Bayesian fraction of missing info.")
    compile_seconds: float
    sampling_seconds: float = Field(description="Wall time of sampling or optimisation.")
    ess_bulk_per_second: float | None = Field(
        None, description="Smallest bulk ESS over the global parameters / sampling time."
    )
    draws_per_second: float | None = None


class ModelComparison(BaseModel):
    """PSIS-LOO and WAIC at the household level (each household's likelihood integrated over
    its latent factors, so models with different numbers of factors compare fairly)."""

    elpd_loo: float
    se_loo: float
    p_loo: float
    looic: float
    pareto_k_max: float
    n_pareto_k_high: int = Field(description="Households with Pareto k > 0.7.")
    elpd_waic: float
    se_waic: float
    p_waic: float
    waic: float
    n_households_used: int = Field(
        description="Households evaluated; fewer than all means elpd was estimated from a "
        "random subsample and scaled up."
    )
    n_draws_used: int
    integration: str = Field(description="How latent household terms were integrated out.")


class PredictiveCheckRow(BaseModel):
    product: str
    observed_rate: float
    replicated_mean: float
    replicated_low: float = Field(description="3% quantile of the replicated purchase rate.")
    replicated_high: float = Field(description="97% quantile of the replicated purchase rate.")
    p_value: float = Field(description="Share of replicated rates ≥ the observed rate.")


class VIDiagnostics(BaseModel):
    method: VIMethod
    iterations: int
    converged: bool
    final_loss: float = Field(description="Negative ELBO averaged over the last 100 iterations.")
    learning_rate: float
    batch_size: int
    loss_history: list[list[float]] = Field(
        description="[iteration, average loss] per block of iterations."
    )


class BayesianResult(FitResult):
    """A FitResult whose full posterior (ArviZ InferenceData as NetCDF) travels beside the JSON
    as the `posterior` artifact (FitResult.attach_artifact), downloadable from
    `/runs/{id}/artifacts/posterior`."""


# ---------------------------------------------------------------------------------------------
# Factor model result (NUTS and VI alike)


class BayesianFactorResult(BayesianResult):
    n_factors: int
    link: Link
    method: str = Field(description="nuts, advi or fullrank_advi.")
    products: list[str]
    factors: list[str]
    anchors: list[str] = Field(
        description="Identification: factor k's anchor product loads on factors 1..k only, "
        "positively on factor k."
    )
    loadings: list[list[float]] = Field(
        description="products × factors: posterior mean of the standardised loadings (the "
        "correlation of each product's latent propensity with each factor, as in tetrachoric "
        "factor analysis)."
    )
    loadings_sd: list[list[float]]
    loadings_hdi_low: list[list[float]]
    loadings_hdi_high: list[list[float]]
    loadings_credible: list[list[bool]] = Field(
        description="products × factors: the 94% interval of the loading excludes zero."
    )
    raw_loadings: list[list[float]] = Field(
        description="products × factors: posterior mean of the loadings on the link scale."
    )
    communalities: list[float] = Field(
        description="Share of each product's latent propensity variance the factors explain."
    )
    intercepts: list[ParameterSummary] = Field(description="Per product, on the link scale.")
    baseline_probabilities: list[ParameterSummary] = Field(
        description="Per product: purchase probability of a household at the factor means."
    )
    parameters: list[ParameterSummary] = Field(
        description="Every global parameter with R-hat and ESS."
    )
    loglik: float = Field(
        description="Marginal log-likelihood at the posterior means (factors integrated out)."
    )
    npar: int
    aic: float
    bic: float
    comparison: ModelComparison | None
    predictive_check: list[PredictiveCheckRow]
    diagnostics: SamplingDiagnostics
    vi: VIDiagnostics | None = None
    n_obs: int
    n_missing_cells: int
    flipped_chains: list[list[int]] = Field(
        default_factory=list,
        description="[chain, factor] pairs whose sign was flipped to agree with chain 0.",
    )
