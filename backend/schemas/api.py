"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from backend.schemas.common import Phase, RunStatus
from backend.schemas.params import Seed
from backend.validation import NUL_REFUSED, holds_nul


class ValueRepeats(BaseModel):
    """Values of a text column found on more than one row (what an ID column must not have)."""

    n_values: int = Field(description="Distinct values found on more than one row.")
    n_rows: int = Field(description="Rows holding one of them.")
    examples: dict[str, int] = Field(description="The most repeated values → rows each.")


class ColumnProfile(BaseModel):
    name: str
    dtype: str = Field(description="How it is stored: float64 (0/1 columns) or string (text).")
    kind: str = Field(description="binary, numeric, categorical or empty")
    is_binary: bool
    n_missing: int
    n_unique: int
    prevalence: float | None = Field(None, description="Share of 1s among non-missing cells.")
    examples: list[Any] = Field(default_factory=list, description="A few non-0/1 values.")
    repeats: ValueRepeats | None = Field(
        None, description="Text columns: values on more than one row (an ID column has none)."
    )
    missing_rows: list[int] | None = Field(
        None,
        description="Text columns: where the first missing values are, as the file numbers "
        "its rows (CSV line, sheet row, Parquet row).",
    )


class DatasetOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    filename: str | None
    file_format: str
    sha256: str
    size_bytes: int
    n_rows: int
    n_columns: int
    columns: list[ColumnProfile]
    n_blank_rows: int = Field(
        0, description="Blank rows between households, dropped at upload (not households)."
    )
    notes: Annotated[list[str], BeforeValidator(lambda value: value or [])] = Field(
        default_factory=list,
        description="What was read: the sheet, the delimiter hint, skipped comment lines, a "
        "stored index read as a column, blank rows dropped.",
    )
    created_at: datetime
    preview: list[dict[str, Any]] | None = None


class DatasetList(BaseModel):
    items: list[DatasetOut]
    total: int
    limit: int
    offset: int


class InlineData(BaseModel):
    """The original backend's way to send data with the run: a base64 CSV."""

    csv_base64: str = Field(min_length=1)
    filename: str | None = None
    covariate_column_names: list[str] | None = None


def _known_model_type(value: str) -> str:
    from backend.families import families, model_types

    if value not in families():
        raise ValueError(
            f"is not a model type of this version; available: {', '.join(model_types())}"
        )
    return value


def _model_type_enum(schema: dict[str, Any]) -> None:
    from backend.families import model_types

    schema["enum"] = model_types()


# A model type this version serves (backend/families); the JSON Schema lists them.
ModelTypeName = Annotated[
    str, AfterValidator(_known_model_type), Field(json_schema_extra=_model_type_enum)
]


class RunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model_type: ModelTypeName
    name: str | None = Field(None, max_length=255)
    description: str | None = Field(None, max_length=10_000)
    params: dict[str, Any] = Field(default_factory=dict)
    dataset_id: str | None = None
    data: InlineData | None = None
    product_columns: list[str] | None = Field(
        None, description="Defaults to every 0/1 column that is not the ID or a covariate."
    )
    covariate_columns: list[str] | None = Field(
        None,
        description="Household features: covariates of lca_covariates and dcm; for every other "
        "family the features its results are profiled by (who is in each segment).",
    )
    id_column: str | None = None
    weight_column: str | None = Field(
        None,
        description="A column of case or survey weights (positive and finite on every row): "
        "each household counts as its weight in the fit, the statistics and the profiles.",
    )


# A name given to a unit: trimmed, at most 80 characters (empty: the unit's default).
UnitName = Annotated[str, StringConstraints(strip_whitespace=True, max_length=80)]
# Stored labels, or none yet.
Labels = Annotated[dict[str, str], BeforeValidator(lambda value: value or {})]


class RunUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=255)
    description: str | None = Field(None, max_length=10_000)
    labels: dict[str, UnitName] | None = Field(
        None,
        description="Names of the run's units (segments, factors, …): raw unit key (e.g. "
        '"Class 1") → name, at most 80 characters. Replaces the run\'s labels; an empty name '
        "gives the unit its default back. Used in every chart, table, report and export.",
    )

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # Names, descriptions and labels (keys too) are stored as text: PostgreSQL refuses NUL.
        if holds_nul(value):
            raise ValueError(NUL_REFUSED)
        return value


class CostEstimate(BaseModel):
    """What a run was estimated to cost before it was queued (backend/families/costs.py)."""

    seconds: float = Field(
        description="Expected wall time on one worker process; a sweep's: its fits' sum."
    )
    memory_mb: float = Field(
        description="Expected peak memory of the worker process (its libraries and the data "
        "included); a sweep's: its largest fit's."
    )


class RunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    description: str | None
    model_type: str
    status: RunStatus
    params: dict[str, Any]
    dataset_id: str
    product_columns: list[str]
    covariate_columns: list[str]
    id_column: str | None
    weight_column: str | None = None
    queue_name: str
    parent_id: str | None = None
    sweep_value: int | None = None
    kind: str = Field(
        "fit",
        description="fit, or what a run made from a finished run does: score (its model applied "
        "to new households) or typing (the typing tool).",
    )
    source_run_id: str | None = Field(
        None, description="The finished run whose model a score or typing run uses."
    )
    child_ids: list[str] = Field(default_factory=list)
    progress: float = Field(description="Live: the latest progress snapshot's (0..1).")
    progress_message: str | None = Field(description="Live: the latest snapshot's message.")
    phase: Phase | None = Field(None, description="Live: the latest snapshot's phase.")
    eta_seconds: float | None = Field(
        None, description="Live: the latest snapshot's estimate of the seconds left."
    )
    error: str | None
    cancel_requested: bool
    attempts: int
    worker_id: str | None = Field(None, description="host:pid of the worker process that ran it.")
    data_hash: str | None
    library_versions: dict[str, str] | None
    fit_summary: dict[str, Any] | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None = None
    estimate: CostEstimate | None = Field(
        None, description="Estimated cost, checked against MAX_RUN_SECONDS / MAX_RUN_MEMORY_MB."
    )
    labels: Labels = Field(
        default_factory=dict, description="Names given to the run's units: raw key → name."
    )


class RunList(BaseModel):
    items: list[RunOut]
    runs: list[RunOut] = Field(
        default_factory=list, description="The same list as `items`, as the original backend "
        "named it."
    )
    total: int
    limit: int
    offset: int


class ProgressMessage(BaseModel):
    """One progress snapshot, as published to Redis and served over HTTP and SSE."""

    model_config = ConfigDict(extra="allow")

    run_id: str
    phase: Phase
    progress: float = Field(ge=0, le=1)
    message: str
    eta_seconds: float | None = None
    updated_at: datetime
    iteration: int | None = None
    loglik: float | None = None
    elapsed_seconds: float | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class ModelInfo(BaseModel):
    model_type: str
    title: str
    description: str
    queue: str
    sweep_param: str | None = Field(
        None, description="Parameter that takes a list or range (e.g. '1-8') for a sweep."
    )
    params_schema: dict[str, Any]
    result_schema: dict[str, Any]
    kind: str = Field(
        description="The structure found: segments, dimensions, baskets, map, graph, choice "
        "or other."
    )
    unit: str = Field(description='A person\'s word for one unit ("Segment", "Factor", …).')
    units_field: str = Field(description="The result field listing the units' raw names.")
    named_units: bool = Field(
        False, description="The raw unit names mean something (show them, not 'Unit k')."
    )
    household_features: str = Field(
        "none", description="Whether runs use covariate_columns: none, optional or required."
    )
    bayesian: bool = False
    household_outputs: list[str] = Field(
        default_factory=list, description="What the per-household assignments hold."
    )
    product_outputs: list[str] = Field(
        default_factory=list, description="Result fields indexed by product."
    )
    profile: dict[str, Any] | None = Field(
        None,
        description="Where the products × units table is: {field, products_on_rows}.",
    )
    has_product_map: bool = Field(
        False, description="Finished runs carry a product map (/runs/{id}/product-map)."
    )
    can_score: bool = Field(
        False, description="Finished runs can score new households (POST /runs/{id}/score)."
    )


class ArtifactOut(BaseModel):
    name: str
    content_type: str
    url: str = Field(description="Relative to the run: GET it to download.")


class ClusteringRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: str = Field("kmeans", pattern="^(kmeans|hierarchical)$")
    n_clusters: int | None = Field(None, ge=2, le=100)
    max_k: int = Field(8, ge=2, le=100)
    linkage_method: str = Field("ward", pattern="^(ward|complete|average|single)$")
    random_state: Seed = 0


class ClusteringOut(BaseModel):
    run_id: str
    method: str
    n_clusters: int
    labels: dict[str, int]
    silhouette_score: float | None
    scores_by_k: dict[int, float] = Field(default_factory=dict)


class QueueDepth(BaseModel):
    queued: int = Field(description="Messages waiting for a worker.")
    delayed: int = Field(description="Messages waiting for a retry's backoff.")
    in_progress: int = Field(description="Messages a worker has taken and not yet acknowledged.")


class HealthOut(BaseModel):
    status: str
    version: str
    database_connected: bool
    redis_connected: bool
    models: list[str]
    versions: dict[str, str] = Field(default_factory=dict)
    queues: dict[str, QueueDepth] = Field(default_factory=dict)
    workers_alive: int | None = Field(
        None, description="Worker processes whose Dramatiq heartbeat is under a minute old."
    )
