"""What every fit function receives (the binary matrix and a progress callable) and the shape
every family's fit has: `fit(data, params, progress) -> result` (FitFunction)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import numpy as np
import pandas as pd

from backend.schemas.params import ModelParams
from backend.schemas.results import FitResult


class Progress(Protocol):
    """`progress(fraction, message, **fields)`; may raise RunCancelled to stop the fit."""

    def __call__(self, fraction: float, message: str, **fields: Any) -> None: ...


def no_progress(fraction: float, message: str, **fields: Any) -> None:
    """A Progress that reports nowhere (unit tests, benchmarks)."""


@dataclass
class BinaryMatrix:
    """Households × products, float64 with 0/1 and NaN for a missing cell."""

    values: np.ndarray
    products: list[str]
    row_ids: pd.Series | None = None
    covariates: pd.DataFrame | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    # Case or survey weights per row (positive, finite), or None: every row counts once.
    weights: np.ndarray | None = None
    # Distal outcomes (LCA's `distal_columns`): compared between the classes by 3-step
    # estimation, never part of the fit.
    outcomes: pd.DataFrame | None = None

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        products: list[str],
        id_column: str | None = None,
        covariate_columns: list[str] | None = None,
        weight_column: str | None = None,
        outcome_columns: list[str] | None = None,
    ) -> BinaryMatrix:
        values = (
            frame[products]
            .apply(pd.to_numeric, errors="coerce")
            .to_numpy(dtype=np.float64, copy=True)
        )
        row_ids = frame[id_column].reset_index(drop=True) if id_column else None
        covariates = frame[covariate_columns].reset_index(drop=True) if covariate_columns else None
        weights = None
        if weight_column:
            weights = pd.to_numeric(
                frame[weight_column].astype("string").str.strip(), errors="coerce"
            ).to_numpy(dtype=np.float64, na_value=np.nan)
        outcomes = frame[outcome_columns].reset_index(drop=True) if outcome_columns else None
        return cls(
            values=values,
            products=list(products),
            row_ids=row_ids,
            covariates=covariates,
            weights=weights,
            outcomes=outcomes,
        )

    def row_weights(self) -> np.ndarray:
        """The weight of every row (ones when the run has no weight column)."""
        if self.weights is None:
            return np.ones(self.n_rows)
        return np.asarray(self.weights, dtype=np.float64)

    def subset(self, keep: np.ndarray) -> BinaryMatrix:
        """The rows where `keep` is true (ids, features and weights with them)."""
        return BinaryMatrix(
            values=self.values[keep],
            products=self.products,
            row_ids=self.row_index()[keep].reset_index(drop=True),
            covariates=None
            if self.covariates is None
            else self.covariates[keep].reset_index(drop=True),
            meta=dict(self.meta),
            weights=None if self.weights is None else self.row_weights()[keep],
            outcomes=None if self.outcomes is None else self.outcomes[keep].reset_index(drop=True),
        )

    @property
    def n_rows(self) -> int:
        return int(self.values.shape[0])

    @property
    def n_products(self) -> int:
        return int(self.values.shape[1])

    @property
    def n_missing(self) -> int:
        return int(np.isnan(self.values).sum())

    def digest(self) -> str:
        h = hashlib.sha256()
        h.update("\x1f".join(self.products).encode())
        h.update(np.ascontiguousarray(self.values).data)  # the buffer itself: no copy
        if self.weights is not None:
            h.update(b"weights")
            h.update(np.ascontiguousarray(self.weights, dtype=np.float64).data)
        return h.hexdigest()

    def row_index(self, name: str = "row") -> pd.Series:
        """Keys for per-row outputs: the dataset's ID column, else the 1-based row number."""
        if self.row_ids is not None:
            return self.row_ids
        return pd.Series(np.arange(1, self.n_rows + 1), name=name)


P = TypeVar("P", bound=ModelParams, contravariant=True)
R = TypeVar("R", bound=FitResult, covariant=True)


class FitFunction(Protocol[P, R]):
    """A family's fit: a pure function of the data, its validated parameters and a progress
    reporter. Each fit module ends with `_checked: FitFunction[XParams, XResult] = fit`, so
    mypy checks the fit against this shape."""

    def __call__(self, data: BinaryMatrix, params: P, progress: Progress, /) -> R: ...
