"""Streamlit building blocks shared by the pages: errors, the sidebar status, the parameter
form and the live progress panel."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from ui import cached
from ui.api_client import ApiError, BackendUnavailable, api_url, get_client
from ui.formatting import (
    PHASES,
    escape_markdown,
    format_duration,
    status_color,
    status_label,
)
from ui.params_form import ParamSpec
from ui.progress_text import progress_view

POLL_SECONDS = 1.0


def show_error(exc: ApiError) -> None:
    """The API's sentence for the person (it may quote names: shown literally); a friendly note
    when the service is unreachable (the app's own words)."""
    if isinstance(exc, BackendUnavailable):
        st.error(
            f"**The analysis service is not reachable.** {exc.detail}",
            icon=":material/cloud_off:",
        )
    else:
        st.error(escape_markdown(exc.detail), icon=":material/error:")


def finished_runs(limit: int = 100) -> list[dict[str, Any]]:
    """The newest completed runs; the API's sentence (and the end of the page) if it fails."""
    try:
        listing = get_client().list_runs(status="completed", limit=limit)
    except ApiError as exc:
        show_error(exc)
        st.stop()
    # Runs made from a finished run (scoring, typing tools) are shown where they are made.
    return [r for r in listing.get("items", []) if r.get("kind", "fit") == "fit"]


def model_title(model_type: str) -> str:
    """The catalogue's plain title of a model type (the type itself if unknown)."""
    try:
        titles = {m["model_type"]: m.get("title", m["model_type"]) for m in cached.models()}
    except ApiError:
        titles = {}
    return str(titles.get(model_type, model_type))


def sidebar_status() -> None:
    """A small health line at the bottom of the sidebar."""
    health = cached.health()
    with st.sidebar:
        st.space("small")
        status = health.get("status")
        if status == "healthy":
            st.badge("Service online", icon=":material/check_circle:", color="green")
        elif status == "degraded":
            parts = [
                name
                for name, ok in (
                    ("database", health.get("database_connected")),
                    ("queue", health.get("redis_connected")),
                )
                if not ok
            ]
            st.badge("Service degraded", icon=":material/warning:", color="orange")
            st.caption(f"Not connected: {', '.join(parts) or 'unknown'}. Runs may not start.")
        else:
            st.badge("Service offline", icon=":material/cloud_off:", color="red")
            st.caption(f"No answer from {api_url()}.")


def param_inputs(
    specs: list[ParamSpec], key_prefix: str, skip: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """Draw one input per spec (primary ones first, the rest in an 'Advanced' expander);
    `skip` names parameters the page draws itself (a sweep's range)."""
    values: dict[str, Any] = {}
    specs = [s for s in specs if s.name not in skip]
    primary = [s for s in specs if not s.advanced]
    advanced = [s for s in specs if s.advanced]
    for spec in primary:
        values[spec.name] = _input(spec, key_prefix)
    if advanced:
        with st.expander("Advanced settings", icon=":material/tune:"):
            st.caption("The defaults suit most data. Change them to trade speed for certainty.")
            cols = st.columns(2)
            for i, spec in enumerate(advanced):
                with cols[i % 2]:
                    values[spec.name] = _input(spec, key_prefix)
    return values


def param_input(spec: ParamSpec, key_prefix: str) -> Any:
    """One parameter's input (its key: `<key_prefix>.<name>`)."""
    return _input(spec, key_prefix)


def _input(spec: ParamSpec, key_prefix: str) -> Any:
    key = f"{key_prefix}.{spec.name}"
    if spec.kind in ("int", "float"):
        caster = int if spec.kind == "int" else float
        low = None if spec.minimum is None or spec.exclusive_minimum else caster(spec.minimum)
        high = None if spec.maximum is None else caster(spec.maximum)
        default = None if spec.default is None else caster(spec.default)
        if default is None and not spec.nullable:
            default = low if low is not None else caster(0)
        st.session_state.setdefault(key, default)
        return st.number_input(
            spec.label,
            min_value=low,
            max_value=high,
            step=spec.step,
            format=spec.number_format,
            help=spec.help,
            placeholder="Automatic" if spec.nullable else None,
            key=key,
        )
    if spec.kind == "bool":
        st.session_state.setdefault(key, bool(spec.default))
        return st.checkbox(spec.label, help=spec.help, key=key)
    if spec.kind == "choice":
        options = list(spec.choices)
        st.session_state.setdefault(key, spec.default if spec.default in options else options[0])
        return st.selectbox(spec.label, options, help=spec.help, key=key)
    st.session_state.setdefault(key, spec.default or "")
    value = st.text_input(spec.label, help=spec.help, key=key)
    return value or (None if spec.nullable else value)


@st.fragment(run_every=POLL_SECONDS)
def live_progress(run_id: str) -> None:
    """The progress panel of a queued or running run. Only this fragment reruns each second;
    when the run ends the whole page reruns to show the outcome."""
    client = get_client()
    try:
        progress = client.progress(run_id)
    except ApiError as exc:
        show_error(exc)
        return
    try:  # the database is the source of truth: a run that has ended redraws the page
        record = client.get_run(run_id)
    except ApiError as exc:
        show_error(exc)
        return
    shown = progress_view(progress, record)
    if shown.ended:
        st.rerun()
    phase = str(progress.get("phase", "queued"))
    value = min(max(float(progress.get("progress") or 0.0), 0.0), 1.0)
    status = "queued" if phase == "queued" else "running"
    with st.container(border=True):
        st.badge(status_label(status), color=status_color(status))
        st.progress(value, text=f"**{PHASES.get(phase, phase)}** · {value:.0%}")
        st.markdown(escape_markdown(shown.message))
        facts = [shown.eta]
        if progress.get("elapsed_seconds") is not None and not shown.eta.startswith("running"):
            facts.append(f"running for {format_duration(progress['elapsed_seconds'])}")
        if progress.get("iteration") is not None:
            facts.append(f"iteration {progress['iteration']:,}")
        if progress.get("loglik") is not None:
            facts.append(f"log-likelihood {float(progress['loglik']):,.1f}")
        line = " · ".join(facts)
        st.caption(line[:1].upper() + line[1:])
        chains = (progress.get("details") or {}).get("chains")
        if isinstance(chains, list) and chains:
            cols = st.columns(min(len(chains), 4))
            for k, chain in enumerate(chains):
                if not isinstance(chain, dict):
                    continue
                total = max(int(chain.get("total") or 1), 1)
                done = min(int(chain.get("draw") or 0), total)
                stage = "warming up" if chain.get("tuning") else "sampling"
                divergences = chain.get("divergences") or 0
                with cols[k % len(cols)]:
                    st.progress(done / total, text=f"Chain {int(chain.get('chain', k)) + 1}: "
                                f"{stage}, {done}/{total}"
                                + (f", {divergences} divergent" if divergences else ""))
        if shown.can_cancel and st.button(
            "Cancel this run", icon=":material/stop_circle:", key=f"cancel-{run_id}"
        ):
            try:
                client.cancel_run(run_id)
            except ApiError as exc:
                show_error(exc)
                return
            st.rerun()


BASKET_MAX_PRODUCTS = 30


def basket_panel(stats: dict[str, pd.DataFrame]) -> None:
    """Penetration, duplication and lift of the chosen products, as the API counted them
    (tables from `ui.prep.basket_from_api`)."""
    pen = stats["penetration"]
    left, right = st.columns([2, 3])
    with left:
        st.markdown("**Penetration**")
        st.caption("Share of households that bought each product.")
        st.dataframe(
            pen.assign(Penetration=pen["Penetration"] * 100), hide_index=True,
            column_config={"Penetration": st.column_config.ProgressColumn(
                format="%.0f%%", min_value=0.0, max_value=100.0)},
        )
    with right:
        st.markdown("**Pairs bought together most (lift)**")
        st.caption("Lift above 1: bought together more often than chance; duplication: share of "
                   "the first product's buyers who also buy the second.")
        pairs = stats["pairs"]
        pairs = pairs[pairs["Product"] < pairs["Also buys"]]
        top_pairs = pairs.sort_values("Lift", ascending=False).head(15)
        st.dataframe(
            top_pairs.assign(Duplication=top_pairs["Duplication"] * 100), hide_index=True,
            column_config={
                "Duplication": st.column_config.NumberColumn(format="%.0f%%"),
                "Lift": st.column_config.NumberColumn(format="%.2f"),
            },
        )
    top = list(pen["Product"].head(BASKET_MAX_PRODUCTS))
    st.markdown("**Duplication of purchase**")
    st.caption("Row: buyers of that product; column: the share of them who also buy this one."
               + (f" The {BASKET_MAX_PRODUCTS} most bought products." if len(pen) >
                  BASKET_MAX_PRODUCTS else ""))
    dup = stats["duplication"].reindex(index=top, columns=top)
    st.dataframe(dup.map(lambda v: "—" if pd.isna(v) else f"{v:.0%}"))
