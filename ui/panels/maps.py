"""A product map (correspondence analysis): products on two dimensions, the inertia each
dimension shows, and every category's numbers."""

from __future__ import annotations

import streamlit as st

from ui.panels.base import View, chart, number, settings, table, warnings


def render(view: View) -> None:
    result = view.result
    warnings(result)
    summary = result.get("summary") or []
    pct = [float(r.get("percent_inertia", 0.0)) for r in summary]
    adj = [float(r.get("benzecri_percent", 0.0)) for r in summary]
    m1, m2, m3 = st.columns(3)
    m1.metric("Households", f"{result.get('n_obs', 0):,}")
    m2.metric(f"{view.units} kept", result.get("n_components", len(view.names)))
    m3.metric("Shown by the first two dimensions", f"{sum(pct[:2]):.1f}%",
              help="Their share of the inertia, as MCA counts it: "
              + " + ".join(f"{p:.1f}%" for p in pct[:2]) + ". MCA's raw shares understate "
              f"the structure; Benzécri's adjustment puts the first two at {sum(adj[:2]):.0f}% "
              "(see Inertia).")

    tab_map, tab_inertia, tab_categories = st.tabs(["Map", "Inertia", "Categories"])
    with tab_map:
        options = chart(view, "map") or {}
        x, y = int(options.get("x", 0)), int(options.get("y", 1))
        if max(x, y) < len(pct):
            st.caption(f"Raw inertia of these two: {pct[x]:.1f}% and {pct[y]:.1f}% (raw MCA "
                       "percentages understate the structure; see Inertia).")
    with tab_inertia:
        chart(view, "inertia")
        table(view.table("eigenvalues"))
        st.caption(f"Total inertia {number(result.get('total_inertia'), 3)}; Greenacre-adjusted "
                   f"{number(result.get('greenacre_total_inertia'), 4)}.")
    with tab_categories:
        st.caption("Each product's categories (bought / not bought) with their coordinates, "
                   "contributions (% of each dimension), cos² (quality of representation) and "
                   "v-test.")
        table(view.table("categories"))
        settings(view)
