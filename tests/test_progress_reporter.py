"""The progress reporter against the session's real Redis: throttling, ETA, stream, cancel.
Time comes from a clock the test moves, so nothing here sleeps or depends on machine speed."""

from __future__ import annotations

import pytest

from backend.progress import (
    UNTHROTTLED_EVENTS,
    Eta,
    ProgressReporter,
    ProgressStore,
    RunCancelled,
    stream_max_events,
)
from backend.schemas.api import ProgressMessage
from backend.schemas.common import Phase
from backend.settings import Settings


class Clock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def published(store: ProgressStore, run_id: str) -> list[str]:
    return [fields["data"] for _, fields in store.client.xrange(store.keys.events(run_id))]


def test_throttles_but_always_publishes_phase_changes() -> None:
    store, clock = ProgressStore(), Clock()
    reporter = ProgressReporter(store, "reporter-throttle", min_interval=10.0, clock=clock)
    reporter(0.0, "loading", phase=Phase.loading)
    # A burst within the interval: only its first message (a phase change) goes out
    for i in range(1, 100):
        reporter(i / 200, f"step {i}")
        clock.advance(0.01)
    assert len(published(store, "reporter-throttle")) == 2
    # Once the interval has passed, the next one goes out
    clock.advance(10.0)
    reporter(0.6, "step 100")
    reporter(0.61, "step 101")
    assert len(published(store, "reporter-throttle")) == 3
    # A phase change goes out at once, inside the interval too
    reporter(1.0, "saving", phase=Phase.saving)
    assert len(published(store, "reporter-throttle")) == 4
    latest = store.latest("reporter-throttle")
    assert latest is not None and latest.phase == Phase.saving
    store.forget("reporter-throttle")


def test_eta_follows_the_pace() -> None:
    store, clock = ProgressStore(), Clock()
    reporter = ProgressReporter(store, "reporter-eta", min_interval=0.0, clock=clock)
    reporter(0.0, "start")
    # Too early to tell: no ETA before two seconds of progress were seen
    clock.advance(1.5)
    reporter(0.1, "early")
    latest = store.latest("reporter-eta")
    assert latest is not None and latest.eta_seconds is None
    # A steady pace, 5 % a second from there: at 50 % another 10 s to go
    for _ in range(32):
        clock.advance(0.25)
        reporter(min(latest.progress + 0.0125, 1.0), "steady")
        latest = store.latest("reporter-eta")
        assert latest is not None
    assert latest.progress == pytest.approx(0.5)
    assert latest.eta_seconds == pytest.approx(10.0, rel=0.05)
    assert latest.elapsed_seconds == pytest.approx(9.5)
    store.forget("reporter-eta")


def eta_at(eta: Eta, schedule: list[tuple[float, float]], step: float = 0.25) -> list[float | None]:
    """Feed `eta` a run that spends each (seconds, share of the work) in turn at an even pace;
    answers its estimates, one per step."""
    now, fraction, out = 0.0, 0.0, []
    for seconds, share in schedule:
        for _ in range(round(seconds / step)):
            now += step
            fraction += share * step / seconds
            out.append(eta.update(now, fraction))
    return out


def test_eta_forgets_a_slow_start_and_is_never_negative() -> None:
    # Given a run that spends 10 s compiling for 5 % of its progress, then 20 s for the rest
    estimates = eta_at(Eta(), [(10.0, 0.05), (20.0, 0.95)])
    # Then once the work proper has run for a while the estimate is within 15 % of the truth
    truth = [30.0 - 0.25 * (i + 1) for i in range(len(estimates))]
    late = [(e, t) for e, t in zip(estimates, truth, strict=True)][68:-4]  # from t = 17 s
    assert all(e is not None and abs(e - t) <= 0.15 * t + 0.5 for e, t in late), late
    # And a run whose progress stalls keeps a positive estimate, never a negative one
    stalled = eta_at(Eta(), [(5.0, 0.5), (30.0, 0.0)])
    assert all(e is None or e >= 0 for e in stalled) and stalled[-1] is not None
    assert stalled[-1] > 0


def test_cancel_flag_raises_inside_the_fit() -> None:
    store = ProgressStore()
    reporter = ProgressReporter(store, "reporter-cancel", cancel_check_interval=0.0)
    reporter(0.1, "fine")
    store.request_cancel("reporter-cancel")
    with pytest.raises(RunCancelled):
        reporter(0.2, "stops here")
    store.forget("reporter-cancel")


def test_cancel_flag_is_read_at_most_once_per_check_interval() -> None:
    store, clock = ProgressStore(), Clock()
    reporter = ProgressReporter(
        store, "reporter-cancel-interval", cancel_check_interval=1.0, clock=clock
    )
    reporter(0.1, "fine")
    store.request_cancel("reporter-cancel-interval")
    # Within the interval the flag is not read again: the fit goes on
    clock.advance(0.5)
    reporter(0.2, "not yet seen")
    # Once the interval has passed it is
    clock.advance(0.5)
    with pytest.raises(RunCancelled):
        reporter(0.3, "stops here")
    store.forget("reporter-cancel-interval")


def test_a_run_stream_keeps_every_event_the_run_can_publish_up_to_the_bound() -> None:
    # The throttle allows one message per interval for the run's whole time limit, plus room for
    # the messages that always go through; PROGRESS_STREAM_MAX_EVENTS bounds it.
    defaults = Settings.model_construct()  # the defaults, whatever this environment sets
    assert stream_max_events(defaults) == 6 * 3600 * 4 + UNTHROTTLED_EVENTS  # 87,400
    hour = defaults.model_copy(update={"job_timeout_seconds": 3600})
    assert stream_max_events(hour) == 3600 * 4 + UNTHROTTLED_EVENTS
    unthrottled = defaults.model_copy(update={"progress_min_interval_seconds": 0})
    assert stream_max_events(unthrottled) == defaults.progress_stream_max_events
    day = defaults.model_copy(update={"job_timeout_seconds": 24 * 3600})
    assert stream_max_events(day) == defaults.progress_stream_max_events == 200_000

    # And the store trims a run's stream only past that (approximately: whole stream nodes)
    store = ProgressStore()
    store.max_events = 100
    reporter = ProgressReporter(store, "reporter-retention", min_interval=0.0, clock=Clock())
    for i in range(300):
        reporter(i / 300, f"step {i}")
    assert 100 <= len(published(store, "reporter-retention")) < 300


def test_phases_only_move_forward() -> None:
    # Given a reporter that said "fitting" (the executor), when the fit reports "loading" while
    # it builds its model (the Bayesian fits do), then the stream still says "fitting"
    store, clock = ProgressStore(), Clock()
    reporter = ProgressReporter(store, "reporter-forward", min_interval=0.0, clock=clock)
    for phase in (Phase.loading, Phase.fitting, Phase.loading, Phase.sampling, Phase.fitting):
        reporter(0.1, f"{phase} reported", phase=phase)
        clock.advance(1)
    reporter(1.0, "saving", phase=Phase.saving)
    phases = [
        ProgressMessage.model_validate_json(d).phase for d in published(store, "reporter-forward")
    ]
    assert phases == ["loading", "fitting", "fitting", "sampling", "sampling", "saving"]
    # the fit's own words are kept
    assert "loading reported" in published(store, "reporter-forward")[2]
    store.forget("reporter-forward")
