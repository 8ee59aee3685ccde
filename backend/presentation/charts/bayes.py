"""Charts of the Bayesian families: forest plots of posterior intervals (loadings, baseline
chances, household and product effects), the posterior predictive check and the variational
loss curve."""

from __future__ import annotations

import re
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from backend.presentation.charts.base import MAX_PRODUCTS, ChartView
from backend.presentation.charts.common import AnyChart
from backend.presentation.charts.palette import INK, MUTED, PRIMARY

COLUMNS = ["Name", "Estimate", "Low", "High", "Group"]
INNER = re.compile(r"[\w.]+\[(.+)\]")  # beta_mean[household_size] → household_size


def interval_rows(items: list[dict[str, Any]]) -> pd.DataFrame:
    """Posterior summaries ({name, mean, hdi_low, hdi_high}) as forest rows."""
    rows = []
    for item in items:
        estimate = item.get("mean")
        if not isinstance(estimate, int | float):
            continue
        low, high = item.get("hdi_low"), item.get("hdi_high")
        name = str(item.get("name") or "")
        inner = INNER.fullmatch(name)
        rows.append(
            {
                "Name": inner.group(1) if inner else name,
                "Estimate": float(estimate),
                "Low": float(low) if isinstance(low, int | float) else float(estimate),
                "High": float(high) if isinstance(high, int | float) else float(estimate),
                "Group": "",
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def forest_chart(
    data: pd.DataFrame,
    *,
    x_title: str = "Estimate (94% interval)",
    reference: float = 0.0,
    groups: list[str] | None = None,
) -> AnyChart:
    """One row per parameter: its estimate and interval; the dashed line marks no effect. An
    interval that does not cross the line is credible (blue; grey when it crosses). With
    groups (factors) there is one panel per group."""
    data = data.copy()
    data["Credible"] = (data["Low"] > reference) | (data["High"] < reference)
    order = list(dict.fromkeys(data["Name"]))
    y = alt.Y("Name:N", sort=order, title=None, axis=alt.Axis(labelLimit=200))
    color = alt.condition(alt.datum.Credible, alt.value(PRIMARY), alt.value(MUTED))
    tooltip = [
        "Name:N",
        alt.Tooltip("Estimate:Q", format=".3f"),
        alt.Tooltip("Low:Q", format=".3f"),
        alt.Tooltip("High:Q", format=".3f"),
    ]
    base = alt.Chart()
    whiskers = base.mark_rule(strokeWidth=2).encode(
        y=y,
        x=alt.X("Low:Q", title=x_title, scale=alt.Scale(zero=False)),
        x2="High:Q",
        color=color,
    )
    dots = base.mark_circle(size=60, opacity=1).encode(
        y=y, x=alt.X("Estimate:Q", scale=alt.Scale(zero=False)), color=color, tooltip=tooltip
    )
    zero = base.mark_rule(strokeDash=[4, 4], color=INK).encode(x=alt.datum(reference))
    if not groups:
        return alt.layer(zero, whiskers, dots, data=data).properties(height=alt.Step(20))
    layered = alt.layer(zero, whiskers, dots, data=data).properties(width=230, height=alt.Step(18))
    return layered.facet(facet=alt.Facet("Group:N", sort=groups, title=None), columns=3)


def loading_intervals(view: ChartView, options: dict[str, Any]) -> AnyChart:
    """Products × factors loadings with their 94% intervals, one panel per factor."""
    result = view.result
    products = list(result.get("products") or [])[:MAX_PRODUCTS]
    mean = result["loadings"]
    low = result.get("loadings_hdi_low") or mean
    high = result.get("loadings_hdi_high") or mean
    rows = [
        {
            "Name": product,
            "Estimate": float(mean[j][k]),
            "Low": float(low[j][k]),
            "High": float(high[j][k]),
            "Group": view.units.name_of(k),
        }
        for j, product in enumerate(products)
        for k in range(len(mean[j]))
    ]
    data = pd.DataFrame(rows, columns=COLUMNS)
    return forest_chart(data, x_title="Loading (94% HDI)", groups=view.units.names)


def baseline(view: ChartView, options: dict[str, Any]) -> AnyChart:
    """Each product's chance of buying for an average household, with 94% intervals."""
    data = interval_rows(view.result["baseline_probabilities"]).head(MAX_PRODUCTS)
    return forest_chart(
        data, x_title="Probability (94% HDI)", reference=float(data["Estimate"].mean())
    )


def pooled_effects(view: ChartView, options: dict[str, Any]) -> AnyChart:
    return forest_chart(interval_rows(view.result["household_effect_average"]))


def product_feature_effects(view: ChartView, options: dict[str, Any]) -> AnyChart:
    return forest_chart(interval_rows(view.result["product_feature_effects"]))


def predictive_check(view: ChartView, options: dict[str, Any]) -> alt.LayerChart:
    """Each product's observed purchase rate (dot) against the rates the model replicates
    (bar, 3–97%). A dot outside its bar is a product the model misses."""
    data = pd.DataFrame(view.result.get("predictive_check") or []).head(MAX_PRODUCTS)
    if data.empty:
        data = pd.DataFrame(
            columns=[
                "product",
                "observed_rate",
                "replicated_low",
                "replicated_high",
                "replicated_mean",
                "p_value",
            ]
        )
    data["Inside"] = (data["observed_rate"] >= data["replicated_low"]) & (
        data["observed_rate"] <= data["replicated_high"]
    )
    y = alt.Y("product:N", title=None, sort=list(data["product"]), axis=alt.Axis(labelLimit=220))
    band = (
        alt.Chart(data)
        .mark_bar(color="#c5d0fa", height={"band": 0.6})
        .encode(
            y=y,
            x=alt.X(
                "replicated_low:Q",
                title="Purchase rate (bar: model 3–97%, dot: observed)",
                axis=alt.Axis(format="%"),
            ),
            x2="replicated_high:Q",
        )
    )
    dots = (
        alt.Chart(data)
        .mark_circle(size=70, opacity=1)
        .encode(
            y=y,
            x="observed_rate:Q",
            color=alt.condition(alt.datum.Inside, alt.value(PRIMARY), alt.value("#e03131")),
            tooltip=[
                "product:N",
                alt.Tooltip("observed_rate:Q", title="Observed", format=".1%"),
                alt.Tooltip("replicated_mean:Q", title="Model mean", format=".1%"),
                alt.Tooltip("p_value:Q", title="Posterior p", format=".2f"),
            ],
        )
    )
    return (band + dots).properties(height=alt.Step(20))


def loss(view: ChartView, options: dict[str, Any], max_points: int = 2000) -> alt.Chart:
    """Variational inference: the loss (negative ELBO) by iteration; it should level off."""
    history = pd.DataFrame(
        (view.result.get("vi") or {}).get("loss_history") or [], columns=["Iteration", "Loss"]
    )
    if len(history) > max_points:
        history = history.iloc[:: -(-len(history) // max_points)]
    return (
        alt.Chart(history)
        .mark_line(color=PRIMARY)
        .encode(
            x=alt.X("Iteration:Q"),
            y=alt.Y("Loss:Q", title="Loss (−ELBO)", scale=alt.Scale(zero=False)),
        )
        .properties(height=220)
    )


# ---------------------------------------------------------------------------------------------
# Convergence: trace, rank and energy plots of a NUTS run (data computed on the worker:
# result.trace_plots, workers/models/bayes/convergence.py)

DIVERGENT = "#e03131"
# Chains in colours far apart (two blues side by side cannot be told apart in a trace).
CHAIN_COLORS = ["#1c7ed6", "#f08c00", "#2f9e44", "#ae3ec9", "#495057", "#0ca678", "#e64980"]


def _plots(view: ChartView) -> dict[str, Any]:
    plots = view.result.get("trace_plots")
    if not isinstance(plots, dict) or not plots.get("parameters"):
        raise ValueError("the run has no trace plot data (only NUTS runs have)")
    return plots


def trace(view: ChartView, options: dict[str, Any]) -> AnyChart:
    """Each key parameter's draws by chain (one colour per chain): chains that overlap like
    noise around one level have mixed; red ticks at the bottom mark divergent transitions."""
    plots = _plots(view)
    frames = []
    for name, values in zip(plots["parameters"], plots["values"], strict=True):
        frames.append(
            pd.DataFrame(
                {
                    "Parameter": name,
                    "Chain": [f"Chain {c + 1}" for c in plots["chain"]],
                    "Draw": plots["draw"],
                    "Value": values,
                    "Divergent": plots["divergent"],
                }
            )
        )
    data = pd.concat(frames, ignore_index=True)
    base = alt.Chart()
    lines = base.mark_line(strokeWidth=0.8, opacity=0.75).encode(
        x=alt.X("Draw:Q", title="Draw (after warm-up)"),
        y=alt.Y("Value:Q", title=None, scale=alt.Scale(zero=False)),
        color=alt.Color(
            "Chain:N",
            scale=alt.Scale(range=CHAIN_COLORS),
            legend=alt.Legend(orient="top", title=None),
        ),
        detail="Chain:N",
    )
    ticks = (
        base.transform_filter(alt.datum.Divergent)
        .mark_tick(color=DIVERGENT, thickness=2, size=10)
        .encode(x="Draw:Q", y=alt.value(118), tooltip=["Chain:N", "Draw:Q"])
    )
    return (
        alt.layer(lines, ticks, data=data)
        .properties(width=560, height=120)
        .facet(row=alt.Row("Parameter:N", sort=plots["parameters"], title=None,
                           header=alt.Header(labelAngle=0, labelAlign="left", labelLimit=260)))
        .resolve_scale(y="independent")
    )  # fmt: skip


def rank(view: ChartView, options: dict[str, Any]) -> AnyChart:
    """Rank plots (Vehtari et al. 2021): every chain's draws ranked among all chains' draws;
    bars near the dashed line (what a uniform histogram would give) in every chain mean the
    chains explore the same distribution."""
    plots = _plots(view)
    bins = int(plots["rank_bins"])
    rows = []
    for name, counts in zip(plots["parameters"], plots["rank_counts"], strict=True):
        for c, chain_counts in enumerate(counts):
            expected = sum(chain_counts) / bins
            for b, count in enumerate(chain_counts):
                rows.append(
                    {
                        "Parameter": name,
                        "Chain": f"Chain {c + 1}",
                        "Bin": b + 1,
                        "Count": int(count),
                        "Expected": expected,
                    }
                )
    data = pd.DataFrame(rows)
    base = alt.Chart()
    bars = base.mark_bar(color=PRIMARY, opacity=0.85).encode(
        x=alt.X("Bin:O", title="Rank (binned, all chains together)", axis=alt.Axis(labels=False)),
        y=alt.Y("Count:Q", title="Draws"),
        tooltip=["Parameter:N", "Chain:N", "Bin:O", "Count:Q"],
    )
    uniform = base.mark_rule(strokeDash=[4, 4], color=INK).encode(y="mean(Expected):Q")
    return alt.layer(bars, uniform, data=data).properties(width=150, height=80).facet(
        row=alt.Row("Parameter:N", sort=plots["parameters"], title=None,
                    header=alt.Header(labelAngle=0, labelAlign="left", labelLimit=260)),
        column=alt.Column("Chain:N", title=None),
    )  # fmt: skip


def energy(view: ChartView, options: dict[str, Any]) -> AnyChart:
    """The energy plot: the distribution of the Hamiltonian's energy (centred) against that of
    its change between draws. When the change is much narrower (E-BFMI < 0.3) the sampler
    cannot move through the posterior's tails."""
    plots = _plots(view)
    if not plots.get("energy"):
        raise ValueError("the sampler stored no energy")
    marginal = np.concatenate([np.asarray(v, dtype=float) for v in plots["energy"]])
    change = np.concatenate([np.asarray(v, dtype=float) for v in plots["energy_transition"]])
    edges = np.histogram_bin_edges(np.concatenate([marginal, change]), bins=40)
    rows = []
    for kind, values in (("Energy (centred)", marginal), ("Energy change between draws", change)):
        counts, _ = np.histogram(values, bins=edges)
        rows += [
            {"Kind": kind, "Low": float(lo), "High": float(hi), "Draws": int(n)}
            for lo, hi, n in zip(edges[:-1], edges[1:], counts, strict=True)
        ]
    data = pd.DataFrame(rows)
    return (
        alt.Chart(data)
        .mark_rect(opacity=0.55)
        .encode(
            x=alt.X("Low:Q", title="Energy (all chains)"),
            x2="High:Q",
            y=alt.Y("Draws:Q", title="Draws"),
            y2=alt.datum(0),
            color=alt.Color(
                "Kind:N",
                scale=alt.Scale(range=[PRIMARY, "#f08c00"]),
                legend=alt.Legend(orient="top", title=None, labelLimit=260),
            ),
            tooltip=["Kind:N", "Draws:Q"],
        )
        # As wide as the trace plots (560), tall enough to read both histograms' shapes. The
        # size is the plotting area's, as in the faceted trace and rank plots: Streamlit's
        # default for a single view ("fit") squeezes the legend, axes and titles into it, and
        # the bars came out under 100 px tall.
        .properties(width=560, height=240, autosize=alt.AutoSizeParams(type="pad"))
    )
