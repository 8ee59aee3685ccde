"""Any result as the API serves it: the charts it lists (those no panel drew), its export
tables, and the raw JSON — for a family the app has no panel for."""

from __future__ import annotations

import streamlit as st

from ui.formatting import escape_markdown
from ui.panels.base import View, chart


def charts(view: View) -> None:
    """Every listed chart section not drawn yet, in the API's order."""
    charts_but(view, ())


def charts_but(view: View, left_out: tuple[str, ...]) -> None:
    for section in view.undrawn():
        if section["id"] not in left_out:
            chart(view, section["id"])


def tables(view: View) -> None:
    if view.load_tables is None:
        return
    for name, found in view.load_tables().items():
        title = escape_markdown(name.replace("_", " ").capitalize())
        with st.expander(title, icon=":material/table:"):
            st.caption(escape_markdown(found.description))
            st.dataframe(found.frame, hide_index=True)


def render(view: View) -> None:
    """The charts not drawn yet, the tables and the JSON."""
    charts(view)
    tables(view)
    with st.expander("Everything (JSON)", icon=":material/data_object:"):
        st.json(view.result, expanded=1)
