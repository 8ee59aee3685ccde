"""What every model gets below its own charts: the product map, the dendrogram, the closest
competitors and (when this session has the household rows) basket statistics."""

from __future__ import annotations

import streamlit as st

from ui.api_client import ApiError
from ui.charts_common import dendrogram_chart, product_map_chart
from ui.components import basket_panel
from ui.families import closest_competitors, embedding, map_coordinates, strongest_unit
from ui.panels.base import View, chart
from ui.prep import basket_from_api, basket_stats


def render(view: View) -> None:
    emb = embedding(view.model_type, view.result)
    if emb is None or len(emb) < 3:
        return
    st.divider()
    st.markdown("### Products: map, families and competitors")
    groups = strongest_unit(view.model_type, view.result, view.names)
    tabs = ["Product map", "Dendrogram", "Closest competitors", "Basket statistics"]
    if view.model_type == "mca":
        tabs.remove("Product map")  # the MCA map is above
    drawn = dict(zip(tabs, st.tabs(tabs), strict=True))
    if "Product map" in drawn:
        with drawn["Product map"]:
            colour_by, title = view.unit, view.unit
            if view.load_clusters is not None:
                colour_by = st.segmented_control(
                    "Colour products by", [view.unit, "Product clusters"], default=view.unit,
                    key=f"map.colour.{view.run_id}") or view.unit
            shown = groups
            note = f"the {view.unit.lower()} each product is most characteristic of"
            if colour_by == "Product clusters" and view.load_clusters is not None:
                try:
                    found = view.load_clusters()
                except ApiError as exc:
                    st.caption(f"No clusters: {exc.detail}")
                else:
                    shown = {str(p): f"Cluster {int(k) + 1}"
                             for p, k in found.get("labels", {}).items()}
                    title = "Cluster"
                    score = found.get("silhouette_score")
                    note = (f"{found.get('n_clusters')} clusters of products found by k-means "
                            + (f"(silhouette {score:.2f})" if isinstance(score, float) else ""))
            st.caption("Products placed by how this model sees them: close products play a "
                       f"similar role. Colour: {note}.")
            chart(product_map_chart(map_coordinates(emb), groups=shown, group_title=title))
    with drawn["Dendrogram"]:
        st.caption("Products joined from the most alike (right) to the least (left): products "
                   "joining early compete for, or complement, the same households.")
        chart(dendrogram_chart(emb, groups))
    with drawn["Closest competitors"]:
        st.caption("For each product, the products most alike in this model (similarity 1 = "
                   "the same pattern across the model's units).")
        st.dataframe(closest_competitors(emb), hide_index=True)
    with drawn["Basket statistics"]:
        products = [str(p) for p in view.result.get("products") or []]
        frame = view.dataset_frame
        if frame is not None and set(products) <= set(frame.columns):
            basket_panel(basket_stats(frame, products))
        elif view.load_basket is not None:
            try:
                basket_panel(basket_from_api(view.load_basket(products)))
            except ApiError as exc:
                st.caption(f"Basket statistics are not available: {exc.detail}")
        else:
            st.caption("Basket statistics need the dataset's household rows.")
