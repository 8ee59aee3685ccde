"""A self-contained HTML report of one run, pure: the family's main charts (interactive Vega-Lite,
with the Vega bundle inlined, so no external scripts) and its key tables, to email or archive."""

from __future__ import annotations

import html
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd

from ui import charts, charts_bayes, charts_factor, charts_mca, charts_network, charts_nmf
from ui.charts_common import dendrogram_chart, matrix_heatmap, product_map_chart
from ui.families import (
    BASKET_FAMILIES,
    FACTOR_FAMILIES,
    SEGMENT_FAMILIES,
    embedding,
    family,
    fit_statistics,
    map_coordinates,
    profile,
    strongest_unit,
)


@dataclass(frozen=True)
class Section:
    title: str
    caption: str
    chart: Any


def report_sections(model_type: str, result: dict[str, Any], names: list[str],
                    rows: pd.DataFrame | None = None) -> list[Section]:
    """The charts a person reads for this family, in reading order."""
    out: list[Section] = []
    unit = family(model_type).unit
    if model_type in SEGMENT_FAMILIES and "item_probabilities" in result:
        out += [
            Section("Segment sizes", "Estimated share of households in each segment.",
                    charts.class_sizes_chart(result, names)),
            Section("What each segment buys", "Chance that a household of each segment buys "
                    "each product.", charts.profile_heatmap(result, names)),
            Section("Index vs average", "100 = the average household; above 100 the segment "
                    "over-indexes.", charts.profile_heatmap(result, names, measure="index")),
            Section("Segments side by side", "Dots: each segment's chance of buying; grey "
                    "tick: all households.", charts.segment_comparison_chart(result, names)),
        ]
        sweep = result.get("sweep")
        if isinstance(sweep, dict) and sweep.get("table"):
            out.append(Section("How many segments", "Information criteria by number of segments "
                               "(lower is better).", charts.ic_elbow_chart(sweep)))
        if result.get("coefficients"):
            out.append(Section("Who they are", "Odds ratios of household features (1 = no "
                               "effect).", charts.odds_ratio_chart(result, names)))
    elif model_type in FACTOR_FAMILIES and "loadings" in result:
        prof = profile(model_type, result, names)
        if prof is not None:
            out.append(Section("Loadings", "How strongly each product goes with each factor.",
                               matrix_heatmap(prof, "Loading", diverging=True,
                                              column_title="Factor")))
        if result.get("scree") or (result.get("eigenvalues") and model_type ==
                                   "factor_tetrachoric"):
            out.append(Section("Scree plot", "Eigenvalues of the data vs random data.",
                               charts_factor.scree_chart(result)))
        if result.get("loadings_hdi_low"):
            out.append(Section("Loadings with intervals", "94% highest-density intervals.",
                               charts_bayes.forest_chart(
                                   charts_bayes.loadings_intervals(result, names), names=names)))
        if result.get("predictive_check"):
            out.append(Section("Posterior predictive check", "Observed purchase rates vs the "
                               "model's replications.", charts_bayes.ppc_chart(result)))
        if rows is not None and charts_factor.score_columns(rows):
            out.append(Section("Household scores", "Distribution of household scores.",
                               charts_factor.score_distribution_chart(rows, names)))
    elif model_type == "mca" and "product_coordinates" in result:
        out += [
            Section("Product map", "Products bought by the same households sit together.",
                    charts_mca.biplot_chart(result, names,
                                            groups=strongest_unit(model_type, result, names))),
            Section("Inertia", "Share of the structure each dimension shows (Benzécri).",
                    charts_mca.inertia_chart(result, names, adjusted=True)),
        ]
    elif model_type in BASKET_FAMILIES and "products" in result:
        out.append(Section(f"What each {unit.lower()} holds", "Top products by share of "
                           "weight.", charts_nmf.top_products_chart(result, names)))
        if len(result.get("sweep") or []) > 1:
            out.append(Section("Error by number of components", "Lower is better.",
                               charts_nmf.error_curve_chart(result)))
    elif model_type == "dcm" and "household_effect_means" in result:
        prof = profile(model_type, result, names)
        if prof is not None:
            out.append(Section("Household feature effects", "Effect of each household feature "
                               "on each product's purchase (link scale).",
                               matrix_heatmap(prof, "Effect", diverging=True,
                                              column_title="Feature")))
        if result.get("predictive_check"):
            out.append(Section("Posterior predictive check", "Observed purchase rates vs the "
                               "model's replications.", charts_bayes.ppc_chart(result)))
    elif model_type == "network":
        out.append(Section("Co-purchase network", "Products bought together, by community.",
                           charts_network.network_chart(result, names)))
    emb = embedding(model_type, result)
    if emb is not None and len(emb) >= 3:
        groups = strongest_unit(model_type, result, names)
        if model_type != "mca":
            out.append(Section("Product map", f"Products placed by this model; colour: the "
                               f"{unit.lower()} each is most characteristic of.",
                               product_map_chart(map_coordinates(emb), groups=groups,
                                                 group_title=unit)))
        out.append(Section("Product dendrogram", "Products joined from the most alike.",
                           dendrogram_chart(emb, groups)))
    return out


@cache
def _vega_bundle() -> str:
    """Vega, Vega-Lite and vega-embed as one script (vl-convert builds it in a few seconds; the
    result is kept on disk under the user's cache folder, keyed by the versions)."""
    import vl_convert

    wanted = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    versions = [str(v) for v in vl_convert.get_vegalite_versions()]
    match = next((v for v in versions if v.lstrip("v").startswith(wanted)), None)
    version = getattr(vl_convert, "__version__", "x")
    cache_file = (Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
                  / "market-structure" / f"vega-{version}-{match}.js")
    try:
        return cache_file.read_text()
    except OSError:
        pass
    bundle: str = vl_convert.javascript_bundle(vl_version=match)  # type: ignore[call-arg]
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(bundle)
        tmp.replace(cache_file)
    except OSError:
        pass  # a read-only home: build it again next time
    return bundle


def _script_json(value: Any) -> str:
    return json.dumps(value).replace("</", "<\\/")


STYLE = """
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       color: #1f2937; margin: 0; background: #f4f6fb; }
main { max-width: 1100px; margin: 0 auto; padding: 32px 24px 64px; }
h1 { font-size: 28px; margin: 0 0 4px; } h2 { font-size: 19px; margin: 0 0 4px; }
.meta { color: #5c6478; margin-bottom: 24px; }
section { background: #fff; border: 1px solid #e3e7f1; border-radius: 10px; padding: 20px;
          margin: 16px 0; overflow-x: auto; }
.caption { color: #5c6478; font-size: 14px; margin: 0 0 12px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border-bottom: 1px solid #e3e7f1; padding: 4px 10px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.chips span { display: inline-block; border-radius: 12px; padding: 2px 10px; margin: 2px;
              color: #fff; font-size: 13px; }
"""


def html_report(
    run: dict[str, Any],
    result: dict[str, Any],
    names: list[str],
    sections: list[Section],
    tables: dict[str, pd.DataFrame] | None = None,
    max_table_rows: int = 60,
) -> str:
    """The report as one HTML string with every script inline."""
    model_type = str(run.get("model_type", ""))
    unit = family(model_type).unit
    stats = fit_statistics(result)
    specs = []
    blocks = []
    for i, sec in enumerate(sections):
        specs.append(sec.chart.to_dict())
        blocks.append(
            f'<section><h2>{html.escape(sec.title)}</h2><p class="caption">'
            f'{html.escape(sec.caption)}</p><div id="chart{i}"></div></section>'
        )
    for name, table in (tables or {}).items():
        shown = table.head(max_table_rows)
        more = (f'<p class="caption">First {max_table_rows} of {len(table)} rows; every row is '
                "in the CSV export.</p>" if len(table) > max_table_rows else "")
        blocks.append(
            f"<section><h2>{html.escape(name.replace('_', ' ').capitalize())}</h2>"
            f"{shown.to_html(index=False, float_format=lambda v: f'{v:,.3f}', na_rep='—')}"
            f"{more}</section>"
        )
    chips = "".join(
        f'<span style="background:{charts.UNIT_COLORS[k % len(charts.UNIT_COLORS)]}">'
        f"{html.escape(n)}</span>" for k, n in enumerate(names))
    stat_line = " · ".join(f"{k} {v:,.3f}" if isinstance(v, float) else f"{k} {v:,}"
                           for k, v in stats.items())
    created = html.escape(str(run.get("created_at", ""))[:16].replace("T", " "))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(str(run.get("name", "Report")))} · Market Structure</title>
<style>{STYLE}</style>
<script type="text/javascript">{_vega_bundle()}</script>
</head><body><main>
<h1>{html.escape(str(run.get("name", "Report")))}</h1>
<div class="meta">{html.escape(model_type)} · run {html.escape(str(run.get("id", ""))[:8])} ·
created {created} · {len(run.get("product_columns") or [])} products · report made
{datetime.now(UTC):%Y-%m-%d %H:%M} UTC</div>
{f'<section><h2>{html.escape(unit)}s</h2><div class="chips">{chips}</div></section>'
 if names else ""}
{f'<section><h2>Fit</h2><p class="caption">{html.escape(stat_line)}</p></section>'
 if stat_line else ""}
{"".join(blocks)}
</main>
<script type="text/javascript">
const specs = {_script_json(specs)};
specs.forEach((spec, i) => vegaEmbed("#chart" + i, spec, {{actions: false}})
  .catch(console.error));
</script>
</body></html>
"""
