"""Applying a finished run's model: scoring runs, the model document (docs/scoring.md)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from backend.deps import ClientDep, RunDep, SessionDep
from backend.errors import error_responses
from backend.routes.downloads import download
from backend.routes.runs import IdempotencyKeyHeader
from backend.schemas.api import RunOut
from backend.schemas.scoring import ModelDocument, ScoreCreate, TypingCreate
from backend.services import audiences
from backend.services import runs as run_service
from backend.services import scoring as service
from backend.services import typing_tool as typing_service

router = APIRouter(prefix="/runs", tags=["scoring"])


@router.post(
    "/{run_id}/score",
    status_code=202,
    response_model=RunOut,
    responses=error_responses(404, 409, 413, 429, 503),
)
def score_run(
    session: SessionDep,
    run: RunDep,
    body: ScoreCreate,
    response: Response,
    client: ClientDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> RunOut:
    """Apply the run's model to new households: a scoring run on the queue (status, progress,
    cancel and SSE as every run); its `assignments` are the scored table, keyed by the ID
    column, its `results` the shares and the drift report."""
    scoring_run, replayed = service.submit_score(session, run, body, idempotency_key, client)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return run_service.run_out(scoring_run)


@router.get("/{run_id}/model", response_model=ModelDocument, responses=error_responses(404, 409))
def get_model(run: RunDep) -> ModelDocument:
    """The run's model as one JSON document: every parameter and encoding scoring reads, the
    product order, and the library versions it was fitted with."""
    return service.model_document(run)


@router.post(
    "/{run_id}/typing",
    status_code=202,
    response_model=RunOut,
    responses=error_responses(404, 409, 429, 503),
)
def make_typing_tool(
    session: SessionDep, run: RunDep, body: TypingCreate, client: ClientDep
) -> RunOut:
    """A typing tool for a finished latent class model: a run on the queue choosing up to
    `max_products` products by forward selection on the model's own classification; its
    results hold the accuracy curve, confusion matrices and points, its assignments the
    tool's segment of every training household at each k."""
    return run_service.run_out(typing_service.submit_typing(session, run, body, client))


TypingFormat = Literal["sheet", "sql", "python"]
MEDIA = {"sheet": "text/csv", "sql": "application/sql", "python": "text/x-python"}
SUFFIX = {"sheet": "csv", "sql": "sql", "python": "py"}


@router.get(
    "/{run_id}/typing-tool/{format}",
    response_class=Response,
    responses={
        200: {
            "description": "The typing tool with k products: a scoring sheet (CSV: points per "
            "answer and segment), one portable SQL query, or a Python function.",
            "content": {"text/csv": {}, "application/sql": {}, "text/x-python": {}},
        },
        **error_responses(404, 409),
    },
)
def export_typing_tool(
    run: RunDep,
    format: TypingFormat,
    k: Annotated[
        int | None,
        Query(ge=1, le=15, description="Products asked (default: the suggested number)."),
    ] = None,
    table: Annotated[str, Query(min_length=1, max_length=255, pattern=r"^[^\x00]+$")] = "purchases",
    id_column: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=255,
            pattern=r"^[^\x00]+$",
            description="The warehouse table's household ID column (default: the run's).",
        ),
    ] = None,
) -> Response:
    result, chosen = typing_service.typing_result(run, k)
    if format == "sheet":
        body = typing_service.sheet(run, result, chosen)
    elif format == "sql":
        key = id_column or result.get("id_column") or "household_id"
        body = typing_service.sql(run, result, chosen, table, key)
    else:
        body = typing_service.python_function(run, result, chosen)
    filename = f"typing_tool_{run.id}_k{chosen}.{SUFFIX[format]}"
    return download(body, MEDIA[format], filename)


@router.get(
    "/{run_id}/audiences",
    response_class=Response,
    responses={
        200: {
            "description": "Per segment, the households whose probability of it is at least "
            "`threshold`: one long CSV (ID, segment, segment_name, probability) or a ZIP of one "
            "CSV per segment. Formula-safe.",
            "content": {"text/csv": {}, "application/zip": {}},
        },
        **error_responses(404, 409),
    },
)
def get_audiences(
    session: SessionDep,
    run: RunDep,
    threshold: Annotated[float, Query(gt=0, le=1, description="Probability at least this.")] = 0.5,
    format: Literal["csv", "zip"] = "csv",
) -> Response:
    table = audiences.audience_table(session, run, threshold)
    stem = audiences.filename_stem(run, threshold)
    if format == "zip":
        return download(audiences.zipped(table, threshold), "application/zip", f"{stem}.zip")
    return download(audiences.long_csv(table), "text/csv", f"{stem}.csv")
