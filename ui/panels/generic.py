"""Any result as tables: its numbers, each list of records or matrix, and the raw JSON."""

from __future__ import annotations

import streamlit as st

from ui.panels.base import View
from ui.tables import flatten, scalars


def render(view: View) -> None:
    result = view.result
    st.dataframe(scalars(result), hide_index=True)
    for key, value in result.items():
        if key == "provenance":
            continue
        table = flatten(value)
        if table is None:
            continue
        with st.expander(key.replace("_", " ").capitalize(), icon=":material/table:"):
            st.dataframe(table, hide_index=True)
    with st.expander("Everything (JSON)", icon=":material/data_object:"):
        st.json(result, expanded=1)
