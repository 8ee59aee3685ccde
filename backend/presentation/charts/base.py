"""What a chart is drawn from (`ChartView`: a finished run's result, its family and its units'
names) and what the catalogue lists (`Section`: id, title, caption, the options a client may
pass). No Altair here: the catalogue is read without drawing anything."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from backend.errors import InvalidInput
from backend.families import FamilySpec
from backend.presentation.names import Units

# The most products a products-by-something chart draws (heatmaps, comparisons, competitors);
# a larger result is drawn at its most telling products and the caption says so.
MAX_PRODUCTS = 80
# The most households drawn as points or densities.
MAX_HOUSEHOLDS = 3000


@dataclass
class ChartView:
    spec: FamilySpec
    result: Mapping[str, Any]
    units: Units
    # Per-household outputs (the run's assignments), read on first use; None when there are none.
    load_rows: Callable[[], pd.DataFrame | None] = lambda: None
    has_rows: bool = False  # the run kept per-household outputs
    _rows: pd.DataFrame | None = field(default=None, repr=False)
    _loaded: bool = field(default=False, repr=False)

    @property
    def product_map(self) -> Mapping[str, Any] | None:
        stored = self.result.get("product_map")
        return stored if isinstance(stored, Mapping) and stored.get("products") else None

    def rows(self) -> pd.DataFrame | None:
        if not self._loaded:
            self._rows, self._loaded = self.load_rows(), True
        return self._rows


OptionKind = Literal["choice", "bool", "units", "dimension"]


@dataclass(frozen=True)
class Option:
    """A query option of a chart. `choice`: one of `choices` (value, label); `bool`: true or
    false; `units`: a comma-separated list of the run's unit keys; `dimension`: a unit's
    position (0, 1, …)."""

    name: str
    label: str
    kind: OptionKind
    default: Any
    choices: tuple[tuple[str, str], ...] = ()
    help: str = ""

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "label": self.label,
            "kind": self.kind,
            "default": self.default,
        }
        if self.choices:
            out["choices"] = [{"value": v, "label": label} for v, label in self.choices]
        if self.help:
            out["help"] = self.help
        return out

    def parse(self, raw: str, view: ChartView) -> Any:
        if self.kind == "bool":
            if raw.lower() in ("true", "1", "yes"):
                return True
            if raw.lower() in ("false", "0", "no"):
                return False
            raise InvalidInput(f"Option {self.name} is true or false; got {raw!r}.")
        if self.kind == "choice":
            values = [v for v, _ in self.choices]
            if raw not in values:
                raise InvalidInput(
                    f"Option {self.name} is one of {', '.join(values)}; got {raw!r}."
                )
            return raw
        if self.kind == "units":
            chosen = [part.strip() for part in raw.split(",") if part.strip()]
            unknown = [c for c in chosen if c not in view.units.keys]
            if unknown:
                raise InvalidInput(
                    f"Option {self.name}: {', '.join(repr(u) for u in unknown)} not among this "
                    f"run's {view.units.plural.lower()} ({', '.join(view.units.keys)})."
                )
            return chosen
        try:
            position = int(raw)
        except ValueError:
            position = -1
        if not 0 <= position < len(view.units.keys):
            raise InvalidInput(
                f"Option {self.name} is a {view.units.word.lower()} number from 0 to "
                f"{len(view.units.keys) - 1}; got {raw!r}."
            )
        return position


@dataclass(frozen=True)
class Section:
    """One chart of a run, as the catalogue lists it. `draw` is "module:function" under
    backend.presentation.charts, imported only when the chart is drawn. `tags` say what the
    chart stands for ("profile": the units' profile; "map": the product map), for clients that
    put runs side by side. `report` lists the option sets the HTML report draws it with."""

    id: str
    title: str
    caption: str
    draw: str
    options: tuple[Option, ...] = ()
    tags: tuple[str, ...] = ()
    report: tuple[Mapping[str, Any], ...] = ({},)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "caption": self.caption,
            "options": [o.as_json() for o in self.options],
            "tags": list(self.tags),
        }

    def parse_options(self, query: Mapping[str, str], view: ChartView) -> dict[str, Any]:
        """The options from a query string, defaults for those not given; an unknown option or
        a value out of range is refused with a sentence naming it."""
        known = {o.name: o for o in self.options}
        unknown = [name for name in query if name not in known]
        if unknown:
            takes = ", ".join(known) if known else "no options"
            raise InvalidInput(
                f"The chart {self.id} has no option {', '.join(repr(u) for u in unknown)}; it "
                f"takes {takes}."
            )
        return {
            name: option.parse(query[name], view) if name in query else option.default
            for name, option in known.items()
        }

    def builder(self) -> Callable[[ChartView, dict[str, Any]], Any]:
        module, _, function = self.draw.partition(":")
        loaded = importlib.import_module(f"backend.presentation.charts.{module}")
        builder: Callable[[ChartView, dict[str, Any]], Any] = getattr(loaded, function)
        return builder
