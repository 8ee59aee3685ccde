"""What every results panel receives, and small drawing helpers they share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import streamlit as st

from ui.api_client import ApiError
from ui.families import family


@dataclass
class View:
    run: dict[str, Any]
    result: dict[str, Any]
    model_type: str
    names: list[str]
    run_id: str  # the run whose result is shown (a sweep's chosen child, or the run itself)
    load_rows: Callable[[], pd.DataFrame] | None = None
    dataset_frame: pd.DataFrame | None = None
    # The dataset's basket statistics from the API, for a list of products.
    load_basket: Callable[[list[str]], dict[str, Any]] | None = None
    # The API's product clusters of the run: {"labels": {product: k}, "silhouette_score": …}.
    load_clusters: Callable[[], dict[str, Any]] | None = None
    _rows: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def unit(self) -> str:
        return family(self.model_type).unit

    def rows(self) -> pd.DataFrame | None:
        """Per-household outputs, fetched on first use; None when there are none."""
        if self._rows is None and self.load_rows is not None:
            try:
                self._rows = self.load_rows()
            except ApiError:
                return None
        return self._rows


def section(title: str, caption: str | None = None) -> None:
    st.markdown(f"#### {title}")
    if caption:
        st.caption(caption)


def chart(ch: Any, *, stretch: bool = True) -> None:
    st.altair_chart(ch, width="stretch" if stretch else "content")


def warnings(result: dict[str, Any]) -> None:
    for text in (result.get("provenance") or {}).get("warnings", []):
        st.warning(text, icon=":material/warning:")


def number(value: Any, digits: int = 2) -> str:
    if isinstance(value, bool) or value is None:
        return "—"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def settings(view: View) -> None:
    provenance = view.result.get("provenance") or {}
    params = provenance.get("params") or view.run.get("params") or {}
    st.markdown("**Settings used**")
    st.json({**params, "random_state": provenance.get("random_state")}, expanded=False)
    versions = provenance.get("library_versions") or {}
    if versions:
        st.caption("Libraries: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
