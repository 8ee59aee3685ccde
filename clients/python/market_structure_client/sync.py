"""The blocking client."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from market_structure_client._core import (
    API_PREFIX,
    DEFAULT_URL,
    RETRY_STATUSES,
    STREAM_READ_TIMEOUT,
    ApiUnavailable,
    Retry,
    SseParser,
    StreamState,
    error_from,
    file_part,
    new_idempotency_key,
    read_frame,
    retryable,
    run_body,
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


class Client:
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
    whose `detail` is the API's sentence.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        token: str | None = None,
        timeout: float | httpx.Timeout = 30.0,
        retry: Retry | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.base_url = base_url.rstrip("/")
        self.retry = retry or Retry()
        self.http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- plumbing --------------------------------------------------------------------------

    def request(
        self, method: str, path: str, *, prefix: str = API_PREFIX, **kwargs: Any
    ) -> httpx.Response:
        """One call, retried when it may be; the answer, or an ApiError."""
        headers = kwargs.get("headers") or {}
        attempts = self.retry.attempts if retryable(method, headers) else 1
        for attempt in range(attempts):
            response = None
            try:
                response = self.http.request(method, f"{prefix}{path}", **kwargs)
            except httpx.TransportError as exc:
                if attempt + 1 >= attempts:
                    raise ApiUnavailable(
                        f"Could not reach the API at {self.base_url}: {exc!r}."
                    ) from exc
            else:
                if response.status_code not in RETRY_STATUSES or attempt + 1 >= attempts:
                    if response.is_error:
                        raise error_from(response)
                    return response
            time.sleep(self.retry.wait(attempt, response))
        raise AssertionError("unreachable")

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.request(method, path, **kwargs).json()

    # -- service ---------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        return dict(self.request("GET", "/health", prefix="").json())

    def models(self) -> list[ModelInfo]:
        return [ModelInfo.model_validate(m) for m in self._json("GET", "/models")]

    # -- datasets --------------------------------------------------------------------------

    def upload(
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
        part = file_part(file, filename)
        form = {"name": name, "id_column": id_column, "sheet": sheet}
        if product_columns:
            form["product_columns"] = ",".join(product_columns)
        data = {k: v for k, v in form.items() if v is not None}
        response = self.request("POST", "/datasets", files={"file": part}, data=data)
        return Dataset.model_validate(response.json())

    def dataset(self, dataset_id: str) -> Dataset:
        return Dataset.model_validate(self._json("GET", f"/datasets/{dataset_id}"))

    def datasets(self, *, limit: int = 50, offset: int = 0) -> DatasetPage:
        params = {"limit": limit, "offset": offset}
        return DatasetPage.model_validate(self._json("GET", "/datasets", params=params))

    def delete_dataset(self, dataset_id: str, *, force: bool = False) -> None:
        self.request("DELETE", f"/datasets/{dataset_id}", params={"force": str(force).lower()})

    # -- runs ------------------------------------------------------------------------------

    def submit(
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
        headers = {"Idempotency-Key": idempotency_key or new_idempotency_key()}
        return Run.model_validate(self._json("POST", "/runs", json=body, headers=headers))

    def run(self, run_id: str) -> Run:
        return Run.model_validate(self._json("GET", f"/runs/{run_id}"))

    def runs(
        self,
        *,
        status: str | None = None,
        model_type: str | None = None,
        parent_id: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> RunPage:
        query = {"status": status, "model_type": model_type, "parent_id": parent_id}
        params = {k: v for k, v in query.items() if v} | {"limit": limit, "offset": offset}
        return RunPage.model_validate(self._json("GET", "/runs", params=params))

    def update(
        self,
        run_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        labels: dict[str, str] | None = None,
    ) -> Run:
        """Rename or describe a run, or name its units (`labels`: raw key → name)."""
        fields = {"name": name, "description": description, "labels": labels}
        body = {k: v for k, v in fields.items() if v is not None}
        return Run.model_validate(self._json("PATCH", f"/runs/{run_id}", json=body))

    def set_labels(self, run_id: str, labels: dict[str, str]) -> Run:
        return self.update(run_id, labels=labels)

    def cancel(self, run_id: str) -> Run:
        return Run.model_validate(self._json("POST", f"/runs/{run_id}/cancel"))

    def delete(self, run_id: str) -> None:
        self.request("DELETE", f"/runs/{run_id}")

    def score(
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
        body = run_body("score", None, dataset_id=dataset_id, data=data, id_column=id_column)
        body.pop("model_type"), body.pop("params")
        if name:
            body["name"] = name
        headers = {"Idempotency-Key": idempotency_key or new_idempotency_key()}
        response = self._json("POST", f"/runs/{run_id}/score", json=body, headers=headers)
        return Run.model_validate(response)

    # -- progress --------------------------------------------------------------------------

    def progress(self, run_id: str) -> Progress:
        return Progress.model_validate(self._json("GET", f"/progress/{run_id}"))

    def stream(
        self, run_id: str, *, last_event_id: str | None = None, reconnects: int = 20
    ) -> Iterator[Progress]:
        """The run's progress messages as they come, until it ends.

        A dropped connection is resumed from the last event id received (`Last-Event-ID`),
        so nothing is missed or repeated; when the server no longer keeps some events it says
        so and the run's snapshot comes instead (`details["gap"]`). After `reconnects` failed
        attempts in a row, ApiUnavailable."""
        state = StreamState(last_event_id)
        failures = 0
        timeout = httpx.Timeout(self.http.timeout.connect, read=STREAM_READ_TIMEOUT)
        while not state.closed:
            headers = {"Accept": "text/event-stream"}
            if state.last_event_id:
                headers["Last-Event-ID"] = state.last_event_id
            try:
                with self.http.stream(
                    "GET",
                    f"{API_PREFIX}/progress/{run_id}/stream",
                    headers=headers,
                    timeout=timeout,
                ) as response:
                    if response.is_error:
                        response.read()
                        raise error_from(response)
                    for event in SseParser().feed(response.iter_lines()):
                        failures = 0
                        message = state.handle(event)
                        if message is not None:
                            yield message
                        if state.closed:
                            return
            except httpx.TransportError as exc:
                failures += 1
                if failures > reconnects:
                    raise ApiUnavailable(
                        f"The progress stream of run {run_id} kept failing: {exc!r}."
                    ) from exc
                time.sleep(self.retry.wait(min(failures - 1, 4), None))

    def wait(
        self,
        run_id: str,
        *,
        timeout: float | None = None,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> Run:
        """Follow the run's progress until it ends; answers the run (completed, failed or
        cancelled). TimeoutError after `timeout` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for message in self.stream(run_id):
            if on_progress is not None:
                on_progress(message)
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"run {run_id} did not end within {timeout} s")
        return self.run(run_id)

    # -- results ---------------------------------------------------------------------------

    def results(self, run_id: str) -> dict[str, Any]:
        """The full result JSON of a completed run."""
        return dict(self._json("GET", f"/runs/{run_id}/results"))

    def assignments(self, run_id: str) -> pd.DataFrame:
        """The per-household outputs (class probabilities, scores…), keyed by the ID column."""
        response = self.request("GET", f"/runs/{run_id}/assignments", params={"format": "parquet"})
        return read_frame(response.content, parquet=True)

    def export(self, run_id: str, path: str | Path | None = None, *, report: bool = True) -> bytes:
        """The run's ZIP (every table as CSV and Parquet, memberships, results, report, README);
        written to `path` too when given."""
        params = None if report else {"report": "false"}
        content = self.request("GET", f"/runs/{run_id}/export", params=params).content
        if path is not None:
            Path(path).write_bytes(content)
        return content

    def tables(self, run_id: str) -> dict[str, pd.DataFrame]:
        """Every result table of the run as a DataFrame (from the export's Parquet files)."""
        return zip_tables(self.export(run_id, report=False))

    def report(self, run_id: str) -> str:
        """The self-contained HTML report."""
        return self.request("GET", f"/runs/{run_id}/report").text

    def cluster_products(self, run_id: str, **request: Any) -> dict[str, Any]:
        """Cluster the run's products (`method`, `n_clusters` or `max_k`, `linkage_method`)."""
        return dict(self._json("POST", f"/runs/{run_id}/clustering", json=request))
