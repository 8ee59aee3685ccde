"""Bodies of a run's chart catalogue (GET /runs/{id}/charts)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class UnitOut(BaseModel):
    key: str = Field(description='The raw unit key the result uses ("Class 1"); labels use it.')
    default: str = Field(description='The plain name before anyone names it ("Segment 1").')
    name: str = Field(description="The name shown: the run's label, else the default.")
    color: str = Field(
        "", description="The unit's colour (#rrggbb), the same in every chart, report and slide."
    )


class ChartChoice(BaseModel):
    value: str
    label: str


class ChartOption(BaseModel):
    name: str = Field(description="The query parameter of GET /runs/{id}/charts/{chart_id}.")
    label: str
    kind: str = Field(
        description="choice (one of `choices`), bool (true/false), units (comma-separated unit "
        "keys) or dimension (a unit's position from 0)."
    )
    default: Any
    choices: list[ChartChoice] = Field(default_factory=list)
    help: str = ""


class ChartSection(BaseModel):
    id: str
    title: str
    caption: str
    options: list[ChartOption] = Field(default_factory=list)
    tags: list[str] = Field(
        default_factory=list,
        description='What the chart stands for: "profile" (the units\' profile), "map" (a '
        "product map).",
    )


class ChartList(BaseModel):
    run_id: str
    unit: str = Field(description='A person\'s word for one unit ("Segment").')
    units: list[UnitOut]
    sections: list[ChartSection] = Field(description="The run's charts, in reading order.")
