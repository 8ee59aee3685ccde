"""Basket statistics of a dataset: penetration per product, the duplication of purchase table
(share of A's buyers who also buy B) and the lift matrix, from one pass of pair counts.

Missing cells are left out pairwise: a pair's figures use the households observed on both.
With a weight column (a run's `weight_column`) each household counts as its weight in every
count (buyers, pair buyers, the base), so integer weights give the statistics of the data with
rows repeated. Computed in row chunks (memory stays at a few chunk-sized arrays) and cached per
dataset digest, product list and weight column, so each is computed once per API process.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import numpy as np
import pandas as pd

from backend.orm import Dataset
from backend.schemas.api import ColumnProfile
from backend.services.datasets import resolve_product_columns, split_columns
from backend.services.household_features import check_weight_column, weight_values
from backend.storage.records import dataset_frame

CHUNK_ROWS = 100_000


def basket_statistics(
    frame: pd.DataFrame, products: list[str], weights: np.ndarray | None = None
) -> dict[str, Any]:
    p = len(products)
    both = np.zeros((p, p))  # households who bought a and b
    bought_seen = np.zeros((p, p))  # bought a, b observed
    seen = np.zeros((p, p))  # a and b observed
    for start in range(0, len(frame), CHUNK_ROWS):
        block = frame[products].iloc[start : start + CHUNK_ROWS]
        values = block.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float32)
        observed = (~np.isnan(values)).astype(np.float64)
        bought = np.nan_to_num(values, nan=0.0).astype(np.float64)
        w = 1.0 if weights is None else weights[start : start + CHUNK_ROWS, None]
        both += (bought * w).T @ bought
        bought_seen += (bought * w).T @ observed
        seen += (observed * w).T @ observed
    with np.errstate(divide="ignore", invalid="ignore"):
        penetration = np.diag(both) / np.diag(seen)
        duplication = both / bought_seen
        lift = both * seen / (bought_seen * bought_seen.T)

    def table(matrix: np.ndarray) -> list[list[float | None]]:
        return [[None if not np.isfinite(v) else round(float(v), 6) for v in row] for row in matrix]

    def count(v: float) -> float | int:  # sums of weights are not whole numbers
        return round(v) if weights is None else round(float(v), 6)

    return {
        "products": products,
        "n_households": len(frame),
        "weighted": weights is not None,
        "total_weight": float(len(frame) if weights is None else weights.sum()),
        "buyers": [count(v) for v in np.diag(both)],
        "penetration": [None if not np.isfinite(v) else round(float(v), 6) for v in penetration],
        "duplication": table(duplication),
        "lift": table(lift),
        "pair_buyers": [[count(v) for v in row] for row in both],
    }


_CACHE: OrderedDict[tuple[str, tuple[str, ...], str], dict[str, Any]] = OrderedDict()
_CACHE_SIZE = 32
_LOCK = threading.Lock()


def dataset_basket(
    dataset: Dataset, products: str | None, weight_column: str | None = None
) -> dict[str, Any]:
    """Basket statistics of a stored dataset: its 0/1 columns unless products are named
    (comma-separated, as the query string has them), each household counting as its weight
    when a weight column is named (checked as a run's: positive and finite on every row)."""
    profiles = [ColumnProfile.model_validate(c) for c in dataset.columns]
    exclude = [weight_column] if weight_column else None
    chosen = resolve_product_columns(profiles, split_columns(products), exclude=exclude)
    weights = None
    if weight_column:
        check_weight_column(profiles, weight_column, dataset, chosen)
        weights = weight_values(dataset_frame(dataset, [weight_column])[weight_column])
    key = (dataset.sha256, tuple(chosen), weight_column or "")
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    stats = basket_statistics(dataset_frame(dataset, chosen), chosen, weights)
    with _LOCK:
        _CACHE[key] = stats
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return stats
