"""The co-purchase network: products linked when bought together, coloured by community."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui import charts_network
from ui.panels import generic
from ui.panels.base import View, chart, section, warnings


def render(view: View) -> None:
    result = view.result
    warnings(result)
    edges = charts_network.edges_frame(result)
    groups = charts_network.communities(result)
    m1, m2, m3 = st.columns(3)
    m1.metric("Products", len(result.get("products") or []))
    m2.metric("Links", len(edges))
    m3.metric("Communities", len(set(groups.values())))
    graph, members, hubs, tables = st.tabs(["Network", "Communities", "Hubs", "All tables"])
    with graph:
        section("Which products are bought together",
                "Lines join products bought together more than chance (thicker = stronger); "
                "colours are communities of products that belong together.")
        chart(charts_network.network_chart(result, view.names))
    with members:
        ids = sorted(set(groups.values()))
        label = dict(zip(ids, view.names, strict=False))
        rows = [{"Community": label.get(k, f"Community {k}"), "Product": p}
                for p, k in sorted(groups.items(), key=lambda x: x[1])]
        st.dataframe(pd.DataFrame(rows), hide_index=True)
        if result.get("modularity") is not None:
            st.caption(f"Modularity {result['modularity']:.2f} (above 0.3: clear communities).")
    with hubs:
        nodes = pd.DataFrame(result.get("nodes") or [])
        if nodes.empty:
            st.caption("No product statistics in this result.")
        else:
            section("Hub products", "Products linked to many others (degree) and bridging "
                    "communities (betweenness) — good anchors for promotions.")
            sort = "strength" if "strength" in nodes else nodes.columns[0]
            st.dataframe(nodes.sort_values(sort, ascending=False), hide_index=True)
    with tables:
        generic.render(view)
