"""What every family with a product map gets below its own charts: the product map, the
dendrogram and the closest competitors (all drawn by the API from the product map stored with
the result), and the dataset's basket statistics (GET /datasets/{id}/basket)."""

from __future__ import annotations

import streamlit as st

from ui.api_client import ApiError
from ui.components import basket_panel
from ui.formatting import escape_markdown
from ui.panels.base import View, chart
from ui.prep import basket_from_api

PRODUCT_VIEWS = ("product_map", "dendrogram", "competitors")


def render(view: View) -> None:
    shown = [c for c in PRODUCT_VIEWS if view.has(c) and c not in view.drawn]
    if not shown:
        return
    st.divider()
    st.markdown("### Products: map, families and competitors")
    titles = {"product_map": "Product map", "dendrogram": "Dendrogram",
              "competitors": "Closest competitors"}
    tabs = [titles[c] for c in shown] + ["Basket statistics"]
    drawn = dict(zip(tabs, st.tabs(tabs), strict=True))
    for chart_id in shown:
        with drawn[titles[chart_id]]:
            section = view.section(chart_id) or {}
            st.caption(escape_markdown(section.get("caption", "")))
            options = chart(view, chart_id, titled=False) or {}
            if options.get("colour") == "clusters":
                _clusters_note(view)
    with drawn["Basket statistics"]:
        products = [str(p) for p in view.result.get("products") or []]
        if view.load_basket is None:
            st.caption("Basket statistics need the run's dataset.")
            return
        try:
            basket_panel(basket_from_api(view.load_basket(products)))
        except ApiError as exc:
            st.caption(f"Basket statistics are not available: {escape_markdown(exc.detail)}")


def _clusters_note(view: View) -> None:
    if view.load_clusters is None:
        return
    try:
        found = view.load_clusters()
    except ApiError as exc:
        st.caption(f"No clusters: {escape_markdown(exc.detail)}")
        return
    score = found.get("silhouette_score")
    st.caption(f"{found.get('n_clusters')} clusters of products found by k-means"
               + (f" (silhouette {score:.2f})." if isinstance(score, float) else "."))
