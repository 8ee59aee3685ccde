"""Dimensions: exploratory factor analysis of the tetrachoric correlations."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui import charts_factor
from ui.charts_common import matrix_heatmap
from ui.families import profile
from ui.panels.base import View, chart, number, section, settings, warnings


def render(view: View) -> None:
    result, names = view.result, view.names
    warnings(result)
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Households", f"{result.get('n_obs', 0):,}")
    m2.metric("Factors", result.get("n_factors", len(names)),
              help="Continuous dimensions behind the purchases.")
    m3.metric("Suggested by parallel analysis", number(result.get("n_factors_suggested")))
    m4.metric("Fit (RMSR)", number(result.get("rmsr"), 3),
              help="Root mean square of the residual correlations; below 0.05 is good.")

    loadings, scree, scores, details = st.tabs(["Loadings", "How many factors", "Household scores",
                                                "Fit details"])
    with loadings:
        section("Which products load on which factor",
                "Loadings: how strongly each product goes with each factor (−1 to 1). Products "
                "with large loadings on the same factor are bought by the same kind of "
                "household.")
        prof = profile(view.model_type, result, names)
        if prof is not None:
            chart(matrix_heatmap(prof, "Loading", diverging=True, column_title="Factor"),
                  stretch=False)
            extra = pd.DataFrame({
                "Product": result["products"],
                "Communality": result.get("communalities") or [None] * len(result["products"]),
                "Complexity": result.get("complexity") or [None] * len(result["products"]),
            })
            with st.expander("Communalities", icon=":material/table:"):
                st.caption("Communality: the share of a product's variation the factors explain.")
                st.dataframe(extra, hide_index=True)
        if result.get("variance"):
            section("Variance explained")
            chart(charts_factor.variance_chart(result, names))
    with scree:
        section("Scree plot with parallel analysis",
                "Keep the factors whose eigenvalue (blue) lies above the random-data line (grey).")
        chart(charts_factor.scree_chart(result))
        suggested = result.get("n_factors_suggested")
        if suggested:
            st.caption(f"Parallel analysis suggests {suggested} factor(s); this run kept "
                       f"{result.get('n_factors')}.")
    with scores:
        rows = view.rows()
        if rows is None or not charts_factor.score_columns(rows):
            st.caption("No household scores were saved for this run.")
        else:
            section("How households spread on each factor")
            chart(charts_factor.score_distribution_chart(rows, names))
    with details:
        stats = {k: result.get(k) for k in ("chi_square", "dof", "p_value", "tli", "rmsea", "bic",
                                             "rmsr", "crms", "fit", "fit_off", "objective",
                                             "extraction", "rotation", "converged", "iterations")}
        st.dataframe(pd.DataFrame({"Statistic": list(stats),
                                   "Value": [number(v, 3) for v in stats.values()]}),
                     hide_index=True)
        corr = result.get("factor_correlations")
        if corr:
            section("Factor correlations")
            frame = pd.DataFrame(corr, index=names, columns=names)
            chart(matrix_heatmap(frame, "Correlation", diverging=True, row_title="Factor ",
                                 column_title="Factor"), stretch=False)
        if result.get("heywood_products"):
            st.warning("Heywood cases (communality ≥ 1): "
                       + ", ".join(result["heywood_products"]), icon=":material/warning:")
        settings(view)
