"""Thin actors: take a run id, hand it to the executor. One actor per queue."""

from __future__ import annotations

import dramatiq

from backend.families import QUICK_QUEUE, SAMPLING_QUEUE
from backend.queue import ACTOR_BY_QUEUE
from backend.settings import get_settings
from workers.broker import broker
from workers.executor import execute_run

_settings = get_settings()
# The executor catches deterministic failures itself and marks the run failed; only transient
# errors (database or Redis unreachable) escape, and those are worth a retry. The run's own
# attempt counter in the database caps retries, whoever delivers the message.
_options = dict(
    broker=broker,
    time_limit=_settings.job_timeout_seconds * 1000,
    max_retries=_settings.max_attempts - 1,
    min_backoff=2_000,
    max_backoff=60_000,
    # SIGTERM interrupts a fit (executor releases the run) instead of waiting for it to end.
    notify_shutdown=True,
)


@dramatiq.actor(actor_name=ACTOR_BY_QUEUE[QUICK_QUEUE], queue_name=QUICK_QUEUE, **_options)  # type: ignore[call-overload]
def fit_run(run_id: str) -> None:
    execute_run(run_id)


@dramatiq.actor(actor_name=ACTOR_BY_QUEUE[SAMPLING_QUEUE], queue_name=SAMPLING_QUEUE, **_options)  # type: ignore[call-overload]
def sample_run(run_id: str) -> None:
    execute_run(run_id)
