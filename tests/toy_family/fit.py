"""The toy family's fit: penetration per product, tiers by rank of penetration."""

from __future__ import annotations

import numpy as np
import pandas as pd
import redis

from backend.errors import DataError
from tests.toy_family import MODEL_TYPE, ToyParams, ToyResult
from workers.models.base import BinaryMatrix, FitFunction, Progress
from workers.models.provenance import build_provenance


def fit(data: BinaryMatrix, params: ToyParams, progress: Progress) -> ToyResult:
    if params.fail_with == "key_error":
        # The point: a KeyError from a fit is a bug, not bad data.
        _ = {str(k): k for k in range(params.n_tiers)}["loadings"]
    if params.fail_with == "redis_away":
        raise redis.ConnectionError("toy: Redis is away")
    if params.fail_with == "data_error":
        raise DataError("The toy refuses this data, as asked.")
    progress(0.5, "Counting buyers.")
    penetration = np.nanmean(data.values, axis=0)
    order = np.argsort(-penetration, kind="stable")
    tier = np.empty(data.n_products, dtype=int)
    tier[order] = np.arange(data.n_products) * params.n_tiers // data.n_products + 1
    result = ToyResult(
        provenance=build_provenance(MODEL_TYPE, params, data, ("numpy",), []),
        products=data.products,
        tiers=[f"Tier {k + 1}" for k in range(params.n_tiers)],
        penetration=[float(p) for p in penetration],
        tier_of_product=[int(t) for t in tier],
        n_obs=data.n_rows,
    )
    rows = pd.DataFrame({"basket_size": np.nansum(data.values, axis=1).astype(int)})
    rows.insert(0, data.row_index().name or "row", data.row_index().to_numpy())
    result.attach_rows(rows)
    return result


_checked: FitFunction[ToyParams, ToyResult] = fit
