"""Results: the live progress of a run, then its segments (sizes, profiles, downloads)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from ui import cached, state
from ui.api_client import ApiError, get_client
from ui.charts import class_sizes_chart, profile_heatmap
from ui.components import live_progress, show_error
from ui.formatting import (
    ACTIVE_STATUSES,
    format_duration,
    format_timestamp,
    percent,
    run_label,
    status_color,
    status_label,
)
from ui.tables import ALL_HOUSEHOLDS, fit_table, profile_wide, starts_frame, sweep_frame

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
    try:  # older than the list shows, or from a link someone shared
        runs.insert(0, client.get_run(wanted))
    except ApiError:
        wanted = None
if not runs:
    st.info("No analyses yet. Start one to see its segments here.", icon=":material/insights:")
    st.page_link("views/new_analysis.py", label="New analysis", icon=":material/add_chart:")
    st.stop()

labels = {r["id"]: run_label(r) for r in runs}
ids = list(labels)
PICKER = "results.run"
if st.session_state.get(PICKER) != wanted or wanted not in ids:
    st.session_state[PICKER] = wanted if wanted in ids else ids[0]


def _picked() -> None:
    st.session_state[state.RUN_ID] = st.session_state[PICKER]


run_id: str = st.selectbox("Run", ids, format_func=labels.__getitem__, key=PICKER,
                           on_change=_picked)
st.session_state[state.RUN_ID] = run_id
st.query_params["run"] = run_id

try:
    run = client.get_run(run_id)
except ApiError as exc:
    show_error(exc)
    st.stop()

head, badge = st.columns([5, 1], vertical_alignment="center")
head.subheader(run["name"])
if run["status"] not in ACTIVE_STATUSES:  # a live run's status is drawn by its progress panel
    with badge:
        st.badge(status_label(run["status"]), color=status_color(run["status"]))
facts = [
    f"{len(run['product_columns'])} products",
    f"started {format_timestamp(run.get('started_at') or run.get('created_at'))}",
]
if run["status"] not in ACTIVE_STATUSES and run.get("duration_seconds") is not None:
    facts.append(f"took {format_duration(run['duration_seconds'])}")
st.caption(" · ".join(facts))

if run["status"] in ACTIVE_STATUSES:
    live_progress(run_id)
    st.stop()
if run["status"] == "failed":
    st.error(run.get("error") or "The run failed without saying why.", icon=":material/error:")
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

if "item_probabilities" not in result:  # a model type without its own view yet
    st.info("This kind of result has no dedicated view yet; here it is in full.",
            icon=":material/data_object:")
    st.json(result, expanded=1)
    st.stop()

provenance = result.get("provenance", {})
for warning in provenance.get("warnings", []):
    st.warning(warning, icon=":material/warning:")

sweep = result.get("sweep")
if isinstance(sweep, dict) and sweep.get("table"):
    with st.container(border=True):
        st.markdown(
            f"**Compared {len(sweep['table'])} segment counts.** "
            f"{sweep.get('recommended')} segments fit best (lowest BIC) and are shown below."
        )
        st.dataframe(sweep_frame(sweep), hide_index=True)

m1, m2, m3, m4 = st.columns(4)
m1.metric("Households", f"{result['n_obs']:,}")
m2.metric("Segments", result["n_classes"])
m3.metric(
    "Smallest segment", percent(result.get("smallest_class_share"), 1),
    help="Very small segments are often unstable; consider fewer segments.",
)
m4.metric(
    "Separation (entropy)",
    "—" if result.get("entropy") is None else f"{result['entropy']:.2f}",
    help="1 means every household clearly belongs to one segment; below 0.6 the segments "
    "overlap a lot.",
)

st.markdown("#### Segment sizes")
st.caption("The estimated share of households in each segment.")
st.altair_chart(class_sizes_chart(result), width="stretch")

st.markdown("#### What each segment buys")
st.caption(
    "The chance that a household in each segment buys each product. Darker means more likely; "
    f"compare with “{ALL_HOUSEHOLDS}” to see what sets a segment apart."
)
st.altair_chart(profile_heatmap(result), width="content")
wide = profile_wide(result)
st.dataframe(
    wide * 100,
    column_config={
        name: st.column_config.NumberColumn(name, format="%.1f%%") for name in wide.columns
    },
)


def _lazy(fetch: Callable[[str], bytes]) -> Callable[[], bytes]:
    return lambda: fetch(run_id)


d1, d2, _ = st.columns([1, 1, 2])
with d1:
    st.download_button(
        "Household assignments (CSV)",
        data=_lazy(client.assignments_csv),
        file_name=f"segments_{run_id[:8]}.csv",
        mime="text/csv",
        icon=":material/download:",
        type="primary",
        on_click="ignore",
        help="One row per household: its most likely segment and the chance of each segment.",
    )
with d2:
    st.download_button(
        "Everything (ZIP)",
        data=_lazy(client.export_zip),
        file_name=f"run_{run_id[:8]}.zip",
        mime="application/zip",
        icon=":material/folder_zip:",
        on_click="ignore",
        help="Results JSON, tables as CSV and the assignments.",
    )

with st.expander("Fit details", icon=":material/analytics:"):
    left, right = st.columns(2)
    left.dataframe(fit_table(result), hide_index=True, height="content")
    params = provenance.get("params", run.get("params", {}))
    right.markdown("**Settings used**")
    right.json({**params, "random_state": provenance.get("random_state")}, expanded=True)
    starts = result.get("starts") or []
    if starts:
        st.markdown("**Random starts** (the best log-likelihood is kept)")
        st.dataframe(starts_frame(result), hide_index=True)

with st.expander("Rename this run", icon=":material/edit:"):
    new_name = st.text_input("New name", value=run["name"], key=f"rename-{run_id}")
    if st.button("Save name", disabled=not new_name.strip() or new_name == run["name"]):
        try:
            client.rename_run(run_id, new_name.strip())
        except ApiError as exc:
            show_error(exc)
        else:
            st.rerun()
