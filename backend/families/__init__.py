"""The registry of model families: the built-in specifications plus any named in
EXTRA_FAMILIES. Everything that depends on a model type — validation, queues, the workers' fit,
/models, exports, the product map — looks its family up here instead of naming it."""

from __future__ import annotations

import importlib
from functools import cache

from backend.errors import InvalidInput
from backend.families.spec import (
    QUICK_QUEUE,
    SAMPLING_QUEUE,
    FamilySpec,
    HouseholdFeatures,
    Kind,
    ProductProfile,
)
from backend.settings import get_settings

__all__ = [
    "QUICK_QUEUE",
    "SAMPLING_QUEUE",
    "FamilySpec",
    "HouseholdFeatures",
    "Kind",
    "ProductProfile",
    "families",
    "family",
    "model_types",
]


@cache
def families() -> dict[str, FamilySpec]:
    """model_type → specification, built-in families first, in the order clients list them."""
    from backend.families.builtin import BUILTIN

    found = {spec.model_type: spec for spec in BUILTIN}
    for path in get_settings().extra_family_paths:
        spec = _load(path)
        if spec.model_type in found:
            raise ValueError(f"EXTRA_FAMILIES: {path} redefines the model type {spec.model_type}.")
        found[spec.model_type] = spec
    return found


def family(model_type: str) -> FamilySpec:
    spec = families().get(model_type)
    if spec is None:
        raise InvalidInput(
            f"Unknown model_type {model_type!r}; available: {', '.join(model_types())}."
        )
    return spec


def model_types() -> list[str]:
    return list(families())


def _load(path: str) -> FamilySpec:
    module, _, attribute = path.partition(":")
    spec = getattr(importlib.import_module(module), attribute or "SPEC")
    if not isinstance(spec, FamilySpec):
        raise TypeError(f"EXTRA_FAMILIES: {path} is not a FamilySpec.")
    return spec
