"""One Redis reader per run per API process: many SSE clients of a run share its feed
(backend/services/progress_hub.py), against the session's real Redis. Each client still gets
every event, in order, then `close`; a client resuming by Last-Event-ID gets exactly the events
after it; and the blocking reads do not grow with the clients."""

from __future__ import annotations

import asyncio
import re
import uuid
from types import SimpleNamespace
from typing import Any

from backend.progress import ProgressStore, make_message
from backend.redis_client import make_async_redis
from backend.schemas.common import Phase
from backend.services.progress_feed import stream_events
from backend.services.progress_hub import ProgressHub

EVENT_ID = re.compile(rb"^id: (\S+)", re.MULTILINE)


class CountingRedis:
    """The async Redis client, counting the blocking reads (XREAD) pipelined through it."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.xreads = 0

    def pipeline(self, transaction: bool = True) -> Any:
        pipe = self.client.pipeline(transaction=transaction)
        xread = pipe.xread

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.xreads += 1
            return xread(*args, **kwargs)

        pipe.xread = counted
        return pipe

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


async def follow(
    client: Any, hub: ProgressHub, run_id: str, last_event_id: str | None = None
) -> tuple[list[str], list[str]]:
    """(ids of the progress events, names of the other events) one client receives."""
    ids: list[str] = []
    others: list[str] = []
    running = SimpleNamespace(status="running")
    stream = stream_events(client, run_id, last_event_id, lambda: running, "http://x", hub)
    async for event in stream:
        if isinstance(event, bytes):
            match = EVENT_ID.search(event)
            assert match and b"event:" not in event, event  # the default type, with its id
            ids.append(match.group(1).decode())
        else:
            others.append(str(event.event))
    return ids, others


def test_many_clients_of_a_run_share_one_reader_and_each_gets_every_event() -> None:
    run_id = f"hub-{uuid.uuid4().hex}"
    store = ProgressStore()
    published: list[str] = []

    async def scenario() -> tuple[
        list[tuple[list[str], list[str]]], int, tuple[list[str], list[str]]
    ]:
        client = CountingRedis(make_async_redis())
        hub = ProgressHub(client)  # type: ignore[arg-type]
        published.append(store.publish(make_message(run_id, Phase.queued, 0.0, "Queued.")))
        # Given 50 clients following the run live
        clients = [asyncio.create_task(follow(client, hub, run_id)) for _ in range(50)]
        await asyncio.sleep(0.5)
        # When the worker publishes 40 events, then the terminal one
        for i in range(1, 41):
            message = make_message(run_id, Phase.fitting, i / 41, f"step {i}")
            published.append(await asyncio.to_thread(store.publish, message))
            await asyncio.sleep(0.02)
            if i == 20:
                resumed = asyncio.create_task(follow(client, hub, run_id, published[10]))
        final = make_message(run_id, Phase.completed, 1.0, "Done.")
        published.append(await asyncio.to_thread(store.publish, final))
        results = await asyncio.wait_for(asyncio.gather(*clients), 30)
        late = await asyncio.wait_for(resumed, 30)
        await client.client.aclose()
        return results, client.xreads, late

    try:
        results, xreads, late = asyncio.run(scenario())
    finally:
        store.forget(run_id)
    # Then every client got every event, in order, and the close
    for ids, others in results:
        assert ids == published and others == ["close"]
    # And the one resuming after the 11th event got exactly those after it
    assert late == (published[11:], ["close"])
    # And the blocking reads were the feed's, about one per event, not one per client per event
    assert xreads <= 2 * len(published), xreads
