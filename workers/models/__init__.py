"""model_type → fit function. Each fit is `fit(data, params, progress) -> Result`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from backend.schemas.common import ModelType
from workers.models import lca

FitFunction = Callable[..., Any]

REGISTRY: dict[ModelType, FitFunction] = {
    ModelType.lca: lca.fit,
}
