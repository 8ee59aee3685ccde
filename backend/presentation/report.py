"""The executive report of one run, self-contained HTML (works offline, prints on A4 and
Letter): the run's name and date, the data and the method in plain words, key findings, one
section per unit with its summary, the maps and who they are, charts as inline SVG; then a
technical appendix (tables under names for people, every chart interactive with the Vega
bundle inlined, so no external scripts). Units carry the names people gave them."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd

from backend.families import Kind
from backend.presentation.charts import ChartView, Section, sections, spec
from backend.presentation.escape import html_text, script_json
from backend.presentation.numbers import index, percent, sig
from backend.presentation.summaries import Summary, key_findings, summaries
from backend.presentation.wording import (
    data_sentence,
    fit_table,
    human_table,
    method_paragraph,
    plain_warning,
    settings_table,
    table_title,
)

log = logging.getLogger(__name__)
MAX_TABLE_ROWS = 60
MAX_TABLE_COLUMNS = 9
# Tables the report leaves to the export: products × products matrices and the tree's rows.
LEFT_TO_THE_EXPORT = frozenset(
    {"product_similarity", "tetrachoric", "dendrogram", "dendrogram_leaves", "vi_loss"}
)

STYLE = """
:root { --ink: #1f2937; --muted: #5c6478; --line: #e3e7f1; }
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       color: var(--ink); margin: 0; background: #f4f6fb; line-height: 1.45; }
main { max-width: 1000px; margin: 0 auto; padding: 32px 24px 64px; }
h1 { font-size: 30px; margin: 0 0 4px; } h2 { font-size: 20px; margin: 0 0 8px; }
h3 { font-size: 17px; margin: 0 0 6px; }
.meta { color: var(--muted); margin-bottom: 20px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 20px;
          margin: 16px 0; overflow-x: auto; break-inside: avoid; }
.caption { color: var(--muted); font-size: 14px; margin: 0 0 12px; }
.findings li { margin: 4px 0; }
.unit { border-left: 6px solid var(--unit); }
.unit h3 { color: var(--unit); }
.share { font-size: 26px; font-weight: 700; color: var(--unit); float: right; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.chips span { display: inline-block; border-radius: 12px; padding: 2px 10px; margin: 2px;
              color: #fff; font-size: 13px; }
.chart svg { max-width: 100%; height: auto; }
.appendix h2 { font-size: 18px; }
@media print {
  body { background: #fff; font-size: 11pt; }
  main { max-width: none; padding: 0; }
  section { border: none; border-radius: 0; padding: 0; margin: 0 0 10mm; overflow: visible; }
  .appendix-start { break-before: page; }
  .screen-only { display: none; }
  a { color: inherit; text-decoration: none; }
}
"""

# A4 and Letter: the body is laid out for the narrower width (A4, 210 mm) and the shorter
# height (Letter, 279 mm), so the same report prints on either; ?paper= picks the sheet.
PAGE = {
    "a4": "@page { size: A4; margin: 15mm 15mm 18mm; }",
    "letter": "@page { size: Letter; margin: 15mm 15mm 18mm; }",
}


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


def _key(chart_id: str, options: Mapping[str, Any]) -> str:
    return chart_id + "?" + "&".join(f"{k}={options[k]}" for k in sorted(options))


def chart_blocks(
    view: ChartView, drawn: dict[str, dict[str, Any]] | None = None
) -> tuple[list[str], list[dict[str, Any]]]:
    """The report's chart sections (HTML) and their Vega-Lite specifications, in reading order;
    a section drawn with several option sets (chance and index) appears once per set. Each
    specification is kept in `drawn` (by chart and options) for the SVG copies of the body."""
    drawn = {} if drawn is None else drawn
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
            key = _key(section.id, options)
            if key not in drawn:
                drawn[key] = spec(view, section, options)
            specs.append(drawn[key])
            blocks.append(
                f'<section><h2>{html_text(title)}</h2><p class="caption">'
                f'{html_text(section.caption)}</p><div id="chart{len(specs) - 1}"></div>'
                "</section>"
            )
    return blocks, specs


def table_blocks(tables: Mapping[str, pd.DataFrame], max_rows: int = MAX_TABLE_ROWS) -> list[str]:
    """The technical tables, under titles and column names for people."""
    blocks = []
    wide = []
    for name, table in tables.items():
        if name in LEFT_TO_THE_EXPORT:
            continue
        if table.shape[1] > MAX_TABLE_COLUMNS:  # would not fit a printed page
            wide.append(table_title(name))
            continue
        shown = human_table(table.head(max_rows))
        more = (
            f'<p class="caption">First {max_rows} of {len(table):,} rows; every row is in the '
            "export.</p>"
            if len(table) > max_rows
            else ""
        )
        body = shown.to_html(  # escapes every cell and header itself
            index=False, escape=True, float_format=table_number, na_rep="—"
        )
        blocks.append(f"<section><h2>{html_text(table_title(name))}</h2>{body}{more}</section>")
    if wide:
        blocks.append(
            '<section><p class="caption">Too wide to print here, in the ZIP export: '
            f"{html_text(', '.join(wide))}.</p></section>"
        )
    return blocks


def table_number(value: float) -> str:
    """A technical table's number: large ones whole with separators (a log-likelihood keeps
    its units), the rest to three significant digits."""
    return f"{value:,.0f}" if abs(value) >= 1000 else sig(value, 3)


def svg_chart(
    view: ChartView,
    chart_id: str,
    options: Mapping[str, Any] | None = None,
    drawn: dict[str, dict[str, Any]] | None = None,
) -> str:
    """One chart of the run as inline SVG (prints, works with scripts off); "" when the run has
    no such chart or it cannot be drawn. `drawn`: specifications already built, by chart and
    options."""
    found = {s.id: s for s in sections(view)}
    return _svg(view, found[chart_id], options, drawn) if chart_id in found else ""


def _svg(
    view: ChartView,
    section: Section,
    options: Mapping[str, Any] | None,
    drawn: dict[str, dict[str, Any]] | None,
) -> str:
    import vl_convert

    chosen = {o.name: o.default for o in section.options} | dict(options or {})
    key = _key(section.id, chosen)
    try:
        built = (drawn or {}).get(key) or spec(view, section, chosen)
        svg: str = vl_convert.vegalite_to_svg(built)
    except Exception:  # a chart that cannot be drawn leaves its place empty, the rest stands
        log.exception("chart %s could not be drawn for the report", section.id)
        return ""
    return f'<div class="chart">{svg}</div>'


# The charts the report's body shows, by kind: (chart id, options, title, what it says).
BODY_CHARTS: dict[Kind, list[tuple[str, dict[str, Any]]]] = {
    Kind.segments: [("sizes", {}), ("profile", {"measure": "index"})],
}


def _first_charts(view: ChartView) -> list[tuple[str, dict[str, Any]]]:
    if view.spec.kind in BODY_CHARTS:
        return BODY_CHARTS[view.spec.kind]
    own = [s.id for s in sections(view) if s.id not in ("dendrogram", "competitors")]
    return [(cid, {}) for cid in own[:2] if cid not in ("product_map", "who")]


def _figures(
    view: ChartView,
    charts: Iterable[tuple[str, Mapping[str, Any] | None]],
    drawn: dict[str, dict[str, Any]],
) -> str:
    """The charts (id, options) the run has, each drawn as a figure under its title and
    caption; a chart the run lacks, or that cannot be drawn, is left out."""
    found = {s.id: s for s in sections(view)}
    figures = []
    for chart_id, options in charts:
        section = found.get(chart_id)
        svg = _svg(view, section, options, drawn) if section is not None else ""
        if svg and section is not None:
            figures.append(
                f"<section><h2>{html_text(section.title)}</h2>"
                f'<p class="caption">{html_text(section.caption)}</p>{svg}</section>'
            )
    return "".join(figures)


def _unit_table(view: ChartView, k: int, summary: Summary) -> str:
    """The products a segment over- and under-indexes on: its chance, everyone's, the index."""
    r = view.result
    probs = r.get("item_probabilities")
    overall = r.get("overall_rates")
    names = [str(p) for p in r.get("products") or []]
    if not (isinstance(probs, list) and isinstance(overall, list) and k < len(probs)):
        return ""
    rows = []
    for product, value in [*summary.over, *summary.under]:
        if product not in names:
            continue
        j = names.index(product)
        rows.append(
            f"<tr><td>{html_text(product)}</td><td>{percent(probs[k][j])}</td>"
            f"<td>{percent(overall[j])}</td><td>{index(value)}</td></tr>"
        )
    if not rows:
        return ""
    return (
        f"<table><thead><tr><th>Product</th><th>{html_text(summary.name)}</th>"
        "<th>All households</th><th>Index</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def _unit_sections(view: ChartView, found: list[Summary]) -> str:
    blocks = []
    for k, s in enumerate(found):
        size = f'<div class="share">{percent(s.size)}</div>' if s.size is not None else ""
        blocks.append(
            f'<section class="unit" style="--unit:{s.color}">{size}<h3>{html_text(s.name)}</h3>'
            f"<p>{html_text(s.text)}</p>{_unit_table(view, k, s)}</section>"
        )
    return "".join(blocks)


def _when(run: Mapping[str, Any]) -> str:
    raw = str(run.get("finished_at") or run.get("created_at") or "")
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        moment = datetime.now(UTC)
    return f"{moment.day} {moment:%B %Y}"


def html_report(
    run: Mapping[str, Any],
    view: ChartView,
    tables: Mapping[str, pd.DataFrame],
    *,
    dataset: str | None = None,
    paper: str = "a4",
) -> str:
    """The executive report as one HTML string with everything inline: the run's name and date,
    the data in a sentence, the method in a paragraph, key findings, a section per unit with its
    summary, the segments-and-products map, the product map, who they are; then an appendix of
    technical tables (settings, fit, starts, residuals…) under names for people, and every
    chart interactive (on screen only)."""
    found = summaries(view)
    findings = key_findings(view, found)
    drawn: dict[str, dict[str, Any]] = {}
    charts, specs = chart_blocks(view, drawn)
    name = html_text(str(run.get("name") or view.spec.title))
    many = html_text(view.units.plural)
    findings_block = (
        '<section><h2>Key findings</h2><ul class="findings">'
        + "".join(f"<li>{html_text(f)}</li>" for f in findings)
        + "</ul></section>"
        if findings
        else ""
    )
    body_charts = _figures(view, _first_charts(view), drawn)
    shown = {cid for cid, _ in _first_charts(view)}
    maps = [(cid, None) for cid in ("segment_map", "product_map", "map") if cid not in shown]
    maps_block = _figures(view, maps, drawn)
    who = _figures(view, [("who", None)], drawn)
    units_block = f"<h2>The {many.lower()}</h2>{_unit_sections(view, found)}" if found else ""
    settings = settings_table(run.get("params") or {})
    fit = fit_table(view.result)
    technical = {"settings": settings} | ({"fit_statistics": fit} if len(fit) else {})
    technical |= {k: v for k, v in tables.items() if k != "fit"}
    warnings = (view.result.get("provenance") or {}).get("warnings") or []
    warnings_block = (
        "<section><h2>Warnings from the fit</h2><ul>"
        + "".join(f"<li>{html_text(plain_warning(str(w)))}</li>" for w in warnings)
        + "</ul></section>"
        if warnings
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{name}</title>
<style>{STYLE}{PAGE.get(paper, PAGE["a4"])}</style>
<script type="text/javascript">{vega_bundle()}</script>
</head><body><main>
<header><h1>{name}</h1>
<div class="meta">{html_text(view.spec.title)} · {_when(run)}</div></header>
<section><p>{html_text(data_sentence(run, view.result, dataset))}</p>
<p>{html_text(method_paragraph(view.spec, run, view.result))}</p></section>
{findings_block}
{body_charts}
{units_block}
{maps_block}
{who}
<div class="appendix">
<h2 class="appendix-start">Technical appendix</h2>
<p class="caption">For analysts: the settings, how well the model fits, and every table of
the run, also in the ZIP export. Run {html_text(str(run.get("id", ""))[:8])}, report made
{datetime.now(UTC):%Y-%m-%d %H:%M} UTC.</p>
{warnings_block}
{"".join(table_blocks(technical))}
<div class="screen-only"><h2>Every chart, interactive</h2>{"".join(charts)}</div>
</div>
</main>
<script type="text/javascript">
const specs = {script_json(specs)};
specs.forEach((spec, i) => vegaEmbed("#chart" + i, spec, {{actions: false}})
  .catch(console.error));
</script>
</body></html>
"""
