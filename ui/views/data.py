"""Data: bring a purchase file (or the demo), check its quality, choose the columns, save it."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from ui import cached, state
from ui.api_client import ApiError, get_client
from ui.components import basket_panel, show_error
from ui.demo import COVARIATES, DEMO_FILENAME, DEMO_NAME, ID_COLUMN, demo_frame
from ui.formatting import escape_markdown, format_timestamp
from ui.prep import (
    PrepError,
    basket_from_api,
    binarise_counts,
    column_quality,
    dataset_bytes,
    detect_transactions,
    penetration_filter,
    pivot_transactions,
    quality_report,
    read_table,
    suggest_roles,
)
from ui.tables import column_profile_frame, default_products

UPLOAD_ERROR = "data.upload_error"
SOURCE = "data.source"
EARLIER = "data.earlier"
LOAD_ERROR = "data.load_error"
NO_ID = "(no ID column)"

st.title("Your purchase data")
st.caption(
    "One row per household or customer, one column per product: **1** if they bought it, "
    "**0** if not — or a transaction file with one row per purchase, which is turned into that "
    "shape here. CSV, Excel (.xlsx) and Parquet files work."
)

client = get_client()
SOURCES = {
    "upload": ":material/upload_file: Upload a file",
    "demo": ":material/shopping_basket: Demo data",
    "earlier": ":material/history: Saved datasets",
}
source = st.segmented_control(
    "Where is your data?", list(SOURCES), format_func=SOURCES.__getitem__, default="upload",
    key=SOURCE, label_visibility="collapsed",
) or "upload"


def _take(frame: pd.DataFrame, name: str, token: str) -> None:
    """A new table to prepare: it replaces the previous one and its choices."""
    st.session_state[state.FRAME] = frame
    st.session_state[state.FRAME_NAME] = name
    st.session_state[state.FRAME_TOKEN] = token
    for key in [k for k in st.session_state if str(k).startswith("prep.")]:
        del st.session_state[key]


# -- where the data comes from -----------------------------------------------------------------

if source == "upload":
    uploaded = st.file_uploader(
        "Upload a file",
        type=["csv", "xlsx", "parquet"],
        help="Up to 200 MB. Nothing is stored until you save it as a dataset below.",
    )
    if uploaded is not None and uploaded.file_id != st.session_state[state.UPLOADED_FILE_ID]:
        # Each file is read once; a refusal stays on screen until another file is chosen.
        st.session_state[state.UPLOADED_FILE_ID] = uploaded.file_id
        st.session_state[UPLOAD_ERROR] = None
        with st.spinner(f"Reading {escape_markdown(uploaded.name)}…"):
            try:
                _take(read_table(uploaded.name, uploaded.getvalue()), uploaded.name,
                      uploaded.file_id)
            except PrepError as exc:
                st.session_state[UPLOAD_ERROR] = str(exc)
    failed = st.session_state.get(UPLOAD_ERROR)
    if uploaded is not None and failed:
        st.error(escape_markdown(failed), icon=":material/error:")
elif source == "demo":
    with st.container(border=True):
        st.markdown(
            "**Grocery households (demo).** 2,000 households, 24 grocery categories and five "
            "household features (size, age, income, children, region). The purchases were "
            "drawn from five hidden shopper segments — busy families, health-conscious, "
            "convenience seekers, traditional shoppers and foodies — so every model has "
            "something real to find."
        )
        if st.button("Use the demo data", type="primary", icon=":material/shopping_basket:"):
            _take(demo_frame(), DEMO_NAME, "demo")
else:
    def _load_earlier() -> None:
        chosen = st.session_state.get(EARLIER)
        if not chosen:
            return
        try:
            state.set_dataset(client.get_dataset(chosen))
        except ApiError as exc:
            st.session_state[LOAD_ERROR] = exc
        else:
            st.session_state[state.FRAME] = None

    try:
        listing = client.list_datasets(limit=100)
    except ApiError as exc:
        show_error(exc)
        listing = {"items": []}
    items: list[dict[str, Any]] = listing.get("items", [])
    if items:
        labels = {
            d["id"]: f"{d['name']} · {d['n_rows']:,} rows · "
            f"{format_timestamp(d.get('created_at'))}"
            for d in items
        }
        st.selectbox("Saved datasets", list(labels), format_func=labels.__getitem__, index=None,
                     placeholder="Choose a dataset…", key=EARLIER, on_change=_load_earlier)
    else:
        st.caption("No saved datasets yet.")
    error = st.session_state.pop(LOAD_ERROR, None)
    if isinstance(error, ApiError):
        show_error(error)


# -- preparing a table -------------------------------------------------------------------------


def _transactions(frame: pd.DataFrame) -> pd.DataFrame:
    """Offer to pivot a long file; answers the table to prepare (pivoted or not)."""
    guess = detect_transactions(frame)
    if guess is None:
        return frame
    columns = list(frame.columns)
    with st.container(border=True):
        st.markdown("**This looks like a transaction file** (one row per purchase). "
                    "Turn it into one row per customer with a 0/1 column per product:")
        c1, c2, c3, c4 = st.columns(4)
        customer = c1.selectbox("Customer column", columns, index=columns.index(guess.customer),
                                key="prep.tx_customer")
        product = c2.selectbox("Product column", columns, index=columns.index(guess.product),
                               key="prep.tx_product")
        options = ["(none: any purchase counts)", *columns]
        qty_default = options.index(guess.quantity) if guess.quantity in options else 0
        quantity = c3.selectbox("Quantity column", options, index=qty_default,
                                key="prep.tx_quantity")
        has_qty = quantity != options[0]
        minimum = c4.number_input("Bought if at least", min_value=0.0, value=1.0, step=1.0,
                                  disabled=not has_qty, key="prep.tx_min",
                                  help="Units in total per customer and product.")
        pivot = st.toggle("Pivot to one row per customer", value=True, key="prep.tx_pivot")
    if not pivot:
        return frame
    try:
        wide = pivot_transactions(frame, customer, product, quantity if has_qty else None,
                                  float(minimum))
    except PrepError as exc:
        st.error(escape_markdown(exc), icon=":material/error:")
        return frame
    notes = []
    if wide.attrs.get("no_purchase"):
        notes.append(f"{wide.attrs['no_purchase']:,} customer(s) bought none of the products "
                     "(or not enough): kept, with 0 everywhere, so penetrations count them.")
    if wide.attrs.get("features"):
        notes.append("Kept as household features (one value per customer): "
                     + ", ".join(wide.attrs["features"]) + ".")
    for note in notes:
        st.caption(":material/info: " + escape_markdown(note))
    return wide


def _counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Offer to turn purchase counts into 0/1 (bought if at least N)."""
    counted = [q.name for q in column_quality(frame) if "purchase counts" in q.flags]
    if len(counted) < 2:
        return frame
    with st.container(border=True):
        st.markdown(f"**{len(counted)} columns hold purchase counts**, not 0/1. The models need "
                    "0/1 (bought or not): turn them into 0/1?")
        c1, c2 = st.columns([1, 3], vertical_alignment="bottom")
        minimum = c1.number_input("Bought if at least", min_value=1.0, value=1.0, step=1.0,
                                  key="prep.counts_min")
        turn = c2.toggle("Turn counts into 0/1", value=True, key="prep.counts")
    return binarise_counts(frame, counted, float(minimum)) if turn else frame


def _save(frame: pd.DataFrame, name: str, id_column: str | None, products: list[str],
          covariates: list[str]) -> None:
    try:
        content = dataset_bytes(frame, id_column, products, covariates)
    except PrepError as exc:
        st.error(escape_markdown(exc), icon=":material/error:")
        return
    filename = DEMO_FILENAME.replace(".csv", ".parquet") if name == DEMO_NAME else (
        name.rsplit(".", 1)[0] + ".parquet")
    with st.spinner("Saving and checking the dataset…"):
        try:
            dataset = client.upload_dataset(filename, content, name=name)
        except ApiError as exc:
            st.session_state[UPLOAD_ERROR] = exc.detail
            show_error(exc)
            return
    state.set_dataset(dataset)
    state.set_roles(dataset["id"], {"id_column": id_column, "products": products,
                                    "covariates": covariates})
    st.session_state[state.FRAME] = None
    state.flash(f"Saved “{escape_markdown(name)}”: {dataset['n_rows']:,} households, "
                f"{len(products)} products.")
    st.rerun()


def prepare(raw: pd.DataFrame, name: str) -> None:
    frame = _counts(_transactions(raw))
    report = quality_report(frame)
    roles = suggest_roles(frame)
    columns = [str(c) for c in frame.columns]
    binary = report.loc[report["Type"] == "0/1 purchase", "Column"].tolist()

    st.subheader(escape_markdown(name))
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Households", f"{len(frame):,}")
    c2.metric("Columns", f"{frame.shape[1]:,}")
    c3.metric("0/1 product columns", len(binary), help="Columns holding only 0, 1 or blanks.")
    flagged = int(((report["Check"] != "ok") & (report["Suggested use"] != "ID")).sum())
    c4.metric("Columns to check", flagged, help="Constant, near-constant, ID-like or "
              "mostly missing columns (see the quality report).")

    report_tab, preview_tab = st.tabs(
        [":material/fact_check: Quality report", ":material/table: Preview"])
    with report_tab:
        st.dataframe(
            report, hide_index=True,
            column_config={
                "Penetration": st.column_config.ProgressColumn(
                    help="Share of households that bought the product.", format="%.1f%%",
                    min_value=0.0, max_value=100.0),
                "Missing": st.column_config.NumberColumn(format="%.1f%%"),
                "Check": st.column_config.TextColumn(
                    help="constant: one value only; near-constant: under 1% or over 99% ones; "
                    "unique per row: looks like an ID; not 0/1: a few stray values in a 0/1 "
                    "column (fix them in the file); derived: computed from the purchases; "
                    "missing: blank cells."),
            },
        )
    with preview_tab:
        st.dataframe(frame.head(100), hide_index=True)
        st.caption(f"The first {min(100, len(frame))} of {len(frame):,} rows.")

    with st.container(border=True):
        st.markdown("#### Choose the columns")
        id_options = [NO_ID, *columns]
        id_default = roles.id_column if name != DEMO_NAME else ID_COLUMN
        id_choice = st.selectbox(
            "Household ID", id_options,
            index=id_options.index(id_default) if id_default in id_options else 0,
            key="prep.id", help="Identifies each household in the downloads. Not used in fits.")
        id_column = None if id_choice == NO_ID else id_choice
        product_options = [c for c in binary if c != id_column]
        products = st.multiselect(
            "Products (0/1 columns)", product_options,
            default=[p for p in roles.products if p in product_options], key="prep.products",
            help="The purchases to analyse. Constant and near-constant columns are left out "
            "to start with: they carry no information.")
        feature_options = [c for c in columns if c != id_column and c not in products]
        default_features = COVARIATES if name == DEMO_NAME else roles.covariates
        covariates = st.multiselect(
            "Household features (optional)", feature_options,
            default=[c for c in default_features if c in feature_options], key="prep.features",
            help="Size, age, income, region… Used by the models that explain segments with "
            "household features, and kept for the exports.")
        minimum = st.slider(
            "Minimum penetration", 0.0, 50.0, 1.0, 0.5, format="%.1f%%", key="prep.min_pen",
            help="Leave out products bought by fewer households than this.") / 100
        kept, dropped = penetration_filter(frame, products, minimum) if products else ([], [])
        if dropped:
            st.caption(f":material/filter_alt: {len(dropped)} product(s) below "
                       f"{minimum:.1%}: {escape_markdown(', '.join(dropped[:12]))}"
                       f"{'…' if len(dropped) > 12 else ''}")
        st.caption(f"{len(kept)} products, {len(covariates)} household features"
                   f"{', ID ' + escape_markdown(id_column) if id_column else ''}.")
        dataset_name = st.text_input("Dataset name", value=name, key="prep.name")
        if st.button("Save as dataset", type="primary", icon=":material/save:",
                     disabled=len(kept) < 2):
            _save(frame, dataset_name.strip() or name, id_column, kept, covariates)
        if len(kept) < 2:
            st.caption(":material/info: Choose at least two products.")
        st.caption(":material/shopping_cart: Once saved, the analysis service counts how the "
                   "products are bought together (penetration, duplication, lift).")


raw = st.session_state.get(state.FRAME)
if isinstance(raw, pd.DataFrame) and source != "earlier":
    prepare(raw, str(st.session_state[state.FRAME_NAME]))
    st.stop()

# -- the dataset being worked on ---------------------------------------------------------------

dataset = state.current_dataset()
if dataset is None:
    if source == "earlier":
        st.info("Choose one of your saved datasets above to work on it again.",
                icon=":material/history:")
    else:
        st.info("Upload a file, or try the demo data, to begin.", icon=":material/upload:")
    st.stop()

columns: list[dict[str, Any]] = dataset["columns"]
roles = state.roles_for(dataset["id"])
n_binary = sum(1 for c in columns if c.get("is_binary"))

with st.container(border=True):
    head, action = st.columns([3, 1], vertical_alignment="center")
    head.markdown(f"#### :material/dataset: {escape_markdown(dataset['name'])}")
    head.caption(
        f"Saved dataset · {dataset['n_rows']:,} households · {dataset['n_columns']} columns · "
        f"{n_binary} 0/1 columns" + (f" · {len(roles['products'])} products chosen"
                                     if roles else "")
    )
    if action.button("Next: set up an analysis", type="primary", icon=":material/arrow_forward:",
                     disabled=n_binary < 2):
        st.switch_page("views/new_analysis.py")

profile_tab, preview_tab, basket_tab = st.tabs(
    [":material/fact_check: Column profile", ":material/table: Preview",
     ":material/shopping_cart: Basket statistics"])
with profile_tab:
    st.dataframe(
        column_profile_frame(columns), hide_index=True,
        column_config={
            "Usable as product": st.column_config.CheckboxColumn(
                help="Only 0/1 columns can be products."),
            "Penetration": st.column_config.ProgressColumn(
                help="Share of households that bought the product (1s among non-missing "
                "cells).", format="%.1f%%", min_value=0.0, max_value=100.0),
            "Missing": st.column_config.NumberColumn(help="Empty cells in this column."),
            "Other values": st.column_config.TextColumn(
                help="A few values other than 0/1, if any."),
        },
    )
with preview_tab:
    preview = dataset.get("preview") or []
    st.dataframe(preview, hide_index=True)
    st.caption(f"The first {len(preview)} of {dataset['n_rows']:,} rows.")
with basket_tab:
    chosen = roles["products"] if roles else default_products(columns, None)
    if len(chosen) < 2:
        st.caption("Basket statistics need at least two 0/1 product columns.")
    else:
        try:
            basket_panel(basket_from_api(cached.basket(dataset["id"], chosen)))
        except ApiError as exc:
            show_error(exc)

