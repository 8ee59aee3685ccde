"""Results: the live progress of a run, then what the API draws of its result — the panel of its
family's kind, with the names people gave the units (stored with the run)."""

from __future__ import annotations

import hashlib
from typing import Any

import streamlit as st

from ui import bundle, cached, panels, state
from ui.api_client import ApiError, get_client
from ui.components import live_progress, model_title, show_error
from ui.families import plural, unit
from ui.formatting import (
    ACTIVE_STATUSES,
    escape_markdown,
    format_duration,
    format_timestamp,
    run_label,
    status_color,
    status_label,
)
from ui.panels.base import View, vega
from ui.tables import sweep_frame

client = get_client()

st.title("Results")

try:
    listing = client.list_runs(limit=100)
except ApiError as exc:
    show_error(exc)
    st.stop()

runs: list[dict[str, Any]] = listing.get("items", [])
# Which run: the one another page sent us to, else a shared link (?run=...), else the newest.
wanted = st.session_state[state.RUN_ID] or st.query_params.get("run")
if wanted and wanted not in {r["id"] for r in runs}:
    try:  # older than the list shows, a sweep's child, or from a link someone shared
        runs.insert(0, client.get_run(wanted))
    except ApiError:
        wanted = None
if not runs:
    st.info("No analyses yet. Start one to see its results here.", icon=":material/insights:")
    st.page_link("views/new_analysis.py", label="New analysis", icon=":material/add_chart:")
    st.stop()

run_labels = {r["id"]: f"{run_label(r)} · {status_label(r['status']).split(' ', 1)[1]}"
              for r in runs}
ids = list(run_labels)
# The picker's key follows its labels: the browser kept showing a run's old status ("· Running"
# beside Done) when only the labels changed under the same key. The choice lives in RUN_ID.
PICKER = "results.run." + hashlib.sha1("\n".join(run_labels.values()).encode()).hexdigest()[:12]
for stale in [k for k in st.session_state if str(k).startswith("results.run.") and k != PICKER]:
    del st.session_state[stale]
if st.session_state.get(PICKER) != wanted or wanted not in ids:
    st.session_state[PICKER] = wanted if wanted in ids else ids[0]


def _picked() -> None:
    st.session_state[state.RUN_ID] = st.session_state[PICKER]


run_id: str = st.selectbox("Run", ids, format_func=run_labels.__getitem__, key=PICKER,
                           on_change=_picked)
st.session_state[state.RUN_ID] = run_id
st.query_params["run"] = run_id

try:
    run = client.get_run(run_id)
except ApiError as exc:
    show_error(exc)
    st.stop()

model_type = str(run["model_type"])
head, badge = st.columns([5, 1], vertical_alignment="center")
head.subheader(escape_markdown(run["name"]))
if run["status"] not in ACTIVE_STATUSES:  # a live run's status is drawn by its progress panel
    with badge:
        st.badge(status_label(run["status"]), color=status_color(run["status"]))
facts = [
    escape_markdown(model_title(model_type)),
    f"{len(run['product_columns'])} products",
    f"started {format_timestamp(run.get('started_at') or run.get('created_at'))}",
]
if run["status"] not in ACTIVE_STATUSES and run.get("duration_seconds") is not None:
    facts.append(f"took {format_duration(run['duration_seconds'])}")
if run.get("child_ids"):
    facts.append(f"{len(run['child_ids'])} fits compared")
st.caption(" · ".join(facts))

if run["status"] in ACTIVE_STATUSES:
    live_progress(run_id)
    st.stop()
if run["status"] == "failed":
    st.error(escape_markdown(run.get("error") or "The run failed without saying why."),
             icon=":material/error:")
    st.page_link("views/new_analysis.py", label="Try again with other settings",
                 icon=":material/replay:")
    st.stop()
if run["status"] == "cancelled":
    st.info("This run was cancelled before it finished.", icon=":material/cancel:")
    st.stop()

try:
    result = cached.results(run_id)
except ApiError as exc:
    show_error(exc)
    st.stop()

# -- a sweep: the comparison, and which solution to show ---------------------------------------
spec = cached.model(model_type)
word = unit(spec).lower()
shown_id, shown_run = run_id, run
sweep = result.get("sweep")
if isinstance(sweep, dict) and sweep.get("table"):
    table = [r for r in sweep["table"] if r.get("status") == "completed" and r.get("run_id")]
    param = str(sweep.get("param", "n_classes"))
    with st.container(border=True):
        left, right = st.columns([3, 2])
        with left:
            reason = sweep.get("reason") or (f"{sweep.get('recommended')} {plural(word)} fit "
                                              "best (lowest BIC).")
            st.markdown(
                f"**Compared {len(sweep['table'])} numbers of {plural(word)}.** "
                + escape_markdown(str(reason))
                + " The dashed line marks the recommended number, the dotted one the elbow."
            )
            vega(run_id, "sweep", {}, run.get("labels"))
        with right:
            values = [r[param] for r in table]
            recommended = sweep.get("recommended")
            chosen = st.selectbox(
                f"Solution to show ({plural(word)})", values,
                index=values.index(recommended) if recommended in values else 0,
                key=f"results.solution.{run_id}",
                format_func=lambda v: f"{v}{' (recommended)' if v == recommended else ''}")
            st.dataframe(
                sweep_frame(sweep), hide_index=True, height="content",
                column_config={
                    **{c: st.column_config.NumberColumn(format="%.1f")
                       for c in ("BIC", "AIC", "SABIC", "Smallest segment %")},
                    "Entropy": st.column_config.NumberColumn(format="%.2f"),
                    "Best": st.column_config.CheckboxColumn(help="The recommended number"),
                },
            )
    pick = next((r for r in table if r[param] == chosen), None)
    if pick and chosen != recommended:
        try:
            shown_id = str(pick["run_id"])
            shown_run = client.get_run(shown_id)
            result = {**cached.results(shown_id), "sweep": sweep}
        except ApiError as exc:
            show_error(exc)
            st.stop()

labels: dict[str, str] = dict(shown_run.get("labels") or {})
try:
    catalogue = cached.charts(shown_id, labels)
except ApiError as exc:
    show_error(exc)
    st.stop()

# -- names, stored with the run ------------------------------------------------------------
units = catalogue.get("units") or []
if units:
    with st.expander(f"Name the {plural(word)}", icon=":material/edit:",
                     expanded=not labels and spec.get("kind") == "segments"):
        st.caption(f"Give each {word} a name people remember (“Busy families”). The names are "
                   "kept with the run and appear in every chart, table, report and export.")
        with st.form(f"labels-{shown_id}", border=False):
            cols = st.columns(min(4, len(units)))
            entered = {
                u["key"]: cols[k % len(cols)].text_input(
                    escape_markdown(u["default"]), value=labels.get(u["key"], ""),
                    placeholder=u["default"], max_chars=80, key=f"label.{shown_id}.{u['key']}")
                for k, u in enumerate(units)
            }
            if st.form_submit_button("Save names", icon=":material/save:"):
                try:
                    client.set_labels(shown_id, entered)
                except ApiError as exc:
                    show_error(exc)
                else:
                    st.rerun()


def _basket(products: list[str]) -> dict[str, Any]:
    return cached.basket(str(run["dataset_id"]), products, run.get("weight_column"))


view = View(run=shown_run, result=result, spec=spec, catalogue=catalogue, run_id=shown_id,
            labels=labels, load_basket=_basket if run.get("dataset_id") else None,
            load_clusters=lambda: cached.clusters(shown_id),
            load_tables=lambda: cached.tables(shown_id, labels))
if shown_id == run_id:
    view.drawn.add("sweep")  # drawn above, with the comparison
panels.render(view)

# -- downloads -----------------------------------------------------------------------------
st.divider()


def _memberships() -> bytes:
    return bundle.read_file(cached.export_zip(shown_id, labels, report=False), "memberships.csv")


d1, d2, d3 = st.columns([1, 1, 2], vertical_alignment="center")
with d1:
    if spec.get("household_outputs"):
        st.download_button(
            "Household assignments (CSV)", data=_memberships,
            file_name=f"memberships_{shown_id[:8]}.csv", mime="text/csv",
            icon=":material/download:", type="primary", on_click="ignore",
            help="One row per household, keyed by its ID, with the names you gave.",
        )
with d2:
    if st.button("All exports and report", icon=":material/ios_share:"):
        st.switch_page("views/exports.py")
with d3, st.popover("Rename this run", icon=":material/edit:"):
    new_name = st.text_input("New name", value=run["name"], key=f"rename-{run_id}")
    if st.button("Save name", disabled=not new_name.strip() or new_name == run["name"]):
        try:
            client.rename_run(run_id, new_name.strip())
        except ApiError as exc:
            show_error(exc)
        else:
            st.rerun()
