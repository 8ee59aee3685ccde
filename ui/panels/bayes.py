"""Bayesian dimensions (NUTS or variational): loadings with their intervals, the sampler's
diagnostics and the posterior predictive check."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ui.formatting import escape_markdown
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

    intervals_from(result)
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


def intervals_from(result: dict[str, Any]) -> None:
    """Which method produced the intervals (and, for VI, how far to trust them)."""
    said = result.get("intervals_from")
    if not said:
        return
    calibration = result.get("vi_calibration") or {}
    if calibration.get("approximate"):
        st.warning(escape_markdown(said), icon=":material/approval_delegation:")
    else:
        st.info(escape_markdown(said), icon=":material/approval_delegation:")


def verdict(result: dict[str, Any]) -> None:
    """The plain verdict of a NUTS run: converged, or which check failed and what to do."""
    said = (result.get("diagnostics") or {}).get("verdict") or {}
    if not said.get("text"):
        return
    if said.get("status") == "converged":
        st.success(escape_markdown(said["text"]), icon=":material/check_circle:")
    else:
        st.error(escape_markdown(said["text"]), icon=":material/error:")


def diagnostics(view: View) -> None:
    """The verdict, the sampler's diagnostics, trace, rank and energy plots (NUTS) or the VI
    loss, every parameter, the settings."""
    verdict(view.result)
    st.dataframe(diagnostics_frame(view.result), hide_index=True)
    chart(view, "trace")
    chart(view, "rank")
    # At its own size like the trace and rank plots beside it: stretched to the page's width,
    # Streamlit drew this single histogram about 60 px tall.
    chart(view, "energy", stretch=False)
    chart(view, "vi_loss")
    with st.expander("Every parameter (mean, sd, HDI, R-hat, ESS)", icon=":material/table:"):
        table(view.table("parameters"))
    settings(view)
