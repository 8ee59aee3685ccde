"""Compare: two or more finished runs side by side — fit statistics, profiles, product maps, and
how households move between two segmentations."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from ui import cached, charts, labels, state
from ui.api_client import ApiError, api_url, get_client
from ui.charts_common import matrix_heatmap, product_map_chart
from ui.components import model_title, show_error
from ui.exports import memberships
from ui.families import (
    SEGMENT_FAMILIES,
    display_names,
    embedding,
    family,
    fit_statistics,
    map_coordinates,
    profile,
    strongest_unit,
)
from ui.formatting import format_duration, run_label

MAX_RUNS = 4
STAT_LABELS = {
    "loglik": "Log-likelihood", "npar": "Parameters", "aic": "AIC", "bic": "BIC",
    "sabic": "SABIC", "caic": "CAIC", "entropy": "Entropy", "smallest_class_share":
    "Smallest segment", "rmsr": "RMSR", "tli": "TLI", "rmsea": "RMSEA", "relative_error":
    "Relative error", "explained": "Explained", "total_inertia": "Total inertia",
    "n_obs": "Households", "elpd_loo": "ELPD (LOO)", "looic": "LOOIC", "waic": "WAIC",
}

st.title("Compare runs")
st.caption("Put two or more finished runs side by side: which fits better, and how their "
           "segments or dimensions differ. Lower AIC / BIC is better for runs on the same data.")

client = get_client()
try:
    listing = client.list_runs(status="completed", limit=100)
except ApiError as exc:
    show_error(exc)
    st.stop()
runs: list[dict[str, Any]] = listing.get("items", [])
if len(runs) < 2:
    st.info("Compare needs at least two finished runs. Start another analysis — for example "
            "the same data with a different number of segments.", icon=":material/compare:")
    st.page_link("views/new_analysis.py", label="New analysis", icon=":material/add_chart:")
    st.stop()

by_id = {r["id"]: r for r in runs}
if state.COMPARE not in st.session_state:
    st.session_state[state.COMPARE] = [r["id"] for r in runs[:2]]
st.session_state[state.COMPARE] = [i for i in st.session_state[state.COMPARE] if i in by_id]
chosen: list[str] = st.multiselect(
    "Runs to compare", list(by_id), format_func=lambda i: run_label(by_id[i]),
    key=state.COMPARE, max_selections=MAX_RUNS)
if len(chosen) < 2:
    st.info("Choose at least two runs.", icon=":material/checklist:")
    st.stop()


def _shown(run_id: str, result: dict[str, Any]) -> str:
    sweep = result.get("sweep")
    if isinstance(sweep, dict) and sweep.get("recommended_run_id"):
        return str(sweep["recommended_run_id"])
    return run_id


items = []
for run_id in chosen:
    run = by_id[run_id]
    try:
        result = cached.results(run_id)
    except ApiError as exc:
        show_error(exc)
        st.stop()
    shown = _shown(run_id, result)
    names = display_names(run["model_type"], result, labels.load(api_url(), shown))
    items.append((run, result, names, shown))

# -- fit statistics ----------------------------------------------------------------------------


def _fmt(key: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if key == "smallest_class_share":
        return f"{value:.1%}"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"


st.markdown("#### Fit")
rows = []
for run, result, names, _ in items:
    row: dict[str, Any] = {"Run": run["name"], "Model": model_title(run["model_type"]),
                           "Units": len(names), "Products": len(run["product_columns"]),
                           "Took": format_duration(run.get("duration_seconds"))}
    row.update({STAT_LABELS.get(k, k): _fmt(k, v) for k, v in fit_statistics(result).items()})
    rows.append(row)
fit = pd.DataFrame(rows).set_index("Run").T
st.dataframe(fit, width="stretch")
datasets = {run["dataset_id"] for run, *_ in items}
if len(datasets) > 1:
    st.caption(":material/info: These runs use different datasets: their likelihood-based "
               "statistics do not compare.")

# -- profiles ----------------------------------------------------------------------------------
st.markdown("#### Profiles")
columns = st.columns(len(items))
for col, (run, result, names, _) in zip(columns, items, strict=True):
    with col:
        st.markdown(f"**{run['name']}**")
        model_type = run["model_type"]
        if model_type in SEGMENT_FAMILIES and "item_probabilities" in result:
            st.altair_chart(charts.class_sizes_chart(result, names), width="stretch")
            narrow = 60 if len(items) > 2 else 80
            st.altair_chart(charts.profile_heatmap(result, names).properties(
                width=alt.Step(narrow)), width="content")
        else:
            prof = profile(model_type, result, names)
            if prof is None:
                st.caption("No profile to show for this kind of result.")
            else:
                diverging = bool((prof.to_numpy() < 0).any())
                st.altair_chart(matrix_heatmap(prof, family(model_type).unit, diverging=diverging,
                                               column_title=family(model_type).unit,
                                               cell_width=60 if len(items) > 2 else 70,
                                               label_angle=-30, font_size=10),
                                width="content")

# -- product maps ------------------------------------------------------------------------------
st.markdown("#### Product maps")
columns = st.columns(len(items))
for col, (run, result, names, _) in zip(columns, items, strict=True):
    with col:
        st.markdown(f"**{run['name']}**")
        emb = embedding(run["model_type"], result)
        if emb is None or len(emb) < 3:
            st.caption("No product map for this kind of result.")
            continue
        st.altair_chart(product_map_chart(map_coordinates(emb),
                                          groups=strongest_unit(run["model_type"], result, names),
                                          group_title=family(run["model_type"]).unit),
                        width="stretch")

# -- households across two segmentations -------------------------------------------------------
segments = [it for it in items if it[0]["model_type"] in SEGMENT_FAMILIES]
if len(segments) >= 2:
    (run_a, _res_a, names_a, shown_a), (run_b, _res_b, names_b, shown_b) = segments[:2]
    st.markdown("#### How households move between two segmentations")
    st.caption(f"Households by their segment in “{run_a['name']}” (rows) and in "
               f"“{run_b['name']}” (columns).")
    if run_a["dataset_id"] != run_b["dataset_id"]:
        st.caption("Only for runs on the same dataset.")
    else:
        try:
            a = memberships(cached.assignments(shown_a), run_a["model_type"], names_a)
            b = memberships(cached.assignments(shown_b), run_b["model_type"], names_b)
        except ApiError as exc:
            show_error(exc)
        else:
            rows_title = f"A: {run_a['name'][:30]}"
            cols_title = f"B: {run_b['name'][:30]}"
            table = pd.crosstab(a["Segment"].rename(rows_title), b["Segment"].rename(cols_title))
            st.altair_chart(matrix_heatmap(table.astype(float), "Households", fmt=",.0f",
                                           row_title=rows_title, column_title=cols_title),
                            width="content")
