"""Cached reads. Finished results never change, so they are cached by run id (and the API
address, so two deployments never share an entry); what the server draws with the run's unit
names (charts, tables, exports) is also keyed by those names, so naming a unit redraws it.
Only `st.cache_data` here: nothing that belongs to one person goes into the process-wide
`st.cache_resource`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import streamlit as st

from ui import bundle
from ui.api_client import ApiClient, ApiError, get_client

LONG = 6 * 3600


def _names_key(labels: Mapping[str, str] | None) -> str:
    return json.dumps(dict(labels or {}), sort_keys=True)


@st.cache_data(ttl=LONG, max_entries=64, show_spinner="Loading results…")
def _results(base_url: str, token: str | None, run_id: str) -> dict[str, Any]:
    return ApiClient(base_url, token).results(run_id)


def results(run_id: str) -> dict[str, Any]:
    client = get_client()
    return _results(client.base_url, client.token, run_id)


@st.cache_data(ttl=300, show_spinner=False)
def _models(base_url: str, token: str | None) -> list[dict[str, Any]]:
    return ApiClient(base_url, token).models()


def models() -> list[dict[str, Any]]:
    """The model catalogue: each family's specification, in the order to offer them."""
    client = get_client()
    return _models(client.base_url, client.token)


def model(model_type: str) -> dict[str, Any]:
    """One family's specification from /models ({} when the API no longer serves it)."""
    try:
        return next((m for m in models() if m["model_type"] == model_type), {})
    except ApiError:
        return {}


@st.cache_data(ttl=5, show_spinner=False)
def _health(base_url: str, token: str | None) -> dict[str, Any]:
    try:
        return ApiClient(base_url, token).health()
    except ApiError as exc:
        return {"status": "unreachable", "detail": exc.detail}


def health() -> dict[str, Any]:
    client = get_client()
    return _health(client.base_url, client.token)


@st.cache_data(ttl=3600, max_entries=64, show_spinner=False)
def _dataset(base_url: str, token: str | None, dataset_id: str) -> dict[str, Any]:
    return ApiClient(base_url, token).get_dataset(dataset_id)


def dataset(dataset_id: str) -> dict[str, Any]:
    client = get_client()
    return _dataset(client.base_url, client.token, dataset_id)


@st.cache_data(ttl=3600, max_entries=32, show_spinner="Counting what is bought together…")
def _basket(base_url: str, token: str | None, dataset_id: str, products: tuple[str, ...],
            weight_column: str | None = None) -> dict[str, Any]:
    return ApiClient(base_url, token).basket(dataset_id, list(products), weight_column)


def basket(dataset_id: str, products: list[str], weight_column: str | None = None
           ) -> dict[str, Any]:
    """The API's basket statistics of a stored dataset (cached: datasets never change),
    weighted by the run's weight column when it has one."""
    client = get_client()
    return _basket(client.base_url, client.token, dataset_id, tuple(products), weight_column)


@st.cache_data(ttl=LONG, max_entries=64, show_spinner=False)
def _clusters(base_url: str, token: str | None, run_id: str) -> dict[str, Any]:
    return ApiClient(base_url, token).cluster_products(run_id, {"method": "kmeans"})


def clusters(run_id: str) -> dict[str, Any]:
    """Product clusters of a finished run (k-means, k by silhouette), from the API."""
    client = get_client()
    return _clusters(client.base_url, client.token, run_id)


@st.cache_data(ttl=LONG, max_entries=128, show_spinner=False)
def _charts(base_url: str, token: str | None, run_id: str, names: str) -> dict[str, Any]:
    return ApiClient(base_url, token).charts(run_id)


def charts(run_id: str, labels: Mapping[str, str] | None) -> dict[str, Any]:
    """The run's chart sections and its units with their names (`labels`: the run's own)."""
    client = get_client()
    return _charts(client.base_url, client.token, run_id, _names_key(labels))


@st.cache_data(ttl=LONG, max_entries=512, show_spinner=False)
def _chart(base_url: str, token: str | None, run_id: str, chart_id: str,
           options: tuple[tuple[str, str], ...], names: str) -> dict[str, Any]:
    return ApiClient(base_url, token).chart(run_id, chart_id, dict(options))


def chart(run_id: str, chart_id: str, options: Mapping[str, str],
          labels: Mapping[str, str] | None) -> dict[str, Any]:
    """One chart of the run as Vega-Lite, drawn by the API with these options."""
    client = get_client()
    return _chart(client.base_url, client.token, run_id, chart_id,
                  tuple(sorted(options.items())), _names_key(labels))


@st.cache_data(ttl=LONG, max_entries=16, show_spinner="Packing the export…")
def _export(base_url: str, token: str | None, run_id: str, names: str, report: bool) -> bytes:
    return ApiClient(base_url, token).export_zip(run_id, report=report)


def export_zip(run_id: str, labels: Mapping[str, str] | None, *, report: bool = True) -> bytes:
    """The run's ZIP as the API builds it (with the report unless `report` is False)."""
    client = get_client()
    return _export(client.base_url, client.token, run_id, _names_key(labels), report)


@st.cache_data(ttl=LONG, max_entries=16, show_spinner=False)
def _tables(base_url: str, token: str | None, run_id: str, names: str
            ) -> dict[str, bundle.Table]:
    return bundle.tables(_export(base_url, token, run_id, names, False))


def tables(run_id: str, labels: Mapping[str, str] | None) -> dict[str, bundle.Table]:
    """The run's export tables (those of its ZIP), with the units' names."""
    client = get_client()
    return _tables(client.base_url, client.token, run_id, _names_key(labels))


@st.cache_data(ttl=LONG, max_entries=16, show_spinner="Writing the report…")
def _report(base_url: str, token: str | None, run_id: str, names: str) -> bytes:
    return ApiClient(base_url, token).report_html(run_id)


def report_html(run_id: str, labels: Mapping[str, str] | None) -> bytes:
    client = get_client()
    return _report(client.base_url, client.token, run_id, _names_key(labels))


@st.cache_data(ttl=LONG, max_entries=8, show_spinner="Printing the report…")
def _pdf(base_url: str, token: str | None, run_id: str, names: str, paper: str) -> bytes:
    return ApiClient(base_url, token).report_pdf(run_id, paper)


def report_pdf(run_id: str, labels: Mapping[str, str] | None, paper: str = "a4") -> bytes:
    client = get_client()
    return _pdf(client.base_url, client.token, run_id, _names_key(labels), paper)


@st.cache_data(ttl=LONG, max_entries=8, show_spinner="Making the slides…")
def _pptx(base_url: str, token: str | None, run_id: str, names: str) -> bytes:
    return ApiClient(base_url, token).export_pptx(run_id)


def export_pptx(run_id: str, labels: Mapping[str, str] | None) -> bytes:
    client = get_client()
    return _pptx(client.base_url, client.token, run_id, _names_key(labels))
