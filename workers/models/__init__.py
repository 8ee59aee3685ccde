"""model_type → fit function. Each fit is `fit(data, params, progress) -> Result`."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from backend.schemas.common import ModelType
from workers.models import factor_tetrachoric, lca, lca_covariates, lda, mca, network, nmf

FitFunction = Callable[..., Any]


def _lazy(module: str) -> FitFunction:
    """A fit function imported on first use (PyMC and its compilers take seconds to import;
    workers that never run a Bayesian model never pay for it)."""

    def fit(data: Any, params: Any, progress: Any) -> Any:
        return importlib.import_module(module).fit(data, params, progress)

    fit.__qualname__ = fit.__name__ = f"{module}.fit"
    return fit


REGISTRY: dict[ModelType, FitFunction] = {
    ModelType.lca: lca.fit,
    ModelType.lca_covariates: lca_covariates.fit,
    ModelType.factor_tetrachoric: factor_tetrachoric.fit,
    ModelType.mca: mca.fit,
    ModelType.nmf: nmf.fit,
    ModelType.lda: lda.fit,
    ModelType.network: network.fit,
    ModelType.bayesian_factor_pymc: _lazy("workers.models.bayesian_factor_pymc"),
    ModelType.bayesian_factor_vi: _lazy("workers.models.bayesian_factor_vi"),
    ModelType.dcm: _lazy("workers.models.dcm"),
}
