"""Exports, pure: every table of a result (with the person's labels), per-household memberships
keyed by ID, CSV / Parquet bytes, and a ZIP bundle with a README saying what each file holds."""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from ui.families import (
    BASKET_FAMILIES,
    FACTOR_FAMILIES,
    SEGMENT_FAMILIES,
    closest_competitors,
    embedding,
    family,
    map_coordinates,
    plural,
    profile,
    unit_keys,
)
from ui.tables import flatten, index_wide, profile_wide, sizes_frame, starts_frame, sweep_frame

# What each table holds, for the README (tables not listed get a generic line).
DESCRIPTIONS = {
    "segment_sizes": "One row per segment: estimated share of households and households "
    "assigned to it.",
    "segment_profiles": "Products × segments: chance that a household of the segment buys the "
    "product; last column all households.",
    "segment_index": "Products × segments: index vs all households (100 = average).",
    "random_starts": "One row per random start: its seed, final log-likelihood, iterations.",
    "fit_statistics": "The fit statistics (log-likelihood, AIC, BIC, entropy, …).",
    "bivariate_residuals": "Product pairs: observed vs model co-purchase (χ², 1 df); flagged "
    "pairs are explained poorly.",
    "covariate_effects": "Household features × segments: logit coefficients, odds ratios and "
    "95% intervals.",
    "sweep_comparison": "One row per number of segments tried, with every criterion.",
    "loadings": "Products × factors: loadings.",
    "communalities": "Per product: communality, uniqueness, complexity.",
    "scree": "Eigenvalues of the data and of random data (parallel analysis).",
    "variance_explained": "Per factor: variance explained.",
    "factor_correlations": "Correlations between the factors (oblique rotations).",
    "dimensions": "Per dimension: eigenvalue and share of inertia (raw, Benzécri, Greenacre).",
    "product_coordinates": "Products × dimensions: coordinates of each product's 'bought' "
    "category.",
    "categories": "Each product's categories: coordinates, contributions and cos².",
    "component_weights": "Products × components: weights (each column's share of the total).",
    "top_products": "Each component's top products with their share of its weight.",
    "component_sizes": "Share of the rebuilt purchases each component accounts for.",
    "error_curve": "Reconstruction error by number of components.",
    "loading_intervals": "Loadings with their 94% highest-density intervals.",
    "parameters": "Every global parameter: posterior mean, sd, HDI, R-hat, ESS.",
    "predictive_check": "Observed vs replicated purchase rate per product.",
    "product_map": "Products on the two map axes of the product map.",
    "closest_competitors": "For each product, its most similar products in this model.",
    "memberships": "One row per household, keyed by its ID: the model's per-household output "
    "(segment probabilities and most likely segment, factor scores, component weights, …).",
}


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "table"


def _rename_units(model_type: str, result: dict[str, Any], names: list[str]) -> dict[str, str]:
    return dict(zip(unit_keys(model_type, result), names, strict=False))


def result_tables(model_type: str, result: dict[str, Any], names: list[str]
                  ) -> dict[str, pd.DataFrame]:
    """Every table of the result, named for files, with units called by `names`."""
    tables: dict[str, pd.DataFrame] = {}
    rename = _rename_units(model_type, result, names)
    if model_type in SEGMENT_FAMILIES and "item_probabilities" in result:
        sizes = sizes_frame(result, names)
        if result.get("avg_posterior"):
            sizes["Average certainty"] = result["avg_posterior"]
        tables["segment_sizes"] = sizes
        tables["segment_profiles"] = profile_wide(result, names).reset_index()
        tables["segment_index"] = index_wide(result, names).round(1).reset_index()
        tables["random_starts"] = starts_frame(result)
        if result.get("bivariate_residuals"):
            tables["bivariate_residuals"] = pd.DataFrame(result["bivariate_residuals"])
        if result.get("coefficients"):
            coefficients = pd.DataFrame(result["coefficients"])
            coefficients["class_name"] = coefficients["class_name"].map(
                lambda c: rename.get(str(c), str(c)))
            tables["covariate_effects"] = coefficients.rename(columns={"class_name": "segment"})
    elif model_type in FACTOR_FAMILIES and "loadings" in result:
        prof = profile(model_type, result, names)
        if prof is not None:
            tables["loadings"] = prof.reset_index()
        n = len(result.get("products") or [])
        tables["communalities"] = pd.DataFrame({
            "Product": result.get("products"),
            "Communality": result.get("communalities") or [None] * n,
            **({"Uniqueness": result["uniquenesses"]} if result.get("uniquenesses") else {}),
            **({"Complexity": result["complexity"]} if result.get("complexity") else {}),
        })
        if result.get("scree"):
            tables["scree"] = pd.DataFrame(result["scree"])
        if result.get("variance"):
            variance = pd.DataFrame(result["variance"])
            variance["factor"] = variance["factor"].map(lambda f: rename.get(str(f), str(f)))
            tables["variance_explained"] = variance
        if result.get("factor_correlations"):
            tables["factor_correlations"] = pd.DataFrame(
                result["factor_correlations"], index=names, columns=names).reset_index(
                names="Factor")
        if result.get("loadings_hdi_low"):
            from ui.charts_bayes import loadings_intervals

            tables["loading_intervals"] = loadings_intervals(result, names).rename(
                columns={"Name": "Product", "Group": "Factor"}).drop(columns="R-hat")
    elif model_type == "mca" and "product_coordinates" in result:
        summary = pd.DataFrame(result.get("summary") or [])
        if not summary.empty:
            summary["dimension"] = summary["dimension"].map(lambda d: rename.get(str(d), str(d)))
        tables["dimensions"] = summary
        prof = profile(model_type, result, names)
        if prof is not None:
            tables["product_coordinates"] = prof.reset_index()
        categories = []
        for cat in result.get("categories") or []:
            row = {k: cat.get(k) for k in ("product", "level", "count", "mass")}
            for key in ("coordinates", "contributions", "cos2"):
                for k, value in enumerate(cat.get(key) or []):
                    row[f"{key}_{names[k] if k < len(names) else k + 1}"] = value
            categories.append(row)
        tables["categories"] = pd.DataFrame(categories)
    elif model_type in BASKET_FAMILIES and "products" in result:
        prof = profile(model_type, result, names)
        if prof is not None:
            tables["component_weights"] = prof.reset_index()
        from ui.charts_nmf import component_share_frame, top_products_frame

        tables["top_products"] = top_products_frame(result, names, top=20)
        tables["component_sizes"] = component_share_frame(result, names)
        if result.get("sweep"):
            tables["error_curve"] = pd.DataFrame(result["sweep"])
    for key in ("parameters", "predictive_check"):
        if result.get(key) and key not in tables:
            tables[key] = pd.DataFrame(result[key])
    sweep = result.get("sweep")
    if isinstance(sweep, dict) and sweep.get("table"):
        tables["sweep_comparison"] = sweep_frame(sweep)
    tables["fit_statistics"] = fit_statistics_table(result)
    emb = embedding(model_type, result)
    if emb is not None and len(emb) >= 3:
        tables["product_map"] = map_coordinates(emb)
        tables["closest_competitors"] = closest_competitors(emb)
    if not any(k in tables for k in ("segment_sizes", "loadings", "dimensions",
                                     "component_weights")):
        # a family without its own tables: every list or mapping in the result
        for key, value in result.items():
            if key in ("provenance", "sweep") or key in tables:
                continue
            table = flatten(value)
            if table is not None:
                tables[slug(key)] = table
    return {k: v for k, v in tables.items() if v is not None and len(v.columns)}


def fit_statistics_table(result: dict[str, Any]) -> pd.DataFrame:
    rows = [(k, v) for k, v in result.items()
            if isinstance(v, int | float | str | bool) and k not in ("products",)]
    return pd.DataFrame(rows, columns=["statistic", "value"]).astype({"value": str})


def memberships(rows: pd.DataFrame, model_type: str, names: list[str]) -> pd.DataFrame:
    """Per-household outputs with the units' names: `P(<segment>)` and `Segment` (the most
    likely one, by name) for segments; factor / component / dimension columns by name."""
    out = rows.copy()
    unit = family(model_type).unit
    rename: dict[str, str] = {}
    for column in out.columns:
        match = re.fullmatch(r"(p_class|factor|weight|dim|score|topic|cos2)_(\d+)(_sd|_hdi_low|"
                             r"_hdi_high)?", str(column))
        if not match:
            continue
        kind, k, suffix = match.group(1), int(match.group(2)) - 1, match.group(3) or ""
        name = names[k] if 0 <= k < len(names) else f"{unit} {k + 1}"
        base = {"p_class": f"P({name})", "cos2": f"cos² {name}"}.get(kind, name)
        rename[column] = base + {"_sd": " (sd)", "_hdi_low": " (94% low)",
                                 "_hdi_high": " (94% high)"}.get(suffix, "")
    out = out.rename(columns=rename)
    for column, title in (("modal_class", unit), ("dominant_component", unit),
                          ("dominant_topic", unit)):
        if column in out.columns:
            out[title] = [
                names[int(k) - 1] if pd.notna(k) and 0 < int(k) <= len(names) else None
                for k in out[column]
            ]
            out = out.drop(columns=column)
    return out


def to_csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode("utf-8")


def to_parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    data = frame.copy()
    data.columns = [str(c) for c in data.columns]
    for column in data.columns:  # mixed object columns (e.g. None and text) as text
        if data[column].dtype == object:
            data[column] = data[column].map(lambda v: None if v is None else str(v))
    data.to_parquet(buffer, index=False)
    return buffer.getvalue()


def readme(run: dict[str, Any], names: list[str], files: list[str], labels: dict[str, str]
           ) -> str:
    lines = [
        f"# {run.get('name', 'Run')}",
        "",
        f"Model: {run.get('model_type')} · run id {run.get('id')} · exported "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        f"Products: {len(run.get('product_columns') or [])} · ID column: "
        f"{run.get('id_column') or '(none: rows are numbered from 1)'}.",
        "",
    ]
    if names:
        lines += [f"{plural(family(str(run.get('model_type'))).unit)}, as named in every file: "
                  + ", ".join(names) + "."]
        if labels:
            lines += ["(Names given in the app: " + ", ".join(f"{k} → {v}"
                                                              for k, v in labels.items()) + ".)"]
        lines.append("")
    lines += ["## Files", ""]
    for name in files:
        stem = name.rsplit(".", 1)[0]
        what = DESCRIPTIONS.get(stem, {
            "results": "The full result as JSON, exactly as the API returned it.",
            "run": "The run's record: settings, timings, data hash, library versions.",
            "report": "A self-contained HTML report with the charts (open it in a browser).",
            "labels": "The names given to the units in the app.",
        }.get(stem, "A table of the result."))
        lines.append(f"- `{name}` — {what}")
    lines += ["", "Every table comes as CSV (opens in Excel) and Parquet (types kept)."]
    return "\n".join(lines) + "\n"


def zip_bundle(
    run: dict[str, Any],
    result: dict[str, Any],
    tables: dict[str, pd.DataFrame],
    names: list[str],
    labels: dict[str, str],
    members: pd.DataFrame | None = None,
    report_html: str | None = None,
) -> bytes:
    """Everything in one ZIP: tables as CSV and Parquet, memberships, the result JSON, the run
    record, the labels, the HTML report and a README of what each file holds."""
    files: dict[str, bytes] = {}
    all_tables = dict(tables)
    if members is not None:
        all_tables["memberships"] = members
    for name, table in all_tables.items():
        files[f"{name}.csv"] = to_csv(table)
        files[f"{name}.parquet"] = to_parquet(table)
    files["results.json"] = json.dumps(result, indent=1).encode()
    files["run.json"] = json.dumps(run, indent=1, default=str).encode()
    if labels:
        files["labels.json"] = json.dumps(labels, indent=1, ensure_ascii=False).encode()
    if report_html:
        files["report.html"] = report_html.encode("utf-8")
    listed = sorted(f for f in files if not f.endswith(".parquet"))
    files["README.md"] = readme(run, names, listed, labels).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in ["README.md", *sorted(f for f in files if f != "README.md")]:
            archive.writestr(name, files[name])
    return buffer.getvalue()
