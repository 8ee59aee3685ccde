"""Dependency aliases that keep routes short: a DB session, a dataset or run loaded or 404, and
the client asking (for quotas)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from sqlalchemy.orm import Session

from backend.auth import client_id
from backend.db import get_sessionmaker
from backend.errors import Conflict, NotFound
from backend.orm import Dataset, Run, is_id


def get_session() -> Iterator[Session]:
    """The request's session. It never commits: the service that changes something commits it
    (before anything is enqueued or answered); whatever is left uncommitted is rolled back."""
    session = get_sessionmaker()()
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]


def load_dataset(session: SessionDep, dataset_id: Annotated[str, Path()]) -> Dataset:
    dataset = session.get(Dataset, dataset_id) if is_id(dataset_id) else None
    if dataset is None:
        raise NotFound(f"Dataset {dataset_id} does not exist.")
    return dataset


def load_run(session: SessionDep, run_id: Annotated[str, Path()]) -> Run:
    run = session.get(Run, run_id) if is_id(run_id) else None
    if run is None:
        raise NotFound(f"Run {run_id} does not exist.")
    return run


def load_fit_run(run: Annotated[Run, Depends(load_run)]) -> Run:
    """A fitted run: the charts, report, exports and product map are a fit's; a run made from
    one (scoring, typing tool) has its results and assignments (docs/scoring.md)."""
    if run.kind != "fit":
        raise Conflict(
            f"Run {run.id} is a {run.kind} run of run {run.source_run_id}: its outputs are its "
            "results and assignments; the charts, report and exports are the source run's."
        )
    return run


# Bounded: PostgreSQL refuses an OFFSET past a bigint with an error.
OffsetQuery = Annotated[int, Query(ge=0, le=1_000_000_000, description="Items to skip.")]


def current_client(request: Request) -> str:
    return client_id(request.headers.get("authorization"))


DatasetDep = Annotated[Dataset, Depends(load_dataset)]
RunDep = Annotated[Run, Depends(load_run)]
FitRunDep = Annotated[Run, Depends(load_fit_run)]
# A hash of the request's API token, or "anonymous" on an open API (backend.auth.client_id).
ClientDep = Annotated[str, Depends(current_client)]
