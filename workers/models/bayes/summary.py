"""Posterior summaries, diagnostics, model comparison and the NetCDF artifact, shared by the
Bayesian families (factor model by NUTS or VI, discrete choice model)."""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr
from pydantic import BaseModel
from scipy import stats
from scipy.special import log_ndtr

from backend.schemas.bayesian import (
    HDI_PROB,
    NETCDF_CONTENT_TYPE,
    POSTERIOR_ARTIFACT,
    ModelComparison,
    ParameterSummary,
    PredictiveCheckRow,
    SamplingDiagnostics,
)
from backend.schemas.results import FitResult
from workers.models.base import Progress
from workers.models.bayes import convergence

if TYPE_CHECKING:  # sampling imports household_draws, which imports this module
    from workers.models.bayes.sampling import SamplingOutcome

R_HAT_LIMIT = 1.01
ESS_PER_CHAIN = 100
BFMI_LIMIT = 0.3
PARETO_K_LIMIT = 0.7
LOO_MAX_HOUSEHOLDS = 5000
LOO_MAX_DRAWS = 400
PPC_DRAWS = 200
# Per-household draws kept in the NetCDF's posterior (80 MB as float64); past it they go to a
# thinned float32 group (bayes/household_draws.py: attach).
HOUSEHOLD_VALUES_LIMIT = 10_000_000


# ---------------------------------------------------------------------------------------------
# Summaries of draws


@dataclass
class Summary:
    """Elementwise posterior summaries of one array of draws (chain, draw, *shape)."""

    mean: np.ndarray
    sd: np.ndarray
    hdi_low: np.ndarray
    hdi_high: np.ndarray
    # None where not measured (a variational fit, too few chains).
    r_hat: np.ndarray | None = None
    ess_bulk: np.ndarray | None = None
    ess_tail: np.ndarray | None = None

    def masked(self, free: np.ndarray) -> Summary:
        """The same summaries with R-hat and ESS left out (NaN) where `free` is False: entries
        fixed by the identification (a loading fixed at zero) have none worth reporting."""

        def keep(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else np.where(free, a, np.nan)

        return replace(
            self, r_hat=keep(self.r_hat), ess_bulk=keep(self.ess_bulk), ess_tail=keep(self.ess_tail)
        )

    def row(
        self, index: tuple[int, ...] | int, name: str, credible: bool = False
    ) -> ParameterSummary:
        def pick(a: np.ndarray | None) -> float | None:
            if a is None:
                return None
            value = float(np.asarray(a)[index])
            return value if np.isfinite(value) else None

        low, high = float(self.hdi_low[index]), float(self.hdi_high[index])
        return ParameterSummary(
            name=name,
            mean=float(self.mean[index]),
            sd=float(self.sd[index]),
            hdi_low=low,
            hdi_high=high,
            r_hat=pick(self.r_hat),
            ess_bulk=pick(self.ess_bulk),
            ess_tail=pick(self.ess_tail),
            credible=bool(low > 0 or high < 0) if credible else None,
        )


def summarise(draws: np.ndarray, diagnostics: bool = True) -> Summary:
    """Mean, sd, 94% HDI and (with ≥ 2 chains and `diagnostics`) R-hat and bulk/tail ESS."""
    draws = np.asarray(draws, dtype=np.float64)
    shape = draws.shape[2:]
    flat = draws.reshape(draws.shape[0], draws.shape[1], -1)
    ds = xr.Dataset({"x": (("chain", "draw", "i"), flat)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hdi = az.hdi(ds, hdi_prob=HDI_PROB)["x"].values  # (i, 2)
        r_hat = ess_bulk = ess_tail = None
        if diagnostics and draws.shape[0] >= 2 and draws.shape[1] >= 4:
            r_hat = az.rhat(ds)["x"].values.reshape(shape)
        if diagnostics and draws.shape[1] >= 4:
            ess_bulk = az.ess(ds, method="bulk")["x"].values.reshape(shape)
            ess_tail = az.ess(ds, method="tail")["x"].values.reshape(shape)
    return Summary(
        mean=flat.mean(axis=(0, 1)).reshape(shape),
        sd=flat.std(axis=(0, 1), ddof=1).reshape(shape),
        hdi_low=hdi[:, 0].reshape(shape),
        hdi_high=hdi[:, 1].reshape(shape),
        r_hat=r_hat,
        ess_bulk=ess_bulk,
        ess_tail=ess_tail,
    )


def summarise_rhat(draws: np.ndarray) -> np.ndarray:
    shape = draws.shape[2:]
    flat = np.asarray(draws, dtype=np.float64).reshape(draws.shape[0], draws.shape[1], -1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r_hat = az.rhat(xr.Dataset({"x": (("chain", "draw", "i"), flat)}))["x"].values
    return np.asarray(r_hat).reshape(shape)


def draws_of(idata: az.InferenceData, name: str) -> np.ndarray:
    return np.asarray(idata["posterior"][name].values, dtype=np.float64)


class Intervals(Protocol):
    """Posterior mean, sd and 94% HDI bounds, elementwise (a Summary, factor scores)."""

    mean: np.ndarray
    sd: np.ndarray
    hdi_low: np.ndarray
    hdi_high: np.ndarray


def add_household_columns(
    frame: pd.DataFrame, name: str, posterior: Intervals, count: int | None = None
) -> None:
    """Per-household posterior columns `<name>`, `<name>_sd`, `<name>_hdi_low`, `<name>_hdi_high`:
    once for a vector (count None), or for each of the `count` columns of a households × count
    posterior as `<name>_1`, `<name>_2`, ..."""
    named = [(name, None)] if count is None else [(f"{name}_{k + 1}", k) for k in range(count)]
    for column, k in named:
        for suffix, values in (
            ("", posterior.mean),
            ("_sd", posterior.sd),
            ("_hdi_low", posterior.hdi_low),
            ("_hdi_high", posterior.hdi_high),
        ):
            frame[column + suffix] = values if k is None else values[:, k]


class _DataSize(Protocol):
    """Households and missing cells of the fitted data (FactorData)."""

    @property
    def n(self) -> int: ...

    @property
    def n_missing(self) -> int: ...


def fit_checks(
    loglik: float,
    npar: int,
    data: _DataSize,
    comparison: ModelComparison | None,
    predictive_check: list[PredictiveCheckRow],
) -> dict[str, Any]:
    """BayesianFitChecks' fields but the diagnostics, and the family's `loglik`: AIC and BIC
    from the log-likelihood at the posterior means and the parameter count, the households
    and missing cells of `data` (a FactorData)."""
    aic, bic = -2 * loglik + 2 * npar, -2 * loglik + npar * np.log(data.n)
    checks = {"loglik": loglik, "npar": npar, "aic": aic, "bic": bic}
    return checks | {
        "comparison": comparison,
        "predictive_check": predictive_check,
        "n_obs": data.n,
        "n_missing_cells": data.n_missing,
    }


# ---------------------------------------------------------------------------------------------
# The steps after sampling, reported alike by every Bayesian family


@dataclass(frozen=True)
class Step:
    message: str
    stage: str  # details.stage of the progress event

    def report(self, progress: Progress, fraction: float, phase: str = "sampling") -> None:
        progress(fraction, self.message, phase=phase, details={"stage": self.stage})


SUMMARISING = Step("Summarising the posterior.", "diagnostics")
COMPARING = Step("Computing PSIS-LOO and WAIC.", "diagnostics")
CHECKING = Step("Posterior predictive check.", "predictive_check")
WRITING = Step("Writing the posterior (NetCDF).", "artifact")


# ---------------------------------------------------------------------------------------------
# Diagnostics


def extremes(summaries: Mapping[str, tuple[Summary, Sequence[str]]]) -> dict[str, Any]:
    """The largest R-hat (and the parameter with it) and the smallest bulk and tail ESS over
    the named parameters, in SamplingDiagnostics' fields; None where nothing was measured."""
    max_r_hat, worst, min_bulk, min_tail = None, None, None, None
    for summary, names in summaries.values():
        if summary.r_hat is not None:
            flat = np.asarray(summary.r_hat).ravel()
            if flat.size and np.isfinite(flat).any():
                i = int(np.nanargmax(flat))
                if max_r_hat is None or flat[i] > max_r_hat:
                    max_r_hat, worst = float(flat[i]), names[i]
        if summary.ess_bulk is not None:
            value = float(np.nanmin(summary.ess_bulk))
            min_bulk = value if min_bulk is None else min(min_bulk, value)
        if summary.ess_tail is not None:
            value = float(np.nanmin(summary.ess_tail))
            min_tail = value if min_tail is None else min(min_tail, value)
    r_hat = {"max_r_hat": max_r_hat, "max_r_hat_parameter": worst}
    return r_hat | {"min_ess_bulk": min_bulk, "min_ess_tail": min_tail}


def nuts_diagnostics(
    outcome: SamplingOutcome, summaries: Mapping[str, tuple[Summary, Sequence[str]]]
) -> SamplingDiagnostics:
    """Divergences, tree depth, R-hat / ESS extremes over the named global parameters, BFMI."""
    stats_ = outcome.idata["sample_stats"]
    divergences = int(stats_["diverging"].values.sum()) if "diverging" in stats_ else None
    depth_name = next(
        (n for n in ("maxdepth_reached", "reached_max_treedepth") if n in stats_), None
    )
    depth_hits = int(stats_[depth_name].values.sum()) if depth_name else None
    worst = extremes(summaries)
    min_bulk = worst["min_ess_bulk"]
    min_bfmi = None
    if "energy" in stats_:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            min_bfmi = float(np.min(az.bfmi(outcome.idata)))
    n_draws = outcome.chains * (outcome.draws + outcome.tune)
    diagnostics = SamplingDiagnostics(
        method="nuts",
        **outcome.described(),
        divergences=divergences,
        max_treedepth_hits=depth_hits,
        **worst,
        min_bfmi=min_bfmi,
        ess_bulk_per_second=(
            round(min_bulk / outcome.sampling_seconds, 3)
            if min_bulk is not None and outcome.sampling_seconds > 0
            else None
        ),
        draws_per_second=(
            round(n_draws / outcome.sampling_seconds, 2) if outcome.sampling_seconds > 0 else None
        ),
        mass_matrix=outcome.extra.get("mass_matrix"),
    )
    diagnostics.verdict = convergence.verdict(diagnostics)
    return diagnostics


NUTS_INTERVALS = (
    "NUTS: 94% highest-density intervals of the posterior draws (exact up to Monte Carlo "
    "error when the run converged)."
)


def diagnostic_warnings(diag: SamplingDiagnostics, comparison: ModelComparison | None) -> list[str]:
    """Plain sentences for each bad diagnostic, with what to do about it."""
    out: list[str] = []
    if diag.divergences:
        out.append(
            f"{diag.divergences} divergent transitions after warm-up: the posterior may be "
            "biased. Raise target_accept (e.g. 0.95 or 0.99) or use fewer factors."
        )
    if diag.max_treedepth_hits:
        share = diag.max_treedepth_hits / max(1, diag.chains * diag.draws)
        if share > 0.01:
            out.append(
                f"{share:.0%} of draws hit the maximum tree depth: sampling is inefficient. "
                "Check the model for weakly identified parameters (e.g. too many factors)."
            )
    if diag.max_r_hat is not None and diag.max_r_hat > R_HAT_LIMIT:
        out.append(
            f"R-hat up to {diag.max_r_hat:.3f} ({diag.max_r_hat_parameter}) exceeds "
            f"{R_HAT_LIMIT}: the chains disagree. Run more tune and draws, or fewer factors."
        )
    if diag.min_ess_bulk is not None and diag.min_ess_bulk < ESS_PER_CHAIN * diag.chains:
        out.append(
            f"Bulk effective sample size as low as {diag.min_ess_bulk:.0f} (want ≥ "
            f"{ESS_PER_CHAIN * diag.chains}): means and intervals are imprecise. Increase draws."
        )
    if diag.min_ess_tail is not None and diag.min_ess_tail < ESS_PER_CHAIN * diag.chains:
        out.append(
            f"Tail effective sample size as low as {diag.min_ess_tail:.0f}: the 94% intervals "
            "are imprecise. Increase draws."
        )
    if diag.min_bfmi is not None and diag.min_bfmi < BFMI_LIMIT:
        out.append(
            f"Energy BFMI as low as {diag.min_bfmi:.2f} (< {BFMI_LIMIT}): warm-up did not adapt "
            "well. Increase tune."
        )
    if comparison is not None and comparison.n_pareto_k_high:
        out.append(
            f"{comparison.n_pareto_k_high} household(s) have Pareto k > {PARETO_K_LIMIT}: "
            "PSIS-LOO is unreliable for them; compare models with care (or refit without them)."
        )
    return out


# ---------------------------------------------------------------------------------------------
# Model comparison (household-level PSIS-LOO and WAIC)


def latent_nodes(
    dim: int, seed: int = 0, grid: tuple[int, int] = (40, 20), sobol: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """Integration nodes and log weights for E[f(z)], z ~ N(0, I_dim).

    Gauss–Hermite tensor grids for 1 and 2 dimensions (`grid` nodes per dimension), scrambled
    Sobol points through the normal quantile (`sobol` of them) above.
    """
    if dim == 0:
        return np.zeros((1, 0)), np.zeros(1)
    if dim <= 2:
        k = grid[dim - 1]
        x, w = np.polynomial.hermite_e.hermegauss(k)
        w = w / w.sum()
        grids = np.meshgrid(*([x] * dim), indexing="ij")
        nodes = np.stack([g.ravel() for g in grids], axis=1)
        weights = np.ones(nodes.shape[0])
        for wg in np.meshgrid(*([w] * dim), indexing="ij"):
            weights = weights * wg.ravel()
        return nodes, np.log(weights)
    points = stats.qmc.Sobol(d=dim, scramble=True, seed=seed).random(sobol)
    nodes = stats.norm.ppf(np.clip(points, 1e-12, 1 - 1e-12))
    return nodes, np.full(nodes.shape[0], -np.log(nodes.shape[0]))


def logmeanexp_rows(values: np.ndarray) -> np.ndarray:
    """log Σ_m exp(values[:, m]) per row (faster than scipy's logsumexp for our sizes)."""
    top = values.max(axis=1, keepdims=True)
    return np.log(np.exp(values - top).sum(axis=1)) + top[:, 0]


def log_cdf(eta: np.ndarray, link: str) -> tuple[np.ndarray, np.ndarray]:
    """log P(y=1) and log P(y=0) for a linear predictor on the link scale."""
    if link == "probit":
        return log_ndtr(eta), log_ndtr(-eta)
    return -np.logaddexp(0.0, -eta), -np.logaddexp(0.0, eta)


def comparison_from_loglik(ll: np.ndarray, n_total: int, integration: str) -> ModelComparison:
    """PSIS-LOO and WAIC from pointwise household log-likelihoods (chain, draw, household)."""
    n_used = ll.shape[2]
    idata = az.from_dict(
        posterior={"_": np.zeros(ll.shape[:2])},
        log_likelihood={"purchases": ll},
        dims={"purchases": ["household"]},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loo = az.loo(idata, pointwise=True)
        waic = az.waic(idata, pointwise=True)
    scale = n_total / n_used
    k = np.asarray(loo.pareto_k)
    loo_i = np.asarray(loo.loo_i)
    waic_i = np.asarray(waic.waic_i)
    # A random subsample of households: the elpd is scaled up and its SE adds the subsampling
    # error (simple random sampling without replacement).
    elpd_loo = float(loo_i.sum() * scale)
    elpd_waic = float(waic_i.sum() * scale)
    if scale == 1:
        se_loo, se_waic = float(loo.se), float(waic.se)
    else:
        se_loo, se_waic = _subsample_se(loo_i, n_total), _subsample_se(waic_i, n_total)
    return ModelComparison(
        elpd_loo=elpd_loo,
        se_loo=se_loo,
        p_loo=float(loo.p_loo) * scale,
        looic=-2 * elpd_loo,
        pareto_k_max=float(np.nanmax(k)),
        n_pareto_k_high=int((k > PARETO_K_LIMIT).sum()),
        elpd_waic=elpd_waic,
        se_waic=se_waic,
        p_waic=float(waic.p_waic) * scale,
        waic=-2 * elpd_waic,
        n_households_used=n_used,
        n_draws_used=int(ll.shape[0] * ll.shape[1]),
        integration=integration,
    )


def _subsample_se(pointwise: np.ndarray, n_total: int) -> float:
    m = pointwise.size
    var = float(pointwise.var(ddof=1))
    return float(np.sqrt(n_total * var + n_total**2 * (1 - m / n_total) * var / m))


def thin_index(chains: int, draws: int, limit: int) -> np.ndarray:
    """Evenly spaced draw indices so chains × len(index) ≤ limit."""
    keep = max(1, min(draws, limit // max(1, chains)))
    return np.unique(np.linspace(0, draws - 1, keep).round().astype(int))


def household_subset(n: int, rng: np.random.Generator) -> np.ndarray:
    if n <= LOO_MAX_HOUSEHOLDS:
        return np.arange(n)
    return np.sort(rng.choice(n, LOO_MAX_HOUSEHOLDS, replace=False))


# ---------------------------------------------------------------------------------------------
# Posterior predictive check


def predictive_check(
    products: Sequence[str], observed: np.ndarray, replicated: np.ndarray
) -> list[PredictiveCheckRow]:
    """Observed purchase rate per product against replicated rates (draws × products)."""
    low, high = np.quantile(replicated, [0.03, 0.97], axis=0)
    return [
        PredictiveCheckRow(
            product=product,
            observed_rate=float(observed[j]),
            replicated_mean=float(replicated[:, j].mean()),
            replicated_low=float(low[j]),
            replicated_high=float(high[j]),
            p_value=float((replicated[:, j] >= observed[j]).mean()),
        )
        for j, product in enumerate(products)
    ]


def predictive_warnings(rows: list[PredictiveCheckRow]) -> list[str]:
    off = [r.product for r in rows if r.p_value < 0.01 or r.p_value > 0.99]
    if not off:
        return []
    return [
        f"The model reproduces the purchase rate of {len(off)} product(s) poorly "
        f"({', '.join(off[:5])}{'…' if len(off) > 5 else ''}); see predictive_check."
    ]


# ---------------------------------------------------------------------------------------------
# The full posterior as NetCDF


def attach_posterior(
    result: FitResult, idata: az.InferenceData, params: BaseModel, **attrs: str
) -> None:
    """Keep the full posterior with the result as the run's `posterior` NetCDF artifact, its
    attrs carrying the model type, data hash and params (plus anything model-specific)."""
    meta = {
        "model_type": result.provenance.model_type,
        "data_hash": result.provenance.data_hash or "",
        "params": params.model_dump_json(),
        **attrs,
    }
    result.attach_artifact(
        POSTERIOR_ARTIFACT, NETCDF_CONTENT_TYPE, "posterior.nc", netcdf_bytes(idata, meta)
    )


def netcdf_bytes(idata: az.InferenceData, attrs: dict[str, Any]) -> bytes:
    """The InferenceData as one NetCDF-4 file (ArviZ's format; `az.from_netcdf` reads it)."""
    for group in idata.groups():
        dataset = getattr(idata, group)
        dataset.attrs.update({k: str(v) for k, v in attrs.items()})
    fd, path = tempfile.mkstemp(suffix=".nc")
    os.close(fd)
    try:
        idata.to_netcdf(path)
        with open(path, "rb") as fh:
            return fh.read()
    finally:
        os.unlink(path)
