"""What the sync and async clients share: errors, the retry rule, request bodies and
queries, the SSE parser and the DataFrame readers. The clients only do the I/O."""

from __future__ import annotations

import base64
import io
import json
import time
import uuid
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from market_structure_client.models import Progress

if TYPE_CHECKING:
    import pandas as pd

API_PREFIX = "/api/v1"
DEFAULT_URL = "http://127.0.0.1:8000"
# Statuses worth retrying: the service or a proxy in front of it was away for a moment.
RETRY_STATUSES = frozenset({500, 502, 503, 504})
# The stream sends a comment every second; far longer than that without a byte means it broke.
STREAM_READ_TIMEOUT = 30.0


class ApiError(Exception):
    """The API refused the request. `detail` is its sentence (what is wrong, how to fix it)."""

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        title: str | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(f"{status} {title}: {detail}" if status else detail)
        self.detail = detail
        self.status = status
        self.title = title
        self.body = body


class ApiUnavailable(ApiError):
    """The API could not be reached (refused, dropped, timed out), retries included."""


def error_from(response: httpx.Response) -> ApiError:
    """The API's `{error, detail, title}` body as an ApiError; a plain sentence otherwise."""
    try:
        body = response.json()
    except ValueError:
        body = None
    detail = title = None
    if isinstance(body, dict):
        raw = body.get("detail", body.get("error"))
        detail = raw if isinstance(raw, str) else (None if raw is None else str(raw))
        title = body.get("title") if isinstance(body.get("title"), str) else None
    if not detail:
        detail = f"The API answered {response.status_code} {response.reason_phrase}."
    return ApiError(detail, status=response.status_code, title=title, body=body)


@dataclass
class Retry:
    """How often and how patiently to retry: `attempts` in all, waiting `backoff` × 2ⁿ seconds
    (or the server's Retry-After, at most `max_wait`) in between."""

    attempts: int = 4
    backoff: float = 0.5
    max_wait: float = 10.0

    def wait(self, attempt: int, response: httpx.Response | None) -> float:
        if response is not None:
            after = response.headers.get("Retry-After", "")
            if after.isdigit():
                return min(float(after), self.max_wait)
        return min(self.backoff * 2**attempt, self.max_wait)


def retryable(method: str, headers: dict[str, str]) -> bool:
    """GET, DELETE and the like may be repeated; a POST only with an Idempotency-Key."""
    return method.upper() not in ("POST", "PATCH") or "Idempotency-Key" in headers


def attempts_for(retry: Retry, method: str, kwargs: dict[str, Any]) -> int:
    """How many times a call may be made: once unless it may be repeated."""
    return retry.attempts if retryable(method, kwargs.get("headers") or {}) else 1


def settle(response: httpx.Response, last: bool) -> httpx.Response | None:
    """The answer to return, None when it is worth another attempt, or the refusal raised."""
    if response.status_code in RETRY_STATUSES and not last:
        return None
    if response.is_error:
        raise error_from(response)
    return response


def unreachable(base_url: str, exc: Exception) -> ApiUnavailable:
    return ApiUnavailable(f"Could not reach the API at {base_url}: {exc!r}.")


@dataclass
class Attempts:
    """The retry rule of one call, without the I/O: the client makes an attempt and says what
    came of it (`outcome`); the answer is returned, or it waits as long as `outcome` says and
    tries again."""

    retry: Retry
    base_url: str
    method: str
    kwargs: dict[str, Any]
    made: int = 0

    def outcome(
        self, response: httpx.Response | None, error: httpx.TransportError | None = None
    ) -> httpx.Response | float:
        """The answer to return, or the seconds to wait before the next attempt. The API's
        refusal is raised; a connection error after the last attempt is ApiUnavailable."""
        self.made += 1
        last = self.made >= attempts_for(self.retry, self.method, self.kwargs)
        if error is not None:
            if last:
                raise unreachable(self.base_url, error) from error
        else:
            answer = settle(response, last=last) if response is not None else None
            if answer is not None:
                return answer
        return self.retry.wait(self.made - 1, response)


@dataclass
class Deadline:
    """What `wait` does with each progress message: hand it to `on_progress`; TimeoutError
    once `timeout` seconds have passed."""

    run_id: str
    timeout: float | None
    on_progress: Callable[[Progress], None] | None
    started: float = field(default_factory=time.monotonic)

    def passed(self, message: Progress) -> None:
        if self.on_progress is not None:
            self.on_progress(message)
        if self.timeout is not None and time.monotonic() > self.started + self.timeout:
            raise TimeoutError(f"run {self.run_id} did not end within {self.timeout} s")


def client_headers(token: str | None) -> dict[str, str]:
    """The headers of every call: JSON answers, and the bearer token when there is one."""
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def new_idempotency_key() -> str:
    return uuid.uuid4().hex


def csv_bytes(data: Any) -> bytes:
    """A CSV to send inline: bytes, a path, or a pandas DataFrame (written without its index)."""
    if isinstance(data, bytes):
        return data
    if isinstance(data, str | Path):
        return Path(data).read_bytes()
    if hasattr(data, "to_csv"):
        return str(data.to_csv(index=False)).encode()
    raise TypeError("data: bytes of a CSV, a path to one, or a pandas DataFrame")


def file_part(data: Any, filename: str | None) -> tuple[str, bytes]:
    """(file name, bytes) of an upload: a path keeps its name; a DataFrame goes as CSV."""
    if isinstance(data, str | Path):
        path = Path(data)
        return filename or path.name, path.read_bytes()
    if hasattr(data, "to_csv") and not isinstance(data, bytes):
        return filename or "data.csv", str(data.to_csv(index=False)).encode()
    if isinstance(data, bytes):
        return filename or "data.csv", data
    raise TypeError("file: bytes, a path, or a pandas DataFrame")


def run_body(
    model_type: str,
    params: dict[str, Any] | None,
    *,
    dataset_id: str | None,
    data: Any,
    **fields: Any,
) -> dict[str, Any]:
    if (dataset_id is None) == (data is None):
        raise ValueError("give either dataset_id (an uploaded dataset) or data (sent inline)")
    body: dict[str, Any] = {"model_type": model_type, "params": params or {}}
    if dataset_id is not None:
        body["dataset_id"] = dataset_id
    else:
        body["data"] = {"csv_base64": base64.b64encode(csv_bytes(data)).decode()}
    body.update({k: v for k, v in fields.items() if v is not None})
    return body


def idempotency_headers(key: str | None) -> dict[str, str]:
    return {"Idempotency-Key": key or new_idempotency_key()}


def upload_request(
    file: Any,
    *,
    filename: str | None,
    name: str | None,
    product_columns: list[str] | None,
    id_column: str | None,
    sheet: str | None,
) -> dict[str, Any]:
    """The `files` and `data` of `POST /datasets`."""
    form = {"name": name, "id_column": id_column, "sheet": sheet}
    if product_columns:
        form["product_columns"] = ",".join(product_columns)
    data = {k: v for k, v in form.items() if v is not None}
    return {"files": {"file": file_part(file, filename)}, "data": data}


def runs_query(
    *,
    status: str | None,
    model_type: str | None,
    parent_id: str | None,
    limit: int,
    offset: int,
) -> dict[str, Any]:
    """The query of `GET /runs`: the filters given, and the page."""
    query = {"status": status, "model_type": model_type, "parent_id": parent_id}
    return {k: v for k, v in query.items() if v} | {"limit": limit, "offset": offset}


def update_body(
    *, name: str | None, description: str | None, labels: dict[str, str] | None
) -> dict[str, Any]:
    """The body of `PATCH /runs/{id}`: only the fields given."""
    fields = {"name": name, "description": description, "labels": labels}
    return {k: v for k, v in fields.items() if v is not None}


def score_body(
    *, dataset_id: str | None, data: Any, id_column: str | None, name: str | None
) -> dict[str, Any]:
    """The body of `POST /runs/{id}/score`: the new households, by dataset or inline."""
    body = run_body("score", None, dataset_id=dataset_id, data=data, id_column=id_column)
    body.pop("model_type"), body.pop("params")
    if name:
        body["name"] = name
    return body


def export_params(report: bool) -> dict[str, str] | None:
    return None if report else {"report": "false"}


def stream_request(
    run_id: str, state: StreamState, connect: float | None
) -> tuple[str, dict[str, Any]]:
    """The path and keyword arguments of one attempt at a run's progress stream, resumed
    from the last event id received."""
    headers = {"Accept": "text/event-stream"}
    if state.last_event_id:
        headers["Last-Event-ID"] = state.last_event_id
    timeout = httpx.Timeout(connect, read=STREAM_READ_TIMEOUT)
    return f"{API_PREFIX}/progress/{run_id}/stream", {"headers": headers, "timeout": timeout}


def stream_failed(run_id: str, exc: Exception) -> ApiUnavailable:
    return ApiUnavailable(f"The progress stream of run {run_id} kept failing: {exc!r}.")


def stream_backoff(retry: Retry, failures: int) -> float:
    """How long to wait before reconnecting after `failures` failures in a row."""
    return retry.wait(min(failures - 1, 4), None)


@dataclass
class SseEvent:
    event: str
    data: str
    id: str | None


@dataclass
class SseParser:
    """Server-Sent Events from lines, as a browser's EventSource reads them: comments skipped,
    an event without an `event:` field is a "message"."""

    _data: list[str] = field(default_factory=list)
    _event: str = ""
    _id: str | None = None

    def feed(self, lines: Iterable[str]) -> Iterator[SseEvent]:
        for line in lines:
            event = self.line(line)
            if event is not None:
                yield event

    def line(self, line: str) -> SseEvent | None:
        if line == "":
            if not self._data:
                self._event = ""
                return None
            event = SseEvent(self._event or "message", "\n".join(self._data), self._id)
            self._data, self._event, self._id = [], "", None
            return event
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            self._id = value
        return None


@dataclass
class StreamState:
    """Where a run's progress stream is, without the I/O: the lines read so far (SSE), the last
    event id received (to resume from), whether it ended, and the failed connections in a row
    (ApiUnavailable after `reconnects` of them)."""

    run_id: str
    retry: Retry
    last_event_id: str | None = None
    reconnects: int = 20
    closed: bool = False
    failures: int = 0
    parser: SseParser = field(default_factory=SseParser)

    def request(self, connect: float | None) -> tuple[str, dict[str, Any]]:
        """The path and keyword arguments of the next connection (resumed from the last
        event id received); its lines start a new event."""
        self.parser = SseParser()
        return stream_request(self.run_id, self, connect)

    def take(self, line: str) -> Progress | None:
        """The progress message a line completes, if it completes one."""
        event = self.parser.line(line)
        if event is None:
            return None
        self.failures = 0
        return self.handle(event)

    def handle(self, event: SseEvent) -> Progress | None:
        """The progress message an event carries (None for a close without one)."""
        payload = json.loads(event.data)
        if event.event == "close":
            self.closed = True
            return None
        if event.event == "gap":
            # Some events after our id are no longer kept: the snapshot says where the run is.
            snapshot = payload.get("snapshot")
            if not snapshot:
                return None
            details = {**snapshot.get("details", {}), "gap": payload["message"]}
            return Progress.model_validate({**snapshot, "details": details})
        if event.id:
            self.last_event_id = event.id
        return Progress.model_validate({**payload, "event_id": event.id})

    def reconnect_after(self, exc: httpx.TransportError) -> float:
        """The connection failed: the seconds to wait before the next, or ApiUnavailable."""
        self.failures += 1
        if self.failures > self.reconnects:
            raise stream_failed(self.run_id, exc) from exc
        return stream_backoff(self.retry, self.failures)


def read_frame(content: bytes, parquet: bool) -> pd.DataFrame:
    import pandas as pd

    if parquet:
        return pd.read_parquet(io.BytesIO(content))
    return pd.read_csv(io.BytesIO(content))


def zip_tables(content: bytes) -> dict[str, pd.DataFrame]:
    """Every table of a run's ZIP export (its Parquet files, types kept), by name."""
    import pandas as pd

    tables: dict[str, pd.DataFrame] = {}
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        for name in sorted(archive.namelist()):
            if name.endswith(".parquet") and "/" not in name:
                tables[name[: -len(".parquet")]] = pd.read_parquet(io.BytesIO(archive.read(name)))
    return tables
