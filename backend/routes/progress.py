from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Header, Request
from pydantic import WithJsonSchema
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


@router.get(
    "/{run_id}/stream", response_class=EventSourceResponse, responses=error_responses(400, 404)
)
async def stream_progress(
    request: Request,
    run_id: str,
    last_event_id: Annotated[
        str | None,
        # Documented here, checked by the stream itself (a 400 naming the header, not a 422).
        WithJsonSchema(
            {
                "type": "string",
                "pattern": progress_feed.EVENT_ID_PATTERN,
                "examples": ["1712345678901-0"],
            }
        ),
        Header(
            alias="Last-Event-ID",
            description="Resume after this event id (what EventSource sends on reconnecting); "
            "anything else is a 400.",
        ),
    ] = None,
) -> EventSourceResponse:
    # No session dependency here: a stream lasts as long as the fit, and a session held that
    # long would pin one pooled database connection per connected client.
    def load_run() -> Run | None:
        with get_sessionmaker()() as session:
            return session.get(Run, run_id)

    resume_after = progress_feed.parse_last_event_id(last_event_id)
    if not is_id(run_id) or await asyncio.to_thread(load_run) is None:
        raise NotFound(f"Run {run_id} does not exist.")
    snapshot_url = str(request.url_for("get_progress", run_id=run_id))
    events = progress_feed.stream_events(
        request.app.state.redis,
        run_id,
        resume_after,
        load_run,
        snapshot_url,
        getattr(request.app.state, "progress_hub", None),
    )
    return EventSourceResponse(
        events, ping=progress_feed.PING_SECONDS, ping_message_factory=progress_feed.ping
    )
