"""What every family's score function receives and answers: the stored model applied to new
households (docs/scoring.md).

    score(data: BinaryMatrix, result: dict, progress: Progress) -> Scored

`data` holds the new households' product columns in the model's product order (matched by
name before the call) and, for a model with household features, those features; `result` is
the fit's stored result JSON. A score function is pure, like a fit: no database, no Redis."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from backend.errors import DataError
from workers.models.base import BinaryMatrix, Progress

# Rows per chunk: the work arrays of one chunk stay small whatever the number of households.
CHUNK_ROWS = 131_072


@dataclass
class Scored:
    """Per household, in the input's order: the columns the fit's per-row table has (no ID
    column: the caller adds it), and what the drift report needs."""

    rows: pd.DataFrame
    # Each household's log-likelihood under the model (None: the family has none).
    loglik: np.ndarray | None = None
    # The column of `rows` naming each household's unit (1-based; empty or 0: none), for the
    # shares per unit (None: a household has no single unit, e.g. factor scores).
    unit_column: str | None = None
    warnings: list[str] = field(default_factory=list)


class ScoreFunction(Protocol):
    def __call__(
        self, data: BinaryMatrix, result: dict[str, Any], progress: Progress, /
    ) -> Scored: ...


def chunks(n: int, rows: int = CHUNK_ROWS) -> Iterator[tuple[int, int]]:
    for start in range(0, n, rows):
        yield start, min(start + rows, n)


def check_binary(data: BinaryMatrix) -> None:
    """Every observed cell 0 or 1, else a DataError naming the column and its values."""
    X = data.values
    bad = ~np.isnan(X) & (X != 0) & (X != 1)
    if bad.any():
        j = int(np.flatnonzero(bad.any(axis=0))[0])
        shown = ", ".join(f"{v:g}" for v in np.unique(X[bad[:, j], j])[:5])
        raise DataError(
            f'column "{data.products[j]}" has values other than 0/1: {shown}; recode it to 0/1.'
        )
