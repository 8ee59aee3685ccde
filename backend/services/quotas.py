"""The per-client cap on runs queued or running at once (MAX_ACTIVE_RUNS_PER_CLIENT): one
person cannot fill the queue. Counted in fits (a sweep's children, not its parent row); a
request that would pass the cap is a 429 whose Retry-After is when the client's first running
fit is expected to end (from its estimate). The order in which workers serve clients is the
workers' side: workers/fairness.py."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, aliased

from backend.errors import TooManyRequests
from backend.orm import Run
from backend.schemas.common import RunStatus
from backend.settings import get_settings

ACTIVE = (RunStatus.queued.value, RunStatus.running.value)
RETRY_MIN_SECONDS = 5
RETRY_MAX_SECONDS = 3600


def is_fit() -> ColumnElement[bool]:
    """Rows that are fits: not a sweep's parent (a parent has children and no message)."""
    child = aliased(Run)
    return ~select(child.id).where(child.parent_id == Run.id).exists()


def active_fits(session: Session, client: str) -> list[Run]:
    return list(
        session.scalars(
            select(Run).where(Run.client_id == client, Run.status.in_(ACTIVE), is_fit())
        ).all()
    )


def check_active_runs(session: Session, client: str, new_fits: int) -> None:
    """Refuse (429) a request that would leave the client more fits queued or running than
    MAX_ACTIVE_RUNS_PER_CLIENT."""
    limit = get_settings().max_active_runs_per_client
    count = session.scalar(
        select(func.count())
        .select_from(Run)
        .where(Run.client_id == client, Run.status.in_(ACTIVE), is_fit())
    )
    active = int(count or 0)
    if active + new_fits <= limit:
        return
    retry = _retry_after(active_fits(session, client))
    adds = f"this request adds {new_fits}" if new_fits > 1 else "this request adds one more"
    raise TooManyRequests(
        f"You have {active} run(s) queued or running and may have at most {limit} at once "
        f"(MAX_ACTIVE_RUNS_PER_CLIENT); {adds}. Wait for some to finish (the first in about "
        f"{_minutes(retry)}) or cancel some, then submit again.",
        retry_after=retry,
        extra={"active_runs": active, "limit": limit},
    )


def _retry_after(runs: list[Run]) -> int:
    """Seconds until the first of these is expected to end: a running one's estimate minus the
    time it has run, else the shortest estimate (nothing running yet)."""
    now = datetime.now(UTC)
    ends = []
    for run in runs:
        expected = (run.estimate or {}).get("seconds")
        if expected is None:
            continue
        if run.status == RunStatus.running and run.started_at is not None:
            expected -= (now - run.started_at).total_seconds()
        ends.append(expected)
    seconds = min(ends) if ends else 60.0
    return int(min(max(seconds, RETRY_MIN_SECONDS), RETRY_MAX_SECONDS))


def _minutes(seconds: int) -> str:
    return f"{seconds} s" if seconds < 90 else f"{round(seconds / 60)} min"
