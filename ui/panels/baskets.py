"""Baskets: parts-based mixtures — components (NMF) or shopping missions (LDA) — each a set of
products bought together, each household a mix of them."""

from __future__ import annotations

import streamlit as st

from ui.panels.base import View, chart, number, settings, warnings


def render(view: View) -> None:
    result = view.result
    warnings(result)
    m1, m2, m3 = st.columns(3)
    m1.metric("Households", f"{result.get('n_obs', 0):,}")
    m2.metric(view.units, len(view.names))
    if result.get("perplexity") is not None:
        m3.metric("Perplexity", number(result.get("perplexity"), 1),
                  help="How surprised the model is by the baskets: lower is better, for runs on "
                  "the same data.")
    else:
        explained = result.get("explained")
        m3.metric("Purchases explained", "—" if explained is None else f"{explained:.0%}",
                  help="1 − squared reconstruction error / total: how much of the purchase "
                  "matrix the baskets rebuild.")

    tabs = ["Top products", "Weights"]
    if view.has("error_curve"):
        tabs.append("How many")
    tabs.append("Details")
    drawn = dict(zip(tabs, st.tabs(tabs), strict=True))
    with drawn["Top products"]:
        chart(view, "top_products", stretch=False)
        chart(view, "shares")
    with drawn["Weights"]:
        chart(view, "weights", stretch=False)
    if "How many" in drawn:
        with drawn["How many"]:
            chart(view, "error_curve")
    with drawn["Details"]:
        iterations = result.get("n_iter")
        st.markdown(f"Iterations {number(iterations)} · converged: "
                    f"{'yes' if result.get('converged') else 'no'}"
                    + (f" · relative error **{number(result['relative_error'], 3)}**"
                       if result.get("relative_error") is not None else ""))
        settings(view)
