"""Charts for the Bayesian families (factor models, DCM), pure: forest plots of posterior
intervals, the posterior predictive check and the variational loss curve."""

from __future__ import annotations

import re
from typing import Any

import altair as alt
import pandas as pd

from ui.charts import INK, MUTED, PRIMARY, AnyChart

# Field names different results use for an estimate and its interval.
_ESTIMATE = ("mean", "estimate", "coef", "odds_ratio", "value")
_LOW = ("hdi_low", "ci_low", "lower", "low", "q03")
_HIGH = ("hdi_high", "ci_high", "upper", "high", "q97")
_NAME = ("name", "term", "parameter", "label", "feature")


def _first(row: dict[str, Any], keys: tuple[str, ...]) -> Any:
    return next((row[k] for k in keys if row.get(k) is not None), None)


def interval_rows(items: list[dict[str, Any]], group_key: str | None = None) -> pd.DataFrame:
    """Records with an estimate and an interval as a table: Name, Estimate, Low, High, Group."""
    rows = []
    for item in items:
        estimate = _first(item, _ESTIMATE)
        if not isinstance(estimate, int | float):
            continue
        low, high = _first(item, _LOW), _first(item, _HIGH)
        name = str(_first(item, _NAME) or "")
        inner = re.fullmatch(r"[\w.]+\[(.+)\]", name)  # beta_mean[household_size] → household_size
        rows.append({
            "Name": inner.group(1) if inner else name,
            "Estimate": float(estimate),
            "Low": float(low) if isinstance(low, int | float) else float(estimate),
            "High": float(high) if isinstance(high, int | float) else float(estimate),
            "Group": str(item.get(group_key, "")) if group_key else "",
            "R-hat": item.get("r_hat"),
        })
    return pd.DataFrame(rows, columns=["Name", "Estimate", "Low", "High", "Group", "R-hat"])


def is_interval_list(value: Any) -> bool:
    return (isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)
            and not interval_rows(value).empty)


def forest_chart(
    data: pd.DataFrame, *, x_title: str = "Estimate (94% interval)", reference: float = 0.0,
    names: list[str] | None = None, log: bool = False,
) -> AnyChart:
    """One row per parameter: its estimate and interval; the dashed line marks no effect. An
    interval that does not cross the line is credible (blue; grey when it crosses). With
    groups (factors, segments) there is one panel per group, products down the side."""
    data = data.copy()
    data["Credible"] = (data["Low"] > reference) | (data["High"] < reference)
    order = list(dict.fromkeys(data["Name"]))
    scale = alt.Scale(type="log") if log else alt.Scale(zero=False)
    y = alt.Y("Name:N", sort=order, title=None, axis=alt.Axis(labelLimit=200))
    color = alt.condition(alt.datum.Credible, alt.value(PRIMARY), alt.value(MUTED))
    tooltip = ["Name:N", alt.Tooltip("Estimate:Q", format=".3f"),
               alt.Tooltip("Low:Q", format=".3f"), alt.Tooltip("High:Q", format=".3f")]
    base = alt.Chart()
    whiskers = base.mark_rule(strokeWidth=2).encode(
        y=y, x=alt.X("Low:Q", title=x_title, scale=scale), x2="High:Q", color=color)
    dots = base.mark_circle(size=60, opacity=1).encode(
        y=y, x=alt.X("Estimate:Q", scale=scale), color=color, tooltip=tooltip)
    zero = base.mark_rule(strokeDash=[4, 4], color=INK).encode(x=alt.datum(reference))
    grouped = bool(data["Group"].astype(str).str.len().any())
    if not grouped:
        return alt.layer(zero, whiskers, dots, data=data).properties(height=alt.Step(20))
    groups = names or list(dict.fromkeys(data["Group"]))
    layered = alt.layer(zero, whiskers, dots, data=data).properties(
        width=230, height=alt.Step(18))
    return layered.facet(facet=alt.Facet("Group:N", sort=groups, title=None), columns=3)


def loadings_intervals(result: dict[str, Any], names: list[str]) -> pd.DataFrame:
    """Products × factors loadings with their 94% intervals, as forest rows grouped by factor."""
    products = list(result.get("products") or [])
    mean = result.get("loadings") or []
    low = result.get("loadings_hdi_low") or mean
    high = result.get("loadings_hdi_high") or mean
    rows = []
    for j, product in enumerate(products):
        for k, name in enumerate(names):
            try:
                rows.append({"Name": product, "Estimate": float(mean[j][k]),
                             "Low": float(low[j][k]), "High": float(high[j][k]), "Group": name,
                             "R-hat": None})
            except (IndexError, TypeError):
                continue
    return pd.DataFrame(rows, columns=["Name", "Estimate", "Low", "High", "Group", "R-hat"])


def ppc_chart(result: dict[str, Any]) -> alt.LayerChart:
    """Posterior predictive check: each product's observed purchase rate (dot) against the rates
    the model replicates (bar, 3–97%). A dot outside its bar is a product the model misses."""
    data = pd.DataFrame(result.get("predictive_check") or [])
    if data.empty:
        data = pd.DataFrame(columns=["product", "observed_rate", "replicated_low",
                                     "replicated_high", "replicated_mean", "p_value"])
    data["Inside"] = (data["observed_rate"] >= data["replicated_low"]) & (
        data["observed_rate"] <= data["replicated_high"])
    y = alt.Y("product:N", title=None, sort=list(data["product"]),
              axis=alt.Axis(labelLimit=220))
    band = alt.Chart(data).mark_bar(color="#c5d0fa", height={"band": 0.6}).encode(
        y=y, x=alt.X("replicated_low:Q", title="Purchase rate (bar: model 3–97%, dot: observed)",
                     axis=alt.Axis(format="%")),
        x2="replicated_high:Q")
    dots = alt.Chart(data).mark_circle(size=70, opacity=1).encode(
        y=y, x="observed_rate:Q",
        color=alt.condition(alt.datum.Inside, alt.value(PRIMARY), alt.value("#e03131")),
        tooltip=["product:N", alt.Tooltip("observed_rate:Q", title="Observed", format=".1%"),
                 alt.Tooltip("replicated_mean:Q", title="Model mean", format=".1%"),
                 alt.Tooltip("p_value:Q", title="Posterior p", format=".2f")])
    return (band + dots).properties(height=alt.Step(20))


def loss_chart(result: dict[str, Any]) -> alt.Chart:
    """Variational inference: the loss (negative ELBO) by iteration; it should level off."""
    vi = result.get("vi") or {}
    history = pd.DataFrame(vi.get("loss_history") or [], columns=["Iteration", "Loss"])
    return alt.Chart(history).mark_line(color=PRIMARY).encode(
        x=alt.X("Iteration:Q"), y=alt.Y("Loss:Q", title="Loss (−ELBO)", scale=alt.Scale(
            zero=False))
    ).properties(height=220)


def diagnostics_frame(result: dict[str, Any]) -> pd.DataFrame:
    """Sampler diagnostics in plain words, each with a verdict."""
    d = result.get("diagnostics") or {}
    rows: list[tuple[str, Any, str]] = []

    def add(label: str, value: Any, verdict: str = "") -> None:
        if value is not None:
            rows.append((label, value, verdict))

    add("Method", d.get("method"))
    add("Sampler", d.get("sampler"))
    add("Chains × draws", f"{d.get('chains')} × {d.get('draws')}" if d.get("draws") else None)
    div = d.get("divergences")
    add("Divergent transitions", div, "" if div is None else ("ok" if div == 0 else
                                                              "raise target_accept"))
    r = d.get("max_r_hat")
    add("Largest R-hat", None if r is None else round(float(r), 3),
        "" if r is None else ("ok" if r < 1.01 else "chains disagree: sample longer"))
    ess = d.get("min_ess_bulk")
    add("Smallest bulk ESS", None if ess is None else round(float(ess)),
        "" if ess is None else ("ok" if ess >= 400 else "few effective draws"))
    bfmi = d.get("min_bfmi")
    add("Smallest E-BFMI", None if bfmi is None else round(float(bfmi), 2),
        "" if bfmi is None else ("ok" if bfmi >= 0.3 else "poor exploration"))
    add("Sampling time (s)", None if d.get("sampling_seconds") is None
        else round(float(d["sampling_seconds"]), 1))
    vi = result.get("vi") or {}
    if vi:
        add("VI iterations", vi.get("iterations"),
            "converged" if vi.get("converged") else "stopped at the limit")
        add("Final loss", None if vi.get("final_loss") is None
            else round(float(vi["final_loss"]), 2))
    comparison = result.get("comparison") or {}
    if comparison:
        add("ELPD (LOO)", round(float(comparison.get("elpd_loo", 0.0)), 1))
        k = comparison.get("n_pareto_k_high")
        add("Households with Pareto k > 0.7", k, "" if k is None else ("ok" if k == 0 else
                                                                       "LOO unreliable"))
    return pd.DataFrame([(a, str(b), c) for a, b, c in rows],
                        columns=["Diagnostic", "Value", "Verdict"])
