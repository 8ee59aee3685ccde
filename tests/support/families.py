"""Checks that every model family's tests make alike: its stored result's export tables and
product embedding, and a fit that reports progress in order and stops when cancelled."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from backend.families import family
from backend.presentation.tables import result_tables
from backend.progress import RunCancelled
from backend.schemas.params import ModelParams
from backend.schemas.results import FitResult
from workers.executor import stored_payload
from workers.models.base import BinaryMatrix, Progress

# What the form of every family sampled with NUTS offers: the sampler's settings and the link.
NUTS_PARAMETERS = frozenset(
    {"draws", "tune", "chains", "target_accept", "sampler", "random_state", "link"}
)

# The tables the product map adds to every family that has a product embedding.
PRODUCT_MAP = frozenset(
    {"product_similarity", "closest_competitors", "dendrogram", "dendrogram_leaves", "product_map"}
)


def assert_export_tables(
    model_type: str, fitted: FitResult, own_tables: set[str], n_dimensions: int | None
) -> dict[str, pd.DataFrame]:
    """The result stored as the executor stores it (with its product map) exports exactly the
    family's own tables and the product map's, none empty; its product embedding has one row
    per product (in their order), `n_dimensions` columns (None: not checked) and finite values.
    Answers the tables."""
    stored = stored_payload(family(model_type), fitted)
    tables = result_tables(model_type, stored)
    assert set(tables) == own_tables | PRODUCT_MAP
    assert all(len(table) > 0 for table in tables.values())
    embedding = family(model_type).embedding(stored)
    assert list(embedding.index) == stored["products"]
    if n_dimensions is not None:
        assert embedding.shape[1] == n_dimensions
    assert np.isfinite(embedding.to_numpy()).all()
    return tables


def assert_reports_progress_and_cancels(
    fit: Callable[[BinaryMatrix, Any, Progress], object],
    data: BinaryMatrix,
    params: ModelParams,
    cancel_params: ModelParams | None = None,
    cancel_when: Callable[[str], bool] = lambda message: True,
) -> list[dict[str, Any]]:
    """A family's `fit(data, params, progress)` with a progress that records each call: there
    are some, and their fractions never fall and stay within 0..1. Then the fit with
    `cancel_params` (default: `params`) and a progress raising RunCancelled at the first call
    whose message `cancel_when` accepts: the fit stops with it. Answers the recorded calls
    ({"fraction", "message", **fields})."""
    calls: list[dict[str, Any]] = []

    def record(fraction: float, message: str, **fields: Any) -> None:
        calls.append({"fraction": fraction, "message": message, **fields})

    fit(data, params, record)
    fractions = [c["fraction"] for c in calls]
    assert fractions and fractions == sorted(fractions)
    assert fractions[0] >= 0 and fractions[-1] <= 1

    def cancel(fraction: float, message: str, **fields: Any) -> None:
        if cancel_when(message):
            raise RunCancelled("test")

    with pytest.raises(RunCancelled):
        fit(data, cancel_params or params, cancel)
    return calls
