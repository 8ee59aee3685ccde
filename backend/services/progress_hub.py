"""One Redis reader per run per API process, fanned out to every SSE client following it live.

A client replays what it missed with its own reads (`progress_feed`), then, once caught up,
waits on the run's `Feed` here instead of running an `XREAD` of its own: the feed's one
blocking read (with the stream's bounds pipelined behind it, as before) wakes every waiting
client at once, and each event is parsed and encoded once, not once per client. The feed keeps
the last `KEEP` events it read, so a client a little behind (a slow reader, a reconnect)
takes them from memory; one further behind, or ahead of the feed, reads Redis itself as
before. When the feed cannot read (Redis away, or the stream gone) its waiters go back to
their own reads, which say what happened (`gap`, the database's terminal state).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from bisect import bisect_right
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio as aioredis
from sse_starlette import ServerSentEvent

from backend.redis_client import Keys
from backend.schemas.common import TERMINAL_PHASES

log = logging.getLogger(__name__)

KEEP = 2000  # events a feed keeps in memory for clients a little behind
WAIT_SECONDS = 5.0  # a waiting client wakes at least this often (to look at the database)


def order(event_id: str) -> tuple[int, int]:
    ms, _, seq = event_id.partition("-")
    return int(ms), int(seq or 0)


@dataclass(frozen=True)
class Event:
    """One progress event as read once by a feed: its id, data, SSE bytes, and whether its
    phase ends the run."""

    id: str
    data: str
    encoded: bytes
    terminal: bool


class Behind(Exception):
    """The client's cursor is older than what the feed keeps: it reads Redis itself."""


class Unreadable(Exception):
    """The feed cannot read the stream (Redis away, or no stream): the client reads itself."""


class Feed:
    def __init__(self, client: aioredis.Redis, key: str, cursor: str) -> None:
        self.client, self.key = client, key
        self.cursor = cursor  # the last event id read
        self.base = order(cursor)  # every event after this one and up to `cursor` is kept
        self.events: list[Event] = []
        self.orders: list[tuple[int, int]] = []
        self.info: dict[str, Any] | None = None
        self.readable = True
        self.watchers = 0
        self._tick = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def _notify(self) -> None:
        tick, self._tick = self._tick, asyncio.Event()
        tick.set()

    async def run(self, done: Any) -> None:
        # Imported here: progress_feed imports this module.
        from backend.services.progress_feed import BLOCK_MS, _read_after

        try:
            while self.watchers > 0:
                try:
                    info, entries = await _read_after(self.client, self.key, self.cursor, True)
                except redis.RedisError:
                    self.readable = False
                    self._notify()
                    await asyncio.sleep(1)
                    continue
                except Exception:  # never leave waiters hanging on a feed that died
                    log.exception("progress feed for %s stopped", self.key)
                    self.readable = False
                    self._notify()
                    return
                self.info, self.readable = info, info is not None
                for event_id, fields in entries:
                    data = fields["data"]
                    terminal = json.loads(data)["phase"] in TERMINAL_PHASES
                    encoded = ServerSentEvent(data=data, id=event_id).encode()
                    self.events.append(Event(event_id, data, encoded, terminal))
                    self.orders.append(order(event_id))
                if entries:
                    self.cursor = entries[-1][0]
                    if len(self.events) > 2 * KEEP:
                        self.base = self.orders[-KEEP - 1]
                        del self.events[:-KEEP], self.orders[:-KEEP]
                self._notify()
                if not self.readable:
                    await asyncio.sleep(BLOCK_MS / 1000)  # no stream: Redis does not block
        finally:
            done(self)

    async def after(self, cursor: str) -> list[Event]:
        """The events after `cursor`, waiting up to WAIT_SECONDS for one (none: nothing came).

        Raises Behind when events after `cursor` are no longer (or not) kept here, Unreadable
        when the feed cannot read the stream."""
        position = order(cursor)
        if position < self.base:
            raise Behind(cursor)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(WAIT_SECONDS):
                while True:
                    if not self.readable:
                        raise Unreadable(self.key)
                    if position < self.base:
                        raise Behind(cursor)
                    start = bisect_right(self.orders, position)
                    if start < len(self.events):
                        return self.events[start:]
                    await self._tick.wait()
        return []


class ProgressHub:
    """The feeds of one API process, one per run followed live; a feed stops once no client
    waits on it."""

    def __init__(self, client: aioredis.Redis, keys: Keys | None = None) -> None:
        self.client = client
        self.keys = keys or Keys()
        self.feeds: dict[str, Feed] = {}

    @contextlib.asynccontextmanager
    async def watch(self, run_id: str, cursor: str) -> AsyncIterator[Feed]:
        """The run's feed (started at `cursor` when there is none yet), held while the block
        runs."""
        feed = self.feeds.get(run_id)
        if feed is None:
            feed = self.feeds[run_id] = Feed(self.client, self.keys.events(run_id), cursor)
        feed.watchers += 1
        if feed.task is None:
            feed.task = asyncio.create_task(feed.run(lambda f: self._forget(run_id, f)))
        try:
            yield feed
        finally:
            feed.watchers -= 1

    def _forget(self, run_id: str, feed: Feed) -> None:
        if self.feeds.get(run_id) is feed:
            del self.feeds[run_id]
