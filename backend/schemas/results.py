"""Result models, stored as JSON in the results table; plain names (DESIGN.md) for statistics."""

from __future__ import annotations

from typing import Any

import pandas as pd
from pydantic import BaseModel, Field, PrivateAttr


class Provenance(BaseModel):
    model_type: str
    params: dict[str, Any]
    random_state: int | None = None
    data_hash: str | None = None
    library_versions: dict[str, str] = Field(default_factory=dict)
    n_rows: int
    n_products: int
    warnings: list[str] = Field(default_factory=list)


class FitResult(BaseModel):
    """Base of every family's result. Per-row outputs (one row per household) travel beside the
    JSON as a DataFrame and are stored as the run's `assignments` artifact."""

    provenance: Provenance
    _rows: pd.DataFrame | None = PrivateAttr(default=None)

    @property
    def rows(self) -> pd.DataFrame | None:
        return self._rows

    def attach_rows(self, rows: pd.DataFrame) -> None:
        self._rows = rows
