"""Labels that do not overlap on a scatter (the product map, segments and products on one
map): each label is tried at growing distances around its point, in eight directions, and
kept at the first place where it covers no other label and no point; a label pushed away from
its point gets a leader line. Done in pixels of the chart's known size, returned in data units,
so the chart and the slides draw the same layout."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True)
class Canvas:
    """A chart of `width` × `height` pixels showing `x_domain` × `y_domain`, its labels in
    `font` px: where data points fall in pixels (y grows downwards) and how big a text is."""

    width: float
    height: float
    x_domain: tuple[float, float]
    y_domain: tuple[float, float]
    font: float = 12.0

    @property
    def per_unit(self) -> tuple[float, float]:
        """Pixels per data unit across and down."""
        x0, x1 = self.x_domain
        y0, y1 = self.y_domain
        return self.width / (x1 - x0 or 1.0), self.height / (y1 - y0 or 1.0)

    def pixels(self, x: np.ndarray | float, y: np.ndarray | float) -> tuple[Any, Any]:
        sx, sy = self.per_unit
        px = (np.asarray(x, float) - self.x_domain[0]) * sx
        return px, (self.y_domain[1] - np.asarray(y, float)) * sy

    def data(self, px: float, py: float) -> tuple[float, float]:
        sx, sy = self.per_unit
        return self.x_domain[0] + px / sx, self.y_domain[1] - py / sy

    def text_size(self, text: str) -> tuple[float, float]:
        scale = self.font / 12.0
        return len(text) * CHAR_WIDTH * scale, LINE_HEIGHT * scale


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
    canvas = Canvas(width, height, x_domain, y_domain, font)
    px, py = canvas.pixels(x, y)
    boxes: list[tuple[float, float, float, float]] = [
        (a - 4, b - 4, a + 4, b + 4) for a, b in zip(px, py, strict=True)
    ]  # every point is an obstacle
    out: list[Placed] = []
    for i, text in enumerate(texts):
        w, h = canvas.text_size(text)
        w += 4
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
        ax, ay = canvas.data(anchor_px, (y0 + y1) / 2)
        out.append(Placed(x=ax, y=ay, align=align, leader=distance > LEADER_PX))
    return out


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def overlaps(placed: list[Placed], texts: list[str], canvas: Canvas) -> int:
    """How many pairs of labels overlap (for tests and for choosing a layout)."""
    boxes = []
    for p, text in zip(placed, texts, strict=True):
        w, h = canvas.text_size(text)
        ax, ay = canvas.pixels(p.x, p.y)
        x0 = {"left": ax, "right": ax - w, "center": ax - w / 2}[p.align]
        boxes.append((x0, ay - h / 2, x0 + w, ay + h / 2))
    return sum(
        _overlap(boxes[i], boxes[j]) for i in range(len(boxes)) for j in range(i + 1, len(boxes))
    )
