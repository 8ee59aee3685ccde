"""Exports of one run: every table as CSV or Parquet, the per-household memberships keyed by ID,
a ZIP bundle with a README, and a self-contained HTML report — all with the person's names."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from ui import cached, labels, state
from ui.api_client import ApiError, api_url, get_client
from ui.components import show_error
from ui.exports import DESCRIPTIONS, memberships, result_tables, to_csv, to_parquet, zip_bundle
from ui.families import display_names
from ui.formatting import run_label
from ui.report import html_report, report_sections

st.title("Exports")
st.caption("Take the results with you: tables for Excel or your own tools, one row per household "
           "for targeting, and a report to email. Every file uses the names you gave.")

client = get_client()
try:
    listing = client.list_runs(status="completed", limit=100)
except ApiError as exc:
    show_error(exc)
    st.stop()
runs: list[dict[str, Any]] = listing.get("items", [])
if not runs:
    st.info("No finished runs yet. Exports appear here once a run is done.",
            icon=":material/hourglass_empty:")
    st.stop()

ids = [r["id"] for r in runs]
by_id = {r["id"]: r for r in runs}
current = st.session_state.get(state.RUN_ID)
run_id: str = st.selectbox("Run", ids, format_func=lambda i: run_label(by_id[i]),
                           index=ids.index(current) if current in ids else 0,
                           key="exports.run")
run = by_id[run_id]
model_type = str(run["model_type"])

try:
    result = cached.results(run_id)
except ApiError as exc:
    show_error(exc)
    st.stop()

# A sweep's memberships and names are those of the recommended solution.
shown_id = run_id
sweep = result.get("sweep")
if isinstance(sweep, dict) and sweep.get("recommended_run_id"):
    shown_id = str(sweep["recommended_run_id"])
given = labels.load(api_url(), shown_id)
names = display_names(model_type, result, given)
tables = result_tables(model_type, result, names)


def _members() -> pd.DataFrame | None:
    try:
        return memberships(cached.assignments(shown_id), model_type, names)
    except ApiError:
        return None


def _members_frame() -> pd.DataFrame:
    members = _members()
    return pd.DataFrame() if members is None else members


def _report() -> str:
    members = None
    with contextlib.suppress(ApiError):
        members = cached.assignments(shown_id)
    sections = report_sections(model_type, result, names, members)
    return html_report(run, result, names, sections, tables)


def _zip() -> bytes:
    return zip_bundle(run, result, tables, names, given, _members(), _report())


def _lazy(build: Callable[[], bytes | str]) -> Callable[[], bytes]:
    def make() -> bytes:
        out = build()
        return out.encode("utf-8") if isinstance(out, str) else out
    return make


def _parquet_of(table: pd.DataFrame) -> Callable[[], bytes]:
    return lambda: to_parquet(table)


stem = f"{run['name'][:40]}_{run_id[:8]}".replace(" ", "_").replace("/", "-")
if given:
    st.caption(":material/label: Named: " + ", ".join(names))
else:
    st.caption(":material/label: No names given yet: name the units on the Results page and they "
               "appear in every file.")

with st.container(border=True):
    left, middle, right = st.columns(3)
    with left:
        st.markdown("**Everything (ZIP)**")
        st.caption("Every table as CSV and Parquet, the memberships, the report, the full result "
                   "and a README of what each file holds.")
        st.download_button("Download ZIP", data=_lazy(_zip), file_name=f"{stem}.zip",
                           mime="application/zip", icon=":material/folder_zip:",
                           type="primary", on_click="ignore")
    with middle:
        st.markdown("**Report (HTML)**")
        st.caption("The main charts and tables in one file that opens in any browser, with no "
                   "internet needed. Attach it to an email.")
        st.download_button("Download report", data=_lazy(_report), file_name=f"{stem}.html",
                           mime="text/html", icon=":material/description:", on_click="ignore")
    with right:
        st.markdown("**Household memberships**")
        st.caption("One row per household, keyed by its ID: the most likely "
                   "segment and each probability (or scores, weights…).")
        c1, c2 = st.columns(2)
        with c1:
            st.download_button(
                "CSV", data=_lazy(lambda: to_csv(_members_frame())),
                file_name=f"{stem}_memberships.csv", mime="text/csv",
                icon=":material/download:", on_click="ignore", key="members-csv")
        with c2:
            st.download_button(
                "Parquet", data=_lazy(lambda: to_parquet(_members_frame())),
                file_name=f"{stem}_memberships.parquet", mime="application/octet-stream",
                icon=":material/download:", on_click="ignore", key="members-parquet")

st.markdown("#### Tables")
for name, table in tables.items():
    with st.container(border=True):
        text, csv_col, pq_col = st.columns([6, 1, 1], vertical_alignment="center")
        text.markdown(f"**{name.replace('_', ' ').capitalize()}** · {len(table):,} rows")
        text.caption(DESCRIPTIONS.get(name, "A table of the result."))
        csv_col.download_button("CSV", data=to_csv(table), file_name=f"{stem}_{name}.csv",
                                mime="text/csv", key=f"csv-{name}", on_click="ignore",
                                icon=":material/download:")
        pq_col.download_button("Parquet", data=_parquet_of(table),
                               file_name=f"{stem}_{name}.parquet",
                               mime="application/octet-stream", key=f"pq-{name}",
                               on_click="ignore", icon=":material/download:")

with st.expander("The service's own export", icon=":material/cloud_download:"):
    st.caption("The ZIP the analysis service builds (results JSON, its tables and the raw "
               "per-household output), without the names given here.")
    st.download_button("Download service ZIP", data=lambda: client.export_zip(run_id),
                       file_name=f"run_{run_id[:8]}.zip", mime="application/zip",
                       on_click="ignore", icon=":material/folder_zip:")
