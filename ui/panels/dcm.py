"""Discrete choice model: coefficient plots with intervals, diagnostics, predictive check.
Reads any list of estimates with intervals in the result, so it follows the family's schema as
it grows."""

from __future__ import annotations

import streamlit as st

from ui import charts_bayes
from ui.panels import generic
from ui.panels.base import View, chart, number, section, settings, warnings


def render(view: View) -> None:
    result = view.result
    warnings(result)
    cols = st.columns(3)
    cols[0].metric("Households", number(result.get("n_obs")))
    cols[1].metric("Log-likelihood", number(result.get("loglik"), 1))
    comparison = result.get("comparison") or {}
    cols[2].metric("ELPD (LOO)", number(comparison.get("elpd_loo"), 1))
    lists = {k: v for k, v in result.items()
             if k not in ("predictive_check", "parameters") and charts_bayes.is_interval_list(v)}
    tabs = [*(k.replace("_", " ").capitalize() for k in lists), "Diagnostics"]
    if result.get("predictive_check"):
        tabs.append("Predictive check")
    tabs.append("All tables")
    drawn = st.tabs(tabs)
    for (key, items), tab in zip(lists.items(), drawn, strict=False):
        with tab:
            group = next((g for g in ("alternative", "product", "class_name", "segment")
                          if isinstance(items[0], dict) and g in items[0]), None)
            data = charts_bayes.interval_rows(items, group)
            section(key.replace("_", " ").capitalize(),
                    "Estimates with their intervals; the dashed line is no effect.")
            chart(charts_bayes.forest_chart(data))
    with drawn[len(lists)]:
        st.dataframe(charts_bayes.diagnostics_frame(result), hide_index=True)
        settings(view)
    if result.get("predictive_check"):
        with drawn[len(lists) + 1]:
            chart(charts_bayes.ppc_chart(result))
    with drawn[-1]:
        generic.render(view)
