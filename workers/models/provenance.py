"""The provenance block of every result: what was fitted, to which data, with which seed and
which libraries."""

from __future__ import annotations

import platform
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np
from pydantic import BaseModel

from backend.schemas.results import Provenance
from workers.models.base import BinaryMatrix


def build_provenance(
    model_type: str,
    params: BaseModel | dict[str, Any],
    data: BinaryMatrix,
    packages: Sequence[str],
    warnings: list[str],
    random_state: int | None = None,
) -> Provenance:
    """The Provenance of a fit of `model_type` to `data`: its parameters (as JSON), the seed it
    used, the data's digest and size, the versions of `packages` (with Python's and ours) and the
    fit's warnings."""
    return Provenance(
        model_type=model_type,
        params=params.model_dump(mode="json") if isinstance(params, BaseModel) else params,
        random_state=random_state,
        data_hash=data.digest(),
        library_versions=library_versions(*packages),
        n_rows=data.n_rows,
        n_products=data.n_products,
        warnings=warnings,
    )


def resolve_seed(random_state: int | None) -> int:
    """The seed a fit uses and records: the requested `random_state`, else a fresh one (kept in
    the provenance, so the run can be repeated)."""
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1)[0])
    return random_state


def library_versions(*packages: str) -> dict[str, str]:
    """Library versions recorded with every run and result."""
    found = {"python": platform.python_version(), "market-structure": _version("market-structure")}
    for package in packages:
        found[package] = _version(package)
    return found


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"
