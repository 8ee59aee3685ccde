"""Segments (latent class analysis, with or without household features)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui import charts
from ui.formatting import percent
from ui.panels.base import View, chart, section, settings, warnings
from ui.tables import ALL_HOUSEHOLDS, fit_table, index_wide, profile_wide, starts_frame

MEASURE = "results.lca.measure"


def render(view: View) -> None:
    result, names = view.result, view.names
    warnings(result)
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Households", f"{result.get('n_obs', 0):,}")
    m2.metric("Segments", result.get("n_classes", len(names)))
    m3.metric("Smallest segment", percent(result.get("smallest_class_share"), 1),
              help="Very small segments are often unstable; consider fewer segments.")
    entropy = result.get("entropy")
    m4.metric("Separation (entropy)", "—" if entropy is None else f"{entropy:.2f}",
              help="1 means every household clearly belongs to one segment; below 0.6 the "
              "segments overlap a lot.")

    tabs = ["Segments", "Compare segments"]
    if view.model_type == "lca_covariates" and result.get("coefficients"):
        tabs.append("Who they are")
    tabs.append("Model checks")
    drawn = dict(zip(tabs, st.tabs(tabs), strict=True))

    with drawn["Segments"]:
        section("Segment sizes", "The estimated share of households in each segment.")
        chart(charts.class_sizes_chart(result, names))
        section("What each segment buys")
        measure = st.segmented_control(
            "Show", ["Chance of buying", "Index vs average"], default="Chance of buying",
            key=MEASURE, label_visibility="collapsed") or "Chance of buying"
        if measure == "Index vs average":
            st.caption("100 = the average household; 200 = twice as likely to buy; 50 = half as "
                       "likely. Blue: the segment over-indexes; orange: it under-indexes.")
            chart(charts.profile_heatmap(result, names, measure="index"), stretch=False)
            table = index_wide(result, names)
            fmt = "%.0f"
        else:
            st.caption("The chance that a household in each segment buys each product. Darker "
                       f"means more likely; compare with “{ALL_HOUSEHOLDS}” to see what sets a "
                       "segment apart.")
            chart(charts.profile_heatmap(result, names), stretch=False)
            table = profile_wide(result, names) * 100
            fmt = "%.1f%%"
        st.dataframe(table, column_config={
            c: st.column_config.NumberColumn(c, format=fmt) for c in table.columns})

    with drawn["Compare segments"]:
        section("Segments side by side",
                "Each dot is a segment's chance of buying; the grey tick is all households. "
                "Products where the segments differ most come first.")
        chosen = st.multiselect("Segments to compare", names, default=names[: min(2, len(names))],
                                key=f"results.compare.{view.run_id}")
        chart(charts.segment_comparison_chart(result, names, chosen))

    if "Who they are" in drawn:
        with drawn["Who they are"]:
            _covariates(view)

    with drawn["Model checks"]:
        left, right = st.columns(2)
        with left:
            section("Fit statistics")
            st.dataframe(fit_table(result), hide_index=True)
            blrt = result.get("blrt")
            if isinstance(blrt, dict):
                st.markdown(
                    f"**Bootstrap likelihood-ratio test:** {blrt['n_classes']} vs "
                    f"{blrt['null_classes']} segments, p = {blrt['p_value']:.3f} "
                    f"({blrt['n_boot']} samples). "
                    + ("More segments fit significantly better." if blrt["p_value"] < 0.05
                       else "The extra segment does not fit significantly better.")
                )
            settings(view)
        with right:
            section("Random starts", "Each start's final log-likelihood. When many starts reach "
                    "the best value the solution is trustworthy.")
            chart(charts.starts_chart(result))
            at_best = result.get("n_starts_at_best")
            if at_best is not None:
                st.caption(f"{at_best} of {len(result.get('starts') or [])} starts reached the "
                           "best log-likelihood.")
        if result.get("bivariate_residuals"):
            section("Product pairs the segments explain least",
                    "Bivariate residuals: above the dashed line (3.84) a pair is bought together "
                    "more (or less) than the segments predict. Many flagged pairs suggest one "
                    "more segment.")
            chart(charts.bvr_chart(result))
        with st.expander("All random starts", icon=":material/format_list_numbered:"):
            st.dataframe(starts_frame(result), hide_index=True)


def _covariates(view: View) -> None:
    result, names = view.result, view.names
    p_value = result.get("covariate_p_value")
    if isinstance(p_value, float):
        verdict = ("Household features clearly help predict the segments"
                   if p_value < 0.05 else "Household features add little to the segments")
        st.markdown(
            f"**{verdict}** (likelihood-ratio test: χ² = {result.get('covariate_lr', 0):.1f}, "
            f"{result.get('covariate_df')} df, "
            f"{'p < 0.001' if p_value < 0.001 else f'p = {p_value:.3f}'})."
        )
    classes = [str(c) for c in result.get("classes", [])]
    reference = result.get("reference_class")
    ref_name = names[classes.index(reference)] if reference in classes else reference
    section("What makes a household more likely to be in each segment",
            f"Odds ratios against “{ref_name}”, with 95% intervals: above 1 the feature makes the "
            "segment more likely; an interval crossing 1 is not a clear effect.")
    chart(charts.odds_ratio_chart(result, names), stretch=False)
    coefficients = pd.DataFrame(result.get("coefficients") or [])
    if not coefficients.empty:
        rename = dict(zip(classes, names, strict=False))
        coefficients["class_name"] = coefficients["class_name"].map(
            lambda c: rename.get(str(c), str(c)))
        with st.expander("Coefficients", icon=":material/table:"):
            st.dataframe(coefficients.rename(columns={"class_name": "Segment", "term": "Feature"}),
                         hide_index=True)
