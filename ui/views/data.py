"""Data: upload a purchase file (or pick an earlier one), then check its preview and profile."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ui import state
from ui.api_client import ApiError, get_client
from ui.components import show_error
from ui.formatting import format_timestamp
from ui.tables import column_profile_frame

st.title("Your purchase data")
st.caption(
    "One row per household or customer, one column per product: **1** if they bought it, "
    "**0** if not. An ID column is welcome. CSV, Excel (.xlsx) and Parquet files work."
)

client = get_client()

uploaded = st.file_uploader(
    "Upload a file",
    type=["csv", "xlsx", "parquet"],
    help="Up to 200 MB. The file is stored by the analysis service so you can reuse it.",
)
UPLOAD_ERROR = "data.upload_error"

if uploaded is not None and uploaded.file_id != st.session_state[state.UPLOADED_FILE_ID]:
    # Each file is sent once; a refusal stays on screen until another file is chosen.
    st.session_state[state.UPLOADED_FILE_ID] = uploaded.file_id
    st.session_state[UPLOAD_ERROR] = None
    with st.spinner(f"Uploading and checking {uploaded.name}…"):
        try:
            fresh = client.upload_dataset(uploaded.name, uploaded.getvalue())
        except ApiError as exc:
            st.session_state[UPLOAD_ERROR] = exc
        else:
            state.set_dataset(fresh)
            st.toast(f"{uploaded.name} is ready.", icon=":material/check_circle:")
failed = st.session_state.get(UPLOAD_ERROR)
if uploaded is not None and isinstance(failed, ApiError):
    show_error(failed)


EARLIER = "data.earlier"
LOAD_ERROR = "data.load_error"


def _load_earlier() -> None:
    chosen = st.session_state.get(EARLIER)
    if not chosen:
        return
    try:
        state.set_dataset(client.get_dataset(chosen))
    except ApiError as exc:
        st.session_state[LOAD_ERROR] = exc


def _earlier_datasets() -> None:
    try:
        listing = client.list_datasets(limit=50)
    except ApiError as exc:
        show_error(exc)
        return
    items: list[dict[str, Any]] = listing.get("items", [])
    if not items:
        st.caption("Nothing uploaded yet.")
        return
    labels = {
        d["id"]: f"{d['name']} · {d['n_rows']:,} rows · {format_timestamp(d.get('created_at'))}"
        for d in items
    }
    st.selectbox(
        "Earlier uploads", list(labels), format_func=labels.__getitem__, index=None,
        placeholder="Choose a file…", key=EARLIER, on_change=_load_earlier,
    )
    error = st.session_state.pop(LOAD_ERROR, None)
    if isinstance(error, ApiError):
        show_error(error)


with st.expander("Or use a file you uploaded before", icon=":material/history:"):
    _earlier_datasets()

dataset = state.current_dataset()
if dataset is None:
    st.info("Upload a file to begin.", icon=":material/upload:")
    st.stop()

columns: list[dict[str, Any]] = dataset["columns"]
n_binary = sum(1 for c in columns if c.get("is_binary"))
n_other = len(columns) - n_binary

st.subheader(dataset["name"])
c1, c2, c3, c4 = st.columns(4)
c1.metric("Households", f"{dataset['n_rows']:,}")
c2.metric("Columns", f"{dataset['n_columns']:,}")
c3.metric("0/1 product columns", n_binary, help="Columns holding only 0, 1 or blanks.")
c4.metric(
    "Other columns", n_other, help="IDs, numbers or text. They can't be used as products."
)

if n_binary == 0:
    st.warning(
        "No column holds only 0/1 values, so there is nothing to segment on yet. "
        "Recode purchases as 1 (bought) and 0 (not bought) and upload again.",
        icon=":material/warning:",
    )

if st.button("Next: set up an analysis", type="primary", icon=":material/arrow_forward:",
             disabled=n_binary == 0):
    st.switch_page("views/new_analysis.py")

preview_tab, profile_tab = st.tabs(["Preview", "Column profile"])
with preview_tab:
    preview = dataset.get("preview") or []
    st.dataframe(preview, hide_index=True)
    st.caption(f"The first {len(preview)} of {dataset['n_rows']:,} rows.")
with profile_tab:
    st.dataframe(
        column_profile_frame(columns),
        hide_index=True,
        column_config={
            "Usable as product": st.column_config.CheckboxColumn(
                help="Only 0/1 columns can be products."
            ),
            "Penetration": st.column_config.ProgressColumn(
                help="Share of households that bought the product (1s among non-missing cells).",
                format="%.1f%%",
                min_value=0.0,
                max_value=100.0,
            ),
            "Missing": st.column_config.NumberColumn(help="Empty cells in this column."),
            "Other values": st.column_config.TextColumn(
                help="A few values other than 0/1, if any."
            ),
        },
    )
