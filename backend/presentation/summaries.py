"""Plain-language summaries of a run, written from its numbers by fixed templates (no model, no
randomness: the same result and names always give the same words). Per unit: its size, the
products it over- and under-indexes on (segments), the products that define it (factors,
dimensions), what it is built around (baskets, missions, communities), who it is (once the run
has profiles by household features) and how stable it is (once it has a stability check)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from backend.families import Kind
from backend.presentation.charts.base import ChartView
from backend.presentation.numbers import index, join, percent, sig
from backend.presentation.profiles import matrix, products, profile

OVER = 120.0  # an index at or above this is "more likely than average"
UNDER = 80.0
TOP = 3  # products named per direction
LOADING = 0.4  # a loading at least this large (in size) defines a factor
STABLE = 0.75  # share of resamples a stable segment reappears in


@dataclass(frozen=True)
class Summary:
    """What one unit is, in words and in the few numbers the words quote."""

    key: str
    name: str
    color: str
    size: float | None  # share of households (segments) or of purchases (baskets)
    headline: str  # one sentence
    sentences: list[str] = field(default_factory=list)
    over: list[tuple[str, float]] = field(default_factory=list)  # (product, index)
    under: list[tuple[str, float]] = field(default_factory=list)
    who: list[str] = field(default_factory=list)  # sentences about household features

    @property
    def text(self) -> str:
        return " ".join([self.headline, *self.sentences, *self.who])

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "color": self.color,
            "size": self.size,
            "headline": self.headline,
            "text": self.text,
            "over": [{"product": p, "index": v} for p, v in self.over],
            "under": [{"product": p, "index": v} for p, v in self.under],
        }


def summaries(view: ChartView) -> list[Summary]:
    """One summary per unit, in the units' order."""
    builder = {
        Kind.segments: _segments,
        Kind.dimensions: _dimensions,
        Kind.baskets: _baskets,
        Kind.graph: _graph,
        Kind.map: _map,
        Kind.choice: _choice,
    }.get(view.spec.kind)
    return builder(view) if builder else _generic(view)


def _generic(view: ChartView) -> list[Summary]:
    """A family of a kind the templates do not know: each unit by its name, no more."""
    n, many = len(view.units.keys), view.units.plural.lower()
    return [
        Summary(key, name, view.units.color_of(k), None, f"{name} is one of the {n} {many} found.")
        for k, (key, name) in enumerate(zip(view.units.keys, view.units.names, strict=True))
    ]


def _with_who(view: ChartView, built: list[Summary]) -> list[Summary]:
    who = who_sentences(view)
    stability = stability_sentences(view)
    out = []
    for s in built:
        extra = stability.get(s.key, [])
        out.append(
            Summary(
                s.key, s.name, s.color, s.size, s.headline, s.sentences + extra, s.over, s.under,
                who.get(s.key, []),
            )
        )  # fmt: skip
    return out


def _named(products_: list[tuple[str, float]]) -> str:
    return join([f"{p} (index {index(v)})" for p, v in products_])


def _segments(view: ChartView) -> list[Summary]:
    r = view.result
    idx = matrix(r.get("item_index"))
    sizes = list(r.get("class_sizes") or [])
    names = products(r)
    out = []
    for k, key in enumerate(view.units.keys):
        name = view.units.names[k]
        size = float(sizes[k]) if k < len(sizes) else None
        over: list[tuple[str, float]] = []
        under: list[tuple[str, float]] = []
        if idx is not None and k < idx.shape[0] and idx.shape[1] == len(names):
            row = idx[k]
            order = np.argsort(-row)
            over = [(names[j], float(row[j])) for j in order if row[j] >= OVER][:TOP]
            under = [(names[j], float(row[j])) for j in order[::-1] if row[j] <= UNDER][:TOP]
        headline = f"{name} is {percent(size)} of households." if size is not None else f"{name}."
        sentences = []
        if over:
            sentences.append(
                f"Compared with the average household they are more likely to buy {_named(over)}"
                + (f", and less likely to buy {_named(under)}." if under else ".")
            )
        elif under:
            sentences.append(f"They are less likely than average to buy {_named(under)}.")
        else:
            sentences.append("They buy every product close to the average rate.")
        out.append(
            Summary(key, name, view.units.color_of(k), size, headline, sentences, over, under)
        )
    return _with_who(view, out)


def _dimensions(view: ChartView) -> list[Summary]:
    r = view.result
    prof = profile(view.spec, r, view.units)
    variance = {
        str(v.get("factor")): v.get("proportion_var")
        for v in r.get("variance") or []
        if isinstance(v, Mapping)
    }
    out = []
    for k, key in enumerate(view.units.keys):
        name = view.units.names[k]
        share = variance.get(key)
        headline = (
            f"{name} accounts for {percent(share)} of the variation in what households buy."
            if share is not None
            else f"{name} is one of {len(view.units.keys)} dimensions behind what households buy."
        )
        sentences = []
        over: list[tuple[str, float]] = []
        under: list[tuple[str, float]] = []
        if prof is not None and k < prof.shape[1]:
            column = prof.iloc[:, k].astype(float)
            strong = column[column.abs() >= LOADING].sort_values(key=lambda s: -s.abs())
            pos = [(str(p), float(v)) for p, v in strong.items() if v > 0][:4]
            neg = [(str(p), float(v)) for p, v in strong.items() if v < 0][:4]
            if not pos and not neg:
                top = column.abs().sort_values(ascending=False).index[:3]
                sentences.append(
                    "No product loads strongly on it; the largest are "
                    f"{join([str(p) for p in top])}."
                )
            if pos:
                sentences.append(
                    f"It is defined by {join([f'{p} ({sig(v)})' for p, v in pos])}: households "
                    "high on it buy these together."
                )
            if neg:
                sentences.append(f"At its other end: {join([f'{p} ({sig(v)})' for p, v in neg])}.")
            over, under = pos, neg
        out.append(
            Summary(key, name, view.units.color_of(k), share, headline, sentences, over, under)
        )
    return _with_who(view, out)


def _top_list(item: Any) -> list[str]:
    if isinstance(item, list):
        return [str(x.get("product")) for x in item if isinstance(x, Mapping)]
    return []


def _baskets(view: ChartView) -> list[Summary]:
    r = view.result
    shares = r.get("component_share") or r.get("topic_share") or []
    tops = r.get("top_products") or []
    out = []
    for k, key in enumerate(view.units.keys):
        name = view.units.names[k]
        share = float(shares[k]) if k < len(shares) else None
        top = _top_list(tops[k])[:4] if k < len(tops) else []
        headline = (
            f"{name} accounts for {percent(share)} of purchases."
            if share is not None
            else f"{name}."
        )
        sentences = [f"It is built around {join(top)}."] if top else []
        out.append(Summary(key, name, view.units.color_of(k), share, headline, sentences))
    return _with_who(view, out)


def _graph(view: ChartView) -> list[Summary]:
    out = []
    raw = view.result.get(view.spec.units_field) or []
    total = max(1, len(products(view.result)))
    for k, key in enumerate(view.units.keys):
        item = raw[k] if k < len(raw) and isinstance(raw[k], Mapping) else {}
        members = [str(p) for p in item.get("products") or []]
        name = view.units.names[k]
        share = len(members) / total if members else None
        headline = (
            f"{name} holds {len(members)} of the {total} products, bought together more than "
            "chance."
        )
        sentences = (
            [f"Its products: {join(members[:8])}{' …' if len(members) > 8 else ''}."]
            if members
            else []
        )
        out.append(Summary(key, name, view.units.color_of(k), share, headline, sentences))
    return out


def _map(view: ChartView) -> list[Summary]:
    r = view.result
    coords = matrix(r.get("product_coordinates"))
    inertia = r.get("percent_inertia") or []
    names = products(r)
    out = []
    for k, key in enumerate(view.units.keys):
        name = view.units.names[k]
        share = float(inertia[k]) / 100 if k < len(inertia) else None
        headline = f"{name} shows {percent(share)} of the variation in what households buy."
        sentences = []
        if coords is not None and k < coords.shape[1] and coords.shape[0] == len(names):
            low, high = axis_ends(names, coords[:, k])
            sentences.append(f"It separates {join(low)} from {join(high)}.")
        out.append(Summary(key, name, view.units.color_of(k), share, headline, sentences))
    return _with_who(view, out)


def _choice(view: ChartView) -> list[Summary]:
    r = view.result
    means = matrix(r.get("household_effect_means"))
    names = products(r)
    out = []
    for k, key in enumerate(view.units.keys):
        name = view.units.names[k]
        sentences = []
        if means is not None and k < means.shape[0] and means.shape[1] == len(names):
            row = means[k]
            order = np.argsort(-row)
            up = [names[j] for j in order[:TOP] if row[j] > 0.1]
            down = [names[j] for j in order[::-1][:TOP] if row[j] < -0.1]
            if up:
                sentences.append(f"It raises the chance of buying {join(up)}.")
            if down:
                sentences.append(f"It lowers the chance of buying {join(down)}.")
        if not sentences:
            sentences.append("Its effects on buying are small.")
        headline = f"{name}: how it changes what households buy."
        out.append(Summary(key, name, view.units.color_of(k), None, headline, sentences))
    return out


def axis_ends(names: list[str], values: Any, top: int = 2) -> tuple[list[str], list[str]]:
    """The products at the low and the high end of one map axis."""
    column = np.asarray(values, dtype=float)
    order = np.argsort(column)
    return [names[j] for j in order[:top]], [names[j] for j in order[::-1][:top]]


def who_sentences(view: ChartView) -> dict[str, list[str]]:
    """Per unit key, what its households are like: the feature levels over-represented in it
    (significant after the Bonferroni correction), with the unit's share against everyone's."""
    profiles = view.result.get("profiles")
    if not isinstance(profiles, Mapping) or profiles.get("measure") != "membership":
        return {}
    found: dict[str, list[tuple[float, str]]] = {}
    for feature in profiles.get("features") or []:
        levels = feature.get("levels") or []
        overall = feature.get("overall") or []
        numeric = feature.get("kind") == "numeric"
        for cell in feature.get("cells") or []:
            if not cell.get("significant") or (cell.get("residual") or 0) <= 0:
                continue
            unit = str(cell.get("unit"))
            level = cell.get("level")
            if numeric:
                base = overall[0] if overall else None
                words = (
                    f"{feature['feature']} averages {sig(cell.get('mean'))} (everyone: {sig(base)})"
                )
            else:
                base = (
                    overall[levels.index(level)]
                    if level in levels and len(overall) == len(levels)
                    else None
                )
                words = (
                    f"{feature['feature']} {level}: {percent(cell.get('share'))} of them "
                    f"(everyone: {percent(base)})"
                )
            found.setdefault(unit, []).append((float(cell.get("index") or 0), words))
    out = {}
    for unit, items in found.items():
        items.sort(key=lambda t: -t[0])
        out[unit] = [f"Who they are: {'; '.join(w for _, w in items[:3])}."]
    return out


def stability_sentences(view: ChartView) -> dict[str, list[str]]:
    stab = view.result.get("stability")
    if not isinstance(stab, Mapping):
        return {}
    out = {}
    for k, row in enumerate(stab.get("segments") or []):
        if k >= len(view.units.keys) or not isinstance(row, Mapping):
            continue
        share = float(row.get("reappears") or 0)
        verdict = "a stable segment" if share >= STABLE else "not stable: treat it with caution"
        out[view.units.keys[k]] = [
            f"Refitted on resampled households it reappears {percent(share)} of the time: "
            f"{verdict}."
        ]
    return out


def key_findings(view: ChartView, found: list[Summary] | None = None) -> list[str]:
    """Three to five sentences for the top of the report and the first slide."""
    found = summaries(view) if found is None else found
    r = view.result
    kind = view.spec.kind
    many = view.units.plural.lower()
    out: list[str] = []
    if not found:
        return out
    if kind is Kind.segments:
        largest = max(found, key=lambda s: s.size or 0)
        smallest = min(found, key=lambda s: s.size or 0)
        out.append(
            f"The households fall into {len(found)} {many}; the largest, {largest.name}, is "
            f"{percent(largest.size)} of households and the smallest, {smallest.name}, "
            f"{percent(smallest.size)}."
        )
        for s in found:
            if s.over:
                p, v = s.over[0]
                out.append(f"{s.name} stands out for {p}: index {index(v)} (100 = average).")
        sweep = r.get("sweep")
        if isinstance(sweep, Mapping) and sweep.get("reason"):
            reason = re.sub(r"\bclasses\b", many, str(sweep["reason"]))
            out.append(reason.replace("BIC", "BIC (the fit measure used)", 1))
    elif kind in (Kind.dimensions, Kind.map, Kind.choice):
        for s in found[:4]:
            out.append(" ".join([s.headline, *s.sentences[:1]]))
    else:
        out.append(f"{len(found)} {many} were found.")
        for s in found[:4]:
            out.append(" ".join([s.headline, *s.sentences[:1]]))
    return out
