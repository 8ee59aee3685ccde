"""SSE resume is exact or says it is not: a reconnecting client gets every event after its
`Last-Event-ID`, or a `gap` event first when some are no longer kept; a malformed
`Last-Event-ID` is a 400.

A stack of its own whose worker publishes every progress call (PROGRESS_MIN_INTERVAL_SECONDS=0),
so a fit of a few seconds sends thousands of events, and whose streams keep at most KEPT.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.data import slow_fit_table
from tests.support.runs import Event, read_events, submit_lca, upload, wait_for
from tests.support.services import IsolatedStack

OLD_CAP = 5000  # what every run's stream kept before (backend/progress.py, STREAM_MAXLEN)
KEPT = 7000  # PROGRESS_STREAM_MAX_EVENTS of this stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IsolatedStack]:
    isolated = IsolatedStack(
        tmp_path_factory.mktemp("sse"),
        PROGRESS_MIN_INTERVAL_SECONDS="0",
        PROGRESS_STREAM_MAX_EVENTS=str(KEPT),
    )
    isolated.start_api()
    isolated.start_worker()
    yield isolated
    isolated.close()


@pytest.fixture(scope="module")
def client(stack: IsolatedStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{stack.api_url}/api/v1", timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def dataset_id(client: httpx.Client) -> str:
    return str(upload(client, slow_fit_table(n=2000, p=10)).json()["id"])


def many_events_run(client: httpx.Client, dataset_id: str, **params: Any) -> dict[str, Any]:
    """A fit whose tolerance is never met: about 4/3 progress events per EM iteration here."""
    # max_starts=1: one start, not the extra starts cheap data get by default.
    return submit_lca(
        client, dataset_id, n_init=1, max_starts=1, tol=1e-15, random_state=1, **params
    )


def reconnected_after_two_events(
    stack: IsolatedStack, client: httpx.Client, dataset_id: str, **params: Any
) -> tuple[str, list[Event], list[Event], list[Event]]:
    """A many-events run whose first two events a client saw before it dropped; once the run
    has completed, the client reconnects with the second event's id. The run's id, the two
    events, what the reconnection read, and what the stream still holds (read from the start)."""
    run = many_events_run(client, dataset_id, **params)
    first = read_events(stack.api_url, run["id"], limit=2)
    assert wait_for(client, run["id"])["status"] == "completed"
    rest = read_events(stack.api_url, run["id"], last_event_id=first[-1].id)
    return run["id"], first, rest, read_events(stack.api_url, run["id"])


def ids(events: list[Event]) -> list[str | None]:
    return [e.id for e in events if e.event == "message"]


def test_resume_from_an_early_id_past_the_old_cap_gets_every_event(
    stack: IsolatedStack, client: httpx.Client, dataset_id: str
) -> None:
    # Given a run that publishes more events than a stream used to keep (about 6,000), when a
    # client that saw only the first two events reconnects with the second one's id
    _, first, rest, everything = reconnected_after_two_events(
        stack, client, dataset_id, n_classes=4, max_iter=4500
    )

    # Then it gets every event after that one, in order, and the stream closes
    assert everything[0].data["phase"] == "queued"  # nothing was trimmed
    assert OLD_CAP < len(ids(everything)) < KEPT
    assert "gap" not in {e.event for e in rest}
    assert ids(first) + ids(rest) == ids(everything)
    assert rest[-1].event == "close" and rest[-2].data["phase"] == "completed"


def test_resume_from_before_the_oldest_kept_event_gets_a_gap_event_first(
    stack: IsolatedStack, client: httpx.Client, dataset_id: str
) -> None:
    # Given a run that publishes about twice as many events as its stream keeps, when a client
    # that saw only the first two events reconnects
    run_id, first, rest, kept = reconnected_after_two_events(
        stack, client, dataset_id, n_classes=6, max_iter=15000
    )
    assert KEPT <= len(ids(kept)) <= KEPT + 200  # trimmed to about PROGRESS_STREAM_MAX_EVENTS
    assert kept[0].data["phase"] != "queued"

    # Then a gap event comes first, with the snapshot and where to fetch it ...
    gap = rest[0]
    assert gap.event == "gap" and gap.id is None
    assert gap.data["last_event_id"] == first[-1].id
    assert gap.data["snapshot"]["phase"] == "completed" and gap.data["snapshot"]["progress"] == 1
    assert f"{stack.api_url}/api/v1/progress/{run_id}" in gap.data["message"]
    # ... then every event that is kept, and the close
    assert ids(rest[1:]) == ids(kept)
    assert [e.event for e in rest].count("gap") == 1
    assert rest[-1].event == "close"


def test_resume_that_cannot_be_exact_for_other_reasons_also_says_so(
    stack: IsolatedStack, client: httpx.Client, dataset_id: str
) -> None:
    run = many_events_run(client, dataset_id, n_classes=2, max_iter=50)
    assert wait_for(client, run["id"])["status"] == "completed"
    last = ids(read_events(stack.api_url, run["id"]))[-1]
    assert last is not None

    # An id this stream never sent (later than its last event): a gap, then the close
    ms, _, seq = last.partition("-")
    later = read_events(stack.api_url, run["id"], last_event_id=f"{int(ms) + 60_000}-{seq}")
    assert [e.event for e in later] == ["gap", "close"]
    assert "was never sent" in later[0].data["message"]

    # The run's events gone from Redis (flushed, or expired): a gap, then the final state
    stack.redis().delete(f"{stack.environment.prefix}:progress:{run['id']}:events")
    lost = read_events(stack.api_url, run["id"], last_event_id=last)
    assert [e.event for e in lost] == ["gap", "message", "close"]
    assert lost[0].data["snapshot"]["phase"] == "completed"
    assert lost[-1].data["phase"] == "completed"

    # Resuming from the last event of a stream that still has it: exact, no gap
    again = many_events_run(client, dataset_id, n_classes=2, max_iter=50)
    assert wait_for(client, again["id"])["status"] == "completed"
    events = read_events(stack.api_url, again["id"])
    assert read_events(stack.api_url, again["id"], last_event_id=events[-3].id) == events[-2:]
    # and `0` (Redis's `0-0`, before every event) reads it all
    assert read_events(stack.api_url, again["id"], last_event_id="0") == events


@pytest.fixture(scope="module")
def small_run(client: httpx.Client, dataset_id: str) -> dict[str, Any]:
    return wait_for(client, many_events_run(client, dataset_id, n_classes=2, max_iter=50)["id"])


@pytest.mark.parametrize(
    "header", ["abc", "1712345678901-", "1712345678901-0-0", "-1-0", "1.5-0", "1-" + "9" * 20]
)
def test_malformed_last_event_id_is_a_400_naming_the_header(
    stack: IsolatedStack, small_run: dict[str, Any], header: str
) -> None:
    url = f"{stack.api_url}/api/v1/progress/{small_run['id']}/stream"
    with httpx.stream("GET", url, headers={"Last-Event-ID": header}, timeout=10) as response:
        assert response.status_code == 400, response.headers
        body = response.read()
    detail = httpx.Response(400, content=body).json()["detail"]
    assert "Last-Event-ID" in detail and header[:20] in detail
