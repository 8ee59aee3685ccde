"""Compare: two or more finished runs side by side — fit statistics, profiles, product maps, and
how households move between two segmentations."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from ui import cached, state
from ui.api_client import ApiError
from ui.components import finished_runs, model_title, show_error
from ui.families import fit_statistics, unit
from ui.formatting import escape_markdown, format_duration, run_label
from ui.panels.base import vega
from ui.progress_text import default_pair

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

runs = finished_runs()
if len(runs) < 2:
    st.info("Compare needs at least two finished runs. Start another analysis — for example "
            "the same data with a different number of segments.", icon=":material/compare:")
    st.page_link("views/new_analysis.py", label="New analysis", icon=":material/add_chart:")
    st.stop()

by_id = {r["id"]: r for r in runs}
if state.COMPARE not in st.session_state:
    st.session_state[state.COMPARE] = default_pair(runs)
st.session_state[state.COMPARE] = [i for i in st.session_state[state.COMPARE] if i in by_id]
chosen: list[str] = st.multiselect(
    "Runs to compare", list(by_id), format_func=lambda i: run_label(by_id[i]),
    key=state.COMPARE, max_selections=MAX_RUNS)
if len(chosen) < 2:
    st.info("Choose at least two runs.", icon=":material/checklist:")
    st.stop()


items = []
for run_id in chosen:
    run = by_id[run_id]
    labels = dict(run.get("labels") or {})
    try:
        result = cached.results(run_id)
        catalogue = cached.charts(run_id, labels)
    except ApiError as exc:
        show_error(exc)
        st.stop()
    items.append((run, result, catalogue, labels))

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
for run, result, catalogue, _ in items:
    row: dict[str, Any] = {"Run": run["name"], "Model": model_title(run["model_type"]),
                           "Units": len(catalogue.get("units") or []),
                           "Products": len(run["product_columns"]),
                           "Took": format_duration(run.get("duration_seconds"))}
    row.update({STAT_LABELS.get(k, k): _fmt(k, v) for k, v in fit_statistics(result).items()})
    rows.append(row)
fit = pd.DataFrame(rows).set_index("Run").T
st.dataframe(fit, width="stretch")
datasets = {run["dataset_id"] for run, *_ in items}
if len(datasets) > 1:
    st.caption(":material/info: These runs use different datasets: their likelihood-based "
               "statistics do not compare.")



def _side_by_side(heading: str, tag: str, missing: str, *, first_only: bool) -> None:
    """A column per run with the charts its catalogue tags `tag`, each under its title (with
    `first_only`: the first alone, untitled), or `missing` where there is none."""
    st.markdown(f"#### {heading}")
    # One under the other: heatmaps and maps keep their width (in columns they were cut off).
    for run, _result, catalogue, labels in items:
        with st.container(border=True):
            st.markdown(f"**{escape_markdown(run['name'])}**")
            tagged = [sec for sec in catalogue.get("sections", []) if tag in sec.get("tags", [])]
            if not tagged:
                st.caption(missing)
            for section in tagged[:1] if first_only else tagged:
                if not first_only:
                    st.caption(escape_markdown(section["title"]))
                vega(run["id"], section["id"], {}, labels)


# -- profiles (what the API draws as each run's profile) and product maps ----------------------
_side_by_side("Profiles", "profile", "No profile to show for this kind of result.",
              first_only=False)
_side_by_side("Product maps", "map", "No product map for this kind of result.", first_only=True)

# -- households across two segmentations -------------------------------------------------------
segmentations = [it for it in items if cached.model(it[0]["model_type"]).get("kind") == "segments"]
if len(segmentations) >= 2:
    run_a, labels_a = segmentations[0][0], segmentations[0][3]
    run_b, labels_b = segmentations[1][0], segmentations[1][3]
    st.markdown("#### How households move between two segmentations")
    st.caption(f"Households by their segment in “{escape_markdown(run_a['name'])}” (rows) and "
               f"in “{escape_markdown(run_b['name'])}” (columns).")
    if run_a["dataset_id"] != run_b["dataset_id"]:
        st.caption("Only for runs on the same dataset.")
    else:
        try:
            a = cached.tables(run_a["id"], labels_a).get("memberships")
            b = cached.tables(run_b["id"], labels_b).get("memberships")
        except ApiError as exc:
            show_error(exc)
        else:
            word_a = unit(cached.model(run_a["model_type"]))
            word_b = unit(cached.model(run_b["model_type"]))
            if a is None or b is None:
                st.caption("These runs kept no per-household output.")
            else:
                table = pd.crosstab(a.frame[word_a].rename(f"A: {run_a['name'][:30]}"),
                                    b.frame[word_b].rename(f"B: {run_b['name'][:30]}"))
                st.dataframe(table, column_config={
                    c: st.column_config.NumberColumn(format="%d") for c in table.columns})
