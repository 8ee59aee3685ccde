"""Cached reads. Finished results never change, so they are cached by run id (and the API
address, so two deployments never share an entry). Only `st.cache_data` here: nothing that
belongs to one person goes into the process-wide `st.cache_resource`."""

from __future__ import annotations

import io
from typing import Any

import pandas as pd
import streamlit as st

from ui.api_client import ApiClient, ApiError, get_client


@st.cache_data(ttl=6 * 3600, max_entries=64, show_spinner="Loading results…")
def _results(base_url: str, token: str | None, run_id: str) -> dict[str, Any]:
    return ApiClient(base_url, token).results(run_id)


def results(run_id: str) -> dict[str, Any]:
    client = get_client()
    return _results(client.base_url, client.token, run_id)


@st.cache_data(ttl=300, show_spinner=False)
def _models(base_url: str, token: str | None) -> list[dict[str, Any]]:
    return ApiClient(base_url, token).models()


def models() -> list[dict[str, Any]]:
    client = get_client()
    return _models(client.base_url, client.token)


@st.cache_data(ttl=5, show_spinner=False)
def _health(base_url: str, token: str | None) -> dict[str, Any]:
    try:
        return ApiClient(base_url, token).health()
    except ApiError as exc:
        return {"status": "unreachable", "detail": exc.detail}


def health() -> dict[str, Any]:
    client = get_client()
    return _health(client.base_url, client.token)


@st.cache_data(ttl=6 * 3600, max_entries=16, show_spinner="Loading household results…")
def _assignments(base_url: str, token: str | None, run_id: str) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(ApiClient(base_url, token).assignments_parquet(run_id)))


def assignments(run_id: str) -> pd.DataFrame:
    """The run's per-household outputs (finished runs only; they never change)."""
    client = get_client()
    return _assignments(client.base_url, client.token, run_id)


@st.cache_data(ttl=3600, max_entries=64, show_spinner=False)
def _dataset(base_url: str, token: str | None, dataset_id: str) -> dict[str, Any]:
    return ApiClient(base_url, token).get_dataset(dataset_id)


def dataset(dataset_id: str) -> dict[str, Any]:
    client = get_client()
    return _dataset(client.base_url, client.token, dataset_id)


@st.cache_data(ttl=3600, max_entries=32, show_spinner="Counting what is bought together…")
def _basket(base_url: str, token: str | None, dataset_id: str, products: tuple[str, ...]
            ) -> dict[str, Any]:
    return ApiClient(base_url, token).basket(dataset_id, list(products))


def basket(dataset_id: str, products: list[str]) -> dict[str, Any]:
    """The API's basket statistics of a stored dataset (cached: datasets never change)."""
    client = get_client()
    return _basket(client.base_url, client.token, dataset_id, tuple(products))


@st.cache_data(ttl=6 * 3600, max_entries=64, show_spinner="Grouping the products…")
def _clusters(base_url: str, token: str | None, run_id: str) -> dict[str, Any]:
    return ApiClient(base_url, token).cluster_products(run_id, {"method": "kmeans", "max_k": 8})


def clusters(run_id: str) -> dict[str, Any]:
    """Product clusters of a finished run (k-means, k by silhouette), from the API."""
    client = get_client()
    return _clusters(client.base_url, client.token, run_id)
