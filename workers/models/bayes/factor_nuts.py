"""Bayesian factor model for binary purchases sampled with NUTS (nutpie by default, or PyMC's).

The model and everything after sampling live in bayes/factor_model.py; this module samples, aligns
chains and attaches the full posterior (ArviZ InferenceData as NetCDF) to the result. The factor
scores (households × factors per draw) come back from sampling as HouseholdDraws: whole up to
NUTS_DRAWS_MEMORY_MB, thinned past it (bayes/household_draws.py).
"""

from __future__ import annotations

from backend.schemas.bayesian import (
    BayesianFactorPymcParams,
    BayesianFactorResult,
)
from workers.models.base import BinaryMatrix, FitFunction, Progress
from workers.models.bayes import factor_model as fm
from workers.models.bayes import household_draws
from workers.models.bayes import summary as bs
from workers.models.bayes.sampling import NUTSSettings, sample_nuts
from workers.models.progress import Span

MODEL_TYPE = "bayesian_factor_pymc"
SAMPLING = Span(0.02, 0.92)
SUMMARY = Span(0.92, 0.99)


def fit(
    data: BinaryMatrix, params: BayesianFactorPymcParams, progress: Progress
) -> BayesianFactorResult:
    seed, fd = fm.begin(data, params, progress)
    model, containers = fm.build_model(fd, params.link)
    outcome = sample_nuts(
        model,
        NUTSSettings.from_params(params, seed),
        progress,
        span=SAMPLING,
        cache_key=fd.structure_key(params.link, MODEL_TYPE),
        data=containers,
        var_names=["intercept", "loading_diag", "loading_free", "loadings", "scores"],
        household=["scores"],
    )
    idata = outcome.idata
    intercept = bs.draws_of(idata, "intercept")
    loadings = bs.draws_of(idata, "loadings")
    scores = outcome.household["scores"]
    flipped = fm.align_chains(loadings, scores)
    sampled = None
    if params.rotation == "varimax" and fd.n_factors > 1:
        sampled = loadings.copy()
        loadings = fm.apply_alignment(fm.varimax_alignment(loadings, params.link), loadings, scores)
    if flipped or sampled is not None:
        # Keep the stored posterior consistent with the reported (aligned) one.
        idata["posterior"]["loadings"].values[...] = loadings
    factor_fit = fm.FactorFit(
        intercept=intercept,
        loadings=loadings,
        scores=fm.sampled_scores(scores),
        outcome=outcome,
        flipped_chains=flipped,
        sampled_loadings=sampled,
    )
    bs.SUMMARISING.report(progress, SUMMARY.start)
    run = fm.Run(params, seed, "nuts", MODEL_TYPE, progress, SUMMARY)
    result = fm.assemble(data, fd, factor_fit, run)
    bs.WRITING.report(progress, SUMMARY.end)
    household_draws.attach(idata, outcome.household)
    bs.attach_posterior(result, idata, params, anchors=",".join(result.anchors))
    return result


_checked: FitFunction[BayesianFactorPymcParams, BayesianFactorResult] = fit
