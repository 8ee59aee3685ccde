"""Dimensions: continuous factors behind the purchases (exploratory factor analysis)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui.formatting import escape_markdown
from ui.panels.base import View, chart, number, settings, table, warnings


def render(view: View) -> None:
    result, many = view.result, view.units
    warnings(result)
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Households", f"{result.get('n_obs', 0):,}")
    m2.metric(many, result.get("n_factors", len(view.names)),
              help="Continuous dimensions behind the purchases.")
    m3.metric("Suggested by parallel analysis", number(result.get("n_factors_suggested")))
    m4.metric("Fit (RMSR)", number(result.get("rmsr"), 3),
              help="Root mean square of the residual correlations; below 0.05 is good.")

    loadings, how_many, scores, details = st.tabs(
        ["Loadings", f"How many {many.lower()}", "Household scores", "Fit details"])
    with loadings:
        chart(view, "loadings", stretch=False)
        with st.expander("Loadings, communalities and uniquenesses", icon=":material/table:"):
            st.caption("Communality: the share of a product's variation the factors explain.")
            table(view.table("loadings"))
        chart(view, "variance")
    with how_many:
        chart(view, "scree")
        suggested = result.get("n_factors_suggested")
        if suggested:
            rule = result.get("suggestion_rule") or f"Parallel analysis suggests {suggested}"
            st.caption(f"{escape_markdown(rule)}: {suggested} suggested (the dotted line); this "
                       f"run kept {result.get('n_factors')} (the dashed line).")
    with scores:
        if chart(view, "household_scores") is None:
            st.caption("No household scores were saved for this run.")
    with details:
        stats = {k: result.get(k) for k in ("chi_square", "dof", "p_value", "tli", "rmsea", "bic",
                                             "rmsr", "crms", "fit", "fit_off", "objective",
                                             "extraction", "rotation", "converged", "iterations")}
        st.dataframe(pd.DataFrame({"Statistic": list(stats),
                                   "Value": [number(v, 3) for v in stats.values()]}),
                     hide_index=True)
        chart(view, "correlations", stretch=False)
        if result.get("heywood_products"):
            explained = next((w for w in (result.get("provenance") or {}).get("warnings", [])
                              if str(w).startswith("Heywood")), None)
            st.warning(escape_markdown(explained) if explained else "Heywood cases (communality "
                       "≥ 1): " + escape_markdown(", ".join(result["heywood_products"])),
                       icon=":material/warning:")
        settings(view)
