"""The asyncio client: the same calls as `Client`, awaited."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
    export_params,
    idempotency_headers,
    read_frame,
    run_body,
    runs_query,
    score_body,
    settle,
    stream_backoff,
    stream_failed,
    stream_request,
    unreachable,
    update_body,
    upload_request,
    zip_tables,
)
from market_structure_client.models import (
    Dataset,
    DatasetPage,
    ModelInfo,
    Progress,
    Run,
    RunPage,
)

if TYPE_CHECKING:
    import pandas as pd


class AsyncClient:
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

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return (await self.request(method, path, **kwargs)).json()

    # -- service ---------------------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        return dict((await self.request("GET", "/health", prefix="")).json())

    async def models(self) -> list[ModelInfo]:
        return [ModelInfo.model_validate(m) for m in await self._json("GET", "/models")]

    # -- datasets --------------------------------------------------------------------------

    async def upload(
        self,
        file: str | Path | bytes | pd.DataFrame,
        *,
        filename: str | None = None,
        name: str | None = None,
        product_columns: list[str] | None = None,
        id_column: str | None = None,
        sheet: str | None = None,
    ) -> Dataset:
        """Upload a CSV, XLSX or Parquet file (a path, its bytes, or a DataFrame sent as CSV)."""
        upload = upload_request(
            file,
            filename=filename,
            name=name,
            product_columns=product_columns,
            id_column=id_column,
            sheet=sheet,
        )
        response = await self.request("POST", "/datasets", **upload)
        return Dataset.model_validate(response.json())

    async def dataset(self, dataset_id: str) -> Dataset:
        return Dataset.model_validate(await self._json("GET", f"/datasets/{dataset_id}"))

    async def datasets(self, *, limit: int = 50, offset: int = 0) -> DatasetPage:
        params = {"limit": limit, "offset": offset}
        return DatasetPage.model_validate(await self._json("GET", "/datasets", params=params))

    async def delete_dataset(self, dataset_id: str, *, force: bool = False) -> None:
        await self.request(
            "DELETE", f"/datasets/{dataset_id}", params={"force": str(force).lower()}
        )

    # -- runs ------------------------------------------------------------------------------

    async def submit(
        self,
        model_type: str,
        params: dict[str, Any] | None = None,
        *,
        dataset_id: str | None = None,
        data: str | Path | bytes | pd.DataFrame | None = None,
        product_columns: list[str] | None = None,
        covariate_columns: list[str] | None = None,
        id_column: str | None = None,
        weight_column: str | None = None,
        name: str | None = None,
        description: str | None = None,
        idempotency_key: str | None = None,
    ) -> Run:
        """Queue a fit on an uploaded dataset (`dataset_id`) or on `data` sent inline.

        An Idempotency-Key is made for the call (or give one), so the retries after a dropped
        connection or a 5xx answer the run the first attempt created, never a second fit."""
        body = run_body(
            model_type,
            params,
            dataset_id=dataset_id,
            data=data,
            product_columns=product_columns,
            covariate_columns=covariate_columns,
            id_column=id_column,
            weight_column=weight_column,
            name=name,
            description=description,
        )
        headers = idempotency_headers(idempotency_key)
        return Run.model_validate(await self._json("POST", "/runs", json=body, headers=headers))

    async def run(self, run_id: str) -> Run:
        return Run.model_validate(await self._json("GET", f"/runs/{run_id}"))

    async def runs(
        self,
        *,
        status: str | None = None,
        model_type: str | None = None,
        parent_id: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> RunPage:
        params = runs_query(
            status=status, model_type=model_type, parent_id=parent_id, limit=limit, offset=offset
        )
        return RunPage.model_validate(await self._json("GET", "/runs", params=params))

    async def update(
        self,
        run_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        labels: dict[str, str] | None = None,
    ) -> Run:
        """Rename or describe a run, or name its units (`labels`: raw key → name)."""
        body = update_body(name=name, description=description, labels=labels)
        return Run.model_validate(await self._json("PATCH", f"/runs/{run_id}", json=body))

    async def set_labels(self, run_id: str, labels: dict[str, str]) -> Run:
        return await self.update(run_id, labels=labels)

    async def cancel(self, run_id: str) -> Run:
        return Run.model_validate(await self._json("POST", f"/runs/{run_id}/cancel"))

    async def delete(self, run_id: str) -> None:
        await self.request("DELETE", f"/runs/{run_id}")

    async def score(
        self,
        run_id: str,
        *,
        dataset_id: str | None = None,
        data: str | Path | bytes | pd.DataFrame | None = None,
        id_column: str | None = None,
        name: str | None = None,
        idempotency_key: str | None = None,
    ) -> Run:
        """Apply a finished run's model to new households: a scoring run, followed like any
        run (`wait`, `stream`); its `assignments` are the scored households."""
        body = score_body(dataset_id=dataset_id, data=data, id_column=id_column, name=name)
        headers = idempotency_headers(idempotency_key)
        response = await self._json("POST", f"/runs/{run_id}/score", json=body, headers=headers)
        return Run.model_validate(response)

    # -- progress --------------------------------------------------------------------------

    async def progress(self, run_id: str) -> Progress:
        return Progress.model_validate(await self._json("GET", f"/progress/{run_id}"))

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

    # -- results ---------------------------------------------------------------------------

    async def results(self, run_id: str) -> dict[str, Any]:
        """The full result JSON of a completed run."""
        return dict(await self._json("GET", f"/runs/{run_id}/results"))

    async def assignments(self, run_id: str) -> pd.DataFrame:
        """The per-household outputs (class probabilities, scores…), keyed by the ID column."""
        response = await self.request(
            "GET", f"/runs/{run_id}/assignments", params={"format": "parquet"}
        )
        return read_frame(response.content, parquet=True)

    async def export(
        self, run_id: str, path: str | Path | None = None, *, report: bool = True
    ) -> bytes:
        """The run's ZIP (every table as CSV and Parquet, memberships, results, report, README);
        written to `path` too when given."""
        params = export_params(report)
        content = (await self.request("GET", f"/runs/{run_id}/export", params=params)).content
        if path is not None:
            Path(path).write_bytes(content)
        return content

    async def tables(self, run_id: str) -> dict[str, pd.DataFrame]:
        """Every result table of the run as a DataFrame (from the export's Parquet files)."""
        return zip_tables(await self.export(run_id, report=False))

    async def report(self, run_id: str) -> str:
        """The self-contained HTML report."""
        return (await self.request("GET", f"/runs/{run_id}/report")).text

    async def cluster_products(self, run_id: str, **request: Any) -> dict[str, Any]:
        """Cluster the run's products (`method`, `n_clusters` or `max_k`, `linkage_method`)."""
        return dict(await self._json("POST", f"/runs/{run_id}/clustering", json=request))
