"""Choice drivers: what moves each product's purchase — household feature effects (per product
and pooled), baseline chances, product-feature effects, diagnostics and the predictive
check."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ui.api_client import ApiError, get_client
from ui.components import show_error
from ui.panels.base import View, chart, number, table, warnings
from ui.panels.bayes import diagnostics, intervals_from


def render(view: View) -> None:
    result = view.result
    warnings(result)
    intervals_from(result)
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


FEATURES_PARAM = "product_features_dataset"
FEATURES_KEY = "form.product_features"
NO_TABLE = "(none)"


def offers_product_features(model: dict[str, Any]) -> bool:
    return FEATURES_PARAM in (model.get("params_schema") or {}).get("properties", {})


def product_features_input(current_dataset: str) -> str | None:
    """The new-analysis form's product features: a table with one row per product (a
    `product` column, then feature columns), chosen from the saved datasets or uploaded here.
    Answers the chosen dataset's id (the run's params.product_features_dataset)."""
    client = get_client()
    uploaded = st.file_uploader(
        "Product features (optional)",
        type=["csv", "xlsx", "parquet"],
        key=f"{FEATURES_KEY}.file",
        help="One row per product: a column named product (the product columns' names), then "
        "one column per feature such as price or category. Numbers are standardised; text "
        "becomes categories. Their effects are shared across products.",
    )
    if uploaded is not None and st.session_state.get(f"{FEATURES_KEY}.sent") != uploaded.file_id:
        try:
            table = client.upload_dataset(
                uploaded.name, uploaded.getvalue(), kind="product_features"
            )
        except ApiError as exc:
            show_error(exc)
        else:
            st.session_state[f"{FEATURES_KEY}.sent"] = uploaded.file_id
            st.session_state[FEATURES_KEY] = table["id"]
    try:
        saved = client.list_datasets(limit=100).get("items", [])
    except ApiError:
        saved = []
    by_id = {d["id"]: d for d in saved if d["id"] != current_dataset}
    options = [NO_TABLE, *by_id]
    if st.session_state.get(FEATURES_KEY) not in options:
        st.session_state[FEATURES_KEY] = NO_TABLE
    picked: str = st.selectbox(
        "Product feature table",
        options,
        key=FEATURES_KEY,
        format_func=lambda i: i if i == NO_TABLE else f"{by_id[i]['name']} ({by_id[i]['n_rows']})",
        help="A saved table of product features (upload one above); checked when the run "
        "starts: every product needs a row, and a feature column mixing numbers and text is "
        "refused.",
    )
    return None if picked == NO_TABLE else picked
