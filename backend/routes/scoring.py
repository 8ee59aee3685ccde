"""Applying a finished run's model: scoring runs, the model document (docs/scoring.md)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from backend.deps import ClientDep, RunDep, SessionDep
from backend.errors import error_responses
from backend.routes.runs import IdempotencyKeyHeader
from backend.schemas.api import RunOut
from backend.schemas.scoring import ModelDocument, ScoreCreate
from backend.services import runs as run_service
from backend.services import scoring as service

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
