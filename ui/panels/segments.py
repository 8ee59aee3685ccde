"""Segments: households split into groups, each with its own purchase probabilities (and,
when the run has household features, who is more likely to be in each)."""

from __future__ import annotations

import streamlit as st

from ui.formatting import escape_markdown, percent
from ui.panels.base import View, chart, settings, table, warnings
from ui.tables import fit_table


def render(view: View) -> None:
    result, one, many = view.result, view.unit.lower(), view.units
    warnings(result)
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Households", f"{result.get('n_obs', 0):,}")
    m2.metric(many, result.get("n_classes", len(view.names)))
    m3.metric(f"Smallest {one}", percent(result.get("smallest_class_share"), 1),
              help=f"Very small {many.lower()} are often unstable; consider fewer.")
    entropy = result.get("entropy")
    m4.metric("Separation (entropy)", "—" if entropy is None else f"{entropy:.2f}",
              help=f"1 means every household clearly belongs to one {one}; below 0.6 the "
              f"{many.lower()} overlap a lot.")

    tabs = [many]
    if any(view.has(c) for c in ("who", "odds_ratios", "three_step_odds", "three_step_outcomes")):
        tabs.append("Who they are")
    tabs += [f"Compare {many.lower()}", "Model checks"]
    drawn = dict(zip(tabs, st.tabs(tabs), strict=True))

    with drawn[many]:
        chart(view, "sizes")
        chart(view, "stability")
        options = chart(view, "profile", stretch=False) or {}
        index = options.get("measure") == "index"
        with st.expander("The same numbers as a table", icon=":material/table:"):
            table(view.table("class_index" if index else "class_profile"))

    with drawn[f"Compare {many.lower()}"]:
        chart(view, "comparison")
        chart(view, "segment_map", stretch=False)  # segments and products on one map

    if "Who they are" in drawn:
        with drawn["Who they are"]:
            if view.has("who"):
                _profiles(view)
            if view.has("odds_ratios"):
                _covariates(view)
            if view.has("three_step_odds") or view.has("three_step_outcomes"):
                _three_step(view)

    with drawn["Model checks"]:
        left, right = st.columns(2)
        with left:
            st.markdown("#### Fit statistics")
            table(fit_table(result))
            blrt = result.get("blrt")
            if isinstance(blrt, dict):
                st.markdown(
                    f"**Bootstrap likelihood-ratio test:** {blrt['n_classes']} vs "
                    f"{blrt['null_classes']} {many.lower()}, p = {blrt['p_value']:.3f} "
                    f"({blrt['n_boot']} samples). "
                    + (f"More {many.lower()} fit significantly better." if blrt["p_value"] < 0.05
                       else f"The extra {one} does not fit significantly better.")
                )
        with right:
            chart(view, "starts")
            at_best = result.get("n_starts_at_best")
            if at_best is not None:
                how = ("replicated" if result.get("replicated", True)
                       else "not replicated: a better solution may exist")
                st.caption(f"{at_best} of {len(result.get('starts') or [])} starts reached the "
                           f"best log-likelihood ({how}; {result.get('start_rounds', 1)} "
                           "round(s) of random starts).")
        chart(view, "residuals")
        with st.expander("All random starts", icon=":material/format_list_numbered:"):
            table(view.table("starts"))
        settings(view)


def _profiles(view: View) -> None:
    """Who is in each segment, by the run's household features (they do not move the
    segments): the banner the API draws, the tests per feature and the full table."""
    chart(view, "who", stretch=False)
    tests = view.table("profile_tests")
    if tests is not None and len(tests):
        st.markdown("**Does each feature differ between the "
                    f"{escape_markdown(view.units.lower())}?**")
        shown = tests.drop(columns=[c for c in ("unit",) if c in tests and tests[c].isna().all()])
        if "p_value" in shown:
            shown = shown.assign(p_value=[p_text(p) for p in shown["p_value"]])
        table(shown.rename(columns={"p_value": "p-value"}),
              column_config={"statistic": st.column_config.NumberColumn(format="%.1f")})
    profiles = view.result.get("profiles") or {}
    if profiles.get("method"):
        st.caption(escape_markdown(str(profiles["method"])))
    with st.expander("Every feature and category", icon=":material/table:"):
        table(view.table("profiles"))


def p_text(p: object) -> str:
    if not isinstance(p, int | float) or p != p:
        return "—"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _covariates(view: View) -> None:
    result = view.result
    p_value = result.get("covariate_p_value")
    if isinstance(p_value, float):
        verdict = (f"Household features clearly help predict the {view.units.lower()}"
                   if p_value < 0.05 else f"Household features add little to the "
                   f"{view.units.lower()}")
        st.markdown(
            f"**{verdict}** (likelihood-ratio test: χ² = {result.get('covariate_lr', 0):.1f}, "
            f"{result.get('covariate_df')} df, "
            f"{'p < 0.001' if p_value < 0.001 else f'p = {p_value:.3f}'})."
        )
    reference = result.get("reference_class")
    names = dict(zip(view.keys, view.names, strict=False))
    if reference in names:
        st.caption(f"Against “{escape_markdown(names[reference])}”, the reference "
                   f"{view.unit.lower()}.")
    chart(view, "odds_ratios", stretch=False)
    with st.expander("Coefficients", icon=":material/table:"):
        table(view.table("coefficients"))


def _three_step(view: View) -> None:
    """3-step estimation: the segments related to household features and outcomes from the
    households' assignments, corrected for classification error (BCH, ML)."""
    found = view.result.get("three_step") or {}
    st.markdown("#### Corrected for misassignment (3-step)")
    chart(view, "three_step_odds", stretch=False)
    walds = view.table("three_step_wald_tests")
    if walds is not None and len(walds):
        st.markdown("**Does each feature change who is in which "
                    f"{escape_markdown(view.unit.lower())}? (3-step)**")
        shown = walds.assign(p_value=[p_text(p) for p in walds["p_value"]])
        table(shown.rename(columns={"p_value": "p-value"}),
              column_config={"statistic": st.column_config.NumberColumn(format="%.1f")})
    chart(view, "three_step_outcomes", stretch=False)
    tests = view.table("three_step_outcome_tests")
    if tests is not None and len(tests) and "p_value" in tests:
        st.markdown("**Does each outcome differ between the "
                    f"{escape_markdown(view.units.lower())}? (3-step)**")
        shown = tests.assign(p_value=[p_text(p) for p in tests["p_value"]])
        table(shown.rename(columns={"p_value": "p-value"}),
              column_config={"statistic": st.column_config.NumberColumn(format="%.1f")})
    if found.get("method"):
        st.caption(escape_markdown(str(found["method"])))
    with st.expander("3-step estimates", icon=":material/table:"):
        table(view.table("three_step_coefficients"))
        table(view.table("three_step_outcomes"))
        table(view.table("classification_error"))
