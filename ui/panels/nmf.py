"""Baskets: non-negative matrix factorisation (and LDA topics, which read the same way)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from ui import charts_nmf
from ui.charts_common import bars_chart, matrix_heatmap
from ui.families import plural, profile
from ui.panels.base import View, chart, number, section, settings, warnings


def render(view: View) -> None:
    result, names = view.result, view.names
    warnings(result)
    m1, m2, m3 = st.columns(3)
    m1.metric("Households", f"{result.get('n_obs', 0):,}")
    m2.metric(f"{plural(view.unit)}", len(names))
    explained = result.get("explained")
    if result.get("perplexity") is not None:
        m3.metric("Perplexity", number(result.get("perplexity"), 1),
                  help="How surprised the model is by the baskets: lower is better, for runs on "
                  "the same data.")
    else:
        m3.metric("Purchases explained", "—" if explained is None else f"{explained:.0%}",
                  help="1 − squared reconstruction error / total: how much of the purchase "
                  "matrix the baskets rebuild.")

    tabs = ["Top products", "Weights"]
    if len(result.get("sweep") or []) > 1:
        tabs.append("How many")
    tabs.append("Details")
    drawn = dict(zip(tabs, st.tabs(tabs), strict=True))
    with drawn["Top products"]:
        section(f"What each {view.unit.lower()} holds",
                f"The products with the largest share of each {view.unit.lower()}'s weight: "
                "baskets of products bought together.")
        chart(charts_nmf.top_products_chart(result, names, unit=view.unit.lower()),
              stretch=False)
        shares = charts_nmf.component_share_frame(result, names)
        if len(shares):
            section(f"Size of each {view.unit.lower()}",
                    "Share of the rebuilt purchases each accounts for.")
            chart(bars_chart(shares, "Component", "Share", value_title="Share", fmt=".0%",
                             sort=names))
    with drawn["Weights"]:
        prof = profile(view.model_type, result, names)
        if prof is not None:
            normalised = prof.div(np.maximum(prof.sum(axis=0).to_numpy(), 1e-12), axis=1)
            section("Weights of every product", "Each column sums to 100%.")
            chart(matrix_heatmap(normalised, "Share", fmt=".0%", column_title=view.unit),
                  stretch=False)
    if "How many" in drawn:
        with drawn["How many"]:
            how = "picked at the elbow" if result.get("selected_by") == "elbow" else "as asked"
            section(f"Error by number of {plural(view.unit.lower())}",
                    f"Lower is better; the dashed line marks the number shown ({how}).")
            chart(charts_nmf.error_curve_chart(result))
    with drawn["Details"]:
        st.markdown(f"Relative error **{number(result.get('relative_error'), 3)}** · "
                    f"iterations {number(result.get('n_iter'))} · "
                    f"converged: {'yes' if result.get('converged') else 'no'}")
        settings(view)
