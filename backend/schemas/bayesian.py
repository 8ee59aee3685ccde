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
MassMatrix = Literal["low_rank", "diagonal"]
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
    mass_matrix: MassMatrix = Field(
        "low_rank",
        description="nutpie's mass-matrix adaptation: low_rank (diagonal plus the strongest "
        "posterior correlations, learnt from draws and gradients; faster on factor models) or "
        "diagonal. PyMC's sampler always adapts a diagonal one.",
    )
    random_state: int | None = Field(
        None, ge=0, le=2**32 - 1, description="Seed; empty picks one and records it."
    )


PosteriorRotation = Literal["varimax", "none"]
ROTATION_DESCRIPTION = (
    "varimax: every posterior draw rotated (Procrustes) to the varimax solution of the "
    "posterior mean, so loadings, scores and the product map compare with the tetrachoric "
    "factor analysis (varimax) of the same data; none: the identified solution as sampled "
    "(anchor products, lower-triangular)."
)


class BayesianFactorPymcParams(NUTSParams):
    """Bayesian factor model for binary purchases (logit or probit link), sampled with NUTS."""

    n_factors: int = Field(2, ge=1, le=10, description="Number of latent factors.")
    link: Link = Field(
        "logit", description="logit or probit (probit loadings match tetrachoric factor analysis)."
    )
    rotation: PosteriorRotation = Field("varimax", description=ROTATION_DESCRIPTION)


class BayesianFactorVIParams(ModelParams):
    """The same Bayesian factor model fitted by variational inference (ADVI), with minibatches."""

    n_factors: int = Field(2, ge=1, le=10, description="Number of latent factors.")
    link: Link = Field("logit", description="logit or probit.")
    rotation: PosteriorRotation = Field("varimax", description=ROTATION_DESCRIPTION)
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
    calibration: bool = Field(
        True,
        description="Check the intervals: simulate purchases from the fitted model, refit, and "
        "count how many 94% intervals contain the simulated truth (about doubles the time); "
        "intervals that under-cover are marked approximate.",
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


class ConvergenceCheck(BaseModel):
    """One of the checks behind a NUTS run's verdict."""

    check: Literal["R-hat", "ESS", "divergences", "E-BFMI", "tree depth"]
    value: float | None = Field(description="The run's worst value (None: not measured).")
    limit: float
    passed: bool
    advice: str = Field("", description="What to do when it failed (empty when it passed).")


class Verdict(BaseModel):
    """A plain verdict on a NUTS run: "converged", or which checks failed and what to do."""

    status: Literal["converged", "not converged"]
    failed: list[str] = Field(description="Names of the checks that failed, in order.")
    text: str = Field(description="The verdict as a sentence for a person.")
    checks: list[ConvergenceCheck]


class TracePlots(BaseModel):
    """What the trace, rank and energy plots of a NUTS run are drawn from, computed on the
    worker: the key global parameters (those with the largest R-hat and the smallest bulk ESS),
    their draws thinned for the trace (every divergent draw kept), rank histograms per chain
    over every draw (Vehtari et al. 2021: ranks of the pooled draws; uniform bars mean the
    chains mix) and the energy of every kept draw."""

    parameters: list[str]
    chain: list[int] = Field(description="Per trace point: its chain (0-based).")
    draw: list[int] = Field(description="Per trace point: its draw after warm-up (0-based).")
    divergent: list[bool] = Field(description="Per trace point: the transition diverged.")
    values: list[list[float]] = Field(description="Per parameter: its value at each point.")
    thinned_every: int = Field(description="One trace point kept per this many draws.")
    rank_bins: int
    rank_counts: list[list[list[int]]] = Field(
        description="parameters × chains × bins: draws of the chain whose pooled rank falls in "
        "the bin."
    )
    energy: list[list[float]] | None = Field(
        None, description="Per chain: the Hamiltonian energy at each kept draw, centred."
    )
    energy_transition: list[list[float]] | None = Field(
        None, description="Per chain: the energy change between successive draws."
    )
    bfmi: list[float] | None = Field(None, description="Energy BFMI per chain.")
    divergences_per_chain: list[int] = Field(default_factory=list)


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
    mass_matrix: str | None = Field(
        None, description="nutpie's mass-matrix adaptation (low_rank or diagonal)."
    )
    verdict: Verdict | None = Field(None, description="NUTS: converged, or what failed.")


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


class VICalibration(BaseModel):
    """The calibration check of a variational fit: its 94% intervals' coverage of the truth on
    data simulated from the fitted model (same households, products, missing cells, anchors)."""

    nominal: float
    coverage: float = Field(description="Share of all checked intervals containing the truth.")
    coverage_loadings: float | None
    coverage_intercepts: float | None
    n_intervals: int
    lower_limit: float = Field(
        description="Nominal minus two binomial standard errors: below it, intervals under-cover."
    )
    approximate: bool = Field(description="The intervals under-cover: treat them as approximate.")
    statement: str


class BayesianResult(FitResult):
    """A FitResult whose full posterior (ArviZ InferenceData as NetCDF) travels beside the JSON
    as the `posterior` artifact (FitResult.attach_artifact), downloadable from
    `/runs/{id}/artifacts/posterior`."""

    trace_plots: TracePlots | None = Field(
        None, description="NUTS: plot data of the trace, rank and energy plots."
    )
    intervals_from: str | None = Field(
        None,
        description="Which method produced the intervals, in words (NUTS draws, or a "
        "variational approximation and how far to trust it).",
    )


class BayesianFitChecks(BayesianResult):
    """What every Bayesian family's result reports alike beside its own estimates: the size of
    the model and its information criteria, the model comparison, the posterior predictive
    check, the sampler's (or VI's) diagnostics and the data's size. Each family states its own
    `loglik` (what is integrated out differs)."""

    npar: int
    aic: float
    bic: float
    comparison: ModelComparison | None
    predictive_check: list[PredictiveCheckRow]
    diagnostics: SamplingDiagnostics
    n_obs: int
    n_missing_cells: int


# ---------------------------------------------------------------------------------------------
# Factor model result (NUTS and VI alike)


class BayesianFactorResult(BayesianFitChecks):
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
    vi: VIDiagnostics | None = None
    vi_calibration: VICalibration | None = Field(
        None, description="VI: coverage of its intervals on data simulated from the fit."
    )
    flipped_chains: list[list[int]] = Field(
        default_factory=list,
        description="[chain, factor] pairs whose sign was flipped to agree with chain 0.",
    )
    rotation: str = Field(
        "none",
        description="varimax: loadings and scores of every draw rotated to the varimax "
        "solution of the posterior mean (anchors then describe only how sampling was "
        "identified); none: the identified solution as sampled.",
    )
