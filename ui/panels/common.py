"""What every model gets below its own charts: the product map, the dendrogram, the closest
competitors and (when this session has the household rows) basket statistics."""

from __future__ import annotations

import streamlit as st

from ui.charts_common import dendrogram_chart, product_map_chart
from ui.components import basket_panel
from ui.families import closest_competitors, embedding, map_coordinates, strongest_unit
from ui.panels.base import View, chart


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
            st.caption(f"Products placed by how this model sees them: close products play a "
                       f"similar role. Colour: the {view.unit.lower()} each product is most "
                       "characteristic of.")
            chart(product_map_chart(map_coordinates(emb), groups=groups,
                                    group_title=view.unit))
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
            basket_panel(frame, products)
        else:
            st.caption("Penetration, duplication and lift need the household rows: they are "
                       "shown for data prepared on the Data page in this session. (The API has "
                       "no endpoint for a dataset's co-purchase counts yet.)")
