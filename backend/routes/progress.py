from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from sse_starlette import EventSourceResponse

from backend.db import get_sessionmaker
from backend.deps import RunDep
from backend.orm import Run
from backend.schemas.api import ProgressMessage
from backend.services import progress_feed

router = APIRouter(prefix="/progress", tags=["progress"])


@router.get("/{run_id}", response_model=ProgressMessage)
def get_progress(run: RunDep) -> ProgressMessage:
    return progress_feed.latest(run)


@router.get("/{run_id}/stream", response_class=EventSourceResponse)
async def stream_progress(
    request: Request,
    run: RunDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> EventSourceResponse:
    run_id = run.id

    def load_run() -> Run | None:
        with get_sessionmaker()() as session:
            return session.get(Run, run_id)

    events = progress_feed.stream_events(request.app.state.redis, run_id, last_event_id, load_run)
    return EventSourceResponse(events, ping=15)
