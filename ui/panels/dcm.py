"""Discrete choice model: what drives each product's purchase — household feature effects (per
product and pooled), baseline chances, product-feature effects, diagnostics and the predictive
check."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui import charts_bayes
from ui.charts_common import matrix_heatmap
from ui.families import profile
from ui.panels.base import View, chart, number, section, settings, warnings


def render(view: View) -> None:
    result = view.result
    warnings(result)
    diag = result.get("diagnostics") or {}
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Households", number(result.get("n_obs")))
    m2.metric("Household features", len(result.get("household_features") or []))
    m3.metric("Divergences", number(diag.get("divergences")),
              help="Divergent transitions: 0 is what you want.")
    m4.metric("Largest R-hat", number(diag.get("max_r_hat"), 3),
              help="Below 1.01 means the chains agree.")

    tabs = st.tabs(["Household effects", "Products", "Diagnostics", "Predictive check"])
    with tabs[0]:
        section("How household features change each product's purchase",
                "Effects on the link scale (log-odds for logit): blue raises the chance of "
                "buying, red lowers it.")
        prof = profile(view.model_type, result, view.names)
        if prof is not None:
            chart(matrix_heatmap(prof, "Effect", diverging=True, column_title="Feature"),
                  stretch=False)
        pooled = charts_bayes.interval_rows(result.get("household_effect_average") or [])
        if len(pooled):
            section("Effects common to all products", "94% intervals; an interval that does "
                    "not cross 0 is a credible effect.")
            chart(charts_bayes.forest_chart(pooled))
        effects = pd.DataFrame(result.get("household_effects") or [])
        if not effects.empty:
            with st.expander("Every feature × product effect", icon=":material/table:"):
                st.dataframe(effects, hide_index=True)
    with tabs[1]:
        baseline = charts_bayes.interval_rows(result.get("baseline_probabilities") or [])
        if len(baseline):
            section("Chance of buying for an average household",
                    "At the average of every household feature (reference level for "
                    "categories), with 94% intervals.")
            chart(charts_bayes.forest_chart(baseline, x_title="Probability (94% HDI)",
                                            reference=float(baseline["Estimate"].mean())))
        product_effects = charts_bayes.interval_rows(result.get("product_feature_effects") or [])
        if len(product_effects):
            section("Effects of product features", "Shared by every product (e.g. price).")
            chart(charts_bayes.forest_chart(product_effects))
    with tabs[2]:
        st.dataframe(charts_bayes.diagnostics_frame(result), hide_index=True)
        hyper = pd.DataFrame(result.get("hyperparameters") or [])
        if not hyper.empty:
            section("Hyperparameters")
            st.dataframe(hyper, hide_index=True)
        parameters = pd.DataFrame(result.get("parameters") or [])
        if not parameters.empty:
            with st.expander("Every parameter (mean, sd, HDI, R-hat, ESS)",
                             icon=":material/table:"):
                st.dataframe(parameters, hide_index=True)
        settings(view)
    with tabs[3]:
        section("Does the model reproduce each product's purchase rate?",
                "Bar: the rates the model replicates (3–97%); dot: the observed rate, red when "
                "it falls outside.")
        chart(charts_bayes.ppc_chart(result))
