"""Choice drivers: what moves each product's purchase — household feature effects (per product
and pooled), baseline chances, product-feature effects, diagnostics and the predictive
check."""

from __future__ import annotations

import streamlit as st

from ui.panels.base import View, chart, number, table, warnings
from ui.panels.bayes import diagnostics


def render(view: View) -> None:
    result = view.result
    warnings(result)
    diag = result.get("diagnostics") or {}
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Households", number(result.get("n_obs")))
    m2.metric("Household features", len(view.names))
    m3.metric("Divergences", number(diag.get("divergences")),
              help="Divergent transitions: 0 is what you want.")
    m4.metric("Largest R-hat", number(diag.get("max_r_hat"), 3),
              help="Below 1.01 means the chains agree.")

    tabs = st.tabs(["Household effects", "Products", "Diagnostics", "Predictive check"])
    with tabs[0]:
        if chart(view, "effects", stretch=False) is None:
            st.caption("This run has no household features: each product's purchase is "
                       "explained by its baseline and the household's own taste.")
        chart(view, "pooled_effects")
        with st.expander("Every feature × product effect", icon=":material/table:"):
            table(view.table("household_effects"))
    with tabs[1]:
        chart(view, "baseline")
        chart(view, "product_feature_effects")
    with tabs[2]:
        with st.expander("Hyperparameters", icon=":material/table:"):
            table(view.table("hyperparameters"))
        diagnostics(view)
    with tabs[3]:
        chart(view, "predictive_check")
