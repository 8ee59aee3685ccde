"""All runs: status of every analysis, newest first, with open / cancel / delete."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ui import cached, state
from ui.api_client import ApiError, get_client
from ui.components import model_title, show_error
from ui.families import headline
from ui.formatting import (
    ACTIVE_STATUSES,
    STATUS,
    escape_markdown,
    format_duration,
    format_timestamp,
    status_color,
    status_label,
)
from ui.progress_text import eta_text

PAGE_SIZE = 25
REFRESH_SECONDS = 2.0

st.title("All runs")
st.caption("Every analysis, newest first. The list refreshes by itself while runs are going.")

filters = {"all": "All", **{k: v[1] for k, v in STATUS.items()}}
f1, f2 = st.columns([3, 2], vertical_alignment="bottom")
with f1:
    status_filter = st.segmented_control(
        "Status", list(filters), format_func=filters.__getitem__, default="all",
        key="runs.filter", on_change=lambda: st.session_state.update({"runs.page": 0}),
    )
try:
    model_types = [m["model_type"] for m in cached.models()]
except ApiError:
    model_types = []
with f2:
    model_filter = st.selectbox(
        "Model", ["all", *model_types], key="runs.model",
        format_func=lambda t: "All models" if t == "all" else model_title(t),
        on_change=lambda: st.session_state.update({"runs.page": 0}),
    )


def _dataset_name(dataset_id: str | None) -> str:
    if not dataset_id:
        return "—"
    try:
        return str(cached.dataset(dataset_id)["name"])
    except ApiError:
        return "(deleted dataset)"


ERROR = "runs.error"
PAGE = "runs.page"


def _open(run_id: str) -> None:
    st.session_state[state.RUN_ID] = run_id
    st.switch_page("views/results.py")


def _call(action: str, run: dict[str, Any]) -> None:
    """Button callback: runs before the list redraws, so the list shows the outcome."""
    client = get_client()
    st.session_state[state.CONFIRM_DELETE] = None
    try:
        if action == "cancel":
            client.cancel_run(run["id"])
            st.toast(f"Cancelling “{escape_markdown(run['name'])}”…", icon=":material/stop_circle:")
        elif action == "delete":
            client.delete_run(run["id"])
            st.toast(f"Deleted “{escape_markdown(run['name'])}”.", icon=":material/delete:")
    except ApiError as exc:
        st.session_state[ERROR] = exc


def _rename(run: dict[str, Any]) -> None:
    new = str(st.session_state.get(f"rename-{run['id']}", "")).strip()
    if not new or new == run["name"]:
        return
    try:
        get_client().rename_run(run["id"], new)
        st.toast(f"Renamed to “{escape_markdown(new)}”.", icon=":material/edit:")
    except ApiError as exc:
        st.session_state[ERROR] = exc


def _confirm(run_id: str | None) -> None:
    st.session_state[state.CONFIRM_DELETE] = run_id


def _row(run: dict[str, Any]) -> None:
    run_id = run["id"]
    with st.container(border=True):
        main, info, actions = st.columns([4, 3, 3.6], vertical_alignment="center")
        with main:
            st.markdown(f"**{escape_markdown(run['name'])}**")
            sweep = f" · {len(run['child_ids'])} fits" if run.get("child_ids") else ""
            st.caption(
                f"{escape_markdown(model_title(run['model_type']))}{sweep} · "
                f"{escape_markdown(_dataset_name(run.get('dataset_id')))}"
                f" · {len(run['product_columns'])} products · "
                f"created {format_timestamp(run.get('created_at'))}"
            )
            names = [str(v) for v in (run.get("labels") or {}).values() if v]
            if names:  # the names people gave the units, as every output uses them
                st.caption(":material/label: " + escape_markdown(", ".join(names[:6]))
                           + (" …" if len(names) > 6 else ""))
        with info:
            st.badge(status_label(run["status"]), color=status_color(run["status"]))
            if run["status"] in ACTIVE_STATUSES:
                live = _live(run)
                value = live.get("progress", run.get("progress")) or 0
                message = live.get("message") or run.get("progress_message")
                st.progress(min(max(float(value), 0.0), 1.0),
                            text=escape_markdown(message) if message else None)
                if run["status"] == "running":
                    st.caption(eta_text(live).capitalize())
            elif run.get("duration_seconds") is not None:
                label, value = headline(run.get("fit_summary"))
                stat = f" · {label} **{value}**" if label else ""
                st.caption(f"Took {format_duration(run['duration_seconds'])}{stat}")
            if run["status"] == "failed" and run.get("error"):
                st.caption(f":red[{escape_markdown(run['error'])}]")
        with actions, st.container(horizontal=True, horizontal_alignment="right"):
            if st.button("Open", key=f"open-{run_id}", icon=":material/open_in_new:"):
                _open(run_id)
            if run["status"] in ACTIVE_STATUSES:
                st.button("Cancel", key=f"cancel-{run_id}", icon=":material/stop_circle:",
                          on_click=_call, args=("cancel", run))
            with st.popover("", icon=":material/edit:", help="Rename"):
                st.text_input("New name", value=run["name"], key=f"rename-{run_id}")
                st.button("Save name", key=f"save-name-{run_id}", on_click=_rename, args=(run,))
            if st.session_state[state.CONFIRM_DELETE] == run_id:
                st.button("Delete for good", key=f"really-{run_id}", type="primary",
                          icon=":material/delete_forever:", on_click=_call, args=("delete", run))
                st.button("Keep", key=f"keep-{run_id}", on_click=_confirm, args=(None,))
            else:
                st.button("Delete", key=f"delete-{run_id}", icon=":material/delete:",
                          on_click=_confirm, args=(run_id,))


def _live(run: dict[str, Any]) -> dict[str, Any]:
    """The latest progress of a live run (message and ETA); {} if it can't be had."""
    try:
        return get_client().progress(run["id"])
    except ApiError:
        return {}


def _turn(page: int) -> None:
    st.session_state[PAGE] = page


@st.fragment(run_every=REFRESH_SECONDS)
def run_list(status: str | None, model_type: str | None) -> None:
    error = st.session_state.pop(ERROR, None)
    if isinstance(error, ApiError):
        show_error(error)
    page = int(st.session_state.get(PAGE, 0))
    try:
        listing = get_client().list_runs(status=status, model_type=model_type, limit=PAGE_SIZE,
                                         offset=page * PAGE_SIZE)
    except ApiError as exc:
        show_error(exc)
        return
    items: list[dict[str, Any]] = listing.get("items", [])
    total = int(listing.get("total", 0))
    if not items:
        st.info("No runs here yet. Start one from **New analysis**.", icon=":material/inbox:")
        return
    for run in items:
        _row(run)
    if total > PAGE_SIZE:
        pages = (total + PAGE_SIZE - 1) // PAGE_SIZE
        prev, where, nxt = st.columns([1, 2, 1], vertical_alignment="center")
        prev.button("Newer", disabled=page == 0, icon=":material/chevron_left:",
                    on_click=_turn, args=(page - 1,))
        where.caption(f"Page {page + 1} of {pages} · {total} runs")
        nxt.button("Older", disabled=page >= pages - 1, icon=":material/chevron_right:",
                   on_click=_turn, args=(page + 1,))


run_list(None if status_filter in (None, "all") else status_filter,
         None if model_filter in (None, "all") else model_filter)
