"""Bayesian dimensions (NUTS or variational): loadings with their intervals, the sampler's
diagnostics and the posterior predictive check."""

from __future__ import annotations

import streamlit as st

from ui.panels.base import View, chart, number, settings, table, warnings
from ui.tables import diagnostics_frame


def render(view: View) -> None:
    result = view.result
    warnings(result)
    diag = result.get("diagnostics") or {}
    comparison = result.get("comparison") or {}
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Households", f"{result.get('n_obs', 0):,}")
    m2.metric(view.units, result.get("n_factors", len(view.names)))
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
        chart(view, "loadings", stretch=False)
        chart(view, "household_scores")
    with drawn["Intervals"]:
        chart(view, "loading_intervals")
        chart(view, "baseline")
    with drawn["Diagnostics"]:
        diagnostics(view)
    with drawn["Predictive check"]:
        chart(view, "predictive_check")


def diagnostics(view: View) -> None:
    """The sampler's diagnostics with verdicts, the VI loss, every parameter, the settings."""
    st.dataframe(diagnostics_frame(view.result), hide_index=True)
    chart(view, "vi_loss")
    with st.expander("Every parameter (mean, sd, HDI, R-hat, ESS)", icon=":material/table:"):
        table(view.table("parameters"))
    settings(view)
