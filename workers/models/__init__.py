"""model_type → fit function. Each fit is `fit(data, params, progress) -> Result`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from backend.schemas.common import ModelType
from workers.models import factor_tetrachoric, lca, lca_covariates, lda, mca, network, nmf

FitFunction = Callable[..., Any]

REGISTRY: dict[ModelType, FitFunction] = {
    ModelType.lca: lca.fit,
    ModelType.lca_covariates: lca_covariates.fit,
    ModelType.factor_tetrachoric: factor_tetrachoric.fit,
    ModelType.mca: mca.fit,
    ModelType.nmf: nmf.fit,
    ModelType.lda: lda.fit,
    ModelType.network: network.fit,
}
