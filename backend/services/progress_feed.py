"""Serve progress: the latest snapshot (polling) and an SSE stream with resume by event id."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import redis
import redis.asyncio as aioredis
from sse_starlette import ServerSentEvent

from backend.errors import AppError
from backend.orm import Run
from backend.progress import ProgressStore, make_message
from backend.redis_client import Keys
from backend.schemas.api import ProgressMessage
from backend.schemas.common import TERMINAL_PHASES, Phase, RunStatus
from backend.services.progress_hub import Behind, Event, Feed, ProgressHub, Unreadable

BLOCK_MS = 5000
BATCH = 100
START = "0-0"  # before every event: a stream read from here replays all that is kept
# `<milliseconds>-<sequence>`, or `<milliseconds>` for `<milliseconds>-0` as Redis reads it (so
# `0` is the start); 19 digits each keeps both below 2**64, as Redis requires.
EVENT_ID_PATTERN = r"^[0-9]{1,19}(-[0-9]{1,19})?$"
EVENT_ID = re.compile(EVENT_ID_PATTERN)
ENDED = (RunStatus.completed, RunStatus.failed, RunStatus.cancelled)
# Seconds between comment lines on an SSE stream (sent whatever else is sent): well inside
# httpx's default 5 s read timeout, so the original README's client survives a queued run.
PING_SECONDS = 1
PING = ServerSentEvent(comment="ping")


def ping() -> ServerSentEvent:
    """The comment line sent every PING_SECONDS: the same few bytes each time (sse_starlette's
    own puts a formatted timestamp in each, which costs with hundreds of clients)."""
    return PING


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


def _prefer(run: Run, snapshot: ProgressMessage | None) -> ProgressMessage:
    """Redis's snapshot, unless Redis has none or the database knows the run ended and Redis
    does not (a lost terminal event): then the database's."""
    db_terminal = run.status in ENDED
    if snapshot is None or (db_terminal and snapshot.phase not in TERMINAL_PHASES):
        return snapshot_from_db(run)
    return snapshot


def latest(run: Run) -> ProgressMessage:
    try:
        snapshot = ProgressStore().latest(run.id)
    except redis.RedisError:
        snapshot = None
    return _prefer(run, snapshot)


def latest_of(runs: list[Run]) -> dict[str, ProgressMessage]:
    """The latest snapshot of each run, read from Redis in one round trip (the database for
    those Redis lost, or when it is away): what `GET /runs` shows as live progress."""
    raws: list[bytes | str | None] = [None] * len(runs)
    if runs:
        store = ProgressStore()
        with contextlib.suppress(redis.RedisError):  # Redis away: the database says
            raws = store.client.mget([store.keys.progress(run.id) for run in runs])
    return {
        run.id: _prefer(run, ProgressMessage.model_validate_json(raw) if raw else None)
        for run, raw in zip(runs, raws, strict=True)
    }


def parse_last_event_id(value: str | None) -> str | None:
    """The event id a reconnecting client resumes after (None: read from the start).

    Ids are the Redis stream's, `<milliseconds>-<sequence>` (or `<milliseconds>`, read as
    `<milliseconds>-0`); anything else is refused (400) rather than served as a stream that
    silently never sends anything.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    if EVENT_ID.fullmatch(text) is None:
        shown = value if len(value) <= 40 else value[:40] + "…"
        raise AppError(
            f'The Last-Event-ID header "{shown}" is not an event id of this stream: send the '
            "id of the last event received (like 1712345678901-0), or no Last-Event-ID header "
            "to read the run's events from the start."
        )
    ms, _, seq = text.partition("-")
    return f"{int(ms)}-{int(seq or 0)}"


def _order(event_id: str) -> tuple[int, int]:
    ms, _, seq = event_id.partition("-")
    return int(ms), int(seq or 0)


Entries = list[tuple[str, dict[str, str]]]


async def _read_after(
    client: aioredis.Redis, key: str, cursor: str, wait: bool
) -> tuple[dict[str, Any] | None, Entries]:
    """The events after `cursor` and the stream's bounds (None once Redis holds no stream).

    Without `wait`, one transaction: no trim falls between reading and looking at the bounds.
    With `wait`, a blocking XREAD (up to BLOCK_MS) and XINFO pipelined behind it, one round trip
    per wake-up for a client that follows live; the bounds are then read just after the events,
    so a trim in between can only make a resume look inexact (a `gap`), never hide one.
    """
    async with client.pipeline(transaction=not wait) as pipe:
        if wait:
            pipe.xread({key: cursor}, count=BATCH, block=BLOCK_MS)
            pipe.xinfo_stream(key)
            batches, info = await pipe.execute(raise_on_error=False)
            entries = batches if isinstance(batches, Exception) else (batches or [[key, []]])[0][1]
        else:
            pipe.xinfo_stream(key)
            pipe.xrange(key, min=f"({cursor}", count=BATCH)
            info, entries = await pipe.execute(raise_on_error=False)
    if isinstance(entries, Exception):
        raise entries
    if isinstance(info, redis.ResponseError):  # no such key
        return None, entries
    if isinstance(info, Exception):
        raise info
    return info, entries


def _lost_after(cursor: str, info: dict[str, Any] | None, run_id: str) -> tuple[str, str] | None:
    """(where the stream goes on from, why) when events after `cursor` may be missing; None
    when every event after it is still kept, so the resume is exact."""
    if info is None:
        return START, f"The events of run {run_id} after {cursor} are no longer kept"
    last = str(info["last-generated-id"])
    if _order(cursor) > _order(last):
        return last, f"Event {cursor} was never sent on this stream (its last event is {last})"
    first = info.get("first-entry")
    if not first:
        return last, f"The events of run {run_id} after {cursor} are no longer kept"
    if _order(cursor) < _order(first[0]):
        oldest = first[0]
        return cursor, f"The events after {cursor} are no longer all kept (the oldest is {oldest})"
    return None


def _ended(info: dict[str, Any]) -> bool:
    last = info.get("last-entry")
    return last is not None and json.loads(last[1]["data"])["phase"] in TERMINAL_PHASES


def _gap_event(
    run_id: str, cursor: str, why: str, snapshot: ProgressMessage | None, snapshot_url: str
) -> ServerSentEvent:
    data = {
        "run_id": run_id,
        "last_event_id": cursor,
        "message": f"{why}; this stream goes on with the events that are. Fetch {snapshot_url} "
        "for the run's current state.",
        "snapshot": snapshot.model_dump(mode="json") if snapshot else None,
    }
    return ServerSentEvent(data=json.dumps(data), event="gap")


def _direct(entries: Entries) -> list[Event]:
    """Events read by one client itself (a replay, or no feed): parsed for their phase only."""
    return [
        Event(
            event_id,
            fields["data"],
            ServerSentEvent(data=fields["data"], id=event_id).encode(),
            json.loads(fields["data"])["phase"] in TERMINAL_PHASES,
        )
        for event_id, fields in entries
    ]


async def _next_events(
    client: aioredis.Redis, key: str, cursor: str, wait: bool, feed: Feed | None
) -> tuple[dict[str, Any] | None, list[Event], bool]:
    """(the stream's bounds, the events after `cursor`, whether they came from the run's feed).

    Waiting for live events is the feed's job when there is one (one read for every client of
    the run in this process); a client behind what the feed keeps replays with its own reads,
    and one whose feed cannot read the stream reads for itself, as every client once did."""
    if wait and feed is not None:
        try:
            events = await feed.after(cursor)
            return feed.info, events, True
        except Behind:
            wait = False
        except Unreadable:
            pass
    info, entries = await _read_after(client, key, cursor, wait)
    return info, _direct(entries), False


async def stream_events(
    client: aioredis.Redis,
    run_id: str,
    last_event_id: str | None,
    load_run: Callable[[], Run | None],
    snapshot_url: str,
    hub: ProgressHub | None = None,
) -> AsyncIterator[ServerSentEvent | bytes]:
    """Replay the run's events after `last_event_id`, then follow live ones until a terminal phase.

    Exact or said so: every read also looks at the stream's bounds (`_read_after`), so it
    knows whether an event after the cursor was trimmed or lost with Redis; when one may be, a
    `gap` event carrying the snapshot comes first and the stream goes on with the events that
    are kept. Live events come from the run's feed in `hub` (progress_hub.py), which holds every
    event after the cursors it serves. When nothing is left to read the database is consulted,
    so a run whose progress Redis lost still ends with its terminal snapshot and a `close`.
    """
    key = Keys().events(run_id)
    cursor = last_event_id or START
    async with hub.watch(run_id, cursor) if hub else contextlib.nullcontext() as feed:
        async for event in _follow(client, run_id, key, cursor, load_run, snapshot_url, feed):
            yield event


async def _follow(
    client: aioredis.Redis,
    run_id: str,
    key: str,
    cursor: str,
    load_run: Callable[[], Run | None],
    snapshot_url: str,
    feed: Feed | None,
) -> AsyncIterator[ServerSentEvent | bytes]:
    wait = False
    while True:
        readable, fed = True, False
        try:
            info, events, fed = await _next_events(client, key, cursor, wait, feed)
        except redis.RedisError:
            readable, info, events = False, None, []
            await asyncio.sleep(1)
        # The feed holds every event after the cursors it serves: nothing to check then.
        lost = (
            _lost_after(cursor, info, run_id) if readable and not fed and cursor != START else None
        )
        if lost is not None:
            run = await asyncio.to_thread(load_run)
            snapshot = await asyncio.to_thread(latest, run) if run is not None else None
            yield _gap_event(run_id, cursor, lost[1], snapshot, snapshot_url)
            if lost[0] != cursor:
                cursor, wait = lost[0], False
                continue
        for event in events:
            cursor = event.id
            # The default event type (no `event:` line): EventSource.onmessage receives it.
            # Sent as encoded once (by the feed, for all its clients).
            yield event.encoded
            if event.terminal:
                yield ServerSentEvent(data=event.data, event="close")
                return
        if events:
            wait = fed or len(events) < BATCH  # caught up: wait for the next one
            continue
        if info is not None and _ended(info):
            # Resumed after the terminal event (or from an id past it): only the close is left.
            yield ServerSentEvent(data=info["last-entry"][1]["data"], event="close")
            return
        if info is not None and not wait:
            wait = True  # nothing yet: wait for the next event
            continue
        # Waited for nothing, Redis holds no stream for the run, or is unreachable.
        run = await asyncio.to_thread(load_run)
        if run is None:
            yield ServerSentEvent(data='{"detail": "run deleted"}', event="close")
            return
        if run.status in ENDED:
            # Terminal in the DB but no terminal event left in Redis (flushed or expired).
            final = snapshot_from_db(run).model_dump_json()
            yield ServerSentEvent(data=final, id=cursor if cursor != START else None)
            yield ServerSentEvent(data=final, event="close")
            return
        wait = readable
