"""Exports of one run, all built by the API with the names given to the run's units: the ZIP
(`GET /runs/{id}/export`: every table as CSV and Parquet, the per-household memberships keyed
by ID, the result, a README), the self-contained HTML report (`GET /runs/{id}/report`), and
each table or the memberships on their own, taken from that ZIP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from ui import bundle, cached, state
from ui.api_client import ApiError
from ui.components import finished_runs, show_error
from ui.formatting import escape_markdown, run_label

st.title("Exports")
st.caption("Take the results with you: tables for Excel or your own tools, one row per household "
           "for targeting, and a report to email. Every file uses the names you gave.")

runs = finished_runs()
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
labels: dict[str, str] = dict(run.get("labels") or {})

try:
    tables = cached.tables(run_id, labels)
    catalogue = cached.charts(run_id, labels)
except ApiError as exc:
    show_error(exc)
    st.stop()


def _file(name: str) -> Callable[[], bytes]:
    return lambda: bundle.read_file(cached.export_zip(run_id, labels, report=False), name)


def _whole_file(title: str, caption: str, label: str, **button: Any) -> None:
    """A file of the whole run: its title, what it holds, its download button."""
    st.markdown(f"**{title}**")
    st.caption(caption)
    st.download_button(label, on_click="ignore", **button)


def _csv_and_parquet(csv_col: Any, pq_col: Any, name: str, keys: tuple[str, str]) -> None:
    """The CSV and Parquet download buttons of one table (`name`) of the ZIP."""
    csv_col.download_button("CSV", data=_file(f"{name}.csv"), file_name=f"{stem}_{name}.csv",
                            mime="text/csv", key=keys[0], on_click="ignore",
                            icon=":material/download:")
    pq_col.download_button("Parquet", data=_file(f"{name}.parquet"),
                           file_name=f"{stem}_{name}.parquet", mime="application/octet-stream",
                           key=keys[1], on_click="ignore", icon=":material/download:")


stem = f"{run['name'][:40]}_{run_id[:8]}".replace(" ", "_").replace("/", "-")
names = [u["name"] for u in catalogue.get("units") or []]
if labels:
    st.caption(":material/label: Named: " + escape_markdown(", ".join(names)))
else:
    st.caption(":material/label: No names given yet: name the units on the Results page and they "
               "appear in every file.")

with st.container(border=True):
    left, middle, right = st.columns(3)
    with left:
        _whole_file("Everything (ZIP)", "Every table as CSV and Parquet, the memberships, the "
                    "report, the full result and a README of what each file holds.",
                    "Download ZIP", data=lambda: cached.export_zip(run_id, labels),
                    file_name=f"{stem}.zip", mime="application/zip",
                    icon=":material/folder_zip:", type="primary")
    with middle:
        _whole_file("Report (HTML)", "The executive report: findings, one section per unit, "
                    "the maps, and the technical tables in an appendix, in one file that opens "
                    "in any browser with no internet needed.", "Download report",
                    data=lambda: cached.report_html(run_id, labels), file_name=f"{stem}.html",
                    mime="text/html", icon=":material/description:")
        paper = st.radio("Paper", ["a4", "letter"], horizontal=True, key="exports.paper",
                         format_func={"a4": "A4", "letter": "Letter"}.__getitem__)
        st.download_button("Download PDF", data=lambda: cached.report_pdf(run_id, labels, paper),
                           file_name=f"{stem}.pdf", mime="application/pdf", on_click="ignore",
                           icon=":material/picture_as_pdf:", key="exports.pdf")
        st.download_button(
            "Download PowerPoint", data=lambda: cached.export_pptx(run_id, labels),
            file_name=f"{stem}.pptx", on_click="ignore", icon=":material/slideshow:",
            mime="application/vnd.openxmlformats-officedocument.presentationml.presentation",
            key="exports.pptx", help="Slides with native, editable charts, a slide per unit "
            "and the method.")
    with right:
        st.markdown("**Household memberships**")
        if "memberships" in tables:
            st.caption(escape_markdown(tables["memberships"].description))
            c1, c2 = st.columns(2)
            _csv_and_parquet(c1, c2, "memberships", ("members-csv", "members-parquet"))
        else:
            st.caption("This run kept no per-household output.")

st.markdown("#### Tables")
for name, found in tables.items():
    if name == "memberships":
        continue
    with st.container(border=True):
        text, csv_col, pq_col = st.columns([6, 1, 1], vertical_alignment="center")
        count = len(found.frame)
        text.markdown(f"**{name.replace('_', ' ').capitalize()}** · {count:,} "
                      f"row{'' if count == 1 else 's'}")
        text.caption(escape_markdown(found.description))
        _csv_and_parquet(csv_col, pq_col, name, (f"csv-{name}", f"pq-{name}"))
