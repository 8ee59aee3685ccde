"""The run as a PowerPoint deck (python-pptx), every chart a native, editable chart (its data
in the embedded workbook): a title slide, the key findings, the units' sizes, their profile
across products (index vs average for segments; loadings, weights, effects for the others), the
segments-and-products map and the product map as scatters, who they are, one slide per unit
with its summary, and the method. Each unit keeps its one colour; the names are the run's."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from pptx import Presentation
from pptx.chart.data import CategoryChartData, XyChartData
from pptx.dml.color import RGBColor
from pptx.enum.chart import (
    XL_AXIS_CROSSES,
    XL_CHART_TYPE,
    XL_LABEL_POSITION,
    XL_LEGEND_POSITION,
    XL_MARKER_STYLE,
)
from pptx.util import Inches, Pt

from backend.families import Kind
from backend.presentation.charts import ChartView
from backend.presentation.layout import padded_domain, place_labels
from backend.presentation.numbers import percent
from backend.presentation.profiles import products, profile, strongest_unit
from backend.presentation.segment_map import axis_title, joint_map
from backend.presentation.summaries import Summary, key_findings, summaries
from backend.presentation.wording import data_sentence, method_paragraph, settings_table

WIDE, HIGH = Inches(13.333), Inches(7.5)  # 16:9
INK = RGBColor(0x1F, 0x29, 0x37)
MUTED = RGBColor(0x9A, 0xA3, 0xB5)
MAX_BARS = 12  # products on a products chart: the most telling


def rgb(color: str) -> RGBColor:
    return RGBColor.from_string(color.lstrip("#").upper())


class Deck:
    """A 16:9 deck on python-pptx's blank layout, with a title on every slide."""

    def __init__(self) -> None:
        self.prs = Presentation()
        self.prs.slide_width, self.prs.slide_height = WIDE, HIGH
        self.blank = self.prs.slide_layouts[6]

    def slide(self, title: str, color: str | None = None) -> Any:
        slide = self.prs.slides.add_slide(self.blank)
        box = slide.shapes.add_textbox(Inches(0.5), Inches(0.3), WIDE - Inches(1), Inches(0.9))
        frame = box.text_frame
        frame.word_wrap = True
        run = frame.paragraphs[0].add_run()
        run.text = title
        run.font.size, run.font.bold = Pt(28), True
        run.font.color.rgb = rgb(color) if color else INK
        return slide

    def text(
        self, slide: Any, paragraphs: list[str], *, left: int, top: int, width: int, height: int,
        size: int = 16, bullets: bool = False,
    ) -> None:  # fmt: skip
        box = slide.shapes.add_textbox(left, top, width, height)
        frame = box.text_frame
        frame.word_wrap = True
        for k, words in enumerate(paragraphs):
            para = frame.paragraphs[0] if k == 0 else frame.add_paragraph()
            para.text = f"• {words}" if bullets else words
            para.font.size = Pt(size)
            para.font.color.rgb = INK
            para.space_after = Pt(8)

    def bytes(self) -> bytes:
        buffer = io.BytesIO()
        self.prs.save(buffer)
        return buffer.getvalue()


BODY = dict(left=Inches(0.5), top=Inches(1.3), width=Inches(12.3), height=Inches(5.9))


def _style(chart: Any, *, legend: bool, size: int = 12) -> None:
    chart.font.size = Pt(size)
    chart.has_legend = legend
    if legend:
        chart.legend.position = XL_LEGEND_POSITION.TOP
        chart.legend.include_in_layout = False


def bar_chart(
    slide: Any, categories: list[str], series: list[tuple[str, list[float], str]], *,
    number_format: str = "0", horizontal: bool = True, place: Mapping[str, int] = BODY,
    point_colors: list[str] | None = None,
) -> Any:  # fmt: skip
    """A native clustered bar chart: one series per (name, values, colour)."""
    data = CategoryChartData(number_format=number_format)
    data.categories = categories
    for name, values, _ in series:
        data.add_series(name, [None if not np.isfinite(v) else float(v) for v in values])
    kind = XL_CHART_TYPE.BAR_CLUSTERED if horizontal else XL_CHART_TYPE.COLUMN_CLUSTERED
    frame = slide.shapes.add_chart(kind, *place.values(), data)
    chart = frame.chart
    _style(chart, legend=len(series) > 1)
    plot = chart.plots[0]
    plot.gap_width = 60
    if len(series) <= 2:  # with more series the numbers crowd the bars: the axis is enough
        plot.has_data_labels = True
        plot.data_labels.number_format = number_format
        plot.data_labels.number_format_is_linked = False
        plot.data_labels.font.size = Pt(10)
    for (_, _, color), drawn in zip(series, plot.series, strict=True):
        drawn.format.fill.solid()
        drawn.format.fill.fore_color.rgb = rgb(color)
    if point_colors and len(series) == 1:
        for k, color in enumerate(point_colors):
            point = plot.series[0].points[k]
            point.format.fill.solid()
            point.format.fill.fore_color.rgb = rgb(color)
    if horizontal:
        chart.category_axis.reverse_order = True  # first category on top
    return chart


def scatter_chart(
    slide: Any, points: list[tuple[str, float, float, str, int, bool]], *,
    x_title: str, y_title: str, place: Mapping[str, int] = BODY,
) -> Any:  # fmt: skip
    """A native XY scatter of (label, x, y, colour, marker size, bold) points, one series with
    each point coloured and labelled with its name (one series: every viewer draws it)."""
    data = XyChartData()
    series = data.add_series("Map")
    for _, x, y, _, _, _ in points:
        series.add_data_point(float(x), float(y))
    frame = slide.shapes.add_chart(XL_CHART_TYPE.XY_SCATTER, *place.values(), data)
    chart = frame.chart
    _style(chart, legend=False)
    drawn = chart.plots[0].series[0]
    drawn.format.line.fill.background()  # points, no lines
    drawn.marker.style = XL_MARKER_STYLE.CIRCLE
    for k, ((label, _, _, color, size, bold), where) in enumerate(
        zip(points, _label_positions(points), strict=True)
    ):
        point = drawn.points[k]
        point.marker.style = XL_MARKER_STYLE.SQUARE if bold else XL_MARKER_STYLE.CIRCLE
        point.marker.size = size
        point.marker.format.fill.solid()
        point.marker.format.fill.fore_color.rgb = rgb(color)
        point.marker.format.line.fill.background()
        text = point.data_label
        text.has_text_frame = True
        text.text_frame.text = label
        text.position = where
        font = text.text_frame.paragraphs[0].runs[0].font
        font.size, font.bold = Pt(13 if bold else 11), bold
        font.color.rgb = rgb(color) if bold else INK
    for axis, title in ((chart.category_axis, x_title), (chart.value_axis, y_title)):
        axis.has_title = True
        axis.axis_title.text_frame.text = title
        axis.axis_title.text_frame.paragraphs[0].font.size = Pt(12)
        axis.has_major_gridlines = False
        axis.tick_labels.font.size = Pt(9)
        axis.crosses = XL_AXIS_CROSSES.MINIMUM  # axes at the edge, not through the middle
    return chart


def _label_positions(points: list[tuple[str, float, float, str, int, bool]]) -> list[Any]:
    """Right, left, above or below each point, whichever the label layout found free (native
    labels cannot move further or draw leader lines)."""
    xs = np.array([p[1] for p in points], dtype=float)
    ys = np.array([p[2] for p in points], dtype=float)
    x_domain, y_domain = padded_domain(xs, 0.05), padded_domain(ys, 0.05)
    placed = place_labels(
        xs, ys, [p[0] for p in points], width=1050, height=460, x_domain=x_domain,
        y_domain=y_domain, font=11,
    )  # fmt: skip
    out = []
    for p, y in zip(placed, ys, strict=True):
        if p.align == "left":
            out.append(XL_LABEL_POSITION.RIGHT)
        elif p.align == "right":
            out.append(XL_LABEL_POSITION.LEFT)
        else:
            out.append(XL_LABEL_POSITION.ABOVE if p.y > y else XL_LABEL_POSITION.BELOW)
    return out


def _telling(frame: pd.DataFrame, limit: int = MAX_BARS) -> pd.DataFrame:
    spread = frame.max(axis=1) - frame.min(axis=1)
    return frame.loc[spread.sort_values(ascending=False).index[:limit]]


def _profile_frame(view: ChartView) -> tuple[pd.DataFrame | None, str, str]:
    """Products × units as the slides chart them, its title and number format."""
    if view.spec.kind is Kind.segments and view.result.get("item_index"):
        idx = np.asarray(view.result["item_index"], dtype=float).T
        frame = pd.DataFrame(idx, index=products(view.result), columns=view.units.names)
        return frame, "Index vs the average household (100 = average)", "0"
    found = profile(view.spec, view.result, view.units)
    word = {
        Kind.dimensions: "Loadings",
        Kind.baskets: "Weights",
        Kind.choice: "Effects",
        Kind.map: "Coordinates",
    }.get(view.spec.kind, "Profile")
    return found, f"{word} by product", "0.00"


def _sizes_slide(deck: Deck, view: ChartView, found: list[Summary]) -> None:
    if not found or any(s.size is None for s in found):
        return
    kind = view.spec.kind
    word, many = view.units.word.lower(), view.units.plural.lower()
    title, caption = {
        Kind.segments: (f"{view.units.word} sizes", f"Share of households in each {word}."),
        Kind.dimensions: (
            f"How much each {word} explains",
            "Share of the variation in what households buy.",
        ),
        Kind.map: (
            f"How much each {word} shows",
            "Share of the variation in what households buy.",
        ),
        Kind.graph: (f"{view.units.word} sizes", f"Share of the products in each {word}."),
    }.get(kind, (f"{view.units.word} sizes", f"Share of purchases each of the {many} makes."))
    slide = deck.slide(title)
    deck.text(
        slide, [caption],
        left=Inches(0.5), top=Inches(1.1), width=Inches(12), height=Inches(0.5), size=14,
    )  # fmt: skip
    bar_chart(
        slide,
        [s.name for s in found],
        [("Share", [float(s.size or 0) for s in found], found[0].color)],
        number_format="0%",
        point_colors=[s.color for s in found],
        place=dict(left=Inches(0.5), top=Inches(1.7), width=Inches(12.3), height=Inches(5.5)),
    ).value_axis.minimum_scale = 0


def _profile_slide(deck: Deck, view: ChartView) -> None:
    frame, title, fmt = _profile_frame(view)
    if frame is None or frame.empty:
        return
    shown = _telling(frame)
    slide = deck.slide(title)
    bar_chart(
        slide,
        [str(p) for p in shown.index],
        [
            (name, list(shown[name].astype(float)), view.units.color_of(k))
            for k, name in enumerate(shown.columns)
        ],
        number_format=fmt,
    )


def _joint_map_slide(deck: Deck, view: ChartView) -> None:
    found = joint_map(view.result, view.units)
    if found is None:
        return
    slide = deck.slide(f"{view.units.plural} and products on one map")
    points = [(p, *found.product_xy[j], "#9aa3b5", 8, False) for j, p in enumerate(found.products)]
    points += [
        (name, *found.unit_xy[k], view.units.color_of(k), 16, True)
        for k, name in enumerate(found.units)
    ]
    scatter_chart(slide, points, x_title=found.axis_titles[0], y_title=found.axis_titles[1])


def _product_map_slide(deck: Deck, view: ChartView) -> None:
    stored = view.product_map
    if not stored:
        return
    names = [str(p) for p in stored.get("products", [])]
    coords = np.asarray(stored.get("coordinates", []), dtype=float)
    if coords.ndim != 2 or coords.shape[1] < 2 or coords.shape[0] != len(names):
        return
    strongest = strongest_unit(view.spec, view.result, view.units)
    colors = view.units.colors
    points = [
        (p, *coords[j, :2], colors.get(strongest.get(p, ""), "#9aa3b5"), 10, False)
        for j, p in enumerate(names)
    ]
    slide = deck.slide("Product map")
    deck.text(
        slide, ["Products bought by the same households sit together; each is coloured by "
                f"the {view.units.word.lower()} that buys it most ("
                + ", ".join(view.units.names) + ")."],
        left=Inches(0.5), top=Inches(1.0), width=Inches(12), height=Inches(0.4), size=13,
    )  # fmt: skip
    scatter_chart(
        slide, points, x_title=axis_title(1, None, names, coords[:, 0]),
        y_title=axis_title(2, None, names, coords[:, 1]),
        place=dict(left=Inches(0.5), top=Inches(1.7), width=Inches(12.3), height=Inches(5.5)),
    )  # fmt: skip


def _who_slide(deck: Deck, view: ChartView) -> None:
    profiles = view.result.get("profiles")
    if not isinstance(profiles, Mapping) or profiles.get("measure") != "membership":
        return
    categories: list[str] = []
    values: dict[str, list[float]] = {key: [] for key in view.units.keys}
    for feature in profiles.get("features") or []:
        if feature.get("kind") != "categorical":
            continue
        for level in feature.get("levels") or []:
            cells = {
                str(c["unit"]): c for c in feature.get("cells") or [] if c.get("level") == level
            }
            if not cells:
                continue
            categories.append(f"{feature['feature']}: {level}")
            for key in view.units.keys:
                values[key].append(float((cells.get(key) or {}).get("share") or 0.0))
    if not categories:
        return
    keep = slice(0, 20)
    slide = deck.slide("Who they are")
    bar_chart(
        slide,
        categories[keep],
        [
            (view.units.names[k], values[key][keep], view.units.color_of(k))
            for k, key in enumerate(view.units.keys)
        ],
        number_format="0%",
    )


def _unit_slides(deck: Deck, view: ChartView, found: list[Summary]) -> None:
    frame, title, fmt = _profile_frame(view)
    for k, s in enumerate(found):
        slide = deck.slide(s.name, s.color)
        if s.size is not None:
            deck.text(
                slide, [percent(s.size)], left=Inches(0.5), top=Inches(1.2), width=Inches(4.5),
                height=Inches(1.0), size=40,
            )  # fmt: skip
        deck.text(
            slide, [s.headline, *s.sentences, *s.who], left=Inches(0.5), top=Inches(2.3),
            width=Inches(4.8), height=Inches(4.8), size=15,
        )  # fmt: skip
        if frame is not None and k < frame.shape[1]:
            column = frame.iloc[:, k].astype(float)
            if view.spec.kind is Kind.segments:
                shown = column.sort_values(ascending=False)
                shown = pd.concat([shown.head(5), shown.tail(3)]) if len(shown) > 8 else shown
            else:
                shown = column.reindex(column.abs().sort_values(ascending=False).index[:8])
            bar_chart(
                slide,
                [str(p) for p in shown.index],
                [(title, list(shown), s.color)],
                number_format=fmt,
                place=dict(left=Inches(5.6), top=Inches(1.3), width=Inches(7.3),
                           height=Inches(5.8)),
            )  # fmt: skip


def _method_slide(deck: Deck, view: ChartView, run: Mapping[str, Any], dataset: str | None) -> None:
    slide = deck.slide("How this was done")
    deck.text(
        slide,
        [data_sentence(run, view.result, dataset), method_paragraph(view.spec, run, view.result)],
        left=Inches(0.5), top=Inches(1.3), width=Inches(7.6), height=Inches(5.8), size=15,
    )  # fmt: skip
    settings = settings_table(run.get("params") or {}).head(12)  # the rest: the report's appendix
    if len(settings):
        rows, cols = len(settings) + 1, 2
        table = slide.shapes.add_table(
            rows, cols, Inches(8.4), Inches(1.3), Inches(4.4), Inches(0.3) * rows
        ).table
        for c, head in enumerate(settings.columns):
            table.cell(0, c).text = str(head)
        for r, (_, row) in enumerate(settings.iterrows(), start=1):
            for c, value in enumerate(row):
                table.cell(r, c).text = str(value)
        for r in range(rows):
            for c in range(cols):
                for para in table.cell(r, c).text_frame.paragraphs:
                    para.font.size = Pt(11)


def pptx_deck(run: Mapping[str, Any], view: ChartView, *, dataset: str | None = None) -> bytes:
    """The deck as .pptx bytes."""
    deck = Deck()
    found = summaries(view)
    title = deck.slide(str(run.get("name") or view.spec.title))
    deck.text(
        title,
        [view.spec.title, data_sentence(run, view.result, dataset)],
        left=Inches(0.5), top=Inches(2.5), width=Inches(12), height=Inches(3), size=20,
    )  # fmt: skip
    findings = key_findings(view, found)
    if findings:
        slide = deck.slide("Key findings")
        deck.text(slide, findings, **BODY, size=18, bullets=True)
    _sizes_slide(deck, view, found)
    _profile_slide(deck, view)
    _joint_map_slide(deck, view)
    _product_map_slide(deck, view)
    _who_slide(deck, view)
    _unit_slides(deck, view, found)
    _method_slide(deck, view, run, dataset)
    return deck.bytes()
