"""Result models, stored as JSON in the results table; plain names (DESIGN.md) for statistics."""

from __future__ import annotations

from typing import Any, NamedTuple

import pandas as pd
from pydantic import BaseModel, Field, PrivateAttr

from backend.schemas.profiles import HouseholdProfiles


class Provenance(BaseModel):
    model_type: str
    params: dict[str, Any]
    random_state: int | None = None
    data_hash: str | None = None
    library_versions: dict[str, str] = Field(default_factory=dict)
    n_rows: int
    n_products: int
    warnings: list[str] = Field(default_factory=list)


class WeightsUsed(BaseModel):
    """The run's case weights, as the fit used them."""

    column: str
    total: float = Field(description="Sum of the weights: N in every count-based statistic.")
    n_rows: int
    min: float
    max: float
    criteria_n: str = Field(
        "sum of weights",
        description="What N is in BIC, SABIC and CAIC: the sum of the case weights (Mplus, "
        "LatentGOLD), not the number of rows.",
    )


class ArtifactBlob(NamedTuple):
    content_type: str
    filename: str
    data: bytes


class FitResult(BaseModel):
    """Base of every family's result. Outputs too big or too binary for the JSON travel beside
    it: per-row outputs (one row per household) as a DataFrame, stored as the run's
    `assignments` artifact, and named binary artifacts (e.g. a posterior as NetCDF), stored
    under their names and downloadable from `/runs/{id}/artifacts/{name}`."""

    provenance: Provenance
    # Who each unit is, by the run's household features (workers/models/profiles.py): set for
    # every family with per-household outputs when the run names household features.
    profiles: HouseholdProfiles | None = None
    weights: WeightsUsed | None = None
    scoring: dict[str, Any] | None = Field(
        None,
        description="What applying the model to new households needs beyond the result's own "
        "fields (score weights, raw components, the levels of household features), written by "
        "the family's fit and read by its score function (docs/scoring.md).",
    )
    _rows: pd.DataFrame | None = PrivateAttr(default=None)
    _artifacts: dict[str, ArtifactBlob] = PrivateAttr(default_factory=dict)

    @property
    def rows(self) -> pd.DataFrame | None:
        return self._rows

    def attach_rows(self, rows: pd.DataFrame) -> None:
        self._rows = rows

    @property
    def artifacts(self) -> dict[str, ArtifactBlob]:
        return self._artifacts

    def attach_artifact(self, name: str, content_type: str, filename: str, data: bytes) -> None:
        if name == "assignments":
            raise ValueError('"assignments" is the per-row table: use attach_rows')
        self._artifacts[name] = ArtifactBlob(content_type, filename, data)
