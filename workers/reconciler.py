"""The database is the source of truth; this puts Redis and the workers back in line with it.

Every RECONCILE_SECONDS one worker process (a Redis lock elects it) looks for
- running runs whose heartbeat went stale (their worker was killed): re-queued for another
  attempt, or failed once MAX_ATTEMPTS is spent;
- queued runs whose message is no longer in Redis (Redis restarted or flushed): re-enqueued.
Duplicates this may create are harmless: a run is claimed by compare-and-set (executor.claim).
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

import dramatiq
import redis
import sqlalchemy.exc
from dramatiq.brokers.redis import RedisBroker
from sqlalchemy import select, update

from backend.broker_state import run_ids_in_redis
from backend.db import session_scope
from backend.orm import Run, utcnow
from backend.progress import ProgressStore, make_message
from backend.queue import ACTOR_BY_QUEUE, enqueue_run
from backend.redis_client import get_redis
from backend.schemas.common import Phase, RunStatus
from backend.settings import get_settings

log = logging.getLogger(__name__)
# Runs already reported as sitting on a queue that no actor here consumes (said once each).
_UNKNOWN_QUEUE_REPORTED: set[str] = set()


def _enqueue(run_id: str, queue: str) -> bool:
    """A fresh message for the run; a run on a queue this deployment has no actor for (a family
    removed since, or another installation's) is left as it is and said once, so one such row
    never stops the reconciliation of the others."""
    if queue not in ACTOR_BY_QUEUE:
        if run_id not in _UNKNOWN_QUEUE_REPORTED:
            _UNKNOWN_QUEUE_REPORTED.add(run_id)
            log.warning(
                "run %s is on queue %r, which no actor consumes; left as it is", run_id, queue
            )
        return False
    enqueue_run(run_id, queue)
    return True


# A queued run younger than this may be between its commit and its enqueue: leave it.
ENQUEUE_GRACE_SECONDS = 5.0


def reconcile(broker: RedisBroker) -> None:
    settings = get_settings()
    store = ProgressStore()
    now = utcnow()
    requeued: list[str] = []
    failed: list[str] = []
    with session_scope() as session:
        stale = session.scalars(
            select(Run).where(
                Run.status == RunStatus.running,
                Run.heartbeat_at < now - timedelta(seconds=settings.stale_after_seconds),
            )
        ).all()
        for run in stale:
            gone = (
                f"Its worker stopped (last heartbeat {run.heartbeat_at:%H:%M:%S} UTC, "
                f"{run.worker_id}) during attempt {run.attempts} of {settings.max_attempts}"
            )
            last = run.attempts >= settings.max_attempts
            values: dict[str, Any] = (
                {
                    "status": RunStatus.failed.value,
                    "finished_at": now,
                    "error": gone + "; giving up.",
                }
                if last
                else {"status": RunStatus.queued.value, "heartbeat_at": None}
            )
            values["progress_message"] = gone + ("; giving up." if last else "; queued again.")
            changed = session.execute(
                update(Run)
                .where(
                    Run.id == run.id,
                    Run.status == RunStatus.running,
                    Run.heartbeat_at == run.heartbeat_at,
                )
                .values(**values)
            )
            if changed.rowcount == 1:  # type: ignore[attr-defined]
                (failed if last else requeued).append(run.id)
                phase = Phase.failed if last else Phase.queued
                store.publish(make_message(run.id, phase, run.progress, values["progress_message"]))
        grace = now - timedelta(seconds=ENQUEUE_GRACE_SECONDS)
        queued = session.execute(
            select(Run.id, Run.queue_name).where(
                Run.status == RunStatus.queued, Run.created_at < grace
            )
        ).all()
    # A killed worker's message stays parked in its acks set until Dramatiq's own maintenance
    # (minutes later), so a stale run always gets a fresh message.
    for run in stale:
        if run.id in requeued:
            _enqueue(run.id, run.queue_name)
    present = run_ids_in_redis(broker) if queued else set()
    lost = [(run_id, queue) for run_id, queue in queued if run_id not in present]
    lost = [(run_id, queue) for run_id, queue in lost if _enqueue(run_id, queue)]
    if requeued or failed or lost:
        log.warning(
            "reconciled: requeued %s, failed %s, re-enqueued %s",
            requeued,
            failed,
            [r for r, _ in lost],
        )


class Reconciler(dramatiq.Middleware):
    """Runs `reconcile` in a daemon thread of each worker process; one process per interval
    does the work (a Redis lock with the interval as its expiry elects it)."""

    def __init__(self) -> None:
        self._stop = threading.Event()

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        threading.Thread(target=self._loop, args=(broker,), name="reconciler", daemon=True).start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stop.set()

    def _loop(self, broker: dramatiq.Broker) -> None:
        settings = get_settings()
        interval = settings.reconcile_seconds
        lock = f"{settings.redis_prefix}:reconciler"
        while not self._stop.wait(interval):
            try:
                if get_redis().set(lock, "1", nx=True, px=int(interval * 1000 * 0.9)):
                    assert isinstance(broker, RedisBroker)
                    reconcile(broker)
            except (redis.RedisError, sqlalchemy.exc.SQLAlchemyError) as exc:
                log.warning("reconciliation skipped: %s", exc)
            except Exception:
                log.exception("reconciliation failed")
