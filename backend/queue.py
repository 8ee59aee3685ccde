"""The Dramatiq Redis broker, shared by the API (which enqueues by actor name) and the workers.

The API never imports `workers`: it builds a message naming the actor and its queue.
"""

from __future__ import annotations

from functools import lru_cache

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from backend.families import QUICK_QUEUE, SAMPLING_QUEUE
from backend.settings import Settings, get_settings

# One actor per queue, both running the same run executor.
ACTOR_BY_QUEUE = {QUICK_QUEUE: "fit_run", SAMPLING_QUEUE: "sample_run"}


def build_broker(settings: Settings | None = None) -> RedisBroker:
    settings = settings or get_settings()
    return RedisBroker(
        url=settings.resolved_redis_url,
        namespace=f"{settings.redis_prefix}-dramatiq",
        # A worker that has not beaten for this long is presumed dead and its unacked
        # messages are requeued. The run's own DB heartbeat is what guards against running
        # a run twice, so this only has to be long enough for a busy process to beat.
        heartbeat_timeout=settings.broker_heartbeat_timeout_ms,
        maintenance_chance=settings.broker_maintenance_chance,
    )


# A broker that only enqueues (the API's, a worker's reconciler) marks its id: Dramatiq records a
# heartbeat for every broker command, enqueues included, so without the mark an API that
# enqueued in the last minute would count as a live worker (backend.broker_state.workers_alive).
ENQUEUER_ID_PREFIX = "enqueuer-"


def build_enqueuer(settings: Settings | None = None) -> RedisBroker:
    broker = build_broker(settings)
    broker.broker_id = ENQUEUER_ID_PREFIX + broker.broker_id
    return broker


@lru_cache
def get_broker() -> RedisBroker:
    """The process's broker for enqueueing (workers consume through workers/broker.py's)."""
    return build_enqueuer()


def enqueue_run(
    run_id: str, queue_name: str, delay_seconds: float | None = None, deferrals: int = 0
) -> str:
    """A message naming the run on its queue; with a delay, it is delivered that much later
    (Dramatiq keeps it in the queue's delay queue until then). `deferrals` counts how many times
    the fair order has handed the run back (workers/fairness.py)."""
    message: dramatiq.Message[None] = dramatiq.Message(
        queue_name=queue_name,
        actor_name=ACTOR_BY_QUEUE[queue_name],
        args=(run_id,),
        kwargs={},
        options={"deferrals": deferrals} if deferrals else {},
    )
    delay = int(delay_seconds * 1000) if delay_seconds else None
    get_broker().enqueue(message, delay=delay)
    return message.message_id
