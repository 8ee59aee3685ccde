"""Progress never decreases in the stream (issue 17): a fit whose projected work grew (its
fraction done drops) holds still until its work catches up. Against the session's Redis, with
a clock the test moves."""

from __future__ import annotations

from backend.progress import ProgressReporter, ProgressStore
from backend.schemas.api import ProgressMessage


def test_progress_never_decreases() -> None:
    store = ProgressStore()
    now = [1000.0]
    reporter = ProgressReporter(store, "reporter-monotone", min_interval=0.0, clock=lambda: now[0])
    for fraction in (0.1, 0.4, 0.3, 0.35, 0.5):
        reporter(fraction, "fitting")
        now[0] += 1
    events = store.client.xrange(store.keys.events("reporter-monotone"))
    shown = [ProgressMessage.model_validate_json(fields["data"]).progress for _, fields in events]
    assert shown == [0.1, 0.4, 0.4, 0.4, 0.5]
    store.forget("reporter-monotone")
