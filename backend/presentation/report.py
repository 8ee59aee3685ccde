"""A self-contained HTML report of one run: every chart section of the run (interactive
Vega-Lite, with the Vega bundle inlined, so no external scripts) and its tables, with the units
under the names people gave them — to email or archive."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd

from backend.presentation.charts import ChartView, sections, spec
from backend.presentation.charts.palette import unit_color
from backend.presentation.escape import html_text, script_json

log = logging.getLogger(__name__)
MAX_TABLE_ROWS = 60
# Tables the report leaves to the export: products × products matrices and the tree's rows.
LEFT_TO_THE_EXPORT = frozenset(
    {"product_similarity", "tetrachoric", "dendrogram", "dendrogram_leaves", "vi_loss"}
)

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

FIT_KEYS = (
    "loglik",
    "npar",
    "aic",
    "bic",
    "sabic",
    "caic",
    "entropy",
    "rmsr",
    "tli",
    "rmsea",
    "relative_error",
    "explained",
    "perplexity",
    "total_inertia",
    "modularity",
    "n_obs",
)


@cache
def vega_bundle() -> str:
    """Vega, Vega-Lite and vega-embed as one script. vl-convert builds it in a few seconds; it
    is kept on disk under the user's cache folder, keyed by the versions."""
    import altair as alt
    import vl_convert

    wanted = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    versions = [str(v) for v in vl_convert.get_vegalite_versions()]
    match = next((v for v in versions if v.lstrip("v").startswith(wanted)), None)
    version = getattr(vl_convert, "__version__", "x")
    cache_file = (
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        / "market-structure"
        / f"vega-{version}-{match}.js"
    )
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
        log.info("the Vega bundle could not be cached under %s", cache_file.parent)
    return bundle


def chart_blocks(view: ChartView) -> tuple[list[str], list[dict[str, Any]]]:
    """The report's chart sections (HTML) and their Vega-Lite specifications, in reading order;
    a section drawn with several option sets (chance and index) appears once per set."""
    blocks: list[str] = []
    specs: list[dict[str, Any]] = []
    for section in sections(view):
        choices = {o.name: dict(o.choices) for o in section.options}
        for variant in section.report:
            options = {o.name: o.default for o in section.options} | dict(variant)
            title = section.title
            extra = [choices[k][str(v)] for k, v in variant.items() if str(v) in choices.get(k, {})]
            if extra:
                title = f"{title} — {', '.join(extra)}"
            specs.append(spec(view, section, options))
            blocks.append(
                f'<section><h2>{html_text(title)}</h2><p class="caption">'
                f'{html_text(section.caption)}</p><div id="chart{len(specs) - 1}"></div>'
                "</section>"
            )
    return blocks, specs


def table_blocks(tables: Mapping[str, pd.DataFrame], max_rows: int = MAX_TABLE_ROWS) -> list[str]:
    blocks = []
    for name, table in tables.items():
        if name in LEFT_TO_THE_EXPORT:
            continue
        shown = table.head(max_rows)
        more = (
            f'<p class="caption">First {max_rows} of {len(table):,} rows; every row is in the '
            "export.</p>"
            if len(table) > max_rows
            else ""
        )
        body = shown.to_html(  # escapes every cell and header itself
            index=False, escape=True, float_format=lambda v: f"{v:,.3f}", na_rep="—"
        )
        blocks.append(
            f"<section><h2>{html_text(name.replace('_', ' ').capitalize())}</h2>{body}{more}"
            "</section>"
        )
    return blocks


def html_report(run: Mapping[str, Any], view: ChartView, tables: Mapping[str, pd.DataFrame]) -> str:
    """The report as one HTML string with every script inline."""
    charts, specs = chart_blocks(view)
    chips = "".join(
        f'<span style="background:{unit_color(k)}">{html_text(name)}</span>'
        for k, name in enumerate(view.units.names)
    )
    stats = {k: view.result[k] for k in FIT_KEYS if isinstance(view.result.get(k), int | float)}
    stat_line = " · ".join(
        f"{k} {v:,.3f}" if isinstance(v, float) else f"{k} {v:,}" for k, v in stats.items()
    )
    name = html_text(str(run.get("name", "Report")))
    created = html_text(str(run.get("created_at", ""))[:16].replace("T", " "))
    units_block = (
        f'<section><h2>{html_text(view.units.plural)}</h2><div class="chips">{chips}</div>'
        "</section>"
        if view.units.names
        else ""
    )
    fit_block = (
        f'<section><h2>Fit</h2><p class="caption">{html_text(stat_line)}</p></section>'
        if stat_line
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{name} · Market Structure</title>
<style>{STYLE}</style>
<script type="text/javascript">{vega_bundle()}</script>
</head><body><main>
<h1>{name}</h1>
<div class="meta">{html_text(view.spec.title)} · run {html_text(str(run.get("id", ""))[:8])} ·
created {created} · {len(run.get("product_columns") or [])} products · report made
{datetime.now(UTC):%Y-%m-%d %H:%M} UTC</div>
{units_block}
{fit_block}
{"".join(charts)}
{"".join(table_blocks(tables))}
</main>
<script type="text/javascript">
const specs = {script_json(specs)};
specs.forEach((spec, i) => vegaEmbed("#chart" + i, spec, {{actions: false}})
  .catch(console.error));
</script>
</body></html>
"""
