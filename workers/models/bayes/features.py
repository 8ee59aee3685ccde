"""Encoding of household and product features for the discrete choice model.

Numeric columns are standardised (mean 0, sd 1; the mean and sd are reported) unless they are
0/1, which stay as they are. Missing numeric values take the mean and add a `<column>_missing`
indicator. Text, categorical and boolean columns are one-hot encoded against their most frequent
level; missing values become their own level. Constant columns are dropped (with a warning).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from backend.errors import DataError
from backend.schemas.dcm import FeatureEncoding

MISSING_LEVEL = "(missing)"


@dataclass
class EncodedFeatures:
    matrix: np.ndarray  # rows × encoded columns
    names: list[str]
    encodings: list[FeatureEncoding]
    warnings: list[str] = field(default_factory=list)

    def described(self, who: str) -> dict[str, Any]:
        """The result's fields `<who>_features` (encoded column names) and `<who>_encoding`."""
        return {f"{who}_features": self.names, f"{who}_encoding": self.encodings}


def encode(frame: pd.DataFrame | None, max_categories: int, what: str) -> EncodedFeatures:
    if frame is None or frame.shape[1] == 0:
        return EncodedFeatures(np.zeros((0 if frame is None else len(frame), 0)), [], [])
    columns: list[np.ndarray] = []
    names: list[str] = []
    encodings: list[FeatureEncoding] = []
    warnings: list[str] = []
    for column in frame.columns:
        series = frame[column]
        label = str(column)
        n_missing = int(series.isna().sum())
        if n_missing == len(series):
            raise DataError(f"{what} column {label!r} has no values.")
        if _is_numeric(series):
            values = pd.to_numeric(series, errors="coerce").astype(float)
            observed = values.dropna()
            if observed.nunique() <= 1:
                warnings.append(f"{what} column {label!r} is constant and was left out.")
                continue
            binary = set(np.unique(observed)) <= {0.0, 1.0}
            mean = float(observed.mean())
            sd = 1.0 if binary else float(observed.std(ddof=0))
            centre = 0.0 if binary else mean
            filled = values.fillna(mean).to_numpy()
            columns.append((filled - centre) / sd)
            names.append(label)
            encoded = [label]
            if n_missing:
                columns.append(values.isna().to_numpy(dtype=float))
                names.append(f"{label}_missing")
                encoded.append(f"{label}_missing")
            encodings.append(
                FeatureEncoding(
                    column=label,
                    kind="binary" if binary else "numeric",
                    encoded_columns=encoded,
                    mean=None if binary else mean,
                    sd=None if binary else sd,
                    n_missing=n_missing,
                    missing="mean imputed, plus a 0/1 missing indicator" if n_missing else None,
                )
            )
            continue
        text = series.astype("string").fillna(MISSING_LEVEL).astype(str)
        counts = text.value_counts()
        if len(counts) > max_categories:
            raise DataError(
                f"{what} column {label!r} has {len(counts)} distinct values, more than "
                f"max_categories={max_categories}; group rare values or raise max_categories."
            )
        if len(counts) <= 1:
            warnings.append(f"{what} column {label!r} is constant and was left out.")
            continue
        reference = str(counts.index[0])
        levels = sorted(str(level) for level in counts.index)
        encoded = []
        for level in levels:
            if level == reference:
                continue
            columns.append((text == level).to_numpy(dtype=float))
            names.append(f"{label}={level}")
            encoded.append(f"{label}={level}")
        encodings.append(
            FeatureEncoding(
                column=label,
                kind="categorical",
                encoded_columns=encoded,
                levels=levels,
                reference=reference,
                n_missing=n_missing,
                missing=f"its own level {MISSING_LEVEL!r}" if n_missing else None,
            )
        )
    matrix = np.column_stack(columns) if columns else np.zeros((len(frame), 0))
    return EncodedFeatures(matrix, names, encodings, warnings)


def _is_numeric(series: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(series):
        return False
    if pd.api.types.is_numeric_dtype(series):
        return True
    converted = pd.to_numeric(series.dropna(), errors="coerce")
    return bool(len(converted)) and bool(converted.notna().all())


def product_table(
    records: Sequence[Mapping[str, Any]] | None, products: list[str]
) -> pd.DataFrame | None:
    """The product features as a frame indexed like `products` (every product needs a row)."""
    if not records:
        return None
    frame = pd.DataFrame.from_records(records)
    if "product" not in frame.columns:
        raise DataError('product_features records need a "product" key naming the product.')
    frame["product"] = frame["product"].astype(str)
    duplicated = sorted(set(frame.loc[frame["product"].duplicated(), "product"]))
    if duplicated:
        raise DataError(f"product_features lists product(s) twice: {', '.join(duplicated[:5])}.")
    unknown = sorted(set(frame["product"]) - set(products))
    if unknown:
        raise DataError(
            f"product_features names product(s) not among the run's products: "
            f"{', '.join(unknown[:5])}."
        )
    missing = [p for p in products if p not in set(frame["product"])]
    if missing:
        raise DataError(
            f"product_features has no row for product(s) {', '.join(missing[:5])}; give every "
            "product a row."
        )
    return frame.set_index("product").loc[products].reset_index(drop=True)
