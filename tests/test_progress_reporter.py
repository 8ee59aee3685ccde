"""The progress reporter against the session's real Redis: throttling, ETA, stream, cancel."""

from __future__ import annotations

import time

import pytest

from backend.progress import ProgressReporter, ProgressStore, RunCancelled
from backend.schemas.common import Phase


def test_throttles_but_always_publishes_phase_changes() -> None:
    store = ProgressStore()
    reporter = ProgressReporter(store, "reporter-throttle", min_interval=10.0)
    reporter(0.0, "loading", phase=Phase.loading)
    for i in range(1, 100):
        reporter(i / 100, f"step {i}")
    reporter(1.0, "saving", phase=Phase.saving)
    events = store.client.xrange(store.keys.events("reporter-throttle"))
    phases = [ev[1]["data"] for ev in events]
    assert len(phases) == 3  # loading, first fitting message, saving
    latest = store.latest("reporter-throttle")
    assert latest is not None and latest.phase == Phase.saving
    store.forget("reporter-throttle")


def test_eta_follows_the_pace() -> None:
    store = ProgressStore()
    reporter = ProgressReporter(store, "reporter-eta", min_interval=0.0)
    reporter(0.0, "start")
    time.sleep(0.6)
    reporter(0.5, "half")
    latest = store.latest("reporter-eta")
    assert latest is not None and latest.eta_seconds == pytest.approx(0.6, abs=0.2)
    store.forget("reporter-eta")


def test_cancel_flag_raises_inside_the_fit() -> None:
    store = ProgressStore()
    reporter = ProgressReporter(store, "reporter-cancel", cancel_check_interval=0.0)
    reporter(0.1, "fine")
    store.request_cancel("reporter-cancel")
    with pytest.raises(RunCancelled):
        reporter(0.2, "stops here")
    store.forget("reporter-cancel")
