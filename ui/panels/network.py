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
    graph, members, tables = st.tabs(["Network", "Communities", "All tables"])
    with graph:
        section("Which products are bought together",
                "Lines join products bought together more than chance (thicker = stronger); "
                "colours are communities of products that belong together.")
        chart(charts_network.network_chart(result, view.names))
    with members:
        names = view.names
        rows = [{"Community": names[k] if k < len(names) else f"Community {k + 1}",
                 "Product": p} for p, k in sorted(groups.items(), key=lambda x: x[1])]
        st.dataframe(pd.DataFrame(rows), hide_index=True)
    with tables:
        generic.render(view)
