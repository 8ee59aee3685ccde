"""Runs one run end to end: claim it, load its data, fit, save, and record how it ended.

Safe to call twice for the same run (duplicate delivery, redelivery after a crash): a run is
claimed with a compare-and-set on its row, and a finished, cancelled or freshly-beating run is
left alone.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
import sqlalchemy.exc
from dramatiq.middleware import CurrentMessage
from dramatiq.middleware.shutdown import Shutdown
from dramatiq.middleware.time_limit import TimeLimitExceeded
from pydantic import ValidationError
from sqlalchemy import CursorResult, delete, select, update

from backend.db import session_scope
from backend.errors import DataError
from backend.families import FamilySpec, family
from backend.logging_setup import run_context
from backend.orm import Artifact, Result, Run
from backend.progress import ProgressReporter, ProgressStore, RunCancelled, make_message
from backend.queue import enqueue_run
from backend.schemas.common import Phase, RunStatus
from backend.schemas.results import FitResult
from backend.services.cells import numbers_where_numeric
from backend.services.ingest import to_parquet
from backend.services.runs import PARQUET
from backend.settings import get_settings
from backend.storage.records import forget_artifacts, new_artifacts
from workers import fairness, sweep
from workers.dataset_cache import datasets as dataset_cache
from workers.metrics import INTERNAL_ERRORS
from workers.models import cluster
from workers.models.base import BinaryMatrix
from workers.models.profiles import attach_profiles, unit_names
from workers.product_map import build_product_map
from workers.row_key import hide_row_key, name_row_key

log = logging.getLogger(__name__)

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"
# Failures that another attempt may not repeat: the database, Redis or the Dask scheduler was
# unreachable, or Dask workers kept dying under a fit.
TRANSIENT = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    redis.ConnectionError,
    redis.TimeoutError,
    cluster.SchedulerLost,
    cluster.PartitionsLost,
)
# The data's (or the request's) fault: shown to the person as the reason, never retried. Fit
# code raises DataError for data it cannot fit (too few rows, a singular matrix, …); anything
# else is a bug, logged with its traceback and shown as an internal error with an id.
DETERMINISTIC = (DataError, ValidationError)


def now() -> datetime:
    return datetime.now(UTC)


def execute_run(run_id: str) -> None:
    with run_context(run_id):
        _execute(run_id)


def _execute(run_id: str) -> None:
    settings = get_settings()
    store = ProgressStore()
    deferrals = fairness.deferrals_of(CurrentMessage.get_current_message())
    run = claim(run_id, store, deferrals)
    if isinstance(run, Deferred):
        # Another client's run goes first (workers/fairness.py): this one comes back later.
        enqueue_run(
            run_id,
            run.queue_name,
            delay_seconds=settings.fair_share_delay_seconds,
            deferrals=deferrals + 1,
        )
        log.info("run handed back: %s", run.reason)
        return
    if run is None:
        # Not ours to fit (ended, cancelled while queued, running elsewhere). A sweep's parent
        # may still be waiting for this child's end to be counted.
        parent_id = parent_of(run_id)
        if parent_id:
            sweep.child_finished(parent_id, store)
        return
    cancel_event = threading.Event()
    relay = sweep.start_parent(store, run) if run.parent_id else None
    reporter = ProgressReporter(store, run_id, cancel_event=cancel_event, on_publish=relay)
    heartbeat = Heartbeat(run_id, cancel_event, settings.heartbeat_seconds)
    heartbeat.start()
    try:
        log.info(
            "run started",
            extra={
                "attempt": run.attempts,
                "model_type": run.model_type,
                "queue": run.queue_name,
            },
        )
        if run.kind != "fit":  # a run made from a finished run (workers/scoring/)
            from workers.scoring import derived

            derived(run, reporter, store)
        else:
            fit_and_save(run, reporter, store)
        log.info("run completed", extra={"seconds": round(time.monotonic() - reporter.started, 3)})
    except Shutdown:
        # SIGTERM to the worker: hand the run back without spending one of its attempts; the
        # message is retried by Dramatiq (and the reconciler would re-enqueue it anyway).
        release(run_id, "Worker shutting down; queued again.", refund_attempt=True)
        raise
    except RunCancelled:
        finish(run_id, store, RunStatus.cancelled, "Cancelled while running.", reporter)
    except TimeLimitExceeded:
        finish(
            run_id,
            store,
            RunStatus.failed,
            f"The fit ran longer than JOB_TIMEOUT_SECONDS={settings.job_timeout_seconds} s "
            "and was stopped.",
            reporter,
        )
    except TRANSIENT as exc:
        # Hand the run back to the queue; the actor's retry delivers it again.
        log.warning("run %s attempt failed transiently: %s", run_id, exc)
        if run.attempts >= settings.max_attempts:
            finish(
                run_id,
                store,
                RunStatus.failed,
                f"Gave up after {run.attempts} attempts: {exc}",
                reporter,
            )
            return
        release(run_id, f"Attempt failed ({type(exc).__name__}: {exc}); retrying.")
        raise
    except DETERMINISTIC as exc:
        finish(run_id, store, RunStatus.failed, f"{exc}", reporter)
    except Exception:
        error_id = uuid.uuid4().hex[:12]
        log.exception(
            "run %s failed with internal error %s", run_id, error_id, extra={"error_id": error_id}
        )
        INTERNAL_ERRORS.labels(model_type=run.model_type).inc()
        finish(
            run_id,
            store,
            RunStatus.failed,
            f"Internal error {error_id}: the service log has the details.",
            reporter,
        )
    finally:
        heartbeat.stop()
        if run.parent_id:
            sweep.child_finished(run.parent_id, store)


def fit_and_save(run: Run, reporter: ProgressReporter, store: ProgressStore) -> None:
    reporter(0.0, "Loading the data.", phase=Phase.loading)
    data = load_matrix(run)
    spec = family(run.model_type)
    params = spec.params.model_validate(run.params)
    reporter(0.0, "Fitting started.", phase=Phase.fitting)
    result = spec.load_fit()(data, params, reporter)
    attach_profiles(result, data, unit_names(result, spec.units_field, spec.unit))
    name_row_key(result, run.id_column)
    reporter(1.0, "Saving the results.", phase=Phase.saving)
    save_result(run.id, spec, result, store)


@dataclass(frozen=True)
class Deferred:
    """A queued run whose client's turn has not come (workers/fairness.py): its message goes
    back to its queue, delayed."""

    queue_name: str
    reason: str


def claim(run_id: str, store: ProgressStore, deferrals: int = 0) -> Run | Deferred | None:
    """The run, now ours to fit (status running, one more attempt); None when it is not ours
    (ended, cancelled, running elsewhere, out of attempts); Deferred when another client's
    waiting run goes first (`deferrals`: how often it was handed back already). Workers claim
    one at a time (a short Redis lock), so two idle workers taking two runs of one client at
    once both see the other's claim."""
    with fairness.claiming():
        return _claim(run_id, store, deferrals)


def _claim(run_id: str, store: ProgressStore, deferrals: int) -> Run | Deferred | None:
    settings = get_settings()
    stale_before = now() - timedelta(seconds=settings.stale_after_seconds)
    with session_scope() as session:
        run = session.get(Run, run_id)
        if run is None:
            log.info("run %s no longer exists; message dropped", run_id)
            return None
        if run.status not in (RunStatus.queued, RunStatus.running):
            return None
        if run.status == RunStatus.running and run.heartbeat_at and run.heartbeat_at > stale_before:
            log.info(
                "run %s is running elsewhere (%s); duplicate delivery ignored",
                run_id,
                run.worker_id,
            )
            return None
        if run.cancel_requested:
            _end(session, run, RunStatus.cancelled, "Cancelled before it started.")
            session.flush()
            store.publish(
                make_message(run_id, Phase.cancelled, run.progress, "Cancelled before it started.")
            )
            return None
        if run.attempts >= settings.max_attempts:
            message = f"The run failed: its worker stopped during each of {run.attempts} attempts."
            _end(session, run, RunStatus.failed, message, error=message)
            store.publish(make_message(run_id, Phase.failed, run.progress, message))
            return None
        if run.status == RunStatus.queued:
            reason = fairness.reason_to_wait(session, run, deferrals)
            if reason is not None:
                if run.progress_message != reason:
                    run.progress_message = reason
                    store.publish(make_message(run_id, Phase.queued, run.progress, reason))
                return Deferred(run.queue_name, reason)
        attempt = run.attempts + 1
        claimed: CursorResult[Any] = session.execute(  # type: ignore[assignment]
            update(Run)
            .where(Run.id == run_id, Run.status == run.status, Run.attempts == run.attempts)
            .values(
                status=RunStatus.running.value,
                attempts=attempt,
                started_at=run.started_at or now(),
                heartbeat_at=now(),
                worker_id=WORKER_ID,
                progress_message="Started.",
            )
        )
        if claimed.rowcount != 1:
            return None
        session.expunge(run)
        # The returned run counts this attempt, however the session synchronised the update.
        run.attempts = attempt
        return run


def parent_of(run_id: str) -> str | None:
    with session_scope() as session:
        return session.scalar(select(Run.parent_id).where(Run.id == run_id))


def load_matrix(run: Run) -> BinaryMatrix:
    frame = dataset_cache.frame(run.dataset_id)
    outcomes = [str(c) for c in (run.params or {}).get("distal_columns") or []]
    data = BinaryMatrix.from_frame(
        frame,
        run.product_columns,
        run.id_column,
        run.covariate_columns,
        run.weight_column,
        outcomes or None,
    )
    data.meta["weight_column"] = run.weight_column
    if data.covariates is not None:  # stored as the file's text; features are used as numbers
        data.covariates = numbers_where_numeric(data.covariates)
    if data.outcomes is not None:  # 3-step's distal outcomes, read the same way
        data.outcomes = numbers_where_numeric(data.outcomes)
    return hide_row_key(data)


# A finished fit is worth keeping: when the database is unreachable at save time, the save is
# retried for about a minute before the run is handed back for another attempt.
SAVE_RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)


def stored_payload(spec: FamilySpec, result: FitResult) -> dict[str, Any]:
    """The result JSON as it is stored: the fit's result and the product map derived from it."""
    payload = result.model_dump(mode="json")
    payload_map = _product_map(spec, payload)
    if payload_map is not None:
        payload["product_map"] = payload_map
    return payload


def save_result(run_id: str, spec: FamilySpec, result: FitResult, store: ProgressStore) -> None:
    payload = stored_payload(spec, result)
    summary: dict[str, Any] = {
        k: payload[k] for k in ("loglik", "npar", "aic", "bic", "entropy") if k in payload
    }
    summary["warnings"] = result.provenance.warnings
    rows = to_parquet(result.rows) if result.rows is not None else None
    for delay in (*SAVE_RETRY_DELAYS, None):
        try:
            saved = _write_result(run_id, result, payload, summary, rows)
            break
        except TRANSIENT as exc:
            if delay is None:
                raise
            log.warning("saving the result failed (%s); retrying in %.1f s", exc, delay)
            time.sleep(delay)
    if saved:
        store.publish(
            make_message(run_id, Phase.completed, 1.0, "Completed.", details={"summary": summary})
        )


def _product_map(spec: FamilySpec, payload: dict[str, Any]) -> dict[str, Any] | None:
    """The product map kept with the result. A fit is never lost over it: a failure is logged
    with its traceback and the result saved without a map."""
    if spec.embedding is None:
        return None
    try:
        return build_product_map(spec.embedding(payload))
    except Exception:
        log.exception("no product map for this result")
        return None


def _write_result(
    run_id: str,
    result: FitResult,
    payload: dict[str, Any],
    summary: dict[str, Any],
    rows: bytes | None,
) -> bool:
    with session_scope() as session:
        run = session.get(Run, run_id)
        # Still ours: running, or handed back by the reconciler during a database outage but
        # not yet claimed by another worker.
        ours = run is not None and (
            run.status == RunStatus.running
            or (run.status == RunStatus.queued and run.worker_id == WORKER_ID)
        )
        if run is None or not ours:
            log.info("run %s was deleted or ended while fitting; result discarded", run_id)
            return False
        outputs = {"assignments": (PARQUET, rows)} if rows is not None else {}
        outputs |= {name: (blob.content_type, blob.data) for name, blob in result.artifacts.items()}
        # Written before any row is locked; removed again if this transaction does not commit.
        artifacts = new_artifacts(session, run_id, outputs)
        # Upsert: a repeated save for the same run replaces, never duplicates; the replaced
        # save's objects go once this one commits.
        forget_artifacts(session, run_id)
        session.execute(delete(Result).where(Result.run_id == run_id))
        session.execute(delete(Artifact).where(Artifact.run_id == run_id))
        session.add(Result(run_id=run_id, result=payload))
        session.add_all(artifacts)
        run.data_hash = result.provenance.data_hash
        run.library_versions = result.provenance.library_versions
        run.fit_summary = summary
        _end(session, run, RunStatus.completed, "Completed.")
        run.progress = 1.0
    return True


def _end(session: Any, run: Run, status: RunStatus, message: str, error: str | None = None) -> None:
    run.status = status.value
    run.progress_message = message
    run.error = error
    run.finished_at = now()


def finish(
    run_id: str, store: ProgressStore, status: RunStatus, message: str, reporter: ProgressReporter
) -> None:
    log.info("run ended", extra={"status": status.value, "detail": message})
    progress = reporter.last_message.progress if reporter.last_message else 0.0
    with session_scope() as session:
        run = session.get(Run, run_id)
        if run is None:
            return
        run.progress = progress
        _end(session, run, status, message, error=message if status == RunStatus.failed else None)
    phase = Phase.cancelled if status == RunStatus.cancelled else Phase.failed
    store.publish(make_message(run_id, phase, progress, message))


def release(run_id: str, note: str, refund_attempt: bool = False) -> None:
    try:
        with session_scope() as session:
            session.execute(
                update(Run)
                .where(Run.id == run_id, Run.status == RunStatus.running)
                .values(
                    status=RunStatus.queued.value,
                    progress_message=note,
                    heartbeat_at=None,
                    attempts=Run.attempts - (1 if refund_attempt else 0),
                )
            )
    except sqlalchemy.exc.SQLAlchemyError:
        log.warning("run %s could not be released (database unreachable)", run_id)


class Heartbeat:
    """Beats the run's `heartbeat_at` while it fits and relays a cancel made in the database."""

    def __init__(self, run_id: str, cancel_event: threading.Event, interval: float) -> None:
        self.run_id = run_id
        self.cancel_event = cancel_event
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{run_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                with session_scope() as session:
                    session.execute(
                        update(Run).where(Run.id == self.run_id).values(heartbeat_at=now())
                    )
                    cancelled = session.scalar(
                        select(Run.cancel_requested).where(Run.id == self.run_id)
                    )
                if cancelled is None or cancelled:
                    self.cancel_event.set()  # cancelled, or deleted under us
            except sqlalchemy.exc.SQLAlchemyError:
                log.warning("heartbeat of run %s missed (database unreachable)", self.run_id)
