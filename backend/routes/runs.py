from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Response

from backend.deps import ClientDep, FitRunDep, OffsetQuery, RunDep, SessionDep
from backend.errors import Conflict, error_responses
from backend.families import family
from backend.routes.downloads import download
from backend.schemas.api import (
    ArtifactOut,
    ClusteringOut,
    ClusteringRequest,
    RunCreate,
    RunList,
    RunOut,
    RunUpdate,
)
from backend.schemas.common import RunStatus
from backend.services import presentation
from backend.services import runs as service
from backend.services.clustering import cluster_products
from backend.services.ingest import to_csv, to_parquet
from backend.services.progress_feed import latest_of
from backend.services.runs import artifact_filename
from backend.storage.records import artifact_bytes, artifact_frame

router = APIRouter(prefix="/runs", tags=["runs"])


IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Any unique string (a UUID) per submission. A retry with the same key and "
        "the same body answers the run the first request created (header Idempotent-Replayed: "
        "true) and queues nothing; the same key with a different body is a 409.",
    ),
]
NOT_FOUND = error_responses(404)
COMPLETED_ONLY = error_responses(404, 409)


@router.post(
    "", status_code=202, response_model=RunOut, responses=error_responses(404, 409, 413, 429, 503)
)
def submit_run(
    session: SessionDep,
    body: RunCreate,
    response: Response,
    client: ClientDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> RunOut:
    run, replayed = service.submit_run(session, body, idempotency_key, client)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return service.run_out(run)


@router.get("", response_model=RunList)
def list_runs(
    session: SessionDep,
    status: RunStatus | None = None,
    model_type: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: OffsetQuery = 0,
    parent_id: Annotated[
        str | None, Query(pattern="^[0-9a-f]{32}$", description="List a sweep's child runs.")
    ] = None,
    kind: Annotated[
        Literal["fit", "score", "typing"] | None,
        Query(description="Only fits, scoring runs or typing tools."),
    ] = None,
    source_run_id: Annotated[
        str | None,
        Query(pattern="^[0-9a-f]{32}$", description="Only the runs made from this run."),
    ] = None,
) -> RunList:
    items, total = service.list_runs(
        session,
        status=status.value if status else None,
        model_type=family(model_type).model_type if model_type else None,
        limit=limit,
        offset=offset,
        parent_id=parent_id,
        kind=kind,
        source_run_id=source_run_id,
    )
    live = latest_of(items)
    outs = [service.run_out(run, live[run.id]) for run in items]
    return RunList(items=outs, runs=outs, total=total, limit=limit, offset=offset)


@router.get("/{run_id}", response_model=RunOut, responses=NOT_FOUND)
def get_run(run: RunDep) -> RunOut:
    return service.run_out(run)


@router.patch("/{run_id}", response_model=RunOut, responses=NOT_FOUND)
def update_run(session: SessionDep, run: RunDep, body: RunUpdate) -> RunOut:
    return service.run_out(service.update_run(session, run, body))


@router.get("/{run_id}/results", responses=COMPLETED_ONLY)
def get_results(session: SessionDep, run: RunDep) -> dict[str, Any]:
    """The stored result, plus `labels` and `units` (key, default, name, colour)."""
    return presentation.results_with_names(session, run)


@router.get(
    "/{run_id}/assignments",
    response_class=Response,
    responses={
        200: {
            "description": "One row per household: the ID, class probabilities, modal class.",
            "content": {"text/csv": {}, "application/vnd.apache.parquet": {}},
        },
        **COMPLETED_ONLY,
    },
)
def get_assignments(
    session: SessionDep, run: RunDep, format: Literal["csv", "parquet"] = "csv"
) -> Response:
    artifact = service.get_artifact(session, run, "assignments")
    table = presentation.named_assignments(session, run, artifact_frame(artifact))
    if format == "parquet":
        return download(
            to_parquet(table), "application/vnd.apache.parquet", f"assignments_{run.id}.parquet"
        )
    return download(to_csv(table), "text/csv", f"assignments_{run.id}.csv")


@router.get(
    "/{run_id}/export",
    response_class=Response,
    responses={
        200: {
            "description": "A ZIP of every table (CSV and Parquet), the per-household memberships "
            "keyed by the ID column, results.json, run.json, labels.json, the HTML report, the "
            "run's other artifacts, a README and a manifest.json of what each file holds; or "
            "(format=pptx) a PowerPoint deck with native, editable charts.",
            "content": {
                "application/zip": {},
                "application/vnd.openxmlformats-officedocument.presentationml.presentation": {},
            },
        },
        **error_responses(404, 409, 422),
    },
)
def export_run(
    session: SessionDep,
    run: FitRunDep,
    format: Annotated[
        str, Query(description="zip (every table) or pptx (slides with editable charts).")
    ] = "zip",
    report: Annotated[bool, Query(description="Include report.html (zip).")] = True,
) -> Response:
    body = presentation.export(session, run, format, with_report=report)
    if format == "pptx":
        return download(body, presentation.PPTX_TYPE, f"run_{run.id}.pptx")
    return download(body, "application/zip", f"run_{run.id}.zip")


@router.post("/{run_id}/clustering", response_model=ClusteringOut, responses=COMPLETED_ONLY)
def cluster_run(run: FitRunDep, body: ClusteringRequest) -> ClusteringOut:
    service.require_completed(run)
    assert run.result is not None
    return cluster_products(run.id, service.stored_product_map(run), body)


@router.post("/{run_id}/cancel", response_model=RunOut, responses=COMPLETED_ONLY)
def cancel_run(session: SessionDep, run: RunDep) -> RunOut:
    return service.run_out(service.cancel_run(session, run))


@router.delete("/{run_id}", status_code=204, responses=NOT_FOUND)
def delete_run(session: SessionDep, run: RunDep) -> Response:
    service.delete_run(session, run)
    return Response(status_code=204)


@router.get("/{run_id}/artifacts", responses=COMPLETED_ONLY)
def list_artifacts(run: RunDep) -> list[ArtifactOut]:
    service.require_completed(run)
    return [
        ArtifactOut(name=a.name, content_type=a.content_type, url=f"artifacts/{a.name}")
        for a in run.artifacts
    ]


@router.get(
    "/{run_id}/artifacts/{name}",
    response_class=Response,
    responses={
        200: {
            "description": "The artifact's bytes (Parquet, NetCDF, ...), as an attachment.",
            "content": {"application/octet-stream": {}},
        },
        **COMPLETED_ONLY,
    },
)
def get_artifact(session: SessionDep, run: RunDep, name: str) -> Response:
    artifact = service.get_artifact(session, run, name)
    filename = artifact_filename(f"{name}_{run.id}", artifact.content_type)
    return download(artifact_bytes(artifact), artifact.content_type, filename)


@router.get("/{run_id}/product-map", responses=COMPLETED_ONLY)
def get_product_map(run: FitRunDep) -> dict[str, Any]:
    """Cosine similarity, closest competitors, a dendrogram-ready tree (SciPy linkage rows),
    k-means clusters chosen by silhouette and 2-D coordinates, from the run's product
    embedding, as the worker stored them with the result."""
    product_map = service.stored_product_map(run)
    if product_map is None:
        raise Conflict(f"Runs of type {run.model_type} have no product map.")
    return product_map
