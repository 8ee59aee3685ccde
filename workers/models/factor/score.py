"""Factor scores of new households by the fit's own method (regression or Bartlett): the
stored score weights applied to the 0/1 columns standardised by the training means and sds, a
missing cell counting as the training mean (workers/models/factor/fit.py, `factor_scores`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from backend.errors import DataError
from workers.models.base import BinaryMatrix, Progress
from workers.models.scoring import Scored, ScoreFunction, check_binary, chunks


def score(data: BinaryMatrix, result: dict[str, Any], progress: Progress) -> Scored:
    check_binary(data)
    stored = result.get("scoring")
    if not stored:
        raise DataError(
            "This factor analysis was fitted without factor scores (scores: none) or before "
            "scoring existed; refit it with scores regression or bartlett to score households."
        )
    weights = np.asarray(stored["weights"], dtype=np.float64)
    mean = np.asarray(stored["mean"], dtype=np.float64)
    sd = np.asarray(stored["sd"], dtype=np.float64)
    n = data.n_rows
    out = np.empty((n, weights.shape[1]))
    for start, stop in chunks(n):
        z = (data.values[start:stop] - mean) / sd
        out[start:stop] = np.nan_to_num(z, nan=0.0) @ weights
        progress(stop / n, f"Scored {stop:,} of {n:,} households.")
    rows = pd.DataFrame(out, columns=[f"factor_{j + 1}" for j in range(weights.shape[1])])
    return Scored(rows)


_checked: ScoreFunction = score
