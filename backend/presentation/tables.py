"""A run's export tables, one definition for the API, the ZIP, the report and the app: the
family's own tables (its specification's builder), the product map stored with the result, a
sweep's comparison, and the per-household memberships — every unit under the name people gave
it ("Busy families"), else its plain default ("Segment 1").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from backend.families import FamilySpec, family
from backend.presentation.names import Units, plural, unit_number, units
from backend.services.product_map_tables import product_map_tables

# What each table holds, for the README; {unit} / {units} are the family's words.
DESCRIPTIONS = {
    "class_profile": "Products × {units}: the chance that a household of each {unit} buys the "
    "product.",
    "class_index": "Products × {units}: the chance of buying against all households (100 = "
    "average).",
    "classes": "One row per {unit}: its estimated share of households, the households assigned "
    "to it and their average certainty.",
    "starts": "One row per random start: its seed, final log-likelihood and iterations.",
    "bivariate_residuals": "Product pairs: observed vs model co-purchase (χ², 1 df); flagged "
    "pairs are explained poorly by the {units}.",
    "coefficients": "Household features × {units}: logit coefficients, odds ratios and 95% "
    "intervals against the reference {unit}.",
    "fit": "The fit statistics.",
    "loadings": "Products × {units}: loadings (and each product's communality).",
    "loadings_intervals": "Loadings with their sd and 94% highest-density intervals.",
    "variance": "Per {unit}: the variance it explains.",
    "scree": "Eigenvalues of the data and of random data (parallel analysis).",
    "tetrachoric": "Products × products: the tetrachoric correlations.",
    "factor_correlations": "Correlations between the {units} (oblique rotations).",
    "structure": "Products × {units}: structure coefficients (correlations with the {units}).",
    "eigenvalues": "Per dimension: eigenvalue and share of inertia (raw, Benzécri, Greenacre).",
    "categories": "Each product's categories (bought / not bought): coordinates, contributions, "
    "cos² and v-test per {unit}.",
    "product_coordinates": "Products × {units}: coordinates of each product's 'bought' category.",
    "product_eta2": "Products × {units}: squared correlation ratio (how much each product shapes "
    "each {unit}).",
    "components": "Products × {units}: the weights of every product.",
    "topic_product": "Products × {units}: the chance of each product within each {unit}.",
    "summary": "Summary of the {units} (their shares, or the graph's size and modularity).",
    "topics": "One row per {unit}: its share of all purchases.",
    "top_products": "Each {unit}'s top products with their share of it.",
    "sweep": "The fit by number of {units} tried.",
    "nodes": "Per product: penetration, {unit}, degree, strength and centralities.",
    "edges": "Pairs of products linked because they are bought together more than chance.",
    "communities": "One row per {unit}: its size and products.",
    "intercepts": "Per product: the intercept (posterior mean, sd, 94% interval).",
    "baseline_probabilities": "Per product: the chance of buying for an average household.",
    "parameters": "Every global parameter: posterior mean, sd, 94% interval, R-hat, ESS.",
    "predictive_check": "Per product: observed vs replicated purchase rate.",
    "diagnostics": "Sampler diagnostics (divergences, R-hat, ESS) and model comparison.",
    "vi_loss": "The variational loss by iteration.",
    "household_effects": "Household features × products: the effect on each product's purchase.",
    "household_effect_average": "Household features: the effect common to all products.",
    "product_feature_effects": "Product features: their effect, shared by every product.",
    "hyperparameters": "The hierarchical model's scales.",
    "encoding": "How household and product features were encoded.",
    "product_similarity": "Products × products: cosine similarity in this model.",
    "closest_competitors": "For each product, its most similar products in this model.",
    "dendrogram": "The product dendrogram's merges (SciPy linkage rows: nodes, distance, size).",
    "dendrogram_leaves": "The dendrogram's leaves: node number → product.",
    "product_map": "Products on the two axes of the product map, with their k-means cluster.",
    "sweep_comparison": "One row per number of {units} tried, with every criterion; the "
    "recommended one is marked.",
    "profiles": "Who each {unit} is: per household feature and category, the share of the "
    "{unit}'s households (or the mean), all households' figure, the index, the adjusted residual "
    "and whether it differs significantly (Bonferroni).",
    "profile_tests": "Per household feature: its test of no difference between the {units} (χ², "
    "Wald or ANOVA) and p-value.",
    "wald_tests": "Per household feature: the joint Wald test that it does not change who is in "
    "which {unit}.",
    "three_step_coefficients": "3-step: household features × {units}, logit coefficients, odds "
    "ratios and 95% intervals against the first {unit}, corrected for classification error (BCH, "
    "ML).",
    "three_step_wald_tests": "3-step: per household feature and correction, the joint Wald test "
    "that it does not change who is in which {unit}.",
    "three_step_outcomes": "3-step: per outcome, {unit} and correction, the mean (or share) with "
    "its 95% interval, and all households' figure.",
    "three_step_outcome_tests": "3-step: per outcome and correction, the Wald test that it is the "
    "same in every {unit}.",
    "classification_error": "3-step: {units} × assigned {units}, the share of each {unit}'s "
    "households assigned to each (what the corrections undo).",
    "memberships": "One row per household, keyed by its ID: the model's per-household output "
    "({household_outputs}), with the {units} by name.",
}
GENERIC_DESCRIPTION = "A table of the result."

# Columns that hold products, never unit names (a product may share a unit's raw name).
PRODUCT_COLUMNS = frozenset(
    {"product", "competitor", "source", "target", "product_a", "product_b", "products"}
)


def describe(spec: FamilySpec, stem: str) -> str:
    text = DESCRIPTIONS.get(stem, GENERIC_DESCRIPTION)
    return text.format(
        unit=spec.unit.lower(),
        units=plural(spec.unit.lower()),
        household_outputs="; ".join(spec.household_outputs) or "per-household values",
    )


def result_tables(
    model_type: str, result: Mapping[str, Any], labels: Mapping[str, str] | None = None
) -> dict[str, pd.DataFrame]:
    """Every table of a result, named for files (stem → table), units under their names."""
    spec = family(model_type)
    shown = units(spec, result, labels)
    tables = dict(spec.tables(dict(result))) if spec.tables else generic_tables(result)
    stored_map = result.get("product_map")
    if stored_map:
        tables |= product_map_tables(stored_map)
        tables["product_map"] = map_table(stored_map)
    sweep = result.get("sweep")
    if isinstance(sweep, dict) and sweep.get("table"):
        tables["sweep_comparison"] = sweep_table(sweep)
    profiles = result.get("profiles")
    if isinstance(profiles, dict) and profiles.get("features"):
        tables |= profile_tables(profiles)
    three_step = result.get("three_step")
    if isinstance(three_step, dict):
        tables |= three_step_tables(three_step)
    return {
        name: name_units(table, spec, result, shown)
        for name, table in tables.items()
        if table is not None and len(table.columns)
    }


def name_units(
    table: pd.DataFrame, spec: FamilySpec, result: Mapping[str, Any], shown: Units
) -> pd.DataFrame:
    """The table with each unit's raw key replaced by its name: in column headers ("Class 1",
    "coordinates_Dim 1"), in text cells, and in a column named like the unit that numbers
    units given as records (a network's `community`)."""
    rename = {k: v for k, v in shown.rename.items() if k != v}
    if not rename:
        return table
    out = table.copy()
    out.columns = [_header(str(c), rename) for c in out.columns]
    numbers = _numbers(spec, result, shown)
    for column in out.columns:
        if str(column).lower() in PRODUCT_COLUMNS:
            continue
        series = out[column]
        if pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series):
            out[column] = series.map(lambda v: rename.get(v, v) if isinstance(v, str) else v)
        elif numbers and str(column).lower() == spec.unit.lower():
            out[column] = series.map(lambda v: numbers.get(int(v), v) if pd.notna(v) else v)
    return out


def _header(column: str, rename: Mapping[str, str]) -> str:
    if column in rename:
        return rename[column]
    for key, name in rename.items():
        if column.endswith(f"_{key}"):
            return column[: -len(key)] + name
    return column


def _numbers(spec: FamilySpec, result: Mapping[str, Any], shown: Units) -> dict[int, str]:
    """Unit number → name, for units given as records."""
    raw = result.get(spec.units_field)
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        return {}
    return {unit_number(item, k): shown.name_of(k) for k, item in enumerate(raw)}


def _overall(levels: list[Any], overall: list[Any], level: Any) -> Any:
    """All households' value beside a unit's: the level's own when there is one per level, else
    the feature's single value (a numeric feature's mean), else none."""
    if level in levels and len(overall) == len(levels):
        return overall[levels.index(level)]
    return overall[0] if overall else None


def profile_tables(profiles: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    """Who each unit is: one row per feature level × unit, and the tests per feature."""
    cells, tests = [], []
    for feature in profiles["features"]:
        levels, overall = feature.get("levels") or [], feature.get("overall") or []
        for cell in feature.get("cells") or []:
            level = cell.get("level")
            base = _overall(levels, overall, level)
            cells.append({"feature": feature["feature"], "level": level, "unit": cell["unit"],
                          "share": cell.get("share"), "mean": cell.get("mean"),
                          "median": cell.get("median"), "all_households": base,
                          "index": cell.get("index"), "residual": cell.get("residual"),
                          "significant": cell.get("significant")})  # fmt: skip
        for test in feature.get("tests") or []:
            tests.append({"feature": feature["feature"], **test})
    return {"profiles": pd.DataFrame(cells), "profile_tests": pd.DataFrame(tests)}


def three_step_tables(found: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    """3-step estimation's coefficients, outcomes, their tests and the classification error."""
    classes = [str(c) for c in found.get("classes") or []]
    out = {
        "classification_error": pd.DataFrame(
            found.get("classification_error") or [],
            index=pd.Index(classes, name="class"),
            columns=[f"assigned_{c}" for c in classes],
        ).reset_index()
    }
    coefficients, walds, outcomes, tests = [], [], [], []
    for block in found.get("covariates") or []:
        for c in block.get("coefficients") or []:
            coefficients.append({"correction": block["correction"], **c})
        for t in block.get("wald_tests") or []:
            walds.append({"correction": block["correction"], **t})
    for outcome in found.get("distal") or []:
        levels, overall = outcome.get("levels") or [], outcome.get("overall") or []
        for e in outcome.get("estimates") or []:
            level = e.get("level")
            base = _overall(levels, overall, level)
            outcomes.append({"outcome": outcome["outcome"], "kind": outcome["kind"],
                             "correction": outcome["correction"], "unit": e["class_name"],
                             "level": level, "estimate": e.get("estimate"), "se": e.get("se"),
                             "ci_low": e.get("ci_low"), "ci_high": e.get("ci_high"),
                             "sd": e.get("sd"), "all_households": base})  # fmt: skip
        test = outcome.get("test") or {}
        tests.append({"outcome": outcome["outcome"], "correction": outcome["correction"],
                      "n_rows": outcome.get("n_rows"), **test})  # fmt: skip
    for stem, rows in (
        ("three_step_coefficients", coefficients),
        ("three_step_wald_tests", walds),
        ("three_step_outcomes", outcomes),
        ("three_step_outcome_tests", tests),
    ):
        if rows:
            out[stem] = pd.DataFrame(rows)
    return out


def map_table(product_map: Mapping[str, Any]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "product": product_map["products"],
            "x": [c[0] for c in product_map["coordinates"]],
            "y": [c[1] for c in product_map["coordinates"]],
        }
    )
    clusters = (product_map.get("clusters") or {}).get("labels")
    if clusters:
        frame["cluster"] = [int(clusters[p]) + 1 for p in frame["product"]]
    return frame


def sweep_table(sweep: Mapping[str, Any]) -> pd.DataFrame:
    frame = pd.DataFrame(sweep["table"])
    param = str(sweep.get("param"))
    if param in frame:
        frame["recommended"] = frame[param] == sweep.get("recommended")
    return frame


def flatten(value: Any) -> pd.DataFrame | None:
    """A list of records, a matrix or a flat list or mapping as a table; None otherwise."""
    if isinstance(value, list) and value:
        if all(isinstance(v, dict) for v in value):
            return pd.json_normalize(value)
        if all(isinstance(v, list) for v in value):
            return pd.DataFrame(value)
        if all(not isinstance(v, dict | list) for v in value):
            return pd.DataFrame({"value": value})
    if (
        isinstance(value, dict)
        and value
        and all(not isinstance(v, dict | list) for v in value.values())
    ):
        return pd.DataFrame({"name": list(value), "value": list(value.values())})
    return None


def generic_tables(result: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    """For a family without its own tables: its numbers, then each table-like field."""
    tables: dict[str, pd.DataFrame] = {}
    scalars = [(k, v) for k, v in result.items() if not isinstance(v, dict | list)]
    if scalars:
        tables["fit"] = pd.DataFrame(scalars, columns=["statistic", "value"]).astype({"value": str})
    for key, value in result.items():
        if key in ("provenance", "product_map", "sweep"):
            continue
        table = flatten(value)
        if table is not None:
            tables[re.sub(r"[^a-z0-9]+", "_", key.lower()).strip("_") or "table"] = table
    return tables


MEMBERSHIP_COLUMN = re.compile(
    r"(p_class|factor|weight|dim|score|topic|cos2)_(\d+)(_sd|_hdi_low|_hdi_high)?"
)
SUFFIXES = {"_sd": " (sd)", "_hdi_low": " (94% low)", "_hdi_high": " (94% high)"}
MOST_LIKELY = re.compile(r"(modal|dominant)_\w+")


def memberships(rows: pd.DataFrame, shown: Units) -> pd.DataFrame:
    """Per-household outputs with the units' names: `P(<segment>)` and the most likely unit by
    name for segments; scores, weights and coordinates under the unit's name."""
    rename: dict[str, str] = {}
    for column in rows.columns:
        match = MEMBERSHIP_COLUMN.fullmatch(str(column))
        if not match:
            continue
        kind, number, suffix = match.group(1), int(match.group(2)), match.group(3) or ""
        name = shown.name_of(number - 1)
        base = {"p_class": f"P({name})", "cos2": f"cos² {name}"}.get(kind, name)
        rename[str(column)] = base + SUFFIXES.get(suffix, "")
    out = rows.rename(columns=rename)
    for column in [c for c in out.columns if MOST_LIKELY.fullmatch(str(c))]:
        out[shown.word] = [
            shown.name_of(int(k) - 1) if pd.notna(k) and int(k) >= 1 else None for k in out[column]
        ]
        out = out.drop(columns=column)
    return out
