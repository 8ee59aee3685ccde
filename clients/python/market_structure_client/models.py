"""What the API answers, as pydantic models. Fields the client relies on are typed; every
other field the API sends is kept (extra="allow") and reachable as an attribute."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})
TERMINAL_PHASES = TERMINAL_STATUSES


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", protected_namespaces=())


class Progress(_Open):
    """One progress message: a live snapshot of a run."""

    run_id: str
    phase: str
    progress: float
    message: str
    eta_seconds: float | None = None
    updated_at: datetime | None = None
    iteration: int | None = None
    loglik: float | None = None
    elapsed_seconds: float | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    event_id: str | None = Field(None, description="The SSE event id it came with, if any.")

    @property
    def done(self) -> bool:
        return self.phase in TERMINAL_PHASES


class Run(_Open):
    id: str
    name: str | None = None
    description: str | None = None
    model_type: str
    status: str
    params: dict[str, Any] = Field(default_factory=dict)
    dataset_id: str | None = None
    product_columns: list[str] = Field(default_factory=list)
    covariate_columns: list[str] = Field(default_factory=list)
    id_column: str | None = None
    progress: float = 0.0
    progress_message: str | None = None
    phase: str | None = None
    eta_seconds: float | None = None
    error: str | None = None
    fit_summary: dict[str, Any] | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    child_ids: list[str] = Field(default_factory=list)
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def done(self) -> bool:
        return self.status in TERMINAL_STATUSES


class RunPage(_Open):
    items: list[Run]
    total: int
    limit: int
    offset: int


class Column(_Open):
    name: str
    is_binary: bool = False


class Dataset(_Open):
    id: str
    name: str | None = None
    n_rows: int
    n_columns: int | None = None
    columns: list[Column] = Field(default_factory=list)

    @property
    def binary_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.is_binary]


class DatasetPage(_Open):
    items: list[Dataset]
    total: int
    limit: int
    offset: int


class ModelInfo(_Open):
    model_type: str
    title: str
    params_schema: dict[str, Any] = Field(default_factory=dict)
