"""Product features as a table of their own (issue 18, item 5): a dataset with one row per
product (a `product` column, or else its first text column, naming the product; every other
column a feature), attached to a discrete choice run by `params.product_features_dataset`.

Checked when the run is submitted, each problem a 422 naming it: a dataset that does not exist,
both the dataset and `product_features` records given, no product column, a product named twice,
a product the run does not have, a run product with no row, a feature column that is mostly
numbers but holds text. Text columns are categorical features (one-hot encoded, as records'
text values are). The table then becomes the run's `product_features` records, so the worker
(and every client reading the run's params) sees exactly what the records path gives.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from backend.errors import InvalidInput, NotFound
from backend.orm import Dataset, is_id
from backend.schemas.params import ModelParams
from backend.services.household_features import NUMERIC_SHARE
from backend.services.ingest import PLAIN_NUMBER, format_values
from backend.storage.records import dataset_frame

FIELD = "product_features_dataset"
SHOWN = 5


def attach(
    session: Session, validated: list[ModelParams], products: Sequence[str]
) -> list[ModelParams]:
    """Each params with `product_features` filled from the dataset it names."""
    return [_attached(session, params, products) for params in validated]


def _attached(session: Session, params: ModelParams, products: Sequence[str]) -> ModelParams:
    dataset_id = getattr(params, FIELD, None)
    if dataset_id is None:
        return params
    if getattr(params, "product_features", None):
        raise InvalidInput(
            f'Give product features either as "{FIELD}" or as "product_features" records, not both.'
        )
    dataset = session.get(Dataset, dataset_id) if is_id(dataset_id) else None
    if dataset is None:
        raise NotFound(
            f"{FIELD}: dataset {dataset_id} does not exist; upload the product-feature "
            "table first (POST /api/v1/datasets)."
        )
    table = records(dataset_frame(dataset), products, dataset_id)
    return params.model_copy(update={"product_features": table})


def product_column(frame: pd.DataFrame, dataset_id: str) -> str:
    by_lower = {str(c).strip().lower(): str(c) for c in frame.columns}
    if "product" in by_lower:
        return by_lower["product"]
    text = [str(c) for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if not text:
        raise InvalidInput(
            f"{FIELD}: dataset {dataset_id} has no product column; name one column "
            '"product" (the run\'s product column names), the others features.'
        )
    return text[0]


def records(frame: pd.DataFrame, products: Sequence[str], dataset_id: str) -> list[dict[str, Any]]:
    """The table as product_features records, or a 422 naming what is wrong with it."""
    name = product_column(frame, dataset_id)
    features = [str(c) for c in frame.columns if str(c) != name]
    if not features:
        raise InvalidInput(f'{FIELD}: dataset {dataset_id} has no feature column beside "{name}".')
    named = frame[name].map(_product_name)
    if named.isna().any():
        rows = [int(i) + 1 for i in named.index[named.isna()][:SHOWN]]
        raise InvalidInput(
            f'{FIELD}: column "{name}" has no product name on data row(s) '
            f"{', '.join(map(str, rows))}."
        )
    repeated = sorted(set(named[named.duplicated()]))
    if repeated:
        raise InvalidInput(f"{FIELD}: product(s) listed twice: {format_values(repeated[:SHOWN])}.")
    unknown = sorted(set(named) - set(products))
    if unknown:
        more = " …" if len(products) > SHOWN else ""
        raise InvalidInput(
            f"{FIELD}: product(s) {format_values(unknown[:SHOWN])} are not among the run's "
            f"products ({format_values(list(products)[:SHOWN])}{more})."
        )
    missing = [p for p in products if p not in set(named)]
    if missing:
        raise InvalidInput(
            f"{FIELD}: no row for product(s) {format_values(missing[:SHOWN])}; give every "
            "product of the run a row."
        )
    out_columns: dict[str, list[Any]] = {}
    for feature in features:
        out_columns[feature] = _feature_values(frame[feature], named, feature)
    return [
        {"product": product, **{f: out_columns[f][i] for f in features}}
        for i, product in enumerate(named)
    ]


def _product_name(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    if isinstance(value, float) and value.is_integer():
        text = str(int(value))
    return text or None


def _feature_values(series: pd.Series, named: pd.Series, feature: str) -> list[Any]:
    """Numbers as floats, text as text, blanks as None; a mostly numeric column with text is
    refused, naming the products whose cells hold it."""
    if pd.api.types.is_bool_dtype(series):
        return [None if pd.isna(v) else bool(v) for v in series]
    if pd.api.types.is_numeric_dtype(series):
        return [None if pd.isna(v) or not math.isfinite(float(v)) else float(v) for v in series]
    text = series.map(lambda v: None if pd.isna(v) else str(v).strip() or None)
    present = text.dropna()
    is_number = present.str.fullmatch(PLAIN_NUMBER.pattern)
    if len(present) and is_number.all():
        return [None if v is None else float(v) for v in text]
    if len(present) and is_number.mean() >= NUMERIC_SHARE:
        bad = present[~is_number]
        where = [str(named[i]) for i in bad.index[:SHOWN]]
        raise InvalidInput(
            f'{FIELD}: feature "{feature}" is numeric but holds text: '
            f"{format_values(sorted(set(bad))[:SHOWN])} (product(s) {', '.join(where)}). "
            "Recode them as numbers or blanks (missing)."
        )
    return list(text)
