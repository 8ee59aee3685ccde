"""Basket statistics of a dataset: penetration per product, the duplication of purchase table
(share of A's buyers who also buy B) and the lift matrix, from one pass of pair counts.

Missing cells are left out pairwise: a pair's figures use the households observed on both.
Computed in row chunks (memory stays at a few chunk-sized arrays) and cached per dataset
digest and product list, so each is computed once per API process.
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
from backend.services.ingest import from_parquet

CHUNK_ROWS = 100_000


def basket_statistics(frame: pd.DataFrame, products: list[str]) -> dict[str, Any]:
    p = len(products)
    both = np.zeros((p, p))  # households who bought a and b
    bought_seen = np.zeros((p, p))  # bought a, b observed
    seen = np.zeros((p, p))  # a and b observed
    for start in range(0, len(frame), CHUNK_ROWS):
        block = frame[products].iloc[start : start + CHUNK_ROWS]
        values = block.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float32)
        observed = (~np.isnan(values)).astype(np.float32)
        bought = np.nan_to_num(values, nan=0.0)
        both += bought.T @ bought
        bought_seen += bought.T @ observed
        seen += observed.T @ observed
    with np.errstate(divide="ignore", invalid="ignore"):
        penetration = np.diag(both) / np.diag(seen)
        duplication = both / bought_seen
        lift = both * seen / (bought_seen * bought_seen.T)

    def table(matrix: np.ndarray) -> list[list[float | None]]:
        return [[None if not np.isfinite(v) else round(float(v), 6) for v in row] for row in matrix]

    return {
        "products": products,
        "n_households": len(frame),
        "buyers": [int(v) for v in np.diag(both)],
        "penetration": [None if not np.isfinite(v) else round(float(v), 6) for v in penetration],
        "duplication": table(duplication),
        "lift": table(lift),
        "pair_buyers": [[int(v) for v in row] for row in both],
    }


_CACHE: OrderedDict[tuple[str, tuple[str, ...]], dict[str, Any]] = OrderedDict()
_CACHE_SIZE = 32
_LOCK = threading.Lock()


def dataset_basket(dataset: Dataset, products: str | None) -> dict[str, Any]:
    """Basket statistics of a stored dataset: its 0/1 columns unless products are named
    (comma-separated, as the query string has them)."""
    profiles = [ColumnProfile.model_validate(c) for c in dataset.columns]
    chosen = resolve_product_columns(profiles, split_columns(products))
    key = (dataset.sha256, tuple(chosen))
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    stats = basket_statistics(from_parquet(dataset.data, chosen), chosen)
    with _LOCK:
        _CACHE[key] = stats
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return stats
