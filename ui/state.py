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
# A file being prepared on the Data page before it is saved as a dataset: the table, its name
# and a token of where it came from (the upload's file id, or "demo").
FRAME = "data.frame"
FRAME_NAME = "data.frame_name"
FRAME_TOKEN = "data.frame_token"
# Column roles chosen on the Data page, per dataset id: {"id_column", "products", "covariates"}.
ROLES = "dataset_roles"
# Runs chosen on the Compare page.
COMPARE = "compare.runs"
# Sign-in (ui/auth.py): the API token this session may send (set by the gate each run), who it
# signed in as, whether the app's password was given, and how many wrong guesses it made.
AUTH_TOKEN = "auth.api_token"
AUTH_WHO = "auth.who"
AUTH_PASSWORD_OK = "auth.password_ok"
AUTH_FAILED = "auth.failed"

DEFAULTS: dict[str, Any] = {
    DATASET: None,
    UPLOADED_FILE_ID: None,
    RUN_ID: None,
    CONFIRM_DELETE: None,
    FORM_DATASET_ID: None,
    FLASH: None,
    FRAME: None,
    FRAME_NAME: None,
    FRAME_TOKEN: None,
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


def roles_for(dataset_id: str) -> dict[str, Any] | None:
    roles = st.session_state.setdefault(ROLES, {}).get(dataset_id)
    return roles if isinstance(roles, dict) else None


def set_roles(dataset_id: str, roles: dict[str, Any]) -> None:
    st.session_state.setdefault(ROLES, {})[dataset_id] = roles


def flash(message: str, icon: str = ":material/check_circle:") -> None:
    st.session_state[FLASH] = (message, icon)


def show_flash() -> None:
    pending = st.session_state.get(FLASH)
    if pending:
        message, icon = pending
        st.toast(message, icon=icon)
        st.session_state[FLASH] = None
