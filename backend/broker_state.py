"""Every read of Dramatiq's private Redis keys, in one place: queue depths, worker heartbeats,
and which runs still have a message in Redis.

Dramatiq has no public API for these; they read the key layout of its Redis broker as of
Dramatiq 2.2.1 (documented at the top of `dramatiq/brokers/redis/dispatch.lua`). Under the
broker's namespace `ns` (REDIS_PREFIX + "-dramatiq", see backend.queue):

- `ns:<queue>`: list of the ids of messages waiting to be fetched;
- `ns:<queue>.msgs`: hash, message id -> encoded message, of every message not yet acked,
  whether waiting or fetched by a worker;
- `ns:<queue>.DQ` and `ns:<queue>.DQ.msgs`: the same for delayed messages (a retry's backoff);
- `ns:__heartbeats__`: sorted set, worker id -> time (ms since the epoch) of its last broker
  command.

A Dramatiq upgrade may move them; tests/test_broker_state.py checks this layout against the
installed version, so an upgrade that does fails there rather than in /health or the reconciler.
"""

from __future__ import annotations

import json
import time

from dramatiq.brokers.redis import RedisBroker

from backend.queue import ACTOR_BY_QUEUE, ENQUEUER_ID_PREFIX
from backend.schemas.api import QueueDepth

# A worker whose last broker command is older than this is not counted as alive.
WORKER_ALIVE_MS = 60_000


def queue_depths(broker: RedisBroker) -> dict[str, QueueDepth]:
    """Per queue: messages waiting, waiting for a retry's backoff, and taken but not acked."""
    client, ns = broker.client, broker.namespace
    depths = {}
    for queue in ACTOR_BY_QUEUE:
        pipe = client.pipeline(transaction=False)
        pipe.llen(f"{ns}:{queue}")
        pipe.hlen(f"{ns}:{queue}.msgs")
        pipe.hlen(f"{ns}:{queue}.DQ.msgs")
        queued, held, delayed = pipe.execute()
        depths[queue] = QueueDepth(
            queued=queued, delayed=delayed, in_progress=max(held - queued, 0)
        )
    return depths


def workers_alive(broker: RedisBroker, within_ms: int = WORKER_ALIVE_MS) -> int:
    """Worker processes that talked to the broker in the last `within_ms` milliseconds (brokers
    that only enqueue, marked with ENQUEUER_ID_PREFIX, are not workers)."""
    now_ms = int(time.time() * 1000)
    beating = broker.client.zrangebyscore(
        f"{broker.namespace}:__heartbeats__", now_ms - within_ms, "+inf"
    )
    return sum(
        not (b.decode() if isinstance(b, bytes) else str(b)).startswith(ENQUEUER_ID_PREFIX)
        for b in beating
    )


def run_ids_in_redis(broker: RedisBroker) -> set[str]:
    """Run ids of every message Redis still holds, queued, delayed or being processed (every
    message carries the run id as its only argument)."""
    client = broker.client
    run_ids: set[str] = set()
    for queue in ACTOR_BY_QUEUE:
        for key in (f"{broker.namespace}:{queue}.msgs", f"{broker.namespace}:{queue}.DQ.msgs"):
            for raw in client.hvals(key):
                try:
                    run_ids.update(str(a) for a in json.loads(raw)["args"][:1])
                except (ValueError, KeyError, TypeError):
                    continue
    return run_ids
