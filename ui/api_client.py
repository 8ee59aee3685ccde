"""The one module of the UI that talks HTTP: a thin client of the Market Structure API, built on
the typed client package (`clients/python`, `market_structure_client`: its requests, retries,
Idempotency-Key and error reading).

Every call answers plain JSON (dicts and lists) or raises `ApiError`, whose `detail` is the
API's human sentence, ready to show to a person. `BackendUnavailable` (a subclass) means the
API could not be reached at all. The UI never imports `backend/` or `workers/`: it is
deployed alone and knows the backend only by its URL.

Configuration, read at each call so tests and deployments can change it without a restart:
`API_URL` (environment, else `st.secrets["API_URL"]`, else http://127.0.0.1:8000) and an
optional token sent as `Authorization: Bearer <token>`: in the app, the one `ui/auth.py` granted
this browser session (`API_TOKEN` once signed in or on this machine, or the person's own from
`[api_tokens]`; none for a visitor who has not signed in); outside a Streamlit session,
`API_TOKEN` (same sources as `API_URL`).
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import market_structure_client as typed

DEFAULT_API_URL = "http://127.0.0.1:8000"
API_PREFIX = "/api/v1"
CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 30.0
UPLOAD_TIMEOUT = 300.0
NO_RETRY = typed.Retry(attempts=1)
SUBMIT_RETRY = typed.Retry(attempts=3, backoff=0.5, max_wait=3.0)


class ApiError(Exception):
    """The API answered with an error, or could not be asked. `detail` is for people."""

    def __init__(self, detail: str, *, status: int | None = None, title: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.title = title


class BackendUnavailable(ApiError):
    """The API did not answer (not running, wrong address, timed out)."""


def setting(name: str) -> str | None:
    """A setting of the app: the environment first, then `st.secrets`."""
    value = os.environ.get(name)
    if value:
        return value
    try:
        import streamlit as st

        secret = st.secrets.get(name)
    except Exception:  # no secrets file, or not running under Streamlit
        return None
    return str(secret) if secret else None


def configured_api_url() -> str | None:
    """The API address someone configured (environment or secrets), None if nobody did."""
    return setting("API_URL")


def api_url() -> str:
    return (setting("API_URL") or DEFAULT_API_URL).rstrip("/")


def api_token() -> str | None:
    return setting("API_TOKEN")


@dataclass(frozen=True)
class ApiClient:
    """Calls one API deployment. Cheap to make: build one per script run with `get_client()`."""

    base_url: str
    token: str | None = None

    # -- plumbing --------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def _request(
        self, method: str, path: str, *, timeout: float = READ_TIMEOUT, prefix: str = API_PREFIX,
        **kwargs: Any,
    ) -> httpx.Response:
        # One attempt, as a person is waiting (the page says so and offers to try again);
        # a submit alone is retried, with its Idempotency-Key (submit_run).
        retry = kwargs.pop("retry", NO_RETRY)
        api = typed.Client(
            self.base_url,
            token=self.token,
            timeout=httpx.Timeout(timeout, connect=CONNECT_TIMEOUT),
            retry=retry,
        )
        try:
            return api.request(method, path, prefix=prefix, **kwargs)
        except typed.ApiUnavailable as exc:
            if isinstance(exc.__cause__, httpx.TimeoutException):
                raise BackendUnavailable(
                    f"The analysis service at {self.base_url} did not answer in time. "
                    "It may be busy; try again in a moment."
                ) from exc
            raise BackendUnavailable(
                f"Can't reach the analysis service at {self.base_url}. Check that it is running "
                "(`market-structure up` starts everything) and that API_URL points to it."
            ) from exc
        except typed.ApiError as exc:
            raise _error_from(exc) from exc
        finally:
            api.close()

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._request(method, path, **kwargs).json()

    # -- health and catalogue --------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        return self._request("GET", "/health", prefix="", timeout=5.0).json()

    def models(self) -> list[dict[str, Any]]:
        return self._json("GET", "/models")

    # -- datasets --------------------------------------------------------------------------

    def upload_dataset(
        self, filename: str, content: bytes, name: str | None = None, kind: str | None = None
    ) -> dict[str, Any]:
        """`kind="product_features"`: a table of one row per product (a choice model's)."""
        data = {k: v for k, v in (("name", name), ("kind", kind)) if v} or None
        return self._json(
            "POST", "/datasets", files={"file": (filename, content)}, data=data,
            timeout=UPLOAD_TIMEOUT,
        )

    def list_datasets(self, limit: int = 50, offset: int = 0) -> dict[str, Any]:
        return self._json("GET", "/datasets", params={"limit": limit, "offset": offset})

    def get_dataset(self, dataset_id: str) -> dict[str, Any]:
        return self._json("GET", f"/datasets/{dataset_id}")

    # -- runs ------------------------------------------------------------------------------

    def submit_run(self, body: dict[str, Any]) -> dict[str, Any]:
        """Queue a run; retried on a dropped connection or a 5xx with one Idempotency-Key, so a
        retry never starts a second fit."""
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        return self._json("POST", "/runs", json=body, headers=headers, retry=SUBMIT_RETRY)

    def list_runs(
        self, *, status: str | None = None, model_type: str | None = None, limit: int = 50,
        offset: int = 0, parent_id: str | None = None,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if parent_id:
            params["parent_id"] = parent_id
        if status:
            params["status"] = status
        if model_type:
            params["model_type"] = model_type
        return self._json("GET", "/runs", params=params)

    def get_run(self, run_id: str) -> dict[str, Any]:
        return self._json("GET", f"/runs/{run_id}")

    def rename_run(self, run_id: str, name: str) -> dict[str, Any]:
        return self._json("PATCH", f"/runs/{run_id}", json={"name": name})

    def set_labels(self, run_id: str, labels: dict[str, str]) -> dict[str, Any]:
        """Name the run's units (raw key → name; an empty name restores the default)."""
        return self._json("PATCH", f"/runs/{run_id}", json={"labels": labels})

    def cancel_run(self, run_id: str) -> dict[str, Any]:
        return self._json("POST", f"/runs/{run_id}/cancel")

    def delete_run(self, run_id: str) -> None:
        self._request("DELETE", f"/runs/{run_id}")

    def progress(self, run_id: str) -> dict[str, Any]:
        return self._json("GET", f"/progress/{run_id}", timeout=10.0)

    def results(self, run_id: str) -> dict[str, Any]:
        return self._json("GET", f"/runs/{run_id}/results")

    def charts(self, run_id: str) -> dict[str, Any]:
        """The run's chart sections in reading order, and its units with their names."""
        return self._json("GET", f"/runs/{run_id}/charts")

    def chart(self, run_id: str, chart_id: str, options: dict[str, str] | None = None
              ) -> dict[str, Any]:
        """One chart as a Vega-Lite specification, drawn with these options."""
        return self._json("GET", f"/runs/{run_id}/charts/{chart_id}", params=options or None,
                          timeout=60.0)

    def cluster_products(self, run_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._json("POST", f"/runs/{run_id}/clustering", json=body)

    def basket(
        self, dataset_id: str, products: list[str] | None = None, weight_column: str | None = None
    ) -> dict[str, Any]:
        """Penetration, duplication and lift of a dataset's products (weighted when a weight
        column is named)."""
        params = {"products": ",".join(products)} if products else {}
        if weight_column:
            params["weight_column"] = weight_column
        return self._json(
            "GET", f"/datasets/{dataset_id}/basket", params=params or None, timeout=120.0
        )

    def delete_dataset(self, dataset_id: str, force: bool = False) -> None:
        self._request("DELETE", f"/datasets/{dataset_id}", params={"force": str(force).lower()})

    def export_zip(self, run_id: str, *, report: bool = True) -> bytes:
        """The run's ZIP: every table, the memberships, the result, the report, a README."""
        params = None if report else {"report": "false"}
        return self._request("GET", f"/runs/{run_id}/export", params=params,
                             timeout=300.0).content

    def report_html(self, run_id: str) -> bytes:
        """The run's self-contained HTML report."""
        return self._request("GET", f"/runs/{run_id}/report", timeout=300.0).content

    def report_pdf(self, run_id: str, paper: str = "a4") -> bytes:
        """The report printed to PDF (A4 or Letter)."""
        return self._request("GET", f"/runs/{run_id}/report",
                             params={"format": "pdf", "paper": paper}, timeout=300.0).content

    def export_pptx(self, run_id: str) -> bytes:
        """The run as a PowerPoint deck with native, editable charts."""
        return self._request("GET", f"/runs/{run_id}/export", params={"format": "pptx"},
                             timeout=300.0).content

    # -- applying a model: scoring runs, audiences, the typing tool ----------------------------

    def score(self, run_id: str, dataset_id: str, id_column: str | None = None) -> dict[str, Any]:
        """A scoring run applying the run's model to the dataset's households (202: queued)."""
        body: dict[str, Any] = {"dataset_id": dataset_id}
        if id_column:
            body["id_column"] = id_column
        return self._json("POST", f"/runs/{run_id}/score", json=body)

    def assignments_csv(self, run_id: str) -> bytes:
        return self._request("GET", f"/runs/{run_id}/assignments", timeout=300.0).content

    def model_document(self, run_id: str) -> bytes:
        return self._request("GET", f"/runs/{run_id}/model").content

    def audiences(self, run_id: str, threshold: float, fmt: str = "csv") -> bytes:
        params = {"threshold": threshold, "format": fmt}
        return self._request("GET", f"/runs/{run_id}/audiences", params=params,
                             timeout=300.0).content

    def make_typing_tool(self, run_id: str, max_products: int = 15) -> dict[str, Any]:
        return self._json("POST", f"/runs/{run_id}/typing", json={"max_products": max_products})

    def typing_export(self, run_id: str, fmt: str, k: int) -> str:
        """The typing tool with k products as a scoring sheet (CSV), SQL or Python."""
        return self._request("GET", f"/runs/{run_id}/typing-tool/{fmt}", params={"k": k}).text


def _error_from(refusal: httpx.Response | typed.ApiError) -> ApiError:
    """The API's `{error, detail, title}` body as an ApiError; a plain sentence otherwise."""
    title: str | None = None
    detail: str | None = None
    if isinstance(refusal, typed.ApiError):
        status, body = refusal.status or 0, refusal.body
    else:
        status = refusal.status_code
        try:
            body = refusal.json()
        except ValueError:
            body = None
    if isinstance(body, dict):
        title = body.get("title") if isinstance(body.get("title"), str) else None
        raw = body.get("detail", body.get("error"))
        if isinstance(raw, str):
            detail = raw
        elif raw is not None:
            detail = str(raw)
    if not detail:
        if status >= 500:
            detail = "The analysis service had a problem on its side. Try again in a moment."
        else:
            detail = f"The analysis service refused the request ({status})."
    return ApiError(detail, status=status, title=title)


def get_client() -> ApiClient:
    """A client for the configured deployment (reads API_URL now) with the token this browser
    session may send (ui/auth.py); outside a Streamlit session, API_TOKEN."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    if get_script_run_ctx(suppress_warning=True) is None:
        return ApiClient(api_url(), api_token())
    from ui.auth import session_token  # auth reads its settings through this module

    return ApiClient(api_url(), session_token())
