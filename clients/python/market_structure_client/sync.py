"""The blocking client."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx

from market_structure_client._core import API_PREFIX, Deadline, StreamState, error_from
from market_structure_client._endpoints import Call, Connection
from market_structure_client.models import Progress, Run

T = TypeVar("T")


class Client(Connection[httpx.Client, httpx.BaseTransport]):
    """A client of one Market Structure API.

        with Client("http://127.0.0.1:8000") as api:
            dataset = api.upload("purchases.csv")
            run = api.submit("lca", {"n_classes": 4}, dataset_id=dataset.id)
            run = api.wait(run.id, on_progress=lambda p: print(p.progress, p.message))
            tables = api.tables(run.id)          # every result table as a DataFrame
            members = api.assignments(run.id)    # one row per household

    `token` is sent as `Authorization: Bearer <token>` (the API's API_TOKEN). Requests that
    may be repeated (reads, deletes, and `submit`, which sends an Idempotency-Key) are retried
    on connection errors and 5xx answers, as `retry` says; every refusal is an `ApiError`
    whose `detail` is the API's sentence. Every endpoint is defined in `_endpoints`; this
    class only sends the calls.
    """

    http_class = httpx.Client

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def request(
        self, method: str, path: str, *, prefix: str = API_PREFIX, **kwargs: Any
    ) -> httpx.Response:
        """One call, retried when it may be; the answer, or an ApiError."""
        attempts = self.attempts(method, kwargs)
        while True:
            try:
                outcome = attempts.outcome(self.http.request(method, f"{prefix}{path}", **kwargs))
            except httpx.TransportError as exc:
                outcome = attempts.outcome(None, exc)
            if isinstance(outcome, httpx.Response):
                return outcome
            time.sleep(outcome)

    def send(self, call: Call[T]) -> T:
        """Send one endpoint's call and read its answer."""
        return call.answer(self.request(call.method, call.path, prefix=call.prefix, **call.options))

    def stream(
        self, run_id: str, *, last_event_id: str | None = None, reconnects: int = 20
    ) -> Iterator[Progress]:
        """The run's progress messages as they come, until it ends.

        A dropped connection is resumed from the last event id received (`Last-Event-ID`),
        so nothing is missed or repeated; when the server no longer keeps some events it says
        so and the run's snapshot comes instead (`details["gap"]`). After `reconnects` failed
        attempts in a row, ApiUnavailable."""
        state = StreamState(run_id, self.retry, last_event_id, reconnects)
        while not state.closed:
            path, options = state.request(self.http.timeout.connect)
            try:
                with self.http.stream("GET", path, **options) as response:
                    if response.is_error:
                        response.read()
                        raise error_from(response)
                    for line in response.iter_lines():
                        if (message := state.take(line)) is not None:
                            yield message
                        if state.closed:
                            return
            except httpx.TransportError as exc:
                time.sleep(state.reconnect_after(exc))

    def wait(
        self,
        run_id: str,
        *,
        timeout: float | None = None,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> Run:
        """Follow the run's progress until it ends; answers the run (completed, failed or
        cancelled). TimeoutError after `timeout` seconds."""
        deadline = Deadline(run_id, timeout, on_progress)
        for message in self.stream(run_id):
            deadline.passed(message)
        return self.run(run_id)
