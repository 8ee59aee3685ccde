"""The asyncio client: the same calls as `Client`, awaited."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import httpx

from market_structure_client._core import (
    API_PREFIX,
    DEFAULT_URL,
    Retry,
    SseParser,
    StreamState,
    attempts_for,
    client_headers,
    error_from,
    settle,
    stream_backoff,
    stream_failed,
    stream_request,
    unreachable,
)
from market_structure_client._endpoints import Call, Endpoints
from market_structure_client.models import Progress, Run

T = TypeVar("T")


class AsyncClient(Endpoints):
    """An asyncio client of one Market Structure API (see `Client`).

        async with AsyncClient("http://127.0.0.1:8000") as api:
            run = await api.submit("lca", {"n_classes": 4}, dataset_id=dataset_id)
            async for progress in api.stream(run.id):
                print(progress.progress, progress.message)

    `token` is sent as `Authorization: Bearer <token>` (the API's API_TOKEN). Requests that
    may be repeated (reads, deletes, and `submit`, which sends an Idempotency-Key) are retried
    on connection errors and 5xx answers, as `retry` says; every refusal is an `ApiError`
    whose `detail` is the API's sentence.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        token: str | None = None,
        timeout: float | httpx.Timeout = 30.0,
        retry: Retry | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = client_headers(token)
        self.base_url = base_url.rstrip("/")
        self.retry = retry or Retry()
        self.http = httpx.AsyncClient(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )

    async def close(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    # -- plumbing --------------------------------------------------------------------------

    async def request(
        self, method: str, path: str, *, prefix: str = API_PREFIX, **kwargs: Any
    ) -> httpx.Response:
        """One call, retried when it may be; the answer, or an ApiError."""
        attempts = attempts_for(self.retry, method, kwargs)
        for attempt in range(attempts):
            response = None
            try:
                response = await self.http.request(method, f"{prefix}{path}", **kwargs)
            except httpx.TransportError as exc:
                if attempt + 1 >= attempts:
                    raise unreachable(self.base_url, exc) from exc
            else:
                answer = settle(response, last=attempt + 1 >= attempts)
                if answer is not None:
                    return answer
            await asyncio.sleep(self.retry.wait(attempt, response))
        raise AssertionError("unreachable")

    async def send(self, call: Call[T]) -> T:
        """Send one endpoint's call (see `_endpoints`) and read its answer."""
        response = await self.request(call.method, call.path, prefix=call.prefix, **call.options)
        return call.answer(response)

    # -- progress --------------------------------------------------------------------------

    async def stream(
        self, run_id: str, *, last_event_id: str | None = None, reconnects: int = 20
    ) -> AsyncIterator[Progress]:
        """The run's progress messages as they come, until it ends.

        A dropped connection is resumed from the last event id received (`Last-Event-ID`),
        so nothing is missed or repeated; when the server no longer keeps some events it says
        so and the run's snapshot comes instead (`details["gap"]`). After `reconnects` failed
        attempts in a row, ApiUnavailable."""
        state = StreamState(last_event_id)
        failures = 0
        while not state.closed:
            path, options = stream_request(run_id, state, self.http.timeout.connect)
            try:
                async with self.http.stream("GET", path, **options) as response:
                    if response.is_error:
                        await response.aread()
                        raise error_from(response)
                    parser = SseParser()
                    async for line in response.aiter_lines():
                        event = parser.line(line)
                        if event is None:
                            continue
                        failures = 0
                        message = state.handle(event)
                        if message is not None:
                            yield message
                        if state.closed:
                            return
            except httpx.TransportError as exc:
                failures += 1
                if failures > reconnects:
                    raise stream_failed(run_id, exc) from exc
                await asyncio.sleep(stream_backoff(self.retry, failures))

    async def wait(
        self,
        run_id: str,
        *,
        timeout: float | None = None,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> Run:
        """Follow the run's progress until it ends; answers the run (completed, failed or
        cancelled). TimeoutError after `timeout` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        async for message in self.stream(run_id):
            if on_progress is not None:
                on_progress(message)
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"run {run_id} did not end within {timeout} s")
        return await self.run(run_id)
