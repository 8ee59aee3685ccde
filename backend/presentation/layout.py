"""Labels that do not overlap on a scatter (the product map, segments and products on one
map): each label is tried at growing distances around its point, in eight directions, and
kept at the first place where it covers no other label and no point; a label pushed away from
its point gets a leader line. Done in pixels of the chart's known size, returned in data units,
so the chart and the slides draw the same layout."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CHAR_WIDTH = 6.6  # px per character at 12 px
LINE_HEIGHT = 14.0
DIRECTIONS = [(1, 0), (1, -1), (1, 1), (-1, 0), (-1, -1), (-1, 1), (0, -1), (0, 1)]
RADII = [8.0, 14.0, 22.0, 32.0, 44.0, 58.0, 74.0, 92.0]
LEADER_PX = 16.0  # a label farther than this from its point gets a line to it


@dataclass(frozen=True)
class Placed:
    x: float  # label anchor (its left or right edge, middle), data units
    y: float
    align: str  # "left" | "right" | "center"
    leader: bool


def padded_domain(values: np.ndarray, pad: float = 0.12) -> tuple[float, float]:
    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    span = hi - lo or 1.0
    return lo - pad * span, hi + pad * span


def place_labels(
    x: np.ndarray,
    y: np.ndarray,
    texts: list[str],
    *,
    width: float,
    height: float,
    x_domain: tuple[float, float],
    y_domain: tuple[float, float],
    font: float = 12.0,
) -> list[Placed]:
    """Where to write each text near its point (x[i], y[i]); earlier texts are placed first."""
    sx, sy = _pixels_per_unit(width, height, x_domain, y_domain)
    px = (np.asarray(x, float) - x_domain[0]) * sx
    py = (y_domain[1] - np.asarray(y, float)) * sy  # pixels grow downwards
    scale = font / 12.0
    boxes: list[tuple[float, float, float, float]] = [
        (a - 4, b - 4, a + 4, b + 4) for a, b in zip(px, py, strict=True)
    ]  # every point is an obstacle
    out: list[Placed] = []
    for i, text in enumerate(texts):
        w, h = len(text) * CHAR_WIDTH * scale + 4, LINE_HEIGHT * scale
        best: tuple[float, float, float, float, str, float] | None = None
        for radius in RADII:
            for dx, dy in DIRECTIONS:
                cx, cy = px[i] + dx * radius, py[i] + dy * radius * 0.8
                if dx > 0:
                    box, align = (cx, cy - h / 2, cx + w, cy + h / 2), "left"
                elif dx < 0:
                    box, align = (cx - w, cy - h / 2, cx, cy + h / 2), "right"
                else:
                    box, align = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), "center"
                inside = box[0] >= 0 and box[2] <= width and box[1] >= 0 and box[3] <= height
                if inside and not any(_overlap(box, other) for other in boxes):
                    best = (*box, align, float(radius))
                    break
            if best:
                break
        if best is None:  # nowhere free: the plain place to the right
            cx, cy = px[i] + RADII[0], py[i]
            best = (cx, cy - h / 2, cx + w, cy + h / 2, "left", float(RADII[0]))
        x0, y0, x1, y1, align, distance = best
        boxes.append((x0, y0, x1, y1))
        anchor_px = {"left": x0, "right": x1, "center": (x0 + x1) / 2}[align]
        out.append(
            Placed(
                x=x_domain[0] + anchor_px / sx,
                y=y_domain[1] - ((y0 + y1) / 2) / sy,
                align=align,
                leader=distance > LEADER_PX,
            )
        )
    return out


def _pixels_per_unit(
    width: float, height: float, x_domain: tuple[float, float], y_domain: tuple[float, float]
) -> tuple[float, float]:
    """Pixels per data unit across and down a chart of this size showing these domains."""
    return width / (x_domain[1] - x_domain[0] or 1.0), height / (y_domain[1] - y_domain[0] or 1.0)


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def overlaps(
    placed: list[Placed],
    texts: list[str],
    *,
    width: float,
    height: float,
    x_domain: tuple[float, float],
    y_domain: tuple[float, float],
    font: float = 12.0,
) -> int:
    """How many pairs of labels overlap (for tests and for choosing a layout)."""
    sx, sy = _pixels_per_unit(width, height, x_domain, y_domain)
    boxes = []
    for p, text in zip(placed, texts, strict=True):
        w, h = len(text) * CHAR_WIDTH * font / 12.0, LINE_HEIGHT * font / 12.0
        ax, ay = (p.x - x_domain[0]) * sx, (y_domain[1] - p.y) * sy
        x0 = {"left": ax, "right": ax - w, "center": ax - w / 2}[p.align]
        boxes.append((x0, ay - h / 2, x0 + w, ay + h / 2))
    return sum(
        _overlap(boxes[i], boxes[j]) for i in range(len(boxes)) for j in range(i + 1, len(boxes))
    )
