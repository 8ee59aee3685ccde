"""Bayesian factor models (NUTS or variational): loadings with intervals, diagnostics and the
posterior predictive check."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui import charts_bayes
from ui.charts_common import matrix_heatmap
from ui.families import profile
from ui.panels.base import View, chart, number, section, settings, warnings


def render(view: View) -> None:
    result, names = view.result, view.names
    warnings(result)
    diag = result.get("diagnostics") or {}
    comparison = result.get("comparison") or {}
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Households", f"{result.get('n_obs', 0):,}")
    m2.metric("Factors", result.get("n_factors", len(names)))
    if diag.get("method") == "nuts":
        m3.metric("Divergences", number(diag.get("divergences")),
                  help="Divergent transitions: 0 is what you want.")
        m4.metric("Largest R-hat", number(diag.get("max_r_hat"), 3),
                  help="Below 1.01 means the chains agree.")
    else:
        vi = result.get("vi") or {}
        m3.metric("Iterations", number(vi.get("iterations")))
        m4.metric("ELPD (LOO)", number(comparison.get("elpd_loo"), 1),
                  help="Expected log predictive density: higher is better when comparing "
                  "models on the same data.")

    tabs = ["Loadings", "Intervals", "Diagnostics", "Predictive check"]
    drawn = dict(zip(tabs, st.tabs(tabs), strict=True))
    with drawn["Loadings"]:
        section("Posterior mean loadings", "Standardised loadings, as in factor analysis; bold "
                "intervals in the next tab show how certain each one is.")
        prof = profile(view.model_type, result, names)
        if prof is not None:
            chart(matrix_heatmap(prof, "Loading", diverging=True, column_title="Factor"),
                  stretch=False)
    with drawn["Intervals"]:
        section("Loadings with 94% intervals",
                "An interval that does not cross 0 is a credible loading.")
        chart(charts_bayes.forest_chart(charts_bayes.loadings_intervals(result, names),
                                        names=names, x_title="Loading (94% HDI)"))
        baseline = charts_bayes.interval_rows(result.get("baseline_probabilities") or [])
        if len(baseline):
            section("Chance of buying for an average household")
            chart(charts_bayes.forest_chart(baseline, x_title="Probability (94% HDI)",
                                            reference=float(baseline["Estimate"].mean())))
    with drawn["Diagnostics"]:
        st.dataframe(charts_bayes.diagnostics_frame(result), hide_index=True)
        if (result.get("vi") or {}).get("loss_history"):
            section("Optimisation", "The loss should level off.")
            chart(charts_bayes.loss_chart(result))
        parameters = pd.DataFrame(result.get("parameters") or [])
        if not parameters.empty:
            with st.expander("Every parameter (mean, sd, HDI, R-hat, ESS)",
                             icon=":material/table:"):
                st.dataframe(parameters, hide_index=True)
        settings(view)
    with drawn["Predictive check"]:
        section("Does the model reproduce each product's purchase rate?",
                "Bar: the rates the model replicates (3–97%); dot: the observed rate, red when "
                "it falls outside.")
        chart(charts_bayes.ppc_chart(result))
