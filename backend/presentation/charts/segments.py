"""Charts of the segment families: sizes, what each segment buys (chance or index vs all
households), segments side by side, a sweep's information criteria, random starts, bivariate
residuals and the odds ratios of household features."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from backend.presentation.charts.base import MAX_PRODUCTS, ChartView
from backend.presentation.charts.palette import (
    HEAT_RANGE,
    INDEX_RANGE,
    INK,
    MUTED,
    PRIMARY,
    unit_scale,
)

ALL_HOUSEHOLDS = "All households"
ODDS_SHOWN = (1e-3, 1e3)


def overall_penetration(result: Mapping[str, Any]) -> np.ndarray:
    """Share of all households buying each product: the observed rates when the result has
    them, else the size-weighted average of the segments."""
    products = result["products"]
    observed = result.get("overall_rates")
    if isinstance(observed, list) and len(observed) == len(products):
        return np.asarray(observed, dtype=float)
    sizes = np.asarray(result["class_sizes"], dtype=float)
    return sizes @ np.asarray(result["item_probabilities"], dtype=float)


def index_matrix(result: Mapping[str, Any]) -> np.ndarray:
    """Segments × products: chance of buying against all households (100 = average)."""
    given = result.get("item_index")
    probs = np.asarray(result["item_probabilities"], dtype=float)
    if isinstance(given, list) and np.shape(given) == probs.shape:
        return np.asarray(given, dtype=float)
    overall = overall_penetration(result)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(overall > 0, 100 * probs / overall, np.nan)


def profile_long(view: ChartView) -> pd.DataFrame:
    """One row per segment and product: chance of buying and index."""
    result, word = view.result, view.units.word
    probs = np.asarray(result["item_probabilities"], dtype=float)
    index = index_matrix(result)
    rows = [
        {
            word: view.units.name_of(k),
            "Product": str(product),
            "Probability": float(probs[k, j]),
            "Index": None if np.isnan(index[k, j]) else round(float(index[k, j])),
        }
        for k in range(probs.shape[0])
        for j, product in enumerate(result["products"])
    ]
    return pd.DataFrame(rows, columns=[word, "Product", "Probability", "Index"])


def shown_products(view: ChartView) -> list[str]:
    """The products drawn: all of them, or the MAX_PRODUCTS whose chance differs most across
    segments, in the result's order."""
    products = [str(p) for p in view.result["products"]]
    if len(products) <= MAX_PRODUCTS:
        return products
    probs = np.asarray(view.result["item_probabilities"], dtype=float)
    spread = probs.max(axis=0) - probs.min(axis=0)
    keep = set(np.argsort(-spread, kind="stable")[:MAX_PRODUCTS].tolist())
    return [p for j, p in enumerate(products) if j in keep]


def sizes(view: ChartView, options: dict[str, Any]) -> alt.LayerChart:
    """Horizontal bars: the estimated share of households in each segment."""
    result, word, order = view.result, view.units.word, view.units.names
    counts = result.get("class_counts") or [None] * len(order)
    data = pd.DataFrame(
        {word: order, "Share": [float(s) for s in result["class_sizes"]], "Households": counts}
    )
    base = alt.Chart(data).encode(
        y=alt.Y(f"{word}:N", sort=order, title=None, axis=alt.Axis(labelLimit=260)),
        x=alt.X(
            "Share:Q",
            title="Share of households",
            axis=alt.Axis(format="%", grid=False, tickCount=5),
            scale=alt.Scale(domain=[0, max(0.05, min(1.0, float(data["Share"].max()) * 1.15))]),
        ),
        tooltip=[
            alt.Tooltip(f"{word}:N"),
            alt.Tooltip("Share:Q", title="Share of households", format=".1%"),
            alt.Tooltip("Households:Q", title="Households assigned", format=","),
        ],
    )
    bars = base.mark_bar(cornerRadiusEnd=3, height={"band": 0.7}).encode(
        color=alt.Color(f"{word}:N", scale=unit_scale(order), legend=None)
    )
    labels = base.mark_text(align="left", dx=4, fontSize=13).encode(
        text=alt.Text("Share:Q", format=".0%")
    )
    return (bars + labels).properties(height=alt.Step(36))


def profile(view: ChartView, options: dict[str, Any]) -> alt.LayerChart:
    """Segments × products: the chance that a household of each segment buys each product, or
    (`measure` index) that chance against all households (100 = average)."""
    word, order = view.units.word, view.units.names
    products = shown_products(view)
    data = profile_long(view)
    data = data[data["Product"].isin(products)]
    base = alt.Chart(data).encode(
        x=alt.X(
            f"{word}:N",
            sort=order,
            title=None,
            axis=alt.Axis(labelAngle=0, orient="top", labelLimit=118, labelOverlap=False),
        ),
        y=alt.Y("Product:N", sort=products, title=None, axis=alt.Axis(labelLimit=200)),
    )
    tooltip = [
        alt.Tooltip(f"{word}:N"),
        alt.Tooltip("Product:N"),
        alt.Tooltip("Probability:Q", title="Chance of buying", format=".0%"),
        alt.Tooltip("Index:Q", title="Index vs all households (100 = average)"),
    ]
    if options.get("measure") == "index":
        top = max(200.0, float(data["Index"].max() or 200))
        color = alt.Color(
            "Index:Q",
            title="Index (100 = average)",
            scale=alt.Scale(domain=[0, 50, 100, 150, top], range=INDEX_RANGE, clamp=True),
            legend=alt.Legend(orient="bottom", gradientLength=220),
        )
        text = alt.Text("Index:Q", format=".0f")
        dark = (alt.datum.Index > 170) | (alt.datum.Index < 25)
    else:
        color = alt.Color(
            "Probability:Q",
            title="Chance of buying",
            scale=alt.Scale(domain=[0, 1], range=HEAT_RANGE),
            legend=alt.Legend(format="%", orient="bottom", gradientLength=220),
        )
        text = alt.Text("Probability:Q", format=".0%")
        dark = alt.datum.Probability > 0.55
    cells = base.mark_rect(stroke="white", strokeWidth=1).encode(color=color, tooltip=tooltip)
    labels = base.mark_text(fontSize=12).encode(
        text=text, color=alt.condition(dark, alt.value("white"), alt.value(INK))
    )
    return (cells + labels).properties(height=alt.Step(28), width=alt.Step(120))


def comparison(view: ChartView, options: dict[str, Any]) -> alt.LayerChart:
    """Products down the side; a dot per chosen segment at its chance of buying and a grey tick
    for all households. Products where the chosen segments differ most come first."""
    word = view.units.word
    keys = options.get("units") or view.units.keys[:2]
    chosen = [view.units.rename[k] for k in keys if k in view.units.rename] or view.units.names
    long = profile_long(view)
    long = long[long[word].isin(chosen)]
    overall = pd.DataFrame(
        {
            "Product": [str(p) for p in view.result["products"]],
            "Penetration": overall_penetration(view.result),
        }
    )
    if len(chosen) == 1:
        spread = (
            long.set_index("Product")["Probability"] - overall.set_index("Product")["Penetration"]
        ).abs()
    else:
        spread = long.groupby("Product")["Probability"].agg(lambda s: s.max() - s.min())
    order = list(spread.sort_values(ascending=False).index)[:MAX_PRODUCTS]
    long = long[long["Product"].isin(order)]
    overall = overall[overall["Product"].isin(order)]
    y = alt.Y("Product:N", sort=order, title=None, axis=alt.Axis(labelLimit=200))
    rules = (
        alt.Chart(long)
        .mark_rule(color="#d0d5e0")
        .encode(y=y, x="min(Probability):Q", x2="max(Probability):Q")
    )
    ticks = (
        alt.Chart(overall)
        .mark_tick(color=MUTED, thickness=3, size=18)
        .encode(
            y=y,
            x=alt.X("Penetration:Q"),
            tooltip=[
                alt.Tooltip("Product:N"),
                alt.Tooltip("Penetration:Q", title=ALL_HOUSEHOLDS, format=".0%"),
            ],
        )
    )
    dots = (
        alt.Chart(long)
        .mark_circle(size=110, opacity=0.95)
        .encode(
            y=y,
            x=alt.X(
                "Probability:Q",
                title="Chance of buying (grey tick: all households)",
                axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1]),
            ),
            color=alt.Color(
                f"{word}:N",
                scale=unit_scale(view.units.names),
                legend=alt.Legend(orient="top", title=None),
            ),
            tooltip=[
                alt.Tooltip(f"{word}:N"),
                alt.Tooltip("Product:N"),
                alt.Tooltip("Probability:Q", title="Chance of buying", format=".0%"),
                alt.Tooltip("Index:Q", title="Index (100 = average)"),
            ],
        )
    )
    return (rules + ticks + dots).properties(height=alt.Step(24))


def sweep(view: ChartView, options: dict[str, Any]) -> alt.LayerChart:
    """Information criteria by number of units (lower is better); the recommended number is
    marked (dashed, labelled) and so is the elbow of the BIC curve (dotted), when the sweep
    found one."""
    comparison_ = view.result["sweep"]
    param = str(comparison_.get("param"))
    label = f"Number of {view.units.plural.lower()}"
    criteria = (("bic", "BIC"), ("aic", "AIC"), ("sabic", "SABIC"), ("caic", "CAIC"))
    rows = [
        {"Number": row.get(param), "Criterion": name, "Value": row[key]}
        for row in comparison_.get("table", [])
        for key, name in criteria
        if isinstance(row.get(key), int | float)
    ]
    data = pd.DataFrame(rows, columns=["Number", "Criterion", "Value"])
    lines = (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(
            x=alt.X("Number:O", title=label, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("Value:Q", title="Criterion (lower is better)", scale=alt.Scale(zero=False)),
            color=alt.Color(
                "Criterion:N",
                sort=[name for _, name in criteria],
                scale=alt.Scale(range=[PRIMARY, "#f08c00", "#2f9e44", "#868e96"]),
                legend=alt.Legend(orient="top", title=None),
            ),
            tooltip=["Number:O", "Criterion:N", alt.Tooltip("Value:Q", format=",.1f")],
        )
    )
    marks = [{"Number": comparison_.get("recommended"), "Mark": "recommended"}]
    bend = comparison_.get("elbow")
    if isinstance(bend, int) and bend != comparison_.get("recommended"):
        marks.append({"Number": bend, "Mark": "elbow"})
    frame = pd.DataFrame(marks)
    frame["Label"] = frame["Mark"] + ": " + frame["Number"].astype(str)
    rule = (
        alt.Chart(frame)
        .mark_rule(color=INK)
        .encode(
            x="Number:O",
            strokeDash=alt.StrokeDash(
                "Mark:N",
                scale=alt.Scale(domain=["recommended", "elbow"], range=[[4, 4], [1, 3]]),
                legend=None,
            ),
        )
    )
    text = (
        alt.Chart(frame)
        .mark_text(align="left", dx=4, baseline="top", color=INK)
        .encode(x="Number:O", y=alt.value(4), text="Label:N")
    )
    return (lines + rule + text).properties(height=280, width=480)


def stability(view: ChartView, options: dict[str, Any]) -> alt.LayerChart:
    """Per segment: the share of bootstrap resamples in which it reappears (Jaccard ≥ 0.5 with
    its matched segment), with its mean Jaccard; the line at 75 % marks a stable segment."""
    word, order = view.units.word, view.units.names
    st_ = view.result.get("stability") or {}
    rows = [
        {
            word: view.units.name_of(i),
            "Reappears": float(row["reappears"]),
            "Mean Jaccard": float(row["mean_jaccard"]),
            "Stable": "stable" if row.get("stable") else "not stable",
        }
        for i, row in enumerate(st_.get("segments") or [])
    ]
    data = pd.DataFrame(rows, columns=[word, "Reappears", "Mean Jaccard", "Stable"])
    base = alt.Chart(data).encode(
        y=alt.Y(f"{word}:N", sort=order, title=None, axis=alt.Axis(labelLimit=260)),
        x=alt.X(
            "Reappears:Q",
            title="Share of resamples in which it reappears",
            axis=alt.Axis(format="%"),
            scale=alt.Scale(domain=[0, 1]),
        ),
        tooltip=[
            alt.Tooltip(f"{word}:N"),
            alt.Tooltip("Reappears:Q", format=".0%"),
            alt.Tooltip("Mean Jaccard:Q", format=".2f"),
            alt.Tooltip("Stable:N"),
        ],
    )
    bars = base.mark_bar(cornerRadiusEnd=3, height={"band": 0.7}).encode(
        color=alt.Color(f"{word}:N", scale=unit_scale(order), legend=None)
    )
    labels = base.mark_text(align="left", dx=4, fontSize=13).encode(
        text=alt.Text("Reappears:Q", format=".0%")
    )
    line = (
        alt.Chart(pd.DataFrame({"t": [0.75]}))
        .mark_rule(strokeDash=[4, 4], color=MUTED)
        .encode(x="t:Q")
    )
    return (bars + labels + line).properties(height=alt.Step(36))


def reached_best(data: pd.DataFrame, at_best: Any) -> list[bool]:
    """Which starts (sorted best first) reached the best answer: the `at_best` best finished
    ones, the count the fit itself states (with its own replication tolerance), so the chart
    marks as many as the text says; without it, those within max(1e-3, 1e-6·|ℓ|)."""
    finished = data["finished"].fillna(True).astype(bool).tolist()
    logliks = data["loglik"].astype(float).tolist()
    if isinstance(at_best, int) and not isinstance(at_best, bool):
        marks, left = [], at_best
        for done in finished:
            marks.append(bool(done and left > 0))
            left -= int(done)
        return marks
    best = max(logliks) if logliks else 0.0
    tol = max(1e-3, 1e-6 * abs(best))
    return [bool(f and abs(best - v) <= tol) for f, v in zip(finished, logliks, strict=True)]


def starts(view: ChartView, options: dict[str, Any]) -> alt.Chart:
    """Each random start's final log-likelihood, best first: many starts at the top means the
    best solution is found reliably."""
    data = pd.DataFrame(view.result.get("starts") or [])
    if data.empty:
        data = pd.DataFrame(columns=["start", "loglik", "converged", "finished"])
    if "finished" not in data:
        data["finished"] = True
    data = data.sort_values("loglik", ascending=False, kind="stable").reset_index(drop=True)
    data["Rank"] = range(1, len(data) + 1)
    data["Reached the best"] = reached_best(data, view.result.get("n_starts_at_best"))
    return (
        alt.Chart(data)
        .mark_circle(size=70)
        .encode(
            x=alt.X("Rank:Q", title="Start (best first)"),
            y=alt.Y("loglik:Q", title="Log-likelihood", scale=alt.Scale(zero=False)),
            color=alt.Color(
                "Reached the best:N",
                scale=alt.Scale(domain=[True, False], range=[PRIMARY, MUTED]),
                legend=alt.Legend(orient="top"),
            ),
            tooltip=[
                alt.Tooltip("start:Q", title="Start"),
                alt.Tooltip("loglik:Q", title="Log-likelihood", format=",.2f"),
                alt.Tooltip("converged:N", title="Converged"),
                alt.Tooltip("finished:N", title="Carried to the end"),
            ],
        )
        .properties(height=220)
    )


def residuals(view: ChartView, options: dict[str, Any], top: int = 15) -> alt.LayerChart:
    """The product pairs the segments explain worst (bivariate residuals); above the line a
    pair is bought together (or apart) more than the segments say."""
    pairs = pd.DataFrame(view.result.get("bivariate_residuals") or [])
    if pairs.empty:
        pairs = pd.DataFrame(columns=["product_a", "product_b", "bvr", "flagged"])
    pairs = pairs.sort_values("bvr", ascending=False).head(top)
    pairs["Pair"] = pairs["product_a"].astype(str) + " + " + pairs["product_b"].astype(str)
    threshold = float(view.result.get("bvr_threshold", 3.84))
    bars = (
        alt.Chart(pairs)
        .mark_bar(cornerRadiusEnd=2)
        .encode(
            y=alt.Y("Pair:N", sort="-x", title=None, axis=alt.Axis(labelLimit=260)),
            x=alt.X("bvr:Q", title="Bivariate residual (χ², 1 df)"),
            color=alt.condition(alt.datum.flagged, alt.value("#e8590c"), alt.value(MUTED)),
            tooltip=["Pair:N", alt.Tooltip("bvr:Q", format=".2f")],
        )
    )
    line = (
        alt.Chart(pd.DataFrame({"t": [threshold]}))
        .mark_rule(strokeDash=[4, 4], color=INK)
        .encode(x="t:Q")
    )
    return (bars + line).properties(height=alt.Step(20))


def odds_ratios(view: ChartView, options: dict[str, Any]) -> alt.FacetChart:
    """Household features × segments: odds ratios with 95% intervals on a log scale (1 = no
    effect), one panel per segment against the reference segment."""
    return odds_chart(view, view.result.get("coefficients") or [])


def odds_chart(view: ChartView, coefficients: list[dict[str, Any]]) -> alt.FacetChart:
    """Odds ratios of logit coefficients (covariate LCA's, or 3-step's) as `odds_ratios`."""
    word, rename = view.units.word, view.units.rename
    data = pd.DataFrame(coefficients)
    if data.empty:
        data = pd.DataFrame(
            columns=["class_name", "term", "odds_ratio", "ci_low", "ci_high", "p_value"]
        )
    data = data[data["term"] != "(intercept)"].copy()
    data[word] = data["class_name"].map(lambda c: rename.get(str(c), str(c)))
    # Drawn within [1/1000, 1000] (a near-separating feature's unbounded interval would stretch
    # the axis to 1e±150); the tooltip and tables keep the numbers.
    data["low"] = data["ci_low"].fillna(data["odds_ratio"]).clip(ODDS_SHOWN[0], ODDS_SHOWN[1])
    has_se = data["se"].notna() if "se" in data else pd.Series(False, index=data.index)
    unbounded = data["ci_high"].isna() & has_se
    data["high"] = (
        data["ci_high"]
        .where(~unbounded, ODDS_SHOWN[1])
        .fillna(data["odds_ratio"])
        .clip(ODDS_SHOWN[0], ODDS_SHOWN[1])
    )
    data["odds_ratio"] = data["odds_ratio"].clip(ODDS_SHOWN[0], ODDS_SHOWN[1])
    base = alt.Chart().encode(y=alt.Y("term:N", title=None, axis=alt.Axis(labelLimit=220)))
    x_scale = alt.Scale(type="log")
    whiskers = base.mark_rule(color=MUTED).encode(
        x=alt.X("low:Q", scale=x_scale, title="Odds ratio (log scale; 1 = no effect)"),
        x2="high:Q",
    )
    points = base.mark_circle(size=80).encode(
        x=alt.X("odds_ratio:Q", scale=x_scale),
        color=alt.Color(f"{word}:N", scale=unit_scale(view.units.names), legend=None),
        tooltip=[
            f"{word}:N",
            alt.Tooltip("term:N", title="Feature"),
            alt.Tooltip("odds_ratio:Q", title="Odds ratio", format=".2f"),
            alt.Tooltip("low:Q", title="95% low", format=".2f"),
            alt.Tooltip("high:Q", title="95% high", format=".2f"),
            alt.Tooltip("p_value:Q", title="p-value", format=".3g"),
        ],
    )
    one = alt.Chart().mark_rule(strokeDash=[4, 4], color=INK).encode(x=alt.datum(1.0))
    layered = alt.layer(one, whiskers, points, data=data).properties(width=300, height=alt.Step(20))
    shown = set(data[word])
    return layered.facet(
        facet=alt.Facet(f"{word}:N", title=None, sort=[s for s in view.units.names if s in shown]),
        columns=2,
    )
