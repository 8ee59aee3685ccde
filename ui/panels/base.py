"""What every results panel receives, and how it draws what the API serves: a chart section
(title, caption, the controls its options ask for, then the Vega-Lite the API draws with them)
and the run's export tables."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import streamlit as st

from ui import cached
from ui.api_client import ApiError
from ui.bundle import Table
from ui.families import plural
from ui.formatting import escape_markdown
from ui.params_form import in_form_words, settings_rows


@dataclass
class View:
    run: dict[str, Any]  # the run record shown (a sweep's chosen fit, or the run itself)
    result: dict[str, Any]
    spec: dict[str, Any]  # the family's entry of GET /models
    catalogue: dict[str, Any]  # GET /runs/{id}/charts: {unit, units, sections}
    run_id: str
    labels: dict[str, str] = field(default_factory=dict)
    # The dataset's basket statistics from the API, for a list of products.
    load_basket: Callable[[list[str]], dict[str, Any]] | None = None
    # The API's product clusters of the run: {"labels": {product: k}, "silhouette_score": …}.
    load_clusters: Callable[[], dict[str, Any]] | None = None
    # The run's export tables (those of its ZIP), with the units' names.
    load_tables: Callable[[], dict[str, Table]] | None = None
    drawn: set[str] = field(default_factory=set)  # the chart sections drawn so far

    @property
    def unit(self) -> str:
        return str(self.catalogue.get("unit") or self.spec.get("unit") or "Unit")

    @property
    def units(self) -> str:
        return plural(self.unit)

    @property
    def names(self) -> list[str]:
        return [str(u["name"]) for u in self.catalogue.get("units", [])]

    @property
    def keys(self) -> list[str]:
        return [str(u["key"]) for u in self.catalogue.get("units", [])]

    def section(self, chart_id: str) -> dict[str, Any] | None:
        return next((s for s in self.catalogue.get("sections", []) if s["id"] == chart_id), None)

    def has(self, *chart_ids: str) -> bool:
        return all(self.section(c) is not None for c in chart_ids)

    def undrawn(self) -> list[dict[str, Any]]:
        return [s for s in self.catalogue.get("sections", []) if s["id"] not in self.drawn]

    def table(self, name: str) -> pd.DataFrame | None:
        """One of the run's export tables, None when it has none of that name."""
        if self.load_tables is None:
            return None
        try:
            found = self.load_tables().get(name)
        except ApiError:
            return None
        return None if found is None else found.frame


def heading(title: str, caption: str | None = None) -> None:
    """A served section's title and caption, shown as the API wrote them."""
    st.markdown(f"#### {escape_markdown(title)}")
    if caption:
        st.caption(escape_markdown(caption))


def _query_value(option: Mapping[str, Any], value: Any) -> str | None:
    if option["kind"] == "bool":
        return "true" if value else "false"
    if option["kind"] == "units":
        return ",".join(value) if value else None
    return None if value is None else str(value)


def controls(view: View, section: Mapping[str, Any], fixed: Mapping[str, Any]) -> dict[str, str]:
    """A widget per option of the section (those not `fixed`), as query values."""
    options = [o for o in section.get("options", []) if o["name"] not in fixed]
    values = {name: _query_value(next(o for o in section["options"] if o["name"] == name), v)
              for name, v in fixed.items()}
    if not options:
        return {k: v for k, v in values.items() if v is not None}
    columns = st.columns(len(options)) if len(options) > 1 else [st.container()]
    names = dict(zip(view.keys, view.names, strict=False))
    for column, option in zip(columns, options, strict=True):
        key = f"chart.{view.run_id}.{section['id']}.{option['name']}"
        with column:
            if option["kind"] == "choice":
                labels = {c["value"]: escape_markdown(c["label"])
                          for c in option.get("choices", [])}
                if len(labels) < 2:
                    value: Any = option["default"]
                else:
                    value = st.segmented_control(
                        escape_markdown(option["label"]), list(labels),
                        format_func=labels.__getitem__,
                        default=option["default"], key=key, help=option.get("help") or None,
                    ) or option["default"]
            elif option["kind"] == "bool":
                value = st.toggle(escape_markdown(option["label"]),
                                  value=bool(option["default"]), key=key,
                                  help=option.get("help") or None)
            elif option["kind"] == "units":
                value = st.multiselect(escape_markdown(option["label"]), view.keys,
                                       default=option["default"],
                                       format_func=lambda k: names.get(k, k), key=key)
            else:
                positions = list(range(len(view.keys)))
                value = st.selectbox(escape_markdown(option["label"]), positions,
                                     format_func=lambda k: names.get(view.keys[k], str(k)),
                                     index=min(int(option["default"]), len(positions) - 1),
                                     key=key)
        values[option["name"]] = _query_value(option, value)
    return {k: v for k, v in values.items() if v is not None}


def vega(run_id: str, chart_id: str, options: Mapping[str, str],
         labels: Mapping[str, str] | None, *, stretch: bool = True) -> None:
    """One chart as the API draws it."""
    try:
        spec = cached.chart(run_id, chart_id, options, labels)
    except ApiError as exc:
        st.caption(f"This chart could not be drawn: {escape_markdown(exc.detail)}")
        return
    st.vega_lite_chart(spec, width="stretch" if stretch else "content")


def chart(view: View, chart_id: str, *, titled: bool = True, stretch: bool = True,
          fixed: Mapping[str, Any] | None = None) -> dict[str, str] | None:
    """Draw a served chart section (its title and caption unless `titled` is False, then the
    controls of its options). Answers the options drawn with, None if the run has no such
    chart."""
    section = view.section(chart_id)
    if section is None:
        return None
    view.drawn.add(chart_id)
    if titled:
        heading(section["title"], section.get("caption"))
    options = controls(view, section, fixed or {})
    vega(view.run_id, chart_id, options, view.labels, stretch=stretch)
    return options


def table(frame: pd.DataFrame | None, **kwargs: Any) -> None:
    if frame is not None:
        st.dataframe(frame, hide_index=True, **kwargs)


def warnings(result: dict[str, Any]) -> None:
    for text in (result.get("provenance") or {}).get("warnings", []):
        st.warning(escape_markdown(in_form_words(str(text))), icon=":material/warning:")


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
    rows = settings_rows({**params, "random_state": provenance.get("random_state")})
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    versions = provenance.get("library_versions") or {}
    if versions:
        st.caption("Libraries: "
                   + escape_markdown(", ".join(f"{k} {v}" for k, v in versions.items())))
