"""What one model family is, in one place: its params and result models, where its fit lives,
its queue, what a fit costs (an estimate from the params and the data's size, checked before a
run is queued), and what clients need to show it (the kind of structure, the word for one unit,
which per-household and per-product outputs exist, where its product embedding comes from).

A specification holds no model code: the fit is an import path, loaded on workers only, so the
API never imports NumPy-heavy fitting libraries. Everything else it points at (table builders,
the embedding) reads the stored result JSON with pandas/NumPy alone.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import pandas as pd
from pydantic import BaseModel

from backend.schemas.params import ModelParams

# Quick fits (EM, SVD, counts) and long sampling go to separate queues so a long NUTS run
# never blocks a quick LCA.
QUICK_QUEUE = "fits"
SAMPLING_QUEUE = "sampling"

Result = dict[str, Any]
# The result's tables for exports: file stem → table (units under their raw names).
TableBuilder = Callable[[Result], dict[str, pd.DataFrame]]
# Products × dimensions: what the product map, dendrogram, competitors and clusters are made of.
EmbeddingBuilder = Callable[[Result], pd.DataFrame]


@dataclass(frozen=True)
class DataShape:
    """The size of what a run fits, known before it is queued (from the dataset's profile)."""

    n_rows: int  # households
    n_products: int
    # Design columns the household features make: one per numeric or 0/1 column, levels − 1
    # per text column (one-hot against a reference level).
    n_covariates: int = 0


@dataclass(frozen=True)
class Cost:
    """What one fit is expected to need on one worker process: wall seconds and peak resident
    memory (the process's, libraries and data included). Estimates, calibrated by measurement
    (bench/costs.py), not promises."""

    seconds: float
    memory_mb: float
    # The parameters that drive each, the biggest first: what a refusal says to lower.
    time_drivers: tuple[str, ...] = ()
    memory_drivers: tuple[str, ...] = ()

    def __add__(self, other: Cost) -> Cost:
        """Two fits one after the other (a sweep's children): the seconds add up, the memory is
        the larger one's (each fit is its own message, run alone by a process)."""
        return Cost(
            self.seconds + other.seconds,
            max(self.memory_mb, other.memory_mb),
            tuple(dict.fromkeys(self.time_drivers + other.time_drivers)),
            tuple(dict.fromkeys(self.memory_drivers + other.memory_drivers)),
        )


# The family's cost of one fit: its validated params and the data's shape → Cost. Light: plain
# arithmetic, no model imports (the API calls it before queueing).
CostFunction = Callable[[Any, DataShape], Cost]


class Kind(StrEnum):
    """The kind of structure a family finds; clients pick their view by it."""

    segments = "segments"  # discrete groups of households
    dimensions = "dimensions"  # continuous scores behind the purchases
    baskets = "baskets"  # parts-based mixtures (components, missions)
    map = "map"  # a product map (correspondence analysis)
    graph = "graph"  # a co-purchase network and its communities
    choice = "choice"  # drivers of each purchase (household and product features)
    other = "other"  # no dedicated view: clients show its numbers and tables


class HouseholdFeatures(StrEnum):
    """Whether runs of the family use the run's `covariate_columns`."""

    none = "none"
    optional = "optional"
    required = "required"


@dataclass(frozen=True)
class ProductProfile:
    """Where the products × units table of a result is: the result field and its orientation.
    LCA keeps classes × products, factor models products × factors."""

    field: str
    products_on_rows: bool = True


@dataclass(frozen=True)
class FamilySpec:
    model_type: str
    title: str
    description: str
    params: type[ModelParams]
    result: type[BaseModel]
    # "package.module:function" of the pure fit(data, params, progress) -> result.
    fit: str
    kind: Kind
    unit: str  # a person's word for one unit: "Segment", "Factor", "Mission", …
    units_field: str  # the result field listing the units' raw names
    queue: str = QUICK_QUEUE
    # The parameter a list or range of values turns into a sweep (one child run per value).
    sweep_param: str | None = None
    household_features: HouseholdFeatures = HouseholdFeatures.none
    # The units' raw names are meaningful (household features): show them, not "Unit k".
    named_units: bool = False
    bayesian: bool = False
    # Per-household outputs (the run's assignments table), in a person's words.
    household_outputs: tuple[str, ...] = ()
    # Result fields indexed by product (profiles, loadings, coordinates, …).
    product_outputs: tuple[str, ...] = ()
    profile: ProductProfile | None = None
    tables: TableBuilder | None = None
    embedding: EmbeddingBuilder | None = None
    # Estimated seconds and memory of one fit (None: no estimate, so no budget is checked).
    cost: CostFunction | None = None
    # "package.module:function" of score(data, result, progress) -> Scored: the stored model
    # applied to new households (workers/scoring/; loaded on workers only). None: runs of the
    # family cannot score.
    score: str | None = None

    def load_fit(self) -> Callable[..., Any]:
        """The fit function (imports the model code: call it on workers only)."""
        module, _, attribute = self.fit.partition(":")
        return getattr(importlib.import_module(module), attribute or "fit")

    def load_score(self) -> Callable[..., Any]:
        """The score function (imports the model code: call it on workers only)."""
        if self.score is None:
            raise ValueError(f"{self.model_type} runs cannot score new households.")
        module, _, attribute = self.score.partition(":")
        return getattr(importlib.import_module(module), attribute or "score")

    def client_view(self) -> dict[str, Any]:
        """What /models tells clients about the family beyond its parameters."""
        return {
            "kind": self.kind.value,
            "unit": self.unit,
            "units_field": self.units_field,
            "named_units": self.named_units,
            "household_features": self.household_features.value,
            "bayesian": self.bayesian,
            "household_outputs": list(self.household_outputs),
            "product_outputs": list(self.product_outputs),
            "profile": None
            if self.profile is None
            else {"field": self.profile.field, "products_on_rows": self.profile.products_on_rows},
            "has_product_map": self.embedding is not None,
            "can_score": self.score is not None,
        }
