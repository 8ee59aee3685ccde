"""backend.broker_state reads Dramatiq's private Redis keys: this pins that key layout to the
installed Dramatiq, against the session's real Redis, with a broker namespace of its own."""

from __future__ import annotations

from collections.abc import Iterator

import dramatiq
import pytest
from dramatiq.brokers.redis import RedisBroker

from backend import broker_state
from backend.queue import build_broker, build_enqueuer
from backend.schemas.api import QueueDepth
from backend.settings import Settings
from tests.support import services


@pytest.fixture
def settings(session_environment: services.TestEnvironment) -> Settings:
    prefix = f"{session_environment.prefix}-broker-state"
    return Settings(redis_url=session_environment.redis_url, redis_prefix=prefix)


@pytest.fixture
def broker(settings: Settings) -> Iterator[RedisBroker]:
    prefix = settings.redis_prefix
    broker = build_broker(settings)
    yield broker
    for key in broker.client.scan_iter(f"{prefix}*", count=1000):
        broker.client.delete(key)


def message(run_id: str) -> dramatiq.Message[None]:
    return dramatiq.Message(
        queue_name="fits", actor_name="fit_run", args=(run_id,), kwargs={}, options={}
    )


def test_depths_heartbeats_and_run_ids_follow_a_message_through_the_broker(
    broker: RedisBroker, settings: Settings
) -> None:
    # Given nothing sent yet
    assert broker_state.queue_depths(broker)["fits"] == QueueDepth(
        queued=0, delayed=0, in_progress=0
    )
    assert broker_state.run_ids_in_redis(broker) == set()

    # When one message is queued and another delayed (a retry's backoff), by a broker that
    # only enqueues (as the API's): it is not counted as a live worker
    build_enqueuer(settings).enqueue(message("run-queued"))
    assert broker_state.workers_alive(broker) == 0
    broker.enqueue(message("run-delayed"), delay=60_000)
    depths = broker_state.queue_depths(broker)
    assert set(depths) == {"fits", "sampling"}
    assert depths["fits"] == QueueDepth(queued=1, delayed=1, in_progress=0)
    assert broker_state.run_ids_in_redis(broker) == {"run-queued", "run-delayed"}

    # When a consumer takes the queued one: in progress, still held, and its broker beats
    consumer = broker.consume("fits", prefetch=1, timeout=1000)
    try:
        taken = next(consumer)
        assert taken is not None and taken.args == ("run-queued",)
        assert broker_state.queue_depths(broker)["fits"] == QueueDepth(
            queued=0, delayed=1, in_progress=1
        )
        assert "run-queued" in broker_state.run_ids_in_redis(broker)
        assert broker_state.workers_alive(broker) >= 1

        # When it is acked, Then Redis no longer holds it
        consumer.ack(taken)
    finally:
        consumer.close()
    assert broker_state.queue_depths(broker)["fits"] == QueueDepth(
        queued=0, delayed=1, in_progress=0
    )
    assert broker_state.run_ids_in_redis(broker) == {"run-delayed"}
