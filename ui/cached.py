"""Cached reads. Finished results never change, so they are cached by run id (and the API
address, so two deployments never share an entry); what the server draws with the run's unit
names (charts, tables, exports) is also keyed by those names, so naming a unit redraws it.
Only `st.cache_data` here: nothing that belongs to one person goes into the process-wide
`st.cache_resource`."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Concatenate, ParamSpec, TypeVar

import streamlit as st

from ui import bundle
from ui.api_client import ApiClient, ApiError, get_client

LONG = 6 * 3600
P = ParamSpec("P")
T = TypeVar("T")


def _names_key(labels: Mapping[str, str] | None) -> str:
    return json.dumps(dict(labels or {}), sort_keys=True)


def _here(read: Callable[Concatenate[str, str | None, P], T]) -> Callable[P, T]:
    """`read`, cached by API address and token (its first two arguments, so two deployments
    never share an entry), called on the API this script run talks to."""

    def call(*args: P.args, **kwargs: P.kwargs) -> T:
        client = get_client()
        return read(client.base_url, client.token, *args, **kwargs)

    return call


@st.cache_data(ttl=LONG, max_entries=64, show_spinner="Loading results…")
def _results(base_url: str, token: str | None, run_id: str) -> dict[str, Any]:
    return ApiClient(base_url, token).results(run_id)


def results(run_id: str) -> dict[str, Any]:
    return _here(_results)(run_id)


@st.cache_data(ttl=300, show_spinner=False)
def _models(base_url: str, token: str | None) -> list[dict[str, Any]]:
    return ApiClient(base_url, token).models()


def models() -> list[dict[str, Any]]:
    """The model catalogue: each family's specification, in the order to offer them."""
    return _here(_models)()


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
    return _here(_health)()


@st.cache_data(ttl=3600, max_entries=64, show_spinner=False)
def _dataset(base_url: str, token: str | None, dataset_id: str) -> dict[str, Any]:
    return ApiClient(base_url, token).get_dataset(dataset_id)


def dataset(dataset_id: str) -> dict[str, Any]:
    return _here(_dataset)(dataset_id)


@st.cache_data(ttl=3600, max_entries=32, show_spinner="Counting what is bought together…")
def _basket(base_url: str, token: str | None, dataset_id: str, products: tuple[str, ...],
            weight_column: str | None = None) -> dict[str, Any]:
    return ApiClient(base_url, token).basket(dataset_id, list(products), weight_column)


def basket(dataset_id: str, products: list[str], weight_column: str | None = None
           ) -> dict[str, Any]:
    """The API's basket statistics of a stored dataset (cached: datasets never change),
    weighted by the run's weight column when it has one."""
    return _here(_basket)(dataset_id, tuple(products), weight_column)


@st.cache_data(ttl=LONG, max_entries=64, show_spinner=False)
def _clusters(base_url: str, token: str | None, run_id: str) -> dict[str, Any]:
    return ApiClient(base_url, token).cluster_products(run_id, {"method": "kmeans"})


def clusters(run_id: str) -> dict[str, Any]:
    """Product clusters of a finished run (k-means, k by silhouette), from the API."""
    return _here(_clusters)(run_id)


@st.cache_data(ttl=LONG, max_entries=128, show_spinner=False)
def _charts(base_url: str, token: str | None, run_id: str, names: str) -> dict[str, Any]:
    return ApiClient(base_url, token).charts(run_id)


def charts(run_id: str, labels: Mapping[str, str] | None) -> dict[str, Any]:
    """The run's chart sections and its units with their names (`labels`: the run's own)."""
    return _here(_charts)(run_id, _names_key(labels))


@st.cache_data(ttl=LONG, max_entries=512, show_spinner=False)
def _chart(base_url: str, token: str | None, run_id: str, chart_id: str,
           options: tuple[tuple[str, str], ...], names: str) -> dict[str, Any]:
    return ApiClient(base_url, token).chart(run_id, chart_id, dict(options))


def chart(run_id: str, chart_id: str, options: Mapping[str, str],
          labels: Mapping[str, str] | None) -> dict[str, Any]:
    """One chart of the run as Vega-Lite, drawn by the API with these options."""
    return _here(_chart)(run_id, chart_id, tuple(sorted(options.items())), _names_key(labels))


@st.cache_data(ttl=LONG, max_entries=16, show_spinner="Packing the export…")
def _export(base_url: str, token: str | None, run_id: str, names: str, report: bool) -> bytes:
    return ApiClient(base_url, token).export_zip(run_id, report=report)


def export_zip(run_id: str, labels: Mapping[str, str] | None, *, report: bool = True) -> bytes:
    """The run's ZIP as the API builds it (with the report unless `report` is False)."""
    return _here(_export)(run_id, _names_key(labels), report)


@st.cache_data(ttl=LONG, max_entries=16, show_spinner=False)
def _tables(base_url: str, token: str | None, run_id: str, names: str
            ) -> dict[str, bundle.Table]:
    return bundle.tables(_export(base_url, token, run_id, names, False))


def tables(run_id: str, labels: Mapping[str, str] | None) -> dict[str, bundle.Table]:
    """The run's export tables (those of its ZIP), with the units' names."""
    return _here(_tables)(run_id, _names_key(labels))


@st.cache_data(ttl=LONG, max_entries=16, show_spinner="Writing the report…")
def _report(base_url: str, token: str | None, run_id: str, names: str) -> bytes:
    return ApiClient(base_url, token).report_html(run_id)


def report_html(run_id: str, labels: Mapping[str, str] | None) -> bytes:
    return _here(_report)(run_id, _names_key(labels))


@st.cache_data(ttl=LONG, max_entries=8, show_spinner="Printing the report…")
def _pdf(base_url: str, token: str | None, run_id: str, names: str, paper: str) -> bytes:
    return ApiClient(base_url, token).report_pdf(run_id, paper)


def report_pdf(run_id: str, labels: Mapping[str, str] | None, paper: str = "a4") -> bytes:
    return _here(_pdf)(run_id, _names_key(labels), paper)


@st.cache_data(ttl=LONG, max_entries=8, show_spinner="Making the slides…")
def _pptx(base_url: str, token: str | None, run_id: str, names: str) -> bytes:
    return ApiClient(base_url, token).export_pptx(run_id)


def export_pptx(run_id: str, labels: Mapping[str, str] | None) -> bytes:
    return _here(_pptx)(run_id, _names_key(labels))
