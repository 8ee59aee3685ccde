"""Which model types this version serves: their params, result model, queue and a plain description.

The worker side has the matching registry of fit functions (workers.models.REGISTRY); a test
checks that the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from backend.schemas.bayesian import (
    BayesianFactorPymcParams,
    BayesianFactorResult,
    BayesianFactorVIParams,
)
from backend.schemas.common import ModelType
from backend.schemas.dcm import DCMParams, DCMResult
from backend.schemas.factor import TetrachoricFactorParams, TetrachoricFactorResult
from backend.schemas.lca import LCACovariatesParams, LCACovariatesResult, LCAParams, LCAResult
from backend.schemas.lda import LDAParams, LDAResult
from backend.schemas.mca import MCAParams, MCAResult
from backend.schemas.network import NetworkParams, NetworkResult
from backend.schemas.nmf import NMFParams, NMFResult
from backend.schemas.params import ModelParams

# Quick fits (EM, SVD, counts) and long sampling go to separate queues so a long NUTS run
# never blocks a quick LCA.
QUICK_QUEUE = "fits"
SAMPLING_QUEUE = "sampling"


@dataclass(frozen=True)
class ModelSpec:
    model_type: ModelType
    title: str
    description: str
    params: type[ModelParams]
    result: type[BaseModel]
    queue: str = QUICK_QUEUE
    # The parameter a list or range of values turns into a sweep (one child run per value).
    sweep_param: str | None = None


CATALOG: dict[ModelType, ModelSpec] = {
    ModelType.lca: ModelSpec(
        ModelType.lca,
        "Latent class segments",
        "Splits households into a few segments, each with its own purchase probabilities.",
        LCAParams,
        LCAResult,
        sweep_param="n_classes",
    ),
    ModelType.lca_covariates: ModelSpec(
        ModelType.lca_covariates,
        "Latent class segments explained by household features",
        "Segments as in latent class analysis, with household features (covariates) predicting "
        "who belongs to which segment (multinomial logit: coefficients and odds ratios).",
        LCACovariatesParams,
        LCACovariatesResult,
        sweep_param="n_classes",
    ),
    ModelType.factor_tetrachoric: ModelSpec(
        ModelType.factor_tetrachoric,
        "Factor analysis (tetrachoric)",
        "Finds a few continuous dimensions (factors) behind which products are bought together.",
        TetrachoricFactorParams,
        TetrachoricFactorResult,
    ),
    ModelType.mca: ModelSpec(
        ModelType.mca,
        "Product map (MCA)",
        "Draws a map where products bought by the same households sit close together.",
        MCAParams,
        MCAResult,
    ),
    ModelType.nmf: ModelSpec(
        ModelType.nmf,
        "Baskets (NMF)",
        "Splits purchases into a few typical baskets; each household is a mix of them.",
        NMFParams,
        NMFResult,
    ),
    ModelType.lda: ModelSpec(
        ModelType.lda,
        "Shopping missions (LDA topics)",
        "Finds a few shopping missions (topics); each household's basket mixes them.",
        LDAParams,
        LDAResult,
    ),
    ModelType.network: ModelSpec(
        ModelType.network,
        "Co-purchase network",
        "Links products bought together more than chance, groups them and finds the hubs.",
        NetworkParams,
        NetworkResult,
    ),
    ModelType.bayesian_factor_pymc: ModelSpec(
        ModelType.bayesian_factor_pymc,
        "Bayesian factor model (NUTS)",
        "Continuous dimensions behind purchases with full uncertainty: which loadings and "
        "household scores are credible, sampled with NUTS (minutes).",
        BayesianFactorPymcParams,
        BayesianFactorResult,
        queue=SAMPLING_QUEUE,
    ),
    ModelType.bayesian_factor_vi: ModelSpec(
        ModelType.bayesian_factor_vi,
        "Bayesian factor model (variational, fast)",
        "The same Bayesian factor model fitted by variational inference: much faster on large "
        "data, with narrower (optimistic) intervals.",
        BayesianFactorVIParams,
        BayesianFactorResult,
        queue=SAMPLING_QUEUE,
    ),
    ModelType.dcm: ModelSpec(
        ModelType.dcm,
        "Discrete choice model",
        "Explains each purchase by product and household features (the run's covariate "
        "columns), with household random effects; Bayesian, sampled with NUTS.",
        DCMParams,
        DCMResult,
        queue=SAMPLING_QUEUE,
    ),
}


def available_types() -> list[str]:
    return [m.value for m in CATALOG]
