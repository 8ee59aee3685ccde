"""Who each unit is: the stored profiles by household features as a banner heatmap (features ×
units; segments: the share of each category with its index against the whole base, numeric
features by their mean; scores: the mean score per category), ▲/▼ where the unit differs
significantly from the whole base (Bonferroni-corrected), and the tests per feature."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import altair as alt
import pandas as pd

from backend.presentation.charts.base import ChartView
from backend.presentation.charts.palette import DIVERGING_RANGE, INDEX_RANGE, INK

MAX_ROWS = 80  # feature levels drawn; the tables hold all


def mark(cell: Mapping[str, Any]) -> str:
    if not cell.get("significant"):
        return ""
    return " ▲" if (cell.get("residual") or 0) > 0 else " ▼"


def profile_rows(view: ChartView) -> pd.DataFrame:
    """One row per unit × feature level: the text drawn, the colour value and the tooltip."""
    profiles = view.result.get("profiles") or {}
    membership = profiles.get("measure") == "membership"
    name_of = view.units.rename
    rows = []
    for feature in profiles.get("features") or []:
        numeric = feature.get("kind") == "numeric" and membership
        overall = feature.get("overall") or []
        levels = feature.get("levels") or []
        for cell in feature.get("cells") or []:
            level = cell.get("level")
            label = f"{feature['feature']} (mean)" if numeric else f"{feature['feature']}: {level}"
            base = None
            if numeric and overall:
                base = overall[0]
            elif level in levels and len(overall) == len(levels):
                base = overall[levels.index(level)]
            if membership and not numeric:
                text = f"{(cell.get('share') or 0):.0%}{mark(cell)}"
            else:
                text = f"{(cell.get('mean') or 0):,.2f}{mark(cell)}"
            rows.append(
                {
                    "Feature": label,
                    "Unit": name_of.get(str(cell["unit"]), str(cell["unit"])),
                    "Text": text,
                    "Index": cell.get("index"),
                    "Residual": cell.get("residual"),
                    "Share": cell.get("share"),
                    "Mean": cell.get("mean"),
                    "Median": cell.get("median"),
                    "Base": base,
                    "Significant": bool(cell.get("significant")),
                }
            )
    frame = pd.DataFrame(
        rows,
        columns=[
            "Feature", "Unit", "Text", "Index", "Residual", "Share", "Mean", "Median", "Base",
            "Significant",
        ],
    )  # fmt: skip
    keep = list(dict.fromkeys(frame["Feature"]))[:MAX_ROWS]
    return frame[frame["Feature"].isin(keep)]


def who(view: ChartView, options: dict[str, Any]) -> alt.LayerChart:
    """Features × units: each cell the unit's share of the category (or mean), coloured by its
    index against the whole base (segments) or by how far it is from the base (scores)."""
    data = profile_rows(view)
    membership = (view.result.get("profiles") or {}).get("measure") == "membership"
    features = list(dict.fromkeys(data["Feature"]))
    base = alt.Chart(data).encode(
        x=alt.X(
            "Unit:N",
            sort=view.units.names,
            title=None,
            axis=alt.Axis(labelAngle=0, orient="top", labelLimit=118, labelOverlap=False),
        ),
        y=alt.Y("Feature:N", sort=features, title=None, axis=alt.Axis(labelLimit=220)),
    )
    if membership:
        color = alt.Color(
            "Index:Q",
            title="Index vs all households (100 = average)",
            scale=alt.Scale(domain=[0, 50, 100, 150, 200], range=INDEX_RANGE, clamp=True),
            legend=alt.Legend(orient="bottom", gradientLength=220),
        )
    else:
        color = alt.Color(
            "Residual:Q",
            title="Difference from all households (z)",
            scale=alt.Scale(domain=[-6, -2, 0, 2, 6], range=DIVERGING_RANGE, clamp=True),
            legend=alt.Legend(orient="bottom", gradientLength=220),
        )
    tooltip = [
        alt.Tooltip("Unit:N", title=view.units.word),
        alt.Tooltip("Feature:N"),
        alt.Tooltip("Share:Q", format=".1%"),
        alt.Tooltip("Mean:Q", format=",.3f"),
        alt.Tooltip("Median:Q", format=",.3f"),
        alt.Tooltip("Base:Q", title="All households", format=",.3f"),
        alt.Tooltip("Index:Q", format=".0f"),
        alt.Tooltip("Residual:Q", title="Adjusted residual / z", format=".1f"),
        alt.Tooltip("Significant:N", title="Differs significantly"),
    ]
    cells = base.mark_rect(stroke="white", strokeWidth=1).encode(color=color, tooltip=tooltip)
    value = alt.datum.Index if membership else alt.datum.Residual
    dark = (value > 165) | (value < 25) if membership else (value > 4) | (value < -4)
    ink = alt.condition(dark, alt.value("white"), alt.value(INK))
    plain = base.mark_text(fontSize=12).encode(text="Text:N", color=ink, opacity=alt.value(0.75))
    bold = base.mark_text(fontSize=12, fontWeight="bold").encode(text="Text:N", color=ink)
    return (
        cells
        + plain.transform_filter(~alt.datum.Significant)
        + bold.transform_filter(alt.datum.Significant)
    ).properties(height=alt.Step(26), width=alt.Step(120))


def three_step_odds(view: ChartView, options: dict[str, Any]) -> alt.FacetChart:
    """3-step: odds ratios of the household features by one correction (BCH or ML)."""
    from backend.presentation.charts.segments import odds_chart

    found = [
        c
        for c in (view.result.get("three_step") or {}).get("covariates") or []
        if c.get("correction") == options.get("correction", "BCH")
    ]
    return odds_chart(view, found[0]["coefficients"] if found else [])


def three_step_rows(view: ChartView) -> pd.DataFrame:
    """One row per outcome (and level) × unit × correction: the corrected estimate and its
    interval, and all households' figure."""
    rows = []
    name_of = view.units.rename
    for outcome in (view.result.get("three_step") or {}).get("distal") or []:
        overall = outcome.get("overall") or []
        levels = outcome.get("levels") or []
        for e in outcome.get("estimates") or []:
            level = e.get("level")
            label = outcome["outcome"] + (f": {level}" if level is not None else "")
            if outcome.get("kind") == "binary":
                label += " (share of 1)"
            base = (
                overall[levels.index(level)]
                if level in levels and len(overall) == len(levels)
                else (overall[0] if overall else None)
            )
            test = outcome.get("test") or {}
            rows.append(
                {
                    "Outcome": label,
                    "Unit": name_of.get(str(e["class_name"]), str(e["class_name"])),
                    "Correction": outcome.get("correction"),
                    "Estimate": e.get("estimate"),
                    "Low": e.get("ci_low"),
                    "High": e.get("ci_high"),
                    "Base": base,
                    "p": test.get("p_value"),
                }
            )
    return pd.DataFrame(
        rows, columns=["Outcome", "Unit", "Correction", "Estimate", "Low", "High", "Base", "p"]
    )


def three_step_outcomes(view: ChartView, options: dict[str, Any]) -> alt.FacetChart:
    """Each distal outcome's corrected mean (or share) per unit with its 95% interval, BCH and
    ML side by side, the grey rule all households; one panel per outcome (own scale)."""
    data = three_step_rows(view)
    base = alt.Chart().encode(
        y=alt.Y("Unit:N", sort=view.units.names, title=None),
        yOffset=alt.YOffset("Correction:N"),
        color=alt.Color("Correction:N", scale=alt.Scale(range=["#1c7ed6", "#e8590c"])),
    )
    whiskers = base.mark_rule().encode(
        x=alt.X("Low:Q", title=None, scale=alt.Scale(zero=False)), x2="High:Q"
    )
    points = base.mark_circle(size=70, opacity=1).encode(
        x="Estimate:Q",
        tooltip=[
            alt.Tooltip("Unit:N", title=view.units.word),
            "Outcome:N",
            "Correction:N",
            alt.Tooltip("Estimate:Q", format=",.3f"),
            alt.Tooltip("Low:Q", title="95% low", format=",.3f"),
            alt.Tooltip("High:Q", title="95% high", format=",.3f"),
            alt.Tooltip("Base:Q", title="All households", format=",.3f"),
            alt.Tooltip("p:Q", title="p (equal in every unit)", format=".3g"),
        ],
    )
    rule = alt.Chart().mark_rule(strokeDash=[4, 4], color=INK).encode(x="mean(Base):Q")
    layered = alt.layer(rule, whiskers, points, data=data).properties(
        width=360, height=alt.Step(14)
    )
    return layered.facet(
        row=alt.Row("Outcome:N", title=None, sort=list(dict.fromkeys(data["Outcome"]))),
    ).resolve_scale(x="independent")
