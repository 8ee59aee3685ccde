"""Market Structure — the Streamlit entrypoint. A router: page config, session state, the
sign-in gate (ui/auth.py: nothing below it runs for a visitor who may not come in), the sidebar
status, then `st.navigation` runs the chosen page from `ui/views/`.

Run it with `streamlit run ui/app.py` (or `market-structure ui`); set API_URL to the API.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

# Deployed alone (Streamlit-Cloud style) the package may not be installed: make `ui` importable.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from ui import auth, cached, embedded  # noqa: E402
from ui.api_client import DEFAULT_API_URL, configured_api_url  # noqa: E402
from ui.components import sidebar_status  # noqa: E402
from ui.state import init_state, show_flash  # noqa: E402

VIEWS = Path(__file__).resolve().parent / "views"

st.set_page_config(
    page_title="Market Structure",
    page_icon=":material/hub:",
    layout="wide",
    initial_sidebar_state="expanded",
)
init_state()
# Signed in, or on this machine only: otherwise the sign-in or refusal page, and nothing else
# runs (no API call). Sets the API token this session sends.
auth.gate()

# Deployed alone with no API address configured: start the embedded stack once per server.
if (
    embedded.wanted(configured_api_url())
    and cached.health().get("status") == "unreachable"
    and embedded.start(DEFAULT_API_URL)
):
    st.sidebar.info("Starting the analysis service on this machine… give it a few seconds.",
                        icon=":material/hourglass_top:")

pages = {
    "Prepare": [
        st.Page(VIEWS / "data.py", title="Data", icon=":material/upload_file:", default=True),
        st.Page(VIEWS / "new_analysis.py", title="New analysis", icon=":material/add_chart:"),
    ],
    "Review": [
        st.Page(VIEWS / "runs.py", title="Runs", icon=":material/list_alt:"),
        st.Page(VIEWS / "results.py", title="Results", icon=":material/insights:"),
        st.Page(VIEWS / "compare.py", title="Compare", icon=":material/compare:"),
        st.Page(VIEWS / "exports.py", title="Exports", icon=":material/ios_share:"),
    ],
    "Act": [
        st.Page(VIEWS / "apply.py", title="Apply to new customers", icon=":material/person_add:"),
    ],
}

page = st.navigation(pages)
with st.sidebar:
    st.caption("Find the segments hidden in your purchase data.")
sidebar_status()
show_flash()
page.run()
