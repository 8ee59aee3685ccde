"""The units of a result — segments, factors, components, missions, dimensions, features,
communities — under three names: the raw key the result uses ("Class 1"), the plain default
("Segment 1"; the raw name itself when the family's units are named, e.g. household features)
and the name a person gave it, stored with the run as its `labels` (raw key → name).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from backend.errors import InvalidInput
from backend.families import FamilySpec
from backend.presentation.palette import unit_color

MAX_LABEL_LENGTH = 80


def plural(word: str) -> str:
    """community → communities, segment → segments."""
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def unit_keys(spec: FamilySpec, result: Mapping[str, Any]) -> list[str]:
    """The units' raw keys as the result lists them in `spec.units_field`. Units given as
    records (a network's communities: {"community": 2, "products": [...]}) are keyed by the
    unit word and their number: "Community 2"."""
    raw = result.get(spec.units_field)
    if not isinstance(raw, list) or not raw:
        return []
    if all(isinstance(item, dict) for item in raw):
        return [f"{spec.unit} {unit_number(item, k)}" for k, item in enumerate(raw)]
    return [str(item) for item in raw]


def unit_number(item: Mapping[str, Any], position: int) -> int:
    """The number a unit given as a record carries (its `id`, or the field named like the unit),
    else its position from 1."""
    for key in ("id", "number"):
        if isinstance(item.get(key), int):
            return int(item[key])
    for key, value in item.items():
        if isinstance(value, int) and not isinstance(value, bool) and key != "size":
            return value
    return position + 1


@dataclass(frozen=True)
class Units:
    """A result's units: `word` ("Segment"), and per unit its raw key, default and shown name."""

    word: str
    keys: list[str]
    defaults: list[str]
    names: list[str]

    @property
    def rename(self) -> dict[str, str]:
        """Raw key → the name shown."""
        return dict(zip(self.keys, self.names, strict=True))

    @property
    def plural(self) -> str:
        return plural(self.word)

    def name_of(self, position: int) -> str:
        """The shown name of the unit at `position` (from 0); a plain name past the end."""
        if 0 <= position < len(self.names):
            return self.names[position]
        return f"{self.word} {position + 1}"

    def color_of(self, position: int) -> str:
        """The unit's one colour, the same in every chart, page, report and slide: the
        palette's colour for its position (segment 1 is always the first)."""
        return unit_color(position)

    @property
    def colors(self) -> dict[str, str]:
        """Shown name → colour, the palette every output draws the units with."""
        return {name: self.color_of(k) for k, name in enumerate(self.names)}

    def as_json(self) -> list[dict[str, str]]:
        return [
            {"key": key, "default": default, "name": name, "color": self.color_of(k)}
            for k, (key, default, name) in enumerate(
                zip(self.keys, self.defaults, self.names, strict=True)
            )
        ]


def units(
    spec: FamilySpec, result: Mapping[str, Any], labels: Mapping[str, str] | None = None
) -> Units:
    """The result's units with the person's labels where there are some. A label that repeats
    another unit's name gets the unit's default after it, so every name stays distinct."""
    keys = unit_keys(spec, result)
    if spec.named_units:
        defaults = list(keys)
    else:
        defaults = [f"{spec.unit} {k + 1}" for k in range(len(keys))]
    given = labels or {}
    names: list[str] = []
    for key, default in zip(keys, defaults, strict=True):
        name = (given.get(key) or "").strip() or default
        if name in names:
            name = f"{name} ({default})"
        names.append(name)
    return Units(spec.unit, keys, defaults, names)


def clean_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """Labels trimmed, empty ones dropped (an empty name gives the unit its default back);
    each at most MAX_LABEL_LENGTH characters."""
    clean: dict[str, str] = {}
    for key, value in labels.items():
        name = str(value).strip()
        if len(name) > MAX_LABEL_LENGTH:
            raise InvalidInput(
                f'The name for "{key}" has {len(name)} characters; give at most {MAX_LABEL_LENGTH}.'
            )
        if name:
            clean[str(key)] = name
    return clean


def check_labels(
    spec: FamilySpec, result: Mapping[str, Any] | None, labels: Mapping[str, str]
) -> dict[str, str]:
    """`labels` cleaned, their keys checked against the run's units once it has a result."""
    clean = clean_labels(labels)
    if result is None:
        return clean
    keys = unit_keys(spec, result)
    unknown = [key for key in clean if key not in keys]
    if unknown:
        listed = ", ".join(f'"{key}"' for key in keys) or "none"
        raise InvalidInput(
            f"labels: {', '.join(repr(k) for k in unknown)} "
            f"{'is not a unit' if len(unknown) == 1 else 'are not units'} of this run; its "
            f"{plural(spec.unit.lower())} are {listed}."
        )
    return clean
