"""The Bayesian factor model for binary purchases, shared by its NUTS and VI fits.

    y_ij ~ Bernoulli(F(a_j + Σ_k Λ_jk z_ik)),   F = logistic or standard normal CDF
    a_j ~ N(0, s_a),  z_ik ~ N(0, 1),  Λ_jk ~ N(0, s_Λ)  (free entries)

Identification (rotation and sign): each factor k has an anchor product that loads on factors
1..k only, with a positive loading on factor k (the classic lower-triangular, positive-diagonal
constraint, with anchors chosen from the data rather than the column order: for factor k the
product with the largest loading on the k-th principal component that is not already an anchor).
Chains that still settle in a mirrored mode (a weak anchor) are sign-aligned to chain 0 after
sampling. Prior scales: s_a = 2.5 / 1.5 and s_Λ = 1.8 / 1.0 on the logit / probit scale.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
from pymc.distributions.dist_math import normal_lcdf
from scipy import stats
from threadpoolctl import threadpool_limits

from backend.errors import DataError
from backend.schemas.bayesian import (
    BayesianFactorPymcParams,
    BayesianFactorResult,
    BayesianFactorVIParams,
    ModelComparison,
    ParameterSummary,
    PredictiveCheckRow,
    SamplingDiagnostics,
    TracePlots,
    VIDiagnostics,
)
from workers.models.base import BinaryMatrix, Progress
from workers.models.bayes import convergence
from workers.models.bayes import summary as bs
from workers.models.bayes.household_draws import HouseholdDraws
from workers.models.bayes.sampling import LIBRARIES, SamplingOutcome
from workers.models.progress import Span
from workers.models.provenance import build_provenance, resolve_seed

LATENT_VARIANCE = {"logit": np.pi**2 / 3, "probit": 1.0}
INTERCEPT_SD = {"logit": 2.5, "probit": 1.5}
LOADING_SD = {"logit": 1.8, "probit": 1.0}
HDI_Z = 1.880793608  # 94% central interval of a normal: mean ± HDI_Z·sd
SCORING_DRAWS = 100  # posterior draws kept with the result for scoring new households


@dataclass
class FactorData:
    y: np.ndarray  # n × p, 0/1 with 0 where missing
    mask: np.ndarray | None  # n × p, 1 where observed; None when nothing is missing
    products: list[str]
    n_factors: int
    anchors: list[int]
    observed_rates: np.ndarray
    n_missing: int

    @property
    def n(self) -> int:
        return int(self.y.shape[0])

    @property
    def p(self) -> int:
        return int(self.y.shape[1])

    @property
    def factors(self) -> list[str]:
        return [f"Factor {k + 1}" for k in range(self.n_factors)]

    def structure_key(self, link: str, kind: str) -> tuple[object, ...]:
        return (
            kind,
            self.n,
            self.p,
            self.n_factors,
            link,
            self.mask is not None,
            tuple(self.anchors),
        )


FactorParams = BayesianFactorPymcParams | BayesianFactorVIParams


def begin(data: BinaryMatrix, params: FactorParams, progress: Progress) -> tuple[int, FactorData]:
    """The first steps of both fits: the seed (recorded when none was given), the checked and
    prepared data, the first progress event."""
    seed = resolve_seed(params.random_state)
    fd = prepare(data, params.n_factors)
    progress(0.0, "Building the model.", phase="loading", details={"stage": "building"})
    return seed, fd


def prepare(data: BinaryMatrix, n_factors: int) -> FactorData:
    values = np.asarray(data.values, dtype=np.float64)
    n, p = values.shape
    observed = ~np.isnan(values)
    empty = [data.products[j] for j in range(p) if not observed[:, j].any()]
    if empty:
        raise DataError(f"Product column(s) {', '.join(empty)} have no observed values.")
    if p < 2:
        raise DataError("A factor model needs at least two product columns.")
    if n_factors >= p:
        raise DataError(
            f"n_factors={n_factors} needs more products than factors; this data has {p}. "
            "Use fewer factors."
        )
    if n < 10 * n_factors:
        raise DataError(
            f"{n} households are too few for {n_factors} factors; use fewer factors or more "
            "households."
        )
    rows_empty = int((~observed.any(axis=1)).sum())
    if rows_empty:
        raise DataError(
            f"{rows_empty} household(s) have no observed product at all; drop them first."
        )
    y = np.where(observed, values, 0.0)
    rates = y.sum(axis=0) / observed.sum(axis=0)
    mask = observed.astype(np.float64) if not observed.all() else None
    return FactorData(
        y=y,
        mask=mask,
        products=list(data.products),
        n_factors=n_factors,
        anchors=choose_anchors(y, observed, rates, n_factors),
        observed_rates=rates,
        n_missing=int((~observed).sum()),
    )


def choose_anchors(
    y: np.ndarray, observed: np.ndarray, rates: np.ndarray, n_factors: int
) -> list[int]:
    """For factor k, the product loading most on the k-th principal component, not yet taken."""
    centred = np.where(observed, y - rates, 0.0)
    scale = np.sqrt(np.clip(rates * (1 - rates), 1e-9, None))
    _, _, vt = np.linalg.svd(centred / scale, full_matrices=False)
    anchors: list[int] = []
    for k in range(n_factors):
        order = np.argsort(-np.abs(vt[k]), kind="stable")
        anchors.append(int(next(j for j in order if j not in anchors)))
    return anchors


def spectral_start(fd: FactorData, link: str) -> dict[str, np.ndarray]:
    """Starting values from the SVD of the standardised data, rotated to the identified form
    (anchor block lower-triangular with a positive diagonal). Chains then start (jittered) near
    the main mode instead of at the all-zero saddle point of loadings × scores."""
    rates = np.clip(fd.observed_rates, 0.01, 0.99)
    observed = fd.mask > 0 if fd.mask is not None else np.ones_like(fd.y, dtype=bool)
    scale = np.sqrt(rates * (1 - rates))
    centred = np.where(observed, (fd.y - rates) / scale, 0.0)
    u, sv, vt = np.linalg.svd(centred, full_matrices=False)
    k_count = fd.n_factors
    # Correlation-scale loadings of the leading components, then to the link scale.
    corr = vt[:k_count].T * sv[:k_count] / np.sqrt(fd.n)
    corr = np.clip(corr, -0.9, 0.9)
    resid = np.sqrt(np.clip(1 - (corr**2).sum(axis=1, keepdims=True), 0.1, None))
    loadings = corr / resid * np.sqrt(LATENT_VARIANCE[link])
    scores = u[:, :k_count] * np.sqrt(fd.n)
    # Rotate: anchor block A = R^T Q^T (QR of A^T), so A Q is lower-triangular.
    q, r = np.linalg.qr(loadings[fd.anchors].T)
    signs = np.sign(np.diag(r))
    signs[signs == 0] = 1
    q = q * signs
    loadings, scores = loadings @ q, scores @ q
    rows, cols = loading_pattern(fd.p, fd.anchors)
    diag = loadings[np.asarray(fd.anchors), np.arange(k_count)]
    intercept = stats.norm.ppf(rates) if link == "probit" else np.log(rates / (1 - rates))
    return {
        "intercept": intercept,
        "loading_diag": np.clip(diag, 0.1, None),
        "loading_free": loadings[rows, cols],
        "scores": np.clip(scores, -4, 4),
    }


def loading_pattern(p: int, anchors: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of the free off-diagonal loadings: everything except anchor k's columns > k
    and its own (positive) diagonal entry."""
    k_count = len(anchors)
    free = np.ones((p, k_count), dtype=bool)
    for k, j in enumerate(anchors):
        free[j, k:] = False
    rows, cols = np.nonzero(free)
    return rows, cols


def bernoulli_logp(y: Any, eta: Any, link: str) -> Any:
    """Elementwise log P(y | eta), numerically stable for both links."""
    if link == "probit":
        return y * normal_lcdf(0.0, 1.0, eta) + (1 - y) * normal_lcdf(0.0, 1.0, -eta)
    return y * eta - pt.softplus(eta)


def build_model(
    fd: FactorData, link: str, batch_size: int | None = None
) -> tuple[pm.Model, dict[str, np.ndarray]]:
    """The PyMC model and its data containers (for reusing a compiled model with new data).

    With `batch_size`, the likelihood uses random minibatches of households (for VI), scaled by
    n / batch_size; each household keeps its own factor scores.
    """
    p, k_count = fd.p, fd.n_factors
    rows, cols = loading_pattern(p, fd.anchors)
    coords = {
        "product": fd.products,
        "factor": fd.factors,
        "household": np.arange(fd.n),
        "free_loading": np.arange(rows.size),
    }
    data: dict[str, np.ndarray] = {"y": fd.y}
    if fd.mask is not None:
        data["mask"] = fd.mask
    start = spectral_start(fd, link)
    with pm.Model(coords=coords) as model:
        intercept = pm.Normal(
            "intercept", 0.0, INTERCEPT_SD[link], dims="product", initval=start["intercept"]
        )
        diag = pm.HalfNormal(
            "loading_diag", LOADING_SD[link], dims="factor", initval=start["loading_diag"]
        )
        free = pm.Normal(
            "loading_free",
            0.0,
            LOADING_SD[link],
            dims="free_loading",
            initval=start["loading_free"],
        )
        loadings = pt.zeros((p, k_count))
        loadings = pt.set_subtensor(loadings[rows, cols], free)
        loadings = pt.set_subtensor(loadings[np.asarray(fd.anchors), np.arange(k_count)], diag)
        loadings = pm.Deterministic("loadings", loadings, dims=("product", "factor"))
        scores = pm.Normal(
            "scores", 0.0, 1.0, dims=("household", "factor"), initval=start["scores"]
        )
        if batch_size is None or batch_size >= fd.n:
            y = pm.Data("y", fd.y)
            mask = pm.Data("mask", fd.mask) if fd.mask is not None else None
            eta = intercept + pt.dot(scores, loadings.T)
            scale = 1.0
        else:
            index = np.arange(fd.n)
            if fd.mask is not None:
                y, mask, idx = pm.Minibatch(fd.y, fd.mask, index, batch_size=batch_size)
            else:
                y, idx = pm.Minibatch(fd.y, index, batch_size=batch_size)
                mask = None
            eta = intercept + pt.dot(scores[idx], loadings.T)
            scale = fd.n / batch_size
        logp = bernoulli_logp(y, eta, link)
        if mask is not None:
            logp = logp * mask
        pm.Potential("likelihood", scale * logp.sum())
    return model, data


# ---------------------------------------------------------------------------------------------
# After fitting: align, summarise, compare, check


@dataclass
class ScorePosterior:
    """Per-household factor scores: summaries (n × K; R-hat from MCMC draws only) and a few
    draws for the predictive check."""

    summary: bs.Summary
    draw: Callable[[int, np.random.Generator], np.ndarray]  # (S, n, K) draws


_FIT_FIELDS = ("diagnostics", "vi", "flipped_chains", "trace_plots", "intervals_from", "rotation")


@dataclass
class FactorFit:
    intercept: np.ndarray  # chain × draw × p
    loadings: np.ndarray  # chain × draw × p × K
    scores: ScorePosterior
    diagnostics: SamplingDiagnostics | None = None
    outcome: SamplingOutcome | None = None
    vi: VIDiagnostics | None = None
    flipped_chains: list[list[int]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    trace_plots: TracePlots | None = None
    # The draws as sampled (identified frame), for the sampler's diagnostics, when `loadings`
    # are rotated (varimax_alignment); None when they are the same.
    sampled_loadings: np.ndarray | None = None
    # Which method produced the intervals, in words (BayesianResult.intervals_from).
    intervals_from: str = bs.NUTS_INTERVALS

    @property
    def rotation(self) -> str:
        """BayesianFactorResult.rotation: the loadings were rotated exactly when the sampled
        ones are kept beside them."""
        return "varimax" if self.sampled_loadings is not None else "none"

    def result_fields(self) -> dict[str, Any]:
        """The result's fields that come from the fit as they are (same names here)."""
        return {name: getattr(self, name) for name in _FIT_FIELDS}


def align_chains(
    loadings: np.ndarray, scores: np.ndarray | HouseholdDraws | None
) -> list[list[int]]:
    """Flip, per chain and factor, loadings (and scores) whose column points away from chain 0's.
    Changes them in place; returns the flipped [chain, factor] pairs (0-based chain, 1-based
    factor)."""
    flipped: list[list[int]] = []
    reference = loadings[0].mean(axis=0)
    for c in range(1, loadings.shape[0]):
        mean_c = loadings[c].mean(axis=0)
        for k in range(loadings.shape[-1]):
            if float(mean_c[:, k] @ reference[:, k]) < 0:
                loadings[c, :, :, k] *= -1
                if isinstance(scores, HouseholdDraws):
                    scores.flip(c, k)
                elif scores is not None:
                    scores[c, :, :, k] *= -1
                flipped.append([c, k + 1])
    return flipped


@dataclass
class Alignment:
    """Per-draw orthogonal rotations (chain, draw, K, K) taking each draw's loadings to the
    reference (the varimax rotation of their posterior mean), and that reference."""

    rotations: np.ndarray
    reference: np.ndarray  # p × K, standardised
    iterations: int


def procrustes(draws: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The orthogonal R minimising ||draw·R − reference|| for each draw (..., p, K): U·Vᵀ of
    the SVD of drawᵀ·reference (Schönemann 1966), signs and rotation together."""
    cross = np.einsum("...pk,pl->...kl", draws, reference)
    u, _, vt = np.linalg.svd(cross)
    return np.asarray(u @ vt)


def varimax_alignment(loadings: np.ndarray, link: str, rounds: int = 50) -> Alignment:
    """Rotate every draw of the loadings (chain, draw, p, K) to one reference: the varimax
    rotation of the posterior mean (signs positive by column sum, factors ordered by their sum
    of squares, as the tetrachoric factor analysis reports them), refined by generalised
    Procrustes (the reference recomputed from the aligned draws until it stops moving).

    The likelihood only sees loadings × scores, so rotating a draw's loadings and its scores by
    the same orthogonal matrix changes nothing the data say; what it removes is the arbitrary
    orientation of each draw, so posterior means and intervals describe one solution that
    compares with the tetrachoric factor analysis of the same data."""
    from workers.models.factor.rotation import rotate

    std = standardised(loadings, link)
    # Start from one draw (a mean over draws in different orientations would be meaningless),
    # then align every draw to the reference and re-rotate their mean until it stops moving.
    reference = rotate(std[0, -1], "varimax").loadings
    done = 0
    while done < rounds:
        done += 1
        rotations = procrustes(std, reference)
        aligned = np.einsum("cdpk,cdkl->cdpl", std, rotations).mean(axis=(0, 1))
        updated = rotate(aligned, "varimax").loadings
        moved = float(np.abs(updated - reference).max())
        reference = updated
        if moved < 1e-6:
            break
    return Alignment(np.ascontiguousarray(procrustes(std, reference)), reference, done)


def apply_alignment(
    alignment: Alignment, loadings: np.ndarray, scores: np.ndarray | HouseholdDraws | None
) -> np.ndarray:
    """The rotated loadings (chain, draw, p, K); the scores rotated in place by the same
    per-draw rotations (past the memory budget, the kept draws: their moments then come from
    the kept draws)."""
    rotated = np.einsum("cdpk,cdkl->cdpl", loadings, alignment.rotations)
    if isinstance(scores, HouseholdDraws):
        scores.rotate(alignment.rotations)
    elif scores is not None:
        scores[...] = np.einsum("cdnk,cdkl->cdnl", scores, alignment.rotations)
    return rotated


def standardised(loadings: np.ndarray, link: str) -> np.ndarray:
    """Loadings on the correlation scale of the latent propensities (as tetrachoric FA)."""
    total = (loadings**2).sum(axis=-1, keepdims=True) + LATENT_VARIANCE[link]
    return loadings / np.sqrt(total)


def inverse_link(eta: np.ndarray, link: str) -> np.ndarray:
    from scipy.special import expit, ndtr

    return ndtr(eta) if link == "probit" else expit(eta)


def marginal_loglik(
    fd: FactorData,
    households: np.ndarray,
    intercept: np.ndarray,
    loadings: np.ndarray,
    link: str,
    check: Callable[[float], None] | None = None,
) -> np.ndarray:
    """log p(y_i | a, Λ) with each household's factors integrated out: (draws, households).

    Per draw: the linear predictor at M integration nodes (M × p), then one matrix product
    with the household data gives every household's log-likelihood at every node (n × M)."""
    nodes, logw = bs.latent_nodes(fd.n_factors)
    y1 = fd.y[households]
    y0 = (1.0 - fd.y[households]) if fd.mask is None else (fd.mask[households] - y1)
    out = np.empty((intercept.shape[0], households.size))
    for s in range(intercept.shape[0]):
        eta = intercept[s] + nodes @ loadings[s].T
        l1, l0 = bs.log_cdf(eta, link)
        out[s] = bs.logmeanexp_rows(y1 @ l1.T + y0 @ l0.T + logw)
        if check is not None and s % 10 == 0:
            check(s / intercept.shape[0])
    return out


def compare(
    fd: FactorData, fit: FactorFit, link: str, seed: int, progress: Progress, span: Span
) -> ModelComparison:
    chains, draws = fit.intercept.shape[:2]
    keep = bs.thin_index(chains, draws, bs.LOO_MAX_DRAWS)
    rng = np.random.default_rng(seed)
    households = bs.household_subset(fd.n, rng)
    a = fit.intercept[:, keep].reshape(-1, fd.p)
    lam = fit.loadings[:, keep].reshape(-1, fd.p, fd.n_factors)

    def check(fraction: float) -> None:
        bs.COMPARING.report(progress, span.at(fraction))

    with threadpool_limits(limits=1, user_api="blas"):
        ll = marginal_loglik(fd, households, a, lam, link, check)
    nodes, _ = bs.latent_nodes(fd.n_factors)
    return bs.comparison_from_loglik(
        ll.reshape(chains, keep.size, households.size),
        fd.n,
        f"{'Gauss-Hermite grid' if fd.n_factors <= 2 else 'scrambled Sobol points'} of "
        f"{nodes.shape[0]} nodes over the factors",
    )


def replicate_rates(
    fd: FactorData, fit: FactorFit, link: str, rng: np.random.Generator
) -> np.ndarray:
    """Replicated purchase rates per product (draws × products), each draw simulating every
    household from its own scores."""
    chains, draws = fit.intercept.shape[:2]
    keep = bs.thin_index(chains, draws, bs.PPC_DRAWS)
    a = fit.intercept[:, keep].reshape(-1, fd.p)
    lam = fit.loadings[:, keep].reshape(-1, fd.p, fd.n_factors)
    pick = rng.integers(0, a.shape[0], size=min(a.shape[0], bs.PPC_DRAWS))
    observed = fd.mask if fd.mask is not None else None
    counts = observed.sum(axis=0) if observed is not None else np.full(fd.p, fd.n)
    out = np.empty((pick.size, fd.p))
    for i, s in enumerate(pick):
        z = fit.scores.draw(1, rng)[0]
        prob = inverse_link(a[s] + z @ lam[s].T, link)
        y_rep = rng.random(prob.shape) < prob
        if observed is not None:
            y_rep = y_rep & (observed > 0)
        out[i] = y_rep.sum(axis=0) / counts
    return out


@dataclass
class Run:
    """What a fit tells `assemble` besides its draws: the params, the seed, the method (nuts,
    advi, fullrank_advi) and the model type, the progress reporter and the span left to it."""

    params: FactorParams
    seed: int
    method: str
    model_type: str
    progress: Progress
    span: Span


def assemble(data: BinaryMatrix, fd: FactorData, fit: FactorFit, run: Run) -> BayesianFactorResult:
    """Summaries, comparison, predictive check and per-household scores → the result."""
    link, seed, progress, span = run.params.link, run.seed, run.progress, run.span
    method, params = run.method, run.params.model_dump(mode="json")
    products, factors, p, k_count = fd.products, fd.factors, fd.p, fd.n_factors
    nuts = method == "nuts"
    a_sum = bs.summarise(fit.intercept, diagnostics=nuts)
    rotated = fit.sampled_loadings is not None
    lam_sum = bs.summarise(fit.loadings, diagnostics=nuts)
    # The sampler's diagnostics are those of the parameters it sampled (identified frame).
    sampled = fit.sampled_loadings if fit.sampled_loadings is not None else fit.loadings
    sampled_sum = bs.summarise(sampled, diagnostics=nuts) if rotated else lam_sum
    std_draws = standardised(fit.loadings, link)
    std_sum = bs.summarise(std_draws, diagnostics=False)
    base_sum = bs.summarise(inverse_link(fit.intercept, link), diagnostics=False)
    communality = (std_draws**2).sum(axis=-1).mean(axis=(0, 1))

    intercepts = [a_sum.row(j, f"intercept[{products[j]}]") for j in range(p)]
    baseline = [base_sum.row(j, f"baseline_probability[{products[j]}]") for j in range(p)]
    rows_, cols_ = loading_pattern(p, fd.anchors)
    sampled_free = {(int(r), int(c)) for r, c in zip(rows_, cols_, strict=True)}
    sampled_free |= {(j, k) for k, j in enumerate(fd.anchors)}
    # Rotated draws have no entry fixed at zero.
    estimated = {(j, k) for j in range(p) for k in range(k_count)} if rotated else sampled_free
    loading_rows = [
        lam_sum.row((j, k), f"loadings[{products[j]}, {factors[k]}]", credible=True)
        for j in range(p)
        for k in range(k_count)
        if (j, k) in estimated
    ]
    parameters: list[ParameterSummary] = [*intercepts, *loading_rows]

    if nuts:
        assert fit.outcome is not None
        free_mask = np.zeros((p, k_count), dtype=bool)
        for j, k in sampled_free:
            free_mask[j, k] = True
        sampled_name = "sampled_loadings" if rotated else "loadings"
        names_l = [
            f"{sampled_name}[{products[j]}, {factors[k]}]" for j in range(p) for k in range(k_count)
        ]
        summaries = {
            "intercept": (a_sum, [r.name for r in intercepts]),
            "loadings": (sampled_sum.masked(free_mask), names_l),
        }
        if fit.scores.summary.r_hat is not None:
            names_z = [
                f"scores[{i + 1}, {factors[k]}]" for i in range(fd.n) for k in range(k_count)
            ]
            # R-hat only: the ESS of every household's scores would cost more than the fit.
            scores_diag = replace(fit.scores.summary, ess_bulk=None, ess_tail=None)
            summaries["scores"] = (scores_diag, names_z)
        fit.diagnostics = bs.nuts_diagnostics(fit.outcome, summaries)
        fit.trace_plots = convergence.trace_plots(
            fit.outcome, {"intercept": fit.intercept, "loadings": sampled}, summaries
        )
    assert fit.diagnostics is not None

    bs.COMPARING.report(progress, span.at(0.1))
    comparison = compare(fd, fit, link, seed, progress, Span(span.at(0.1), span.at(0.7)))
    a_mean = fit.intercept.mean(axis=(0, 1))
    lam_mean = fit.loadings.mean(axis=(0, 1))
    loglik = float(
        marginal_loglik(fd, np.arange(fd.n), a_mean[None], lam_mean[None], link)[0].sum()
    )
    npar = p + int(rows_.size) + k_count

    bs.CHECKING.report(progress, span.at(0.75))
    rng = np.random.default_rng(seed + 1)
    ppc: list[PredictiveCheckRow] = bs.predictive_check(
        products, fd.observed_rates, replicate_rates(fd, fit, link, rng)
    )

    warnings_ = list(fit.warnings)
    if nuts or comparison.n_pareto_k_high:
        warnings_ += bs.diagnostic_warnings(fit.diagnostics, comparison)
    warnings_ += bs.predictive_warnings(ppc)
    if fit.flipped_chains:
        pairs = ", ".join(f"chain {c} factor {k}" for c, k in fit.flipped_chains)
        warnings_.append(
            f"Sign-aligned to chain 0: {pairs}. The factor's anchor product loads weakly; the "
            "factor may not be supported by the data (try fewer factors)."
        )
    if (p - k_count) ** 2 < p + k_count:
        warnings_.append(
            f"{k_count} factors for {p} products exceed the Ledermann bound; the loadings are "
            "weakly identified. Use fewer factors."
        )
    weak = [
        factors[k]
        for k in range(k_count)
        if not any(bool(r.credible) for r in loading_rows if r.name.endswith(f", {factors[k]}]"))
    ]
    if weak:
        warnings_.append(
            f"No loading on {', '.join(weak)} has a 94% interval excluding zero; the data may "
            "support fewer factors."
        )

    result = BayesianFactorResult(
        provenance=build_provenance(
            run.model_type, params, data, LIBRARIES, warnings_, random_state=seed
        ),
        n_factors=k_count,
        link=link,
        method=method,
        products=products,
        factors=factors,
        anchors=[products[j] for j in fd.anchors],
        loadings=std_sum.mean.tolist(),
        loadings_sd=std_sum.sd.tolist(),
        loadings_hdi_low=std_sum.hdi_low.tolist(),
        loadings_hdi_high=std_sum.hdi_high.tolist(),
        loadings_credible=((std_sum.hdi_low > 0) | (std_sum.hdi_high < 0)).tolist(),
        raw_loadings=lam_sum.mean.tolist(),
        communalities=communality.tolist(),
        intercepts=intercepts,
        baseline_probabilities=baseline,
        parameters=parameters,
        **bs.fit_checks(loglik, npar, fd, comparison, ppc),
        **fit.result_fields(),
    )
    result.attach_rows(score_rows(data, fd, fit.scores))
    # Thinned posterior draws of the parameters (the reported, rotated frame): what scoring new
    # households integrates over (workers/models/bayes/score.py).
    keep = bs.thin_index(fit.intercept.shape[0], fit.intercept.shape[1], SCORING_DRAWS)
    result.scoring = {
        "link": link,
        "intercept": fit.intercept[:, keep].reshape(-1, p).tolist(),
        "loadings": fit.loadings[:, keep].reshape(-1, p, k_count).tolist(),
    }
    return result


def score_rows(data: BinaryMatrix, fd: FactorData, scores: ScorePosterior) -> pd.DataFrame:
    index = data.row_index()
    frame = pd.DataFrame({index.name or "row": index.to_numpy()})
    bs.add_household_columns(frame, "factor", scores.summary, fd.n_factors)
    return frame


def gaussian_scores(mean: np.ndarray, sd: np.ndarray) -> ScorePosterior:
    """Factor scores from a Gaussian approximation (VI)."""

    def draw(size: int, rng: np.random.Generator) -> np.ndarray:
        return mean + sd * rng.standard_normal((size, *mean.shape))

    return ScorePosterior(bs.Summary(mean, sd, mean - HDI_Z * sd, mean + HDI_Z * sd), draw)


def sampled_scores(scores: HouseholdDraws) -> ScorePosterior:
    """Factor scores from MCMC draws (chain × draw × n × K), with R-hat (not ESS: many)."""
    return ScorePosterior(scores.summary(), scores.draw)
