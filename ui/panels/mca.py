"""The product map: multiple correspondence analysis."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui import charts_mca
from ui.families import strongest_unit
from ui.panels.base import View, chart, number, section, settings, warnings


def render(view: View) -> None:
    result, names = view.result, view.names
    warnings(result)
    pct = [float(r.get("percent_inertia", 0.0)) for r in result.get("summary") or []]
    adj = [float(r.get("benzecri_percent", 0.0)) for r in result.get("summary") or []]
    m1, m2, m3 = st.columns(3)
    m1.metric("Households", f"{result.get('n_obs', 0):,}")
    m2.metric("Dimensions kept", result.get("n_components", len(names)))
    m3.metric("First two dimensions (adjusted)", f"{sum(adj[:2]):.0f}%",
              help="Benzécri-adjusted share of inertia: how much of the structure the map shows.")

    tab_map, tab_inertia, tab_categories = st.tabs(["Map", "Inertia", "Categories"])
    with tab_map:
        section("Product map", "Products bought by the same households sit close together; "
                "products far from the centre are the most distinctive.")
        n = len(names)
        c1, c2, c3 = st.columns([1, 1, 2])
        x = c1.selectbox("Across", range(n), format_func=lambda k: names[k], index=0,
                         key=f"mca.x.{view.run_id}")
        y = c2.selectbox("Up", range(n), format_func=lambda k: names[k], index=min(1, n - 1),
                         key=f"mca.y.{view.run_id}")
        homes = c3.toggle("Show households", key=f"mca.homes.{view.run_id}",
                          help="Each faint dot is a household (up to 3,000).")
        rows = view.rows() if homes else None
        chart(charts_mca.biplot_chart(result, names, (x, y), households=rows,
                                      groups=strongest_unit(view.model_type, result, names)))
        if pct:
            st.caption(f"Raw inertia of these two dimensions: {pct[x]:.1f}% and {pct[y]:.1f}% "
                       "(raw MCA percentages understate the structure; see Inertia).")
    with tab_inertia:
        adjusted = st.toggle("Benzécri-adjusted", value=True, key=f"mca.adj.{view.run_id}")
        chart(charts_mca.inertia_chart(result, names, adjusted=adjusted))
        st.dataframe(charts_mca.inertia_frame(result, names), hide_index=True)
        st.caption(f"Total inertia {number(result.get('total_inertia'), 3)}; Greenacre-adjusted "
                   f"{number(result.get('greenacre_total_inertia'), 4)}.")
    with tab_categories:
        st.caption("Each product's categories (bought / not bought) with their coordinates, "
                   "contributions (% of each dimension) and cos² (quality of representation).")
        rows_out = []
        for cat in result.get("categories") or []:
            row = {"Product": cat.get("product"), "Category": cat.get("level"),
                   "Households": cat.get("count")}
            for k, name in enumerate(names):
                for key, label in (("coordinates", "coord"), ("contributions", "contrib %"),
                                   ("cos2", "cos²")):
                    values = cat.get(key) or []
                    if k < len(values):
                        row[f"{name} {label}"] = values[k]
            rows_out.append(row)
        st.dataframe(pd.DataFrame(rows_out), hide_index=True)
        settings(view)
