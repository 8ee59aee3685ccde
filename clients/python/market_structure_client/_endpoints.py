"""Every endpoint of the API once, without I/O: each takes a client method's arguments and
builds a `Call` (the request to send and how to read its answer).

`Client` and `AsyncClient` inherit `Endpoints`; each only sends a call its own way
(`send`: blocking or awaited, with the retries) and hands the response to `Call.answer`.
A new endpoint is one builder here, nothing in the clients."""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, overload

import httpx
from pydantic import BaseModel

from market_structure_client._core import (
    API_PREFIX,
    DEFAULT_URL,
    Attempts,
    Retry,
    client_headers,
    export_params,
    idempotency_headers,
    read_frame,
    run_body,
    runs_query,
    score_body,
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

    from market_structure_client.aio import AsyncClient
    from market_structure_client.sync import Client

P = ParamSpec("P")
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request (`method`, `prefix` + `path`, httpx keyword `options`) and what the method
    answers from its response."""

    method: str
    path: str
    answer: Callable[[httpx.Response], T]
    options: dict[str, Any] = field(default_factory=dict)
    prefix: str = API_PREFIX


def _model(model: type[M]) -> Callable[[httpx.Response], M]:
    return lambda response: model.model_validate(response.json())


def _object(response: httpx.Response) -> dict[str, Any]:
    return dict(response.json())


def _nothing(_: httpx.Response) -> None:
    return None


class Endpoint(Generic[P, T]):
    """A client method made from a call builder: on a `Client` it answers what the call's
    `answer` reads (`T`); on an `AsyncClient` it answers an awaitable of it."""

    def __init__(self, build: Callable[P, Call[T]]) -> None:
        self.build = build
        self.__doc__, self.__name__ = build.__doc__, build.__name__
        self.__wrapped__ = build  # inspect.signature and help() show the method's arguments

    def __call__(self, client: Any, *args: Any, **kwargs: Any) -> Any:
        """Called on the class with the client first, as a plain method can be."""
        return client.send(self.build(*args, **kwargs))

    @overload
    def __get__(self, client: None, owner: type[Any]) -> Endpoint[P, T]: ...
    @overload
    def __get__(self, client: Client, owner: type[Any]) -> Callable[P, T]: ...
    @overload
    def __get__(
        self, client: AsyncClient, owner: type[Any]
    ) -> Callable[P, Coroutine[Any, Any, T]]: ...
    def __get__(self, client: Any, owner: type[Any]) -> Any:
        if client is None:
            return self
        build = self.build

        @functools.wraps(build)
        def method(*args: Any, **kwargs: Any) -> Any:
            return client.send(build(*args, **kwargs))

        return method


class Endpoints:
    """The API's endpoints, which `Client` and `AsyncClient` inherit (each sends a `Call`
    its own way: `send`)."""

    # -- service ---------------------------------------------------------------------------

    @Endpoint
    def health() -> Call[dict[str, Any]]:
        return Call("GET", "/health", _object, prefix="")

    @Endpoint
    def models() -> Call[list[ModelInfo]]:
        return Call("GET", "/models", lambda r: [ModelInfo.model_validate(m) for m in r.json()])

    # -- datasets --------------------------------------------------------------------------

    @Endpoint
    def upload(
        file: str | Path | bytes | pd.DataFrame,
        *,
        filename: str | None = None,
        name: str | None = None,
        product_columns: list[str] | None = None,
        id_column: str | None = None,
        sheet: str | None = None,
    ) -> Call[Dataset]:
        """Upload a CSV, XLSX or Parquet file (a path, its bytes, or a DataFrame sent as CSV)."""
        form = upload_request(
            file,
            filename=filename,
            name=name,
            product_columns=product_columns,
            id_column=id_column,
            sheet=sheet,
        )
        return Call("POST", "/datasets", _model(Dataset), form)

    @Endpoint
    def dataset(dataset_id: str) -> Call[Dataset]:
        return Call("GET", f"/datasets/{dataset_id}", _model(Dataset))

    @Endpoint
    def datasets(*, limit: int = 50, offset: int = 0) -> Call[DatasetPage]:
        query = {"limit": limit, "offset": offset}
        return Call("GET", "/datasets", _model(DatasetPage), {"params": query})

    @Endpoint
    def delete_dataset(dataset_id: str, *, force: bool = False) -> Call[None]:
        query = {"force": str(force).lower()}
        return Call("DELETE", f"/datasets/{dataset_id}", _nothing, {"params": query})

    # -- runs ------------------------------------------------------------------------------

    @Endpoint
    def submit(
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
    ) -> Call[Run]:
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
        options = {"json": body, "headers": idempotency_headers(idempotency_key)}
        return Call("POST", "/runs", _model(Run), options)

    @Endpoint
    def run(run_id: str) -> Call[Run]:
        return Call("GET", f"/runs/{run_id}", _model(Run))

    @Endpoint
    def runs(
        *,
        status: str | None = None,
        model_type: str | None = None,
        parent_id: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Call[RunPage]:
        query = runs_query(
            status=status, model_type=model_type, parent_id=parent_id, limit=limit, offset=offset
        )
        return Call("GET", "/runs", _model(RunPage), {"params": query})

    @Endpoint
    def update(
        run_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        labels: dict[str, str] | None = None,
    ) -> Call[Run]:
        """Rename or describe a run, or name its units (`labels`: raw key → name)."""
        body = update_body(name=name, description=description, labels=labels)
        return Call("PATCH", f"/runs/{run_id}", _model(Run), {"json": body})

    @Endpoint
    def set_labels(run_id: str, labels: dict[str, str]) -> Call[Run]:
        return Endpoints.update.build(run_id, labels=labels)

    @Endpoint
    def cancel(run_id: str) -> Call[Run]:
        return Call("POST", f"/runs/{run_id}/cancel", _model(Run))

    @Endpoint
    def delete(run_id: str) -> Call[None]:
        return Call("DELETE", f"/runs/{run_id}", _nothing)

    @Endpoint
    def score(
        run_id: str,
        *,
        dataset_id: str | None = None,
        data: str | Path | bytes | pd.DataFrame | None = None,
        id_column: str | None = None,
        name: str | None = None,
        idempotency_key: str | None = None,
    ) -> Call[Run]:
        """Apply a finished run's model to new households: a scoring run, followed like any
        run (`wait`, `stream`); its `assignments` are the scored households."""
        body = score_body(dataset_id=dataset_id, data=data, id_column=id_column, name=name)
        options = {"json": body, "headers": idempotency_headers(idempotency_key)}
        return Call("POST", f"/runs/{run_id}/score", _model(Run), options)

    # -- progress --------------------------------------------------------------------------

    @Endpoint
    def progress(run_id: str) -> Call[Progress]:
        return Call("GET", f"/progress/{run_id}", _model(Progress))

    # -- results ---------------------------------------------------------------------------

    @Endpoint
    def results(run_id: str) -> Call[dict[str, Any]]:
        """The full result JSON of a completed run."""
        return Call("GET", f"/runs/{run_id}/results", _object)

    @Endpoint
    def assignments(run_id: str) -> Call[pd.DataFrame]:
        """The per-household outputs (class probabilities, scores…), keyed by the ID column."""
        query = {"format": "parquet"}
        return Call(
            "GET",
            f"/runs/{run_id}/assignments",
            lambda r: read_frame(r.content, parquet=True),
            {"params": query},
        )

    @Endpoint
    def export(run_id: str, path: str | Path | None = None, *, report: bool = True) -> Call[bytes]:
        """The run's ZIP (every table as CSV and Parquet, memberships, results, report, README);
        written to `path` too when given."""

        def content(response: httpx.Response) -> bytes:
            if path is not None:
                Path(path).write_bytes(response.content)
            return response.content

        return Call("GET", f"/runs/{run_id}/export", content, {"params": export_params(report)})

    @Endpoint
    def tables(run_id: str) -> Call[dict[str, pd.DataFrame]]:
        """Every result table of the run as a DataFrame (from the export's Parquet files)."""
        query = export_params(report=False)
        return Call(
            "GET", f"/runs/{run_id}/export", lambda r: zip_tables(r.content), {"params": query}
        )

    @Endpoint
    def report(run_id: str) -> Call[str]:
        """The self-contained HTML report."""
        return Call("GET", f"/runs/{run_id}/report", lambda r: r.text)

    @Endpoint
    def cluster_products(run_id: str, **request: Any) -> Call[dict[str, Any]]:
        """Cluster the run's products (`method`, `n_clusters` or `max_k`, `linkage_method`)."""
        return Call("POST", f"/runs/{run_id}/clustering", _object, {"json": request})


Http = TypeVar("Http", bound="httpx.Client | httpx.AsyncClient")
Transport = TypeVar("Transport", bound="httpx.BaseTransport | httpx.AsyncBaseTransport")


class Connection(Endpoints, Generic[Http, Transport]):
    """What `Client` and `AsyncClient` are made with: the API's address, the bearer token,
    timeouts, the retry rule and an httpx transport (tests give one), and the httpx client
    (`http_class`: blocking or asyncio) that carries their calls."""

    http_class: Callable[..., Http]

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        token: str | None = None,
        timeout: float | httpx.Timeout = 30.0,
        retry: Retry | None = None,
        transport: Transport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry = retry or Retry()
        self.http: Http = self.http_class(
            base_url=self.base_url,
            headers=client_headers(token),
            timeout=timeout,
            transport=transport,
        )

    def attempts(self, method: str, kwargs: dict[str, Any]) -> Attempts:
        """The retry rule of one call (see `request`)."""
        return Attempts(self.retry, self.base_url, method, kwargs)
