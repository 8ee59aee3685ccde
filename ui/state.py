"""Per-session state: its keys and defaults in one place, initialised once by the router."""

from __future__ import annotations

from typing import Any

import streamlit as st

# The dataset being worked on (the API's dataset JSON, with preview) and the upload it came
# from, so a rerun never uploads the same file twice.
DATASET = "dataset"
UPLOADED_FILE_ID = "uploaded_file_id"
# The run shown on the Results page.
RUN_ID = "run_id"
# Run awaiting a "really delete?" confirmation on the Runs page.
CONFIRM_DELETE = "confirm_delete"
# Which dataset the New analysis form was prepared for (its choices reset on a new dataset).
FORM_DATASET_ID = "form_dataset_id"
# Widget keys under this prefix keep their values when the person visits another page.
FORM_PREFIX = "form."
ID_COLUMN = "form.id_column"
PRODUCTS = "form.products"
PARAMS_PREFIX = "form.params"
# A one-shot message shown after a page switch (e.g. "Run started").
FLASH = "flash"

DEFAULTS: dict[str, Any] = {
    DATASET: None,
    UPLOADED_FILE_ID: None,
    RUN_ID: None,
    CONFIRM_DELETE: None,
    FORM_DATASET_ID: None,
    FLASH: None,
}


def init_state() -> None:
    for key, value in DEFAULTS.items():
        st.session_state.setdefault(key, value)
    # Streamlit forgets the value of a widget that a run did not draw (another page is
    # showing). Writing the value back through session state keeps the form as it was left.
    for key in [str(k) for k in st.session_state]:
        if key.startswith(FORM_PREFIX):
            st.session_state[key] = st.session_state[key]


def current_dataset() -> dict[str, Any] | None:
    dataset = st.session_state.get(DATASET)
    return dataset if isinstance(dataset, dict) else None


def set_dataset(dataset: dict[str, Any]) -> None:
    st.session_state[DATASET] = dataset


def flash(message: str, icon: str = ":material/check_circle:") -> None:
    st.session_state[FLASH] = (message, icon)


def show_flash() -> None:
    pending = st.session_state.get(FLASH)
    if pending:
        message, icon = pending
        st.toast(message, icon=icon)
        st.session_state[FLASH] = None
