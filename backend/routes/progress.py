from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Header, Request
from sse_starlette import EventSourceResponse

from backend.db import get_sessionmaker
from backend.deps import RunDep
from backend.errors import NotFound, error_responses
from backend.orm import Run, is_id
from backend.schemas.api import ProgressMessage
from backend.services import progress_feed

router = APIRouter(prefix="/progress", tags=["progress"])


@router.get("/{run_id}", response_model=ProgressMessage, responses=error_responses(404))
def get_progress(run: RunDep) -> ProgressMessage:
    return progress_feed.latest(run)


@router.get("/{run_id}/stream", response_class=EventSourceResponse, responses=error_responses(404))
async def stream_progress(
    request: Request,
    run_id: str,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> EventSourceResponse:
    # No session dependency here: a stream lasts as long as the fit, and a session held that
    # long would pin one pooled database connection per connected client.
    def load_run() -> Run | None:
        with get_sessionmaker()() as session:
            return session.get(Run, run_id)

    if not is_id(run_id) or await asyncio.to_thread(load_run) is None:
        raise NotFound(f"Run {run_id} does not exist.")
    events = progress_feed.stream_events(request.app.state.redis, run_id, last_event_id, load_run)
    return EventSourceResponse(events, ping=15)
