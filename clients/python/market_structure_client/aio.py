"""The asyncio client: the same calls as `Client`, awaited."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import httpx

from market_structure_client._core import API_PREFIX, Deadline, StreamState, error_from
from market_structure_client._endpoints import Call, Connection
from market_structure_client.models import Progress, Run

T = TypeVar("T")


class AsyncClient(Connection[httpx.AsyncClient, httpx.AsyncBaseTransport]):
    """An asyncio client of one Market Structure API (see `Client`).

    async with AsyncClient("http://127.0.0.1:8000") as api:
        run = await api.submit("lca", {"n_classes": 4}, dataset_id=dataset_id)
        async for progress in api.stream(run.id):
            print(progress.progress, progress.message)
    """

    http_class = httpx.AsyncClient

    async def close(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def request(
        self, method: str, path: str, *, prefix: str = API_PREFIX, **kwargs: Any
    ) -> httpx.Response:
        """One call, retried when it may be; the answer, or an ApiError."""
        attempts = self.attempts(method, kwargs)
        while True:
            try:
                response = await self.http.request(method, f"{prefix}{path}", **kwargs)
                outcome = attempts.outcome(response)
            except httpx.TransportError as exc:
                outcome = attempts.outcome(None, exc)
            if isinstance(outcome, httpx.Response):
                return outcome
            await asyncio.sleep(outcome)

    async def send(self, call: Call[T]) -> T:
        """Send one endpoint's call and read its answer."""
        response = await self.request(call.method, call.path, prefix=call.prefix, **call.options)
        return call.answer(response)

    async def stream(
        self, run_id: str, *, last_event_id: str | None = None, reconnects: int = 20
    ) -> AsyncIterator[Progress]:
        """`Client.stream` for asyncio: the run's progress messages as they come, resumed after
        a dropped connection."""
        state = StreamState(run_id, self.retry, last_event_id, reconnects)
        while not state.closed:
            path, options = state.request(self.http.timeout.connect)
            try:
                async with self.http.stream("GET", path, **options) as response:
                    if response.is_error:
                        await response.aread()
                        raise error_from(response)
                    async for line in response.aiter_lines():
                        if (message := state.take(line)) is not None:
                            yield message
                        if state.closed:
                            return
            except httpx.TransportError as exc:
                await asyncio.sleep(state.reconnect_after(exc))

    async def wait(
        self,
        run_id: str,
        *,
        timeout: float | None = None,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> Run:
        """`Client.wait` for asyncio: the run once it has ended."""
        deadline = Deadline(run_id, timeout, on_progress)
        async for message in self.stream(run_id):
            deadline.passed(message)
        return await self.run(run_id)
