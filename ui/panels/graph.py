"""A co-purchase network: products linked when bought together more than chance, coloured by
community, with the hub products."""

from __future__ import annotations

import streamlit as st

from ui.panels import generic
from ui.panels.base import View, chart, table, warnings


def render(view: View) -> None:
    result = view.result
    warnings(result)
    m1, m2, m3 = st.columns(3)
    m1.metric("Products", len(result.get("products") or []))
    m2.metric("Links", result.get("n_edges", len(result.get("edges") or [])))
    m3.metric(view.units, len(view.names))
    graph, members, hubs, tables = st.tabs(["Network", view.units, "Hubs", "All tables"])
    with graph:
        chart(view, "graph")
        if result.get("modularity") is not None:
            st.caption(f"Modularity {result['modularity']:.2f} (above 0.3: clear "
                       f"{view.units.lower()}).")
    with members:
        table(view.table("communities"))
    with hubs:
        nodes = view.table("nodes")
        if nodes is None or nodes.empty:
            st.caption("No product statistics in this result.")
        else:
            st.markdown("#### Hub products")
            st.caption("Products linked to many others (degree) and bridging "
                       f"{view.units.lower()} (betweenness) — good anchors for promotions.")
            sort = "strength" if "strength" in nodes else nodes.columns[0]
            table(nodes.sort_values(sort, ascending=False))
    with tables:
        generic.tables(view)
