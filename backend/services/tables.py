"""A result's export tables: its family's own (backend/families) and, for every family with a
product embedding, the product map stored with it."""

from __future__ import annotations

from typing import Any

import pandas as pd

from backend.families import family
from backend.services.product_map_tables import product_map_tables


def result_tables(model_type: str, result: dict[str, Any]) -> dict[str, pd.DataFrame]:
    builder = family(model_type).tables
    tables = builder(result) if builder else {}
    stored_map = result.get("product_map")
    if stored_map:
        tables |= product_map_tables(stored_map)
    return tables
