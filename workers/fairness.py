"""The fair order: which client's run a free worker serves when several clients have runs waiting.

Dramatiq's queues are first come, first served, so one person's twenty long fits queued before
your short one hold every worker until they are done. The rule, applied when a worker takes a
run from a queue (workers/executor.py, before it claims the run):

1. **Fewest running first.** Among the clients with runs waiting on this queue, the most
   deserving is the one with the fewest runs running (on any queue), then the one served
   longest ago (its latest start), then the one waiting longest (its oldest waiting run), then
   by name. A run whose client is not the most deserving one is handed back: its message is
   enqueued again FAIR_SHARE_DELAY_SECONDS later, and the worker takes the next message. So
   with two workers, A's second long fit waits while B's run (queued after it) starts; with one
   worker, clients take turns.
2. **An optional cap** (MAX_RUNNING_PER_CLIENT, 0 = none): a client never has more runs running
   than that, even with workers idle, which keeps workers free for whoever comes next.

The order is total, so the most deserving client's run is never handed back and a free worker
always has something to claim: no two clients can keep handing runs to each other. A run is
handed back for the fair order at most MAX_DEFERRALS times (about 10 s): a waiting run that no
worker takes within that time (its message lost until the reconciler re-sends it) does not hold
the others back for longer. Runs are not preempted: a fit that has started runs to its end.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from backend.auth import ANONYMOUS
from backend.orm import Run
from backend.redis_client import get_redis
from backend.schemas.common import RunStatus
from backend.services.quotas import is_fit
from backend.settings import get_settings

log = logging.getLogger(__name__)
NEVER = datetime.min.replace(tzinfo=UTC)
# The claim lock: held for one claim (milliseconds); a worker that cannot get it within
# CLAIM_WAIT_SECONDS claims without it (the order is then best effort).
CLAIM_LOCK_SECONDS = 10.0
CLAIM_WAIT_SECONDS = 5.0
# Times a run is handed back for another client's waiting run before it is claimed anyway.
MAX_DEFERRALS = 5


def deferrals_of(message: Any) -> int:
    """How often the fair order handed back the run of this Dramatiq message."""
    options = getattr(message, "options", None) or {}
    return int(options.get("deferrals", 0))


@contextmanager
def claiming() -> Iterator[None]:
    """One claim at a time across the workers of a deployment: the fair order reads who is
    running, so two claims must not both read it before either is written."""
    lock = get_redis().lock(
        f"{get_settings().redis_prefix}:claim-lock",
        timeout=CLAIM_LOCK_SECONDS,
        blocking_timeout=CLAIM_WAIT_SECONDS,
    )
    try:
        held = lock.acquire()
    except redis.RedisError as exc:
        log.warning("claim lock unavailable (%s); claiming without it", exc)
        held = False
    try:
        yield
    finally:
        if held:
            try:
                lock.release()
            except redis.RedisError:
                log.warning("claim lock not released; it expires in %.0f s", CLAIM_LOCK_SECONDS)


@dataclass(frozen=True)
class Standing:
    """Where a client stands when a worker picks what to run next; smaller is served first."""

    client: str
    running: int
    last_start: datetime
    waiting_since: datetime

    @property
    def key(self) -> tuple[int, datetime, datetime, str]:
        return (self.running, self.last_start, self.waiting_since, self.client)


def _client(value: str | None) -> str:
    return value or ANONYMOUS  # runs from before clients were recorded


def standings(session: Session, queue: str) -> dict[str, Standing]:
    """Every client with a run waiting on `queue`, and every client with a run running."""
    running = dict(
        session.execute(
            select(Run.client_id, func.count())
            .where(Run.status == RunStatus.running, Run.worker_id.is_not(None))
            .group_by(Run.client_id)
        ).all()
    )
    waiting = dict(
        session.execute(
            select(Run.client_id, func.min(Run.created_at))
            .where(
                Run.status == RunStatus.queued,
                Run.queue_name == queue,
                Run.cancel_requested.is_(False),
                is_fit(),
            )
            .group_by(Run.client_id)
        ).all()
    )
    clients = set(running) | set(waiting)
    named = Run.client_id.in_([c for c in clients if c is not None])
    last = dict(
        session.execute(
            select(Run.client_id, func.max(Run.started_at))
            .where(or_(named, Run.client_id.is_(None)) if None in clients else named)
            .where(Run.worker_id.is_not(None))
            .group_by(Run.client_id)
        ).all()
    )
    return {
        _client(c): Standing(
            client=_client(c),
            running=int(running.get(c, 0)),
            last_start=last.get(c) or NEVER,
            waiting_since=waiting.get(c) or NEVER,
        )
        for c in clients
    }


def reason_to_wait(session: Session, run: Run, deferrals: int = 0) -> str | None:
    """Why this queued run should wait for another client's (a sentence for its progress
    message), or None when its client's turn has come. After MAX_DEFERRALS hand-backs only the
    MAX_RUNNING_PER_CLIENT cap still holds it."""
    mine = _client(run.client_id)
    table = standings(session, run.queue_name)
    own = table.get(mine) or Standing(mine, 0, NEVER, run.created_at)
    cap = get_settings().max_running_per_client
    if cap and own.running >= cap:
        return (
            f"Waiting: {own.running} of your runs are running, the most one client may run at "
            f"once (MAX_RUNNING_PER_CLIENT={cap})."
        )
    if deferrals >= MAX_DEFERRALS:
        return None
    waiting_others = [
        s
        for s in table.values()
        if s.client != mine and s.waiting_since != NEVER and (not cap or s.running < cap)
    ]
    ahead = min(waiting_others, key=lambda s: s.key, default=None)
    if ahead is not None and ahead.key < own.key:
        return (
            f"Waiting: another client with {ahead.running} run(s) running goes first (you have "
            f"{own.running}); workers take turns between clients."
        )
    return None
