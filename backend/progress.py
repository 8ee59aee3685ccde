"""Live progress: the latest snapshot and an event stream per run in Redis, plus cancel flags.

The worker publishes through a throttled `ProgressReporter`; the API reads snapshots (polling)
and the stream (SSE with resume by event id). Terminal states are also written to the
database by the worker, so they survive a Redis restart.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import redis

from backend.redis_client import Keys, get_redis
from backend.schemas.api import ProgressMessage
from backend.schemas.common import PHASE_ORDER, TERMINAL_PHASES, Phase
from backend.settings import Settings, get_settings

# Room, beyond the throttled messages, for what always goes through: phase changes and forced
# messages (one per EM start, chain or bootstrap step), and the API's queued/cancel messages.
UNTHROTTLED_EVENTS = 1000


def stream_max_events(settings: Settings) -> int:
    """How many events a run's stream keeps: every event the run can publish.

    The reporter publishes at most one throttled message per PROGRESS_MIN_INTERVAL_SECONDS and a
    fit is stopped after JOB_TIMEOUT_SECONDS, so a run cannot publish more than their ratio plus
    its unthrottled messages; PROGRESS_STREAM_MAX_EVENTS bounds that (and a zero throttle).
    Defaults: 21600 s / 0.25 s + 1000 = 87,400 events, at most about 40 MB (some 460 bytes an
    event) for a 6-hour fit that reports all the time; most runs publish far fewer. Older
    events are trimmed only past this; a resume from before the oldest event kept gets a `gap`
    event (backend/services/progress_feed.py).
    """
    interval = settings.progress_min_interval_seconds
    if interval <= 0:
        return settings.progress_stream_max_events
    throttled = math.ceil(settings.job_timeout_seconds / interval)
    return min(throttled + UNTHROTTLED_EVENTS, settings.progress_stream_max_events)


class RunCancelled(Exception):
    """Raised inside a fit (by the progress reporter) when someone cancelled the run."""


class ProgressStore:
    def __init__(self, client: redis.Redis | None = None, keys: Keys | None = None) -> None:
        self.client = client or get_redis()
        self.keys = keys or Keys()
        settings = get_settings()
        self.ttl = settings.progress_ttl_seconds
        self.max_events = stream_max_events(settings)

    def publish(self, message: ProgressMessage) -> str:
        data = message.model_dump_json()
        pipe = self.client.pipeline(transaction=False)
        pipe.set(self.keys.progress(message.run_id), data, ex=self.ttl)
        pipe.xadd(
            self.keys.events(message.run_id),
            {"data": data},
            maxlen=self.max_events,
            approximate=True,
        )
        pipe.expire(self.keys.events(message.run_id), self.ttl)
        event_id = pipe.execute()[1]
        return str(event_id)

    def latest(self, run_id: str) -> ProgressMessage | None:
        raw = self.client.get(self.keys.progress(run_id))
        return ProgressMessage.model_validate_json(raw) if raw else None

    def request_cancel(self, run_id: str) -> None:
        self.client.set(self.keys.cancel(run_id), "1", ex=self.ttl)

    def cancel_requested(self, run_id: str) -> bool:
        return bool(self.client.exists(self.keys.cancel(run_id)))

    def forget(self, run_id: str) -> None:
        self.client.delete(
            self.keys.progress(run_id), self.keys.events(run_id), self.keys.cancel(run_id)
        )


def make_message(
    run_id: str, phase: Phase, progress: float, message: str, **fields: Any
) -> ProgressMessage:
    return ProgressMessage(
        run_id=run_id,
        phase=phase,
        progress=min(max(progress, 0.0), 1.0),
        message=message,
        updated_at=datetime.now(UTC),
        **fields,
    )


class Eta:
    """Seconds left, from the measured rate at which the run's progress moves.

    Fits report progress as the share of their unit of work done (EM iterations of a start,
    draws of a chain, resamples, households scored), so the rate of progress over the recent
    past is the rate of that unit. The rate is measured over a window reaching back `share` of
    the time since measuring began (at least `min_window` seconds), so a slow start (compiling,
    preparing) weighs less and less once the work proper runs, and smoothed (an exponential
    average of the measured rates); nothing is said before `min_window` seconds of progress
    were seen. `restart()` (a new phase: the unit of work changes) measures afresh. Never
    negative; None at the end or without evidence.
    """

    def __init__(self, *, min_window: float = 2.0, share: float = 0.3, smoothing: float = 0.3):
        self.min_window, self.share, self.smoothing = min_window, share, smoothing
        self.samples: deque[tuple[float, float]] = deque()
        self.first: float | None = None
        self.rate: float | None = None

    def restart(self) -> None:
        self.samples.clear()
        self.first, self.rate = None, None

    def update(self, now: float, fraction: float) -> float | None:
        if self.samples and fraction < self.samples[-1][1] - 1e-9:
            self.restart()  # progress went back (a new attempt): measure afresh
        if self.first is None:
            self.first = now
        self.samples.append((now, fraction))
        window = max(self.min_window, self.share * (now - self.first))
        while len(self.samples) > 2 and self.samples[1][0] <= now - window:
            self.samples.popleft()  # keep one sample at or before the window's start
        start, done = self.samples[0]
        if now - start >= self.min_window and fraction - done > 1e-6:
            measured = (fraction - done) / (now - start)
            self.rate = (
                measured
                if self.rate is None
                else self.rate + self.smoothing * (measured - self.rate)
            )
        if self.rate is None or fraction >= 1:
            return None
        return max(0.0, round((1.0 - fraction) / self.rate, 1))


class ProgressReporter:
    """The `progress` callable handed to fit functions.

    `reporter(fraction, message, iteration=..., loglik=..., details={...})` publishes at most
    every `min_interval` seconds (phase changes and `force=True` always go through), keeps the
    phase from moving backwards (a phase earlier than the current one is reported as the
    current one) and the progress from decreasing, computes an ETA from the measured rate of
    progress (`Eta`), and raises `RunCancelled` once the run was cancelled — checked at most
    every `cancel_check_interval` seconds, so calling it in a tight loop stays cheap. Time is
    read from `clock` (seconds, monotonic), which tests drive.
    """

    def __init__(
        self,
        store: ProgressStore,
        run_id: str,
        *,
        min_interval: float | None = None,
        cancel_event: threading.Event | None = None,
        cancel_check_interval: float = 0.2,
        on_publish: Callable[[ProgressMessage], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.min_interval = (
            get_settings().progress_min_interval_seconds if min_interval is None else min_interval
        )
        self.cancel_event = cancel_event or threading.Event()
        self.cancel_check_interval = cancel_check_interval
        self.clock = clock
        self.started = clock()
        self._phase: Phase | None = None
        self._highest = 0.0
        self._eta = Eta()
        self._last_publish = float("-inf")
        self._last_cancel_check = float("-inf")
        self.last_message: ProgressMessage | None = None
        self.on_publish = on_publish

    def check_cancelled(self) -> None:
        now = self.clock()
        if now - self._last_cancel_check >= self.cancel_check_interval:
            self._last_cancel_check = now
            if self.store.cancel_requested(self.run_id):
                self.cancel_event.set()
        if self.cancel_event.is_set():
            raise RunCancelled(self.run_id)

    def __call__(
        self,
        fraction: float,
        message: str,
        *,
        phase: Phase | str = Phase.fitting,
        force: bool = False,
        **fields: Any,
    ) -> None:
        phase = Phase(phase)
        if self._phase is not None and PHASE_ORDER[phase] < PHASE_ORDER[self._phase]:
            # Phases only move forward: a fit that builds its model ("loading") after the
            # executor said "fitting" is still fitting; its message and details say the stage.
            phase = self._phase
        if phase not in TERMINAL_PHASES:
            self.check_cancelled()
        # Progress never goes back either: a fit whose projected work grew (an estimate of
        # iterations revised) holds still until its work catches up.
        fraction = self._highest = max(fraction, self._highest)
        now = self.clock()
        if phase != self._phase:
            self._phase = phase
            self._eta.restart()
            force = True
        if not force and now - self._last_publish < self.min_interval:
            return
        self._last_publish = now
        msg = make_message(
            self.run_id,
            phase,
            fraction,
            message,
            eta_seconds=fields.pop("eta_seconds", self._eta.update(now, fraction)),
            elapsed_seconds=round(now - self.started, 3),
            **fields,
        )
        self.last_message = msg
        self.store.publish(msg)
        if self.on_publish is not None:
            self.on_publish(msg)
