"""Words for people in place of the names results and tables use inside: column names of the
technical tables, the fit statistics, the settings of a run, and the method in one paragraph
(from the family's own title and description, never a model type's name)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from backend.families import FamilySpec, Kind
from backend.presentation.numbers import count, join, percent, sig

HUMAN = {
    "loglik": "Log-likelihood",
    "npar": "Parameters estimated",
    "aic": "AIC",
    "bic": "BIC (lower is better)",
    "sabic": "Sample-size adjusted BIC",
    "caic": "Consistent AIC",
    "entropy": "Classification certainty (entropy)",
    "n_obs": "Households",
    "n_classes": "Segments",
    "n_factors": "Factors",
    "n_components": "Components",
    "n_topics": "Missions",
    "n_init": "Random starts",
    "max_iter": "Maximum iterations per start",
    "tol": "Convergence tolerance",
    "n_final": "Starts carried to the end",
    "stage1_iter": "First-stage iterations",
    "max_starts": "Most random starts",
    "max_seconds": "Time for the start search (s)",
    "stability_samples": "Stability resamples",
    "replicate": "Starts that must reach the best",
    "bootstrap_l2": "Bootstrap samples (L²)",
    "max_classes": "Most segments when the range is extended",
    "criterion": "Criterion for the number",
    "distal_columns": "Outcomes (3-step)",
    "three_step": "3-step correction",
    "bootstrap_lrt": "Bootstrap samples (likelihood-ratio test)",
    "draws": "Draws per chain",
    "tune": "Tuning draws per chain",
    "chains": "Chains",
    "target_accept": "Target acceptance rate",
    "random_state": "Random seed",
    "seed": "Random seed",
    "start": "Start",
    "iterations": "Iterations",
    "converged": "Converged",
    "finished": "Finished",
    "class": "Segment",
    "size": "Share of households",
    "count": "Households",
    "avg_posterior": "Average certainty of membership",
    "product": "Product",
    "product_a": "Product",
    "product_b": "Bought with",
    "bvr": "Bivariate residual",
    "flagged": "Above 3.84",
    "rmsr": "Root mean square residual",
    "crms": "Corrected RMS residual",
    "chi_square": "Chi-square",
    "dof": "Degrees of freedom",
    "p_value": "p-value",
    "tli": "Tucker-Lewis index",
    "rmsea": "RMSEA",
    "objective": "Objective",
    "extraction": "Extraction",
    "rotation": "Rotation",
    "communality": "Communality",
    "uniqueness": "Uniqueness",
    "complexity": "Complexity",
    "factor": "Factor",
    "ss_loadings": "Sum of squared loadings",
    "proportion_var": "Share of variance",
    "cumulative_var": "Cumulative share",
    "proportion_explained": "Share of explained variance",
    "cumulative_proportion": "Cumulative share explained",
    "component": "Component",
    "share": "Share",
    "weight": "Weight",
    "rank": "Rank",
    "reconstruction_error": "Reconstruction error",
    "relative_error": "Relative error",
    "explained": "Share explained",
    "n_iter": "Iterations",
    "selected_by": "Chosen by",
    "topic": "Mission",
    "probability": "Probability",
    "lift": "Lift",
    "perplexity": "Perplexity",
    "learning_method": "Learning method",
    "dimension": "Dimension",
    "eigenvalue": "Eigenvalue",
    "percent_inertia": "Inertia %",
    "benzecri_eigenvalue": "Adjusted eigenvalue (Benzécri)",
    "benzecri_percent": "Adjusted % (Benzécri)",
    "greenacre_percent": "Adjusted % (Greenacre)",
    "community": "Community",
    "products": "Products",
    "penetration": "Penetration",
    "buyers": "Buyers",
    "degree": "Links",
    "strength": "Strength",
    "degree_centrality": "Degree centrality",
    "betweenness": "Betweenness",
    "eigenvector": "Eigenvector centrality",
    "source": "Product",
    "target": "Bought with",
    "co_purchases": "Bought together",
    "modularity": "Modularity",
    "density": "Density",
    "n_edges": "Links",
    "n_isolated": "Products without links",
    "mean": "Mean",
    "sd": "Standard deviation",
    "hdi_low": "94% interval from",
    "hdi_high": "94% interval to",
    "r_hat": "R-hat",
    "ess_bulk": "Effective draws (bulk)",
    "ess_tail": "Effective draws (tail)",
    "credible": "Credible",
    "name": "Name",
    "feature": "Household feature",
    "competitor": "Competitor",
    "similarity": "Similarity",
    "total_inertia": "Total inertia",
    "n_patterns": "Distinct purchase patterns",
    "layout": "Data layout",
    "bvr_truncated": "Residuals cut short",
    "smallest_class_share": "Smallest segment",
    "l2": "L²",
    "df": "Degrees of freedom",
    "classification_error": "Classification error",
    "n_starts_at_best": "Starts reaching the best",
    "blrt_p": "Bootstrap LRT p-value",
    "stability": "Stability",
    "number": "Number",
}

# Result fields the appendix's fit table shows, in order, when the result has them.
FIT_KEYS = (
    "loglik", "npar", "aic", "bic", "sabic", "caic", "entropy", "rmsr", "tli", "rmsea",
    "relative_error", "explained", "perplexity", "total_inertia", "modularity", "n_obs",
)  # fmt: skip

TABLE_TITLES = {
    "classes": "Segments",
    "fit": "Fit statistics",
    "starts": "Random starts",
    "class_profile": "Chance of buying, by segment",
    "class_index": "Index vs average, by segment",
    "bivariate_residuals": "Product pairs the segments explain least",
    "closest_competitors": "Closest competitors",
    "product_map": "Product map coordinates",
    "profiles": "Who they are: households by feature",
    "profile_tests": "Tests of the household features",
    "wald_tests": "Wald tests of the household features",
    "three_step_wald_tests": "3-step tests of the household features",
    "classification_error": "Classification error",
    "fit_statistics": "Fit statistics",
    "settings": "Settings",
}


SETTING_NAME = re.compile(r"\b(" + "|".join(
    ["n_init", "max_iter", "n_final", "stage1_iter", "random_state", "tol", "max_starts",
     "max_seconds", "stability_samples", "bootstrap_lrt", "n_classes", "n_factors",
     "n_components", "n_topics", "draws", "tune", "chains", "target_accept"]
) + r")\b(=(\S+?))?(?=[\s;,.)]|$)")  # fmt: skip


def plain_warning(text: str) -> str:
    """A fit's warning in the settings' own words: "increase n_init" → "increase “Random
    starts”", "within max_iter=1000" → "within “Maximum iterations per start” (1000)"."""

    def put(match: re.Match[str]) -> str:
        name = f"“{HUMAN.get(match.group(1), match.group(1))}”"
        return f"{name} ({match.group(3)})" if match.group(3) else name

    return SETTING_NAME.sub(put, text)


def human(name: str) -> str:
    """A column or field name for people: the table above, else its words capitalised."""
    text = str(name)
    if text in HUMAN:
        return HUMAN[text]
    if "_" in text or text.islower():
        return text.replace("_", " ").capitalize()
    return text


def human_table(table: pd.DataFrame) -> pd.DataFrame:
    return table.rename(columns={c: human(str(c)) for c in table.columns})


def table_title(name: str) -> str:
    return TABLE_TITLES.get(name, name.replace("_", " ").capitalize())


def setting_value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "automatic"
    if value == []:
        return "none"
    if isinstance(value, list):
        return join([setting_value(v) for v in value])
    if isinstance(value, float):
        return sig(value, 3) if abs(value) >= 1e-3 else f"{value:g}"
    return str(value)


def settings_table(params: Mapping[str, Any]) -> pd.DataFrame:
    """The run's settings as two columns a person reads, not JSON."""
    rows = [(human(k), setting_value(v)) for k, v in params.items()]
    return pd.DataFrame(rows, columns=["Setting", "Value"])


def fit_table(result: Mapping[str, Any]) -> pd.DataFrame:
    rows = []
    for key in FIT_KEYS:
        value = result.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            rows.append((human(key), count(value) if key in ("npar", "n_obs") else sig(value, 4)))
    return pd.DataFrame(rows, columns=["Statistic", "Value"])


def data_sentence(run: Mapping[str, Any], result: Mapping[str, Any], dataset: str | None) -> str:
    n_obs = result.get("n_obs") or (result.get("provenance") or {}).get("n_rows")
    n_products = len(result.get("products") or run.get("product_columns") or [])
    source = f" from “{dataset}”" if dataset else ""
    missing = result.get("n_missing_cells")
    cells = (n_obs or 0) * n_products
    gap = (
        f"; {percent(missing / cells)} of the answers were missing"
        if isinstance(missing, int | float) and missing and cells
        else ""
    )
    features = run.get("covariate_columns") or []
    described = (
        f", described by {len(features)} household feature{'s' if len(features) != 1 else ''} "
        f"({join([str(f) for f in features[:5]])}{' …' if len(features) > 5 else ''})"
        if features
        else ""
    )
    return (
        f"The data: whether each of {count(n_obs)} households bought each of {n_products} "
        f"products{source}{described}{gap}."
    )


def method_paragraph(spec: FamilySpec, run: Mapping[str, Any], result: Mapping[str, Any]) -> str:
    """What was done, in one paragraph: the family's own title and description, then what this
    run did (how many were tried, how sure the answer is)."""
    parts = [f"Method: {spec.title.lower()}. {spec.description}"]
    params = run.get("params") or {}
    sweep = result.get("sweep")
    if isinstance(sweep, Mapping) and sweep.get("reason"):
        parts.append(str(sweep["reason"]))
    elif spec.sweep_param and isinstance(params.get(spec.sweep_param), list | str):
        parts.append(
            f"Several numbers of {spec.unit.lower()}s were fitted and the best kept "
            "by the lowest BIC."
        )
    starts = result.get("starts")
    if isinstance(starts, list) and starts:
        at_best = result.get("n_starts_at_best")
        tail = (
            f"; the best answer was found by {count(at_best)} of them"
            if isinstance(at_best, int)
            else ""
        )
        parts.append(
            f"The fit was started from {len(starts)} random starting points{tail}, so it is "
            "unlikely to be a poor local answer."
            if isinstance(at_best, int) and at_best >= 2
            else f"The fit was started from {len(starts)} random starting points{tail}."
        )
    if spec.kind is Kind.segments:
        parts.append(
            "Each household belongs to every segment with some probability; it is counted in "
            "the one it most likely belongs to. An index compares a segment with the average "
            "household: 100 is average, 200 twice as likely to buy, 50 half."
        )
    if spec.bayesian:
        parts.append("Intervals are 94% highest-density intervals of the posterior.")
    return " ".join(parts)
