"""A toy model family, registered the way any family outside the built-in ones is: this one
package and one specification entry, named in EXTRA_FAMILIES (tests/test_toy_family.py starts a
stack with `EXTRA_FAMILIES=tests.toy_family:SPEC`). Nothing else in the product knows it, so a
test that sees it in /models, the app's form, a completed run, the results page and the
exports proves that a family needs nothing else.

"Popularity tiers": each product's penetration, and the products split into `n_tiers` tiers
of popularity; each household's basket size. `fail_with` makes the fit fail on purpose, to
test how failures are told apart (the data's fault vs a bug).
"""

from __future__ import annotations

from typing import Any, Literal

import pandas as pd
from pydantic import Field

from backend.families import FamilySpec, Kind
from backend.schemas.params import ModelParams
from backend.schemas.results import FitResult

MODEL_TYPE = "popularity_tiers"


class ToyParams(ModelParams):
    n_tiers: int = Field(2, ge=1, le=10, description="Number of popularity tiers.")
    fail_with: Literal["nothing", "key_error", "data_error", "redis_away"] = Field(
        "nothing",
        description="Fail on purpose: a bug (KeyError), bad data (DataError), or a transient "
        "outage on every attempt (redis.ConnectionError).",
    )


class ToyResult(FitResult):
    products: list[str]
    tiers: list[str]
    penetration: list[float] = Field(description="Share of households buying each product.")
    tier_of_product: list[int] = Field(description="Each product's tier (1 = most bought).")
    n_obs: int


def tables(result: dict[str, Any]) -> dict[str, pd.DataFrame]:
    return {
        "penetration": pd.DataFrame(
            {
                "product": result["products"],
                "penetration": result["penetration"],
                "tier": result["tier_of_product"],
            }
        )
    }


def embedding(result: dict[str, Any]) -> pd.DataFrame:
    """Products placed by their penetration and their tier."""
    return pd.DataFrame(
        {"penetration": result["penetration"], "tier": result["tier_of_product"]},
        index=result["products"],
    )


SPEC = FamilySpec(
    MODEL_TYPE,
    "Popularity tiers (toy)",
    "Each product's penetration, products split into tiers of popularity.",
    ToyParams,
    ToyResult,
    fit="tests.toy_family.fit:fit",
    kind=Kind.other,
    unit="Tier",
    units_field="tiers",
    household_outputs=("basket size",),
    product_outputs=("penetration", "tier_of_product"),
    tables=tables,
    embedding=embedding,
)
