"""Discrete choice model of purchases: each household × product cell is a binary choice.

    y_ij ~ Bernoulli(F(η_ij)),  F = logistic or standard normal CDF
    η_ij = α_j + Σ_d x_id β_dj + u_i + θ_i · φ_j
    α_j  = μ + w_j · γ + σ_α ε_j             product intercepts; product features w shared effects γ
    β_dj = b_d + τ_d e_dj                     household-feature effects per product, pooled to b_d
    u_i  = σ_u r_i                            optional household random intercept
    θ_i ~ N(0, I_D), φ lower-triangular       optional latent household × product interaction

Non-centred throughout (NUTS-friendly). Priors on the logit scale (probit: ÷ 1.7):
μ ~ N(0, 2.5), γ ~ N(0, 1), σ_α ~ HN(1.5), b ~ N(0, 1), τ ~ HN(0.5), σ_u ~ HN(1), φ ~ N(0, 1.8).
Household features are the run's covariate columns, encoded by bayes/features.py (the result says
how); product features come from the `product_features` parameter.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
from threadpoolctl import threadpool_limits

from backend.errors import DataError
from backend.schemas.bayesian import ParameterSummary
from backend.schemas.dcm import DCMParams, DCMResult, EffectRow
from workers.models.base import BinaryMatrix, FitFunction, Progress
from workers.models.bayes import convergence, features, household_draws
from workers.models.bayes import factor_model as fm
from workers.models.bayes import summary as bs
from workers.models.bayes.household_draws import HouseholdDraws
from workers.models.bayes.sampling import LIBRARIES, NUTSSettings, SamplingOutcome, sample_nuts
from workers.models.progress import Span
from workers.models.provenance import build_provenance, resolve_seed

MODEL_TYPE = "dcm"
SAMPLING = Span(0.02, 0.92)
SUMMARY = Span(0.92, 0.99)
SCALE = {"logit": 1.0, "probit": 1 / 1.7}
LOO_HOUSEHOLDS = 2000
# Per-household variables: whole up to NUTS_DRAWS_MEMORY_MB, thinned past it (the household
# offsets behind the random intercepts are not kept: household_intercept = σ_u × offset).
HOUSEHOLD_VARIABLES = ("household_intercept", "latent_scores")
LOO_BUDGET = 3e8  # household × node × product × draw evaluations for PSIS-LOO
CHUNK = 4_000_000  # elements of one household × node × product block


def fit(data: BinaryMatrix, params: DCMParams, progress: Progress) -> DCMResult:
    seed = resolve_seed(params.random_state)
    fd = fm.prepare(data, max(params.n_latent, 1))
    fd.n_factors = params.n_latent
    fd.anchors = fd.anchors[: params.n_latent]
    hh = features.encode(data.covariates, params.max_categories, "Household feature")
    pf = features.encode(
        features.product_table(params.product_features, fd.products),
        params.max_categories,
        "Product feature",
    )
    if pf.matrix.shape[1] >= fd.p - 1 and pf.matrix.shape[1] > 0:
        raise DataError(
            f"{pf.matrix.shape[1]} encoded product features for {fd.p} products leave nothing "
            "to estimate their effects from; use fewer product features."
        )
    progress(0.0, "Building the model.", phase="loading", details={"stage": "building"})
    model, containers = build_model(fd, hh.matrix, hh.names, pf.matrix, pf.names, params)
    var_names = _stored(params, hh.names, pf.names)
    outcome = sample_nuts(
        model,
        NUTSSettings.from_params(params, seed),
        progress,
        span=SAMPLING,
        cache_key=(
            MODEL_TYPE,
            fd.n,
            fd.p,
            len(hh.names),
            len(pf.names),
            params.link,
            params.random_intercepts,
            params.n_latent,
            fd.mask is not None,
            tuple(fd.anchors),
        ),
        data=containers,
        var_names=var_names,
        household=[n for n in HOUSEHOLD_VARIABLES if n in var_names],
    )
    bs.SUMMARISING.report(progress, SUMMARY.start)
    result = _assemble(data, fd, hh, pf, params, outcome, seed, progress)
    bs.WRITING.report(progress, SUMMARY.end)
    household_draws.attach(outcome.idata, outcome.household)
    bs.attach_posterior(result, outcome.idata, params)
    return result


def _stored(params: DCMParams, hh: list[str], pf: list[str]) -> list[str]:
    names = ["mu", "sigma_alpha", "intercept"]
    if pf:
        names.append("gamma")
    if hh:
        names += ["beta_mean", "beta_sd", "beta"]
    if params.random_intercepts:
        names += ["sigma_household", "household_intercept"]
    if params.n_latent:
        names += ["latent_loadings", "latent_scores"]
    return names


def build_model(
    fd: fm.FactorData,
    x: np.ndarray,
    x_names: list[str],
    w: np.ndarray,
    w_names: list[str],
    params: DCMParams,
) -> tuple[pm.Model, dict[str, np.ndarray]]:
    s = SCALE[params.link]
    coords: dict[str, object] = {"product": fd.products, "household": np.arange(fd.n)}
    if x_names:
        coords["hfeature"] = x_names
    if w_names:
        coords["pfeature"] = w_names
    if params.n_latent:
        coords["latent"] = [f"Latent {k + 1}" for k in range(params.n_latent)]
    containers: dict[str, np.ndarray] = {"y": fd.y}
    with pm.Model(coords=coords) as model:
        y = pm.Data("y", fd.y)
        mu = pm.Normal("mu", 0.0, 2.5 * s)
        sigma_alpha = pm.HalfNormal("sigma_alpha", 1.5 * s)
        offset = pm.Normal("alpha_offset", 0.0, 1.0, dims="product")
        alpha = mu + sigma_alpha * offset
        if w_names:
            w_data = pm.Data("w", w)
            containers["w"] = w
            gamma = pm.Normal("gamma", 0.0, 1.0 * s, dims="pfeature")
            alpha = alpha + pt.dot(w_data, gamma)
        alpha = pm.Deterministic("intercept", alpha, dims="product")
        eta = pt.zeros((fd.n, fd.p)) + alpha
        if x_names:
            x_data = pm.Data("x", x)
            containers["x"] = x
            b = pm.Normal("beta_mean", 0.0, 1.0 * s, dims="hfeature")
            tau = pm.HalfNormal("beta_sd", 0.5 * s, dims="hfeature")
            e = pm.Normal("beta_offset", 0.0, 1.0, dims=("hfeature", "product"))
            beta = pm.Deterministic(
                "beta", b[:, None] + tau[:, None] * e, dims=("hfeature", "product")
            )
            eta = eta + pt.dot(x_data, beta)
        if params.random_intercepts:
            sigma_u = pm.HalfNormal("sigma_household", 1.0 * s)
            r = pm.Normal("household_offset", 0.0, 1.0, dims="household")
            u = pm.Deterministic("household_intercept", sigma_u * r, dims="household")
            eta = eta + u[:, None]
        if params.n_latent:
            k_count = params.n_latent
            rows, cols = fm.loading_pattern(fd.p, fd.anchors)
            coords_free = np.arange(rows.size)
            model.add_coord("latent_free_entry", coords_free)
            diag = pm.HalfNormal("latent_diag", fm.LOADING_SD["logit"] * s, dims="latent")
            free = pm.Normal(
                "latent_free", 0.0, fm.LOADING_SD["logit"] * s, dims="latent_free_entry"
            )
            phi = pt.zeros((fd.p, k_count))
            phi = pt.set_subtensor(phi[rows, cols], free)
            phi = pt.set_subtensor(phi[np.asarray(fd.anchors), np.arange(k_count)], diag)
            phi = pm.Deterministic("latent_loadings", phi, dims=("product", "latent"))
            theta = pm.Normal("latent_scores", 0.0, 1.0, dims=("household", "latent"))
            eta = eta + pt.dot(theta, phi.T)
        logp = fm.bernoulli_logp(y, eta, params.link)
        if fd.mask is not None:
            mask = pm.Data("mask", fd.mask)
            containers["mask"] = fd.mask
            logp = logp * mask
        pm.Potential("likelihood", logp.sum())
    return model, containers


# ---------------------------------------------------------------------------------------------
# After sampling


def _assemble(
    data: BinaryMatrix,
    fd: fm.FactorData,
    hh: features.EncodedFeatures,
    pf: features.EncodedFeatures,
    params: DCMParams,
    outcome: SamplingOutcome,
    seed: int,
    progress: Progress,
) -> DCMResult:
    idata = outcome.idata
    products, link = fd.products, params.link
    posterior = idata["posterior"]
    draws = {str(name): bs.draws_of(idata, str(name)) for name in posterior.data_vars}
    household = outcome.household
    flipped: list[list[int]] = []
    if params.n_latent:
        flipped = fm.align_chains(draws["latent_loadings"], household["latent_scores"])
        if flipped:
            posterior["latent_loadings"].values[...] = draws["latent_loadings"]

    a_sum = bs.summarise(draws["intercept"])
    intercepts = [a_sum.row(j, f"intercept[{products[j]}]") for j in range(fd.p)]
    base_sum = bs.summarise(fm.inverse_link(draws["intercept"], link), diagnostics=False)
    baseline = [base_sum.row(j, f"baseline_probability[{products[j]}]") for j in range(fd.p)]
    summaries: dict[str, tuple[bs.Summary, list[str]]] = {
        "intercept": (a_sum, [r.name for r in intercepts])
    }
    hyper: list[ParameterSummary] = []
    for name in ("mu", "sigma_alpha", "sigma_household"):
        if name in draws:
            summary = bs.summarise(draws[name])
            hyper.append(summary.row((), name))
            summaries[name] = (summary, [name])

    effects = _household_effects(draws, hh.names, products, summaries)
    hyper += effects.spreads
    gamma_rows: list[ParameterSummary] = []
    if pf.names:
        g_sum = bs.summarise(draws["gamma"])
        gamma_rows = [g_sum.row(q, f"gamma[{f}]", credible=True) for q, f in enumerate(pf.names)]
        summaries["gamma"] = (g_sum, [r.name for r in gamma_rows])
    latent_means = None
    if params.n_latent:
        phi_sum = bs.summarise(draws["latent_loadings"])
        latent_means = phi_sum.mean.tolist()
        free = np.zeros((fd.p, params.n_latent), dtype=bool)
        rows_, cols_ = fm.loading_pattern(fd.p, fd.anchors)
        free[rows_, cols_] = True
        free[np.asarray(fd.anchors), np.arange(params.n_latent)] = True
        summaries["latent_loadings"] = (
            phi_sum.masked(free),
            [f"latent_loadings[{p}, {k + 1}]" for p in products for k in range(params.n_latent)],
        )

    diagnostics = bs.nuts_diagnostics(outcome, summaries)
    trace_plots = convergence.trace_plots(outcome, draws, summaries)
    bs.COMPARING.report(progress, SUMMARY.at(0.2))
    posterior_draws = _Posterior(fd, hh.matrix, draws, params, household)
    comparison, loglik = _compare(posterior_draws, seed)
    bs.CHECKING.report(progress, SUMMARY.at(0.8))
    ppc = bs.predictive_check(products, fd.observed_rates, _replicate(posterior_draws, seed))

    d, q, p = len(hh.names), len(pf.names), fd.p
    npar = p + 2 + q + d * p + 2 * d
    if params.random_intercepts:
        npar += 1
    if params.n_latent:
        npar += int(fm.loading_pattern(p, fd.anchors)[0].size) + params.n_latent

    warnings_ = [*hh.warnings, *pf.warnings]
    warnings_ += bs.diagnostic_warnings(diagnostics, comparison)
    warnings_ += bs.predictive_warnings(ppc)
    if flipped:
        warnings_.append(
            "Sign-aligned latent dimensions to chain 0: "
            + ", ".join(f"chain {c} dimension {k}" for c, k in flipped)
            + ". Consider fewer latent dimensions."
        )

    parameters = [*hyper, *intercepts, *effects.average, *gamma_rows]
    result = DCMResult(
        provenance=build_provenance(
            MODEL_TYPE, params, data, LIBRARIES, warnings_, random_state=seed
        ),
        link=link,
        products=products,
        **hh.described("household"),
        **pf.described("product"),
        intercepts=intercepts,
        baseline_probabilities=baseline,
        **effects.result_fields(),
        product_feature_effects=gamma_rows,
        hyperparameters=hyper,
        latent_loadings=latent_means,
        parameters=parameters,
        **bs.fit_checks(loglik, npar, fd, comparison, ppc),
        diagnostics=diagnostics,
        trace_plots=trace_plots,
        intervals_from=bs.NUTS_INTERVALS,
    )
    result.attach_rows(_household_rows(data, household, params))
    return result


@dataclass
class _Effects:
    """The household features' effects: per feature and product (`rows`, `means` as features ×
    products), their pooling means (`average`) and spreads (`spreads`, with the
    hyperparameters)."""

    rows: list[EffectRow] = field(default_factory=list)
    means: list[list[float]] = field(default_factory=list)
    average: list[ParameterSummary] = field(default_factory=list)
    spreads: list[ParameterSummary] = field(default_factory=list)

    def result_fields(self) -> dict[str, Any]:
        return {
            "household_effects": self.rows,
            "household_effect_means": self.means,
            "household_effect_average": self.average,
        }


def _household_effects(
    draws: dict[str, np.ndarray],
    names: list[str],
    products: list[str],
    summaries: dict[str, tuple[bs.Summary, list[str]]],
) -> _Effects:
    """Summaries of beta, beta_mean and beta_sd (added to `summaries` for the diagnostics);
    nothing without household features."""
    if not names:
        return _Effects()
    beta_sum = bs.summarise(draws["beta"])
    names_b = [f"beta[{f}, {p}]" for f in names for p in products]
    summaries["beta"] = (beta_sum, names_b)
    rows = [
        _effect_row(feature, product, beta_sum.row((d, j), names_b[d * len(products) + j], True))
        for d, feature in enumerate(names)
        for j, product in enumerate(products)
    ]
    b_sum = bs.summarise(draws["beta_mean"])
    tau_sum = bs.summarise(draws["beta_sd"])
    average = [b_sum.row(d, f"beta_mean[{f}]", credible=True) for d, f in enumerate(names)]
    spreads = [tau_sum.row(d, f"beta_sd[{f}]") for d, f in enumerate(names)]
    summaries["beta_mean"] = (b_sum, [r.name for r in average])
    summaries["beta_sd"] = (tau_sum, [r.name for r in spreads])
    return _Effects(rows, beta_sum.mean.tolist(), average, spreads)


# An effect row is the parameter row of beta[feature, product] under the feature's and the
# product's names: every field but those two and `credible` (there a bool) is the row's own.
_EFFECT_FIELDS = set(EffectRow.model_fields) - {"feature", "product", "credible"}


def _effect_row(feature: str, product: str, row: ParameterSummary) -> EffectRow:
    return EffectRow(
        feature=feature,
        product=product,
        credible=bool(row.credible),
        **row.model_dump(include=_EFFECT_FIELDS),
    )


@dataclass
class _Posterior:
    """What the checks after sampling evaluate: the purchases, the encoded household features,
    the posterior draws (chain, draw, ...) of the global parameters and the household terms of
    the model `params` describe."""

    fd: fm.FactorData
    x: np.ndarray
    draws: dict[str, np.ndarray]
    params: DCMParams
    household: dict[str, HouseholdDraws]


def _latent_dim(params: DCMParams) -> int:
    return int(params.random_intercepts) + params.n_latent


def _eta_fixed(x: np.ndarray, draws: dict[str, np.ndarray], s: int, rows: np.ndarray) -> np.ndarray:
    """α + x β for draw s (flattened over chains) and the given households."""
    alpha = draws["intercept"].reshape(-1, draws["intercept"].shape[-1])[s]
    eta = np.broadcast_to(alpha, (rows.size, alpha.size)).copy()
    if "beta" in draws:
        beta = draws["beta"].reshape(-1, *draws["beta"].shape[2:])[s]
        eta += x[rows] @ beta
    return eta


def _random_shift(
    draws: dict[str, np.ndarray], s: int, nodes: np.ndarray, params: DCMParams, p: int
) -> np.ndarray:
    """Node values of u + θ·φ for draw s: (M, p)."""
    shift = np.zeros((nodes.shape[0], p))
    col = 0
    if params.random_intercepts:
        sigma_u = draws["sigma_household"].reshape(-1)[s]
        shift += sigma_u * nodes[:, [0]]
        col = 1
    if params.n_latent:
        phi = draws["latent_loadings"].reshape(-1, p, params.n_latent)[s]
        shift += nodes[:, col:] @ phi.T
    return shift


def _marginal_loglik(
    post: _Posterior,
    index: np.ndarray,
    households: np.ndarray,
    nodes: np.ndarray,
    logw: np.ndarray,
) -> np.ndarray:
    """log p(y_i | draw s) with the household random terms integrated over the nodes, for the
    draws `index` (flattened over chains) and the given households: (draws, households)."""
    fd, x, draws, params = post.fd, post.x, post.draws, post.params
    y1 = fd.y[households]
    y0 = (1.0 - y1) if fd.mask is None else (fd.mask[households] - y1)
    out = np.empty((index.size, households.size))
    m = nodes.shape[0]
    step = max(1, int(CHUNK // max(1, m * fd.p)))
    for i, s in enumerate(index):
        fixed = _eta_fixed(x, draws, int(s), households)
        shift = _random_shift(draws, int(s), nodes, params, fd.p)
        for start in range(0, households.size, step):
            block = slice(start, start + step)
            eta = fixed[block, None, :] + shift[None]
            l1, l0 = bs.log_cdf(eta, params.link)
            ll = (y1[block, None, :] * l1 + y0[block, None, :] * l0).sum(axis=2)
            out[i, block] = bs.logmeanexp_rows(ll + logw)
    return out


def _compare(post: _Posterior, seed: int) -> tuple[bs.ModelComparison, float]:
    """PSIS-LOO and WAIC over (a sample of) the households, and the log-likelihood at the
    posterior mean."""
    fd, draws, params = post.fd, post.draws, post.params
    chains, n_draws = draws["intercept"].shape[:2]
    nodes, logw = bs.latent_nodes(_latent_dim(params), seed, grid=(30, 12), sobol=256)
    rng = np.random.default_rng(seed)
    households = (
        np.arange(fd.n)
        if fd.n <= LOO_HOUSEHOLDS
        else np.sort(rng.choice(fd.n, LOO_HOUSEHOLDS, replace=False))
    )
    per_draw = households.size * nodes.shape[0] * fd.p
    limit = int(np.clip(LOO_BUDGET / per_draw, 50 * chains, bs.LOO_MAX_DRAWS))
    keep = bs.thin_index(chains, n_draws, limit)
    flat_index = (np.arange(chains)[:, None] * n_draws + keep[None, :]).ravel()
    with threadpool_limits(limits=1, user_api="blas"):
        ll = _marginal_loglik(post, flat_index, households, nodes, logw)
        means = {k: v.mean(axis=(0, 1), keepdims=True) for k, v in draws.items()}
        at_mean = _marginal_loglik(
            replace(post, draws=means), np.array([0]), np.arange(fd.n), nodes, logw
        )
    integration = (
        "none needed (no household random terms)"
        if _latent_dim(params) == 0
        else f"{nodes.shape[0]} nodes over the household random terms"
    )
    comparison = bs.comparison_from_loglik(
        ll.reshape(chains, keep.size, households.size), fd.n, integration
    )
    return comparison, float(at_mean.sum())


def _replicate(post: _Posterior, seed: int) -> np.ndarray:
    """Replicated purchase rates per product (draws × products) from posterior draws."""
    fd, x, draws, params = post.fd, post.x, post.draws, post.params
    rng = np.random.default_rng(seed + 1)
    chains, n_draws = draws["intercept"].shape[:2]
    # Draws whose household terms are kept (all of them, or every `thin`-th past the budget).
    thin = max((h.thin for h in post.household.values()), default=1)
    kept = -(-n_draws // thin)
    total = chains * kept
    pick = rng.integers(0, total, size=min(total, bs.PPC_DRAWS))
    everyone = np.arange(fd.n)
    counts = fd.mask.sum(axis=0) if fd.mask is not None else np.full(fd.p, fd.n)
    out = np.empty((pick.size, fd.p))
    for i, j in enumerate(pick):
        chain, d = divmod(int(j), kept)
        s = chain * n_draws + d * thin
        eta = _eta_fixed(x, draws, s, everyone)
        if params.random_intercepts:
            eta += post.household["household_intercept"].kept[chain, d][:, None]
        if params.n_latent:
            theta = post.household["latent_scores"].kept[chain, d]
            phi = draws["latent_loadings"].reshape(-1, fd.p, params.n_latent)[s]
            eta += theta @ phi.T
        y_rep = rng.random(eta.shape) < fm.inverse_link(eta, params.link)
        if fd.mask is not None:
            y_rep &= fd.mask > 0
        out[i] = y_rep.sum(axis=0) / counts
    return out


def _household_rows(
    data: BinaryMatrix, household: dict[str, HouseholdDraws], params: DCMParams
) -> pd.DataFrame:
    index = data.row_index()
    frame = pd.DataFrame({index.name or "row": index.to_numpy()})
    if params.random_intercepts:
        u = household["household_intercept"].summary(diagnostics=False)
        bs.add_household_columns(frame, "household_intercept", u)
    if params.n_latent:
        theta = household["latent_scores"].summary(diagnostics=False)
        bs.add_household_columns(frame, "latent", theta, params.n_latent)
    return frame


_checked: FitFunction[DCMParams, DCMResult] = fit
