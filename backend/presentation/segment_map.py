"""Segments and products on one map, as Q draws it: a correspondence analysis of the
segment × product table (each segment's expected buyers of each product, its size times its
chance of buying), both in principal coordinates, so a segment sits near the products it buys
more than the others do. Each axis is named by the products at its two ends."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from backend.presentation.names import Units
from backend.presentation.numbers import join, percent
from backend.presentation.profiles import matrix, products


@dataclass(frozen=True)
class JointMap:
    units: list[str]  # shown names
    unit_xy: np.ndarray  # units × 2
    products: list[str]
    product_xy: np.ndarray  # products × 2
    inertia: list[float]  # share of the table's inertia per axis (2 entries)
    axis_titles: list[str]


def axis_title(number: int, share: float | None, names: list[str], values: Any) -> str:
    """An axis named by what it separates: "Milk & Bread ↔ Plant-based milk & Nuts (62%)"
    (the two products at each end; the share of the variation it shows, when known)."""
    values = np.asarray(values, dtype=float)
    if not len(values) or not np.any(values):
        return f"Axis {number}"
    order = np.argsort(values)
    low = [names[j] for j in order[:2]]
    high = [names[j] for j in order[::-1][:2]]
    tail = f" ({percent(share)})" if share is not None else ""
    return f"{join(low, '&')} ↔ {join(high, '&')}{tail}"


def joint_map(result: Mapping[str, Any], units: Units) -> JointMap | None:
    """The map, or None when the result has no segment × product table or it has no spread."""
    probs = matrix(result.get("item_probabilities"))
    sizes = np.asarray(result.get("class_sizes") or [], dtype=float)
    names = products(result)
    if probs is None or sizes.size != probs.shape[0] or probs.shape[1] != len(names):
        return None
    if probs.shape[0] < 2:
        return None
    table = np.nan_to_num(probs) * sizes.reshape(-1, 1)
    total = table.sum()
    if total <= 0:
        return None
    p = table / total
    r, c = p.sum(axis=1), p.sum(axis=0)
    keep = c > 0
    p, c = p[:, keep], c[keep]
    kept = [n for n, k in zip(names, keep, strict=True) if k]
    s = (p - np.outer(r, c)) / np.sqrt(np.outer(r, c))
    u, sv, vt = np.linalg.svd(s, full_matrices=False)
    eig = sv**2
    total_inertia = eig.sum()
    if total_inertia <= 1e-15:
        return None
    rows = (u * sv) / np.sqrt(r).reshape(-1, 1)
    cols = (vt.T * sv) / np.sqrt(c).reshape(-1, 1)
    # Signs fixed so the product with the largest coordinate points right / up.
    for axis in range(min(2, len(sv))):
        j = int(np.argmax(np.abs(cols[:, axis])))
        if cols[j, axis] < 0:
            rows[:, axis] *= -1
            cols[:, axis] *= -1
    pad = lambda m: np.pad(m[:, :2], ((0, 0), (0, max(0, 2 - m.shape[1]))))  # noqa: E731
    unit_xy, product_xy = pad(rows), pad(cols)
    shares = [float(e / total_inertia) for e in eig[:2]] + [0.0] * max(0, 2 - len(eig))
    titles = [axis_title(a + 1, shares[a], kept, product_xy[:, a]) for a in range(2)]
    return JointMap(
        units=[units.name_of(k) for k in range(probs.shape[0])],
        unit_xy=unit_xy,
        products=kept,
        product_xy=product_xy,
        inertia=shares,
        axis_titles=titles,
    )
