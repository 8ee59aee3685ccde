"""Serve progress: the latest snapshot (polling) and an SSE stream with resume by event id."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

import redis
import redis.asyncio as aioredis
from sse_starlette import ServerSentEvent

from backend.orm import Run
from backend.progress import ProgressStore, make_message
from backend.redis_client import Keys
from backend.schemas.api import ProgressMessage
from backend.schemas.common import TERMINAL_PHASES, Phase, RunStatus

BLOCK_MS = 5000


def snapshot_from_db(run: Run) -> ProgressMessage:
    """What the database knows: enough once Redis has lost (or never had) the run's progress."""
    phase = {
        RunStatus.queued: Phase.queued,
        RunStatus.running: Phase.fitting,
        RunStatus.completed: Phase.completed,
        RunStatus.failed: Phase.failed,
        RunStatus.cancelled: Phase.cancelled,
    }[RunStatus(run.status)]
    text = run.error if run.status == RunStatus.failed and run.error else run.progress_message
    progress = 1.0 if run.status == RunStatus.completed else run.progress
    message = make_message(run.id, phase, progress, text or f"Run is {run.status}.")
    message.updated_at = run.finished_at or run.started_at or run.created_at
    return message


def latest(run: Run) -> ProgressMessage:
    try:
        snapshot = ProgressStore().latest(run.id)
    except redis.RedisError:
        snapshot = None
    db_terminal = run.status in (RunStatus.completed, RunStatus.failed, RunStatus.cancelled)
    if snapshot is None or (db_terminal and snapshot.phase not in TERMINAL_PHASES):
        return snapshot_from_db(run)
    return snapshot


async def stream_events(
    client: aioredis.Redis,
    run_id: str,
    last_event_id: str | None,
    load_run: Callable[[], Run | None],
) -> AsyncIterator[ServerSentEvent]:
    """Replay the run's events after `last_event_id`, then follow live ones until a terminal phase.

    Between blocking reads the database is consulted, so a run whose progress Redis lost still
    ends with its terminal snapshot and a `close` event.
    """
    key = Keys().events(run_id)
    cursor = last_event_id or "0-0"
    while True:
        try:
            batches = await client.xread({key: cursor}, count=100, block=BLOCK_MS)
        except redis.RedisError:
            batches = []
            await asyncio.sleep(1)
        for _stream, entries in batches or []:
            for event_id, fields in entries:
                cursor = event_id
                # Passed through as published (the worker validated it): with hundreds of
                # clients per run, parsing each event once per client is what costs.
                data = fields["data"]
                yield ServerSentEvent(data=data, event="progress", id=event_id)
                if json.loads(data)["phase"] in TERMINAL_PHASES:
                    yield ServerSentEvent(data=data, event="close")
                    return
        if not batches:
            run = await asyncio.to_thread(load_run)
            if run is None:
                yield ServerSentEvent(data='{"detail": "run deleted"}', event="close")
                return
            if run.status in (RunStatus.completed, RunStatus.failed, RunStatus.cancelled):
                # Terminal in the DB but no terminal event left in Redis (flushed or expired).
                final = snapshot_from_db(run).model_dump_json()
                yield ServerSentEvent(
                    data=final, event="progress", id=cursor if cursor != "0-0" else None
                )
                yield ServerSentEvent(data=final, event="close")
                return
