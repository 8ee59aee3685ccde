"""Apply to new customers: pick a finished run, upload a file of households, see their shares
and the drift report, and take away their scores, the audiences per segment, and (for latent
class segments) a typing tool with its SQL. Everything is computed by the API's workers."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ui import apply, cached
from ui.api_client import ApiError, get_client
from ui.components import finished_runs, live_progress, show_error
from ui.formatting import escape_markdown, run_label

SCORING = "apply.scoring"  # source run id → its latest scoring run id
TYPING = "apply.typing"  # source run id → its typing tool run id
UPLOADS = "apply.uploads"  # (file name, size) → the dataset it became

st.title("Apply to new customers")
st.caption("Put new households into the segments of a finished analysis: their shares, how "
           "they differ from the training data, and files to act on. The model is applied as "
           "it is; nothing is refitted.")

try:
    catalogue = {m["model_type"]: m for m in cached.models()}
except ApiError as exc:
    show_error(exc)
    st.stop()
runs = [r for r in finished_runs() if catalogue.get(r["model_type"], {}).get("can_score")
        and not r.get("child_ids")]
if not runs:
    st.info("No finished analysis can score households yet. Fit a segmentation (or factors, "
            "baskets, missions, a product map) first.", icon=":material/hourglass_empty:")
    st.stop()

by_id = {r["id"]: r for r in runs}
source_id: str = st.selectbox("Analysis to apply", list(by_id),
                              format_func=lambda i: run_label(by_id[i]), key="apply.source")
source = by_id[source_id]
spec = catalogue[source["model_type"]]
client = get_client()
scorings: dict[str, str] = st.session_state.setdefault(SCORING, {})
typings: dict[str, str] = st.session_state.setdefault(TYPING, {})
uploads: dict[str, dict[str, Any]] = st.session_state.setdefault(UPLOADS, {})


def _dataset(file: Any) -> dict[str, Any] | None:
    key = f"{file.name}:{file.size}"
    if key not in uploads:
        try:
            uploads[key] = client.upload_dataset(file.name, file.getvalue())
        except ApiError as exc:
            show_error(exc)
            return None
    return uploads[key]


with st.container(border=True):
    st.subheader("1. The new households")
    file = st.file_uploader("A file with one row per household and the same product columns "
                            "(CSV, Excel or Parquet)", type=["csv", "xlsx", "parquet"],
                            key="apply.file")
    dataset = _dataset(file) if file is not None else None
    if dataset is not None:
        text_columns = [c["name"] for c in dataset["columns"] if not c["is_binary"]]
        options = [None, *text_columns]
        default = source.get("id_column") if source.get("id_column") in text_columns else None
        id_column = st.selectbox("Household ID column", options, index=options.index(default),
                                 format_func=lambda c: "(none: number the rows)" if c is None
                                 else c, key=f"apply.id.{dataset['id']}")
        st.caption(f"{dataset['n_rows']:,} households, {dataset['n_columns']} columns. Products "
                   "are matched by name; other columns are ignored.")
        if st.button("Score these households", type="primary", icon=":material/play_arrow:"):
            try:
                scorings[source_id] = client.score(source_id, dataset["id"], id_column)["id"]
            except ApiError as exc:
                show_error(exc)

scoring_id = scorings.get(source_id)
if scoring_id:
    scoring = client.get_run(scoring_id)
    if scoring["status"] in ("queued", "running"):
        live_progress(scoring_id)
    elif scoring["status"] != "completed":
        st.error(escape_markdown(scoring.get("error") or f"The scoring run {scoring['status']}."),
                 icon=":material/error:")
    else:
        done = str(scoring_id)  # bound for the download callbacks
        result = client.results(done)
        labels = dict(scoring.get("labels") or {})
        names = apply.unit_names(result.get("unit_keys") or [], labels, spec.get("unit", "Unit"))
        with st.container(border=True):
            st.subheader("2. Shares and drift")
            st.markdown(f"**{result['n_rows']:,} households scored.**")
            for sentence in result["drift"]["summary"]:
                st.markdown("- " + escape_markdown(sentence))
            shares = apply.shares_table(result, names)
            if not shares.empty:
                st.dataframe(shares, hide_index=True, column_config={
                    "Now": st.column_config.ProgressColumn("Now", format="%.1f%%", max_value=100),
                    "In training": st.column_config.ProgressColumn("In training", format="%.1f%%",
                                                                   max_value=100),
                })
            with st.expander("Penetration per product, now and in training"):
                st.dataframe(apply.penetration_table(result), hide_index=True, column_config={
                    "Now": st.column_config.NumberColumn(format="percent"),
                    "In training": st.column_config.NumberColumn(format="percent"),
                    "Change (points)": st.column_config.NumberColumn(format="%+.1f"),
                })
        with st.container(border=True):
            st.subheader("3. Take it away")
            stem = f"scores_{scoring_id[:8]}"
            left, middle, right = st.columns(3)
            left.download_button("Scores (CSV)", data=lambda: client.assignments_csv(done),
                                 file_name=f"{stem}.csv", mime="text/csv", on_click="ignore",
                                 icon=":material/download:")
            middle.download_button("The model (JSON)",
                                   data=lambda: client.model_document(source_id),
                                   file_name=f"model_{source_id[:8]}.json",
                                   mime="application/json", on_click="ignore",
                                   icon=":material/download:")
            if spec.get("kind") == "segments":
                st.markdown("**Audiences**: per segment, the households at least this likely "
                            "to be in it.")
                threshold = st.slider("Probability at least", 0.05, 1.0, 0.5, 0.05,
                                      key="apply.threshold")
                a, b = st.columns(2)
                a.download_button("One file (CSV)",
                                  data=lambda: client.audiences(done, threshold),
                                  file_name=f"audiences_{scoring_id[:8]}.csv", mime="text/csv",
                                  on_click="ignore", icon=":material/groups:")
                b.download_button("One file per segment (ZIP)",
                                  data=lambda: client.audiences(done, threshold, "zip"),
                                  file_name=f"audiences_{scoring_id[:8]}.zip",
                                  mime="application/zip", on_click="ignore",
                                  icon=":material/folder_zip:")

# Segments from product answers alone (not a model that needs household features).
if spec.get("kind") == "segments" and spec.get("household_features") != "required":
    with st.container(border=True):
        st.subheader("Typing tool")
        st.caption("A few questions that put a customer into a segment (a survey, a call "
                   "centre, a warehouse query): the products chosen one at a time, each the "
                   "one that best reproduces the full model's segments.")
        typing_id = typings.get(source_id)
        if typing_id is None:
            if st.button("Build the typing tool", icon=":material/quiz:"):
                try:
                    typings[source_id] = client.make_typing_tool(source_id)["id"]
                    st.rerun()
                except ApiError as exc:
                    show_error(exc)
        else:
            typing = client.get_run(typing_id)
            if typing["status"] in ("queued", "running"):
                live_progress(typing_id)
            elif typing["status"] != "completed":
                st.error(escape_markdown(typing.get("error") or "The typing tool failed."))
            else:
                tool_id = str(typing_id)  # bound for the download callbacks
                tool = client.results(tool_id)
                names = apply.unit_names(tool["segments"], dict(typing.get("labels") or {}),
                                         spec.get("unit", "Segment"))
                st.caption("Held-back households: share the tool puts in the full model's "
                           "segment, and how often it is right about the segment (the mean "
                           "posterior probability of the segment it gives), next to the full "
                           "model's.")
                st.line_chart(apply.typing_curve(tool), x_label="products asked",
                              y_label="share")
                st.caption(escape_markdown(tool["method"] + " " + tool["suggestion_rule"]))
                k = st.slider("Products to ask", 1, len(tool["steps"]), tool["suggested_k"],
                              key=f"apply.k.{typing_id}")
                step = tool["steps"][k - 1]
                full = tool.get("full_model_holdout_expected_accuracy")
                agree = step["holdout_accuracy"] if step["holdout_accuracy"] is not None \
                    else step["accuracy"]
                st.markdown(escape_markdown(
                    f"With {k} product(s) ({', '.join(tool['order'][:k])}) the tool agrees with "
                    f"the full model on {agree:.0%} of the held-back households"
                    + (f"; it is right about the segment {step['holdout_expected_accuracy']:.0%}"
                       f" of the time, the full model {full:.0%}." if full is not None else ".")
                ))
                st.dataframe(apply.confusion_table(tool, k, names))
                sql = client.typing_export(tool_id, "sql", k)
                st.code(sql, language="sql")
                c1, c2, c3 = st.columns(3)
                c1.download_button("Scoring sheet (CSV)",
                                   data=lambda: client.typing_export(tool_id, "sheet", k),
                                   file_name=f"typing_sheet_k{k}.csv", mime="text/csv",
                                   on_click="ignore", icon=":material/table:")
                c2.download_button("SQL", data=sql, file_name=f"typing_tool_k{k}.sql",
                                   mime="application/sql", on_click="ignore",
                                   icon=":material/database:")
                c3.download_button("Python",
                                   data=lambda: client.typing_export(tool_id, "python", k),
                                   file_name=f"typing_tool_k{k}.py", mime="text/x-python",
                                   on_click="ignore", icon=":material/code:")
