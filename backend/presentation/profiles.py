"""A result's products × units table (its specification says which field and which way round)
and each product's most characteristic unit, which colours the product map and dendrogram."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from backend.families import FamilySpec, Kind
from backend.presentation.names import Units, unit_number


def matrix(value: Any) -> np.ndarray | None:
    """A 2-D float array, or None when `value` is not a non-empty matrix."""
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None
    return array if array.ndim == 2 and array.size else None


def products(result: Mapping[str, Any]) -> list[str]:
    raw = result.get("products")
    return [str(p) for p in raw] if isinstance(raw, list) else []


def profile(spec: FamilySpec, result: Mapping[str, Any], units: Units) -> pd.DataFrame | None:
    """Products × units under the units' shown names: what characterises each unit (chance of
    buying, loadings, weights, coordinates, effects). None when the result has no such table."""
    if spec.profile is None:
        return None
    values = matrix(result.get(spec.profile.field))
    if values is None:
        return None
    if not spec.profile.products_on_rows:
        values = values.T
    names = products(result)
    if values.shape[0] != len(names):
        return None
    columns = [units.name_of(k) for k in range(values.shape[1])]
    return pd.DataFrame(values, index=pd.Index(names, name="Product"), columns=columns)


def communities(result: Mapping[str, Any], field: str) -> dict[str, int]:
    """{product: unit number} when the units are records listing their products."""
    out: dict[str, int] = {}
    raw = result.get(field)
    if isinstance(raw, list):
        for k, item in enumerate(raw):
            if isinstance(item, dict):
                for product in item.get("products") or []:
                    out[str(product)] = unit_number(item, k)
    return out


def strongest_unit(spec: FamilySpec, result: Mapping[str, Any], units: Units) -> dict[str, str]:
    """Each product's most characteristic unit: the one listing it (communities), the segment
    where it over-indexes most, the basket holding the largest share of it, else the largest
    loading or coordinate in size."""
    members = communities(result, spec.units_field)
    if members:
        numbers = sorted(set(members.values()))
        by_number = {n: units.name_of(k) for k, n in enumerate(numbers)}
        return {product: by_number[n] for product, n in members.items()}
    prof = profile(spec, result, units)
    if prof is None or prof.shape[1] == 0:
        return {}
    values = prof.to_numpy(dtype=float)
    if spec.kind is Kind.segments:
        sizes = np.asarray(result.get("class_sizes") or [], dtype=float)
        overall = values @ sizes if sizes.size == values.shape[1] else values.mean(axis=1)
        values = values / np.maximum(overall.reshape(-1, 1), 1e-9)
    elif spec.kind is Kind.baskets:
        values = values / np.maximum(values.sum(axis=0, keepdims=True), 1e-12)
    else:
        values = np.abs(values)
    best = np.nanargmax(np.nan_to_num(values, nan=-np.inf), axis=1)
    return {str(p): str(prof.columns[k]) for p, k in zip(prof.index, best, strict=True)}
