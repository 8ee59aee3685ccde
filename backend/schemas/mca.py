"""Multiple correspondence analysis (the product map): parameters and result."""

from __future__ import annotations

from pydantic import BaseModel, Field

from backend.schemas.params import ModelParams
from backend.schemas.results import FitResult


class MCAParams(ModelParams):
    """MCA of the product columns, each coded bought / not bought (/ missing)."""

    n_components: int = Field(
        5, ge=1, le=100, description="Dimensions kept for coordinates, contributions and cos²."
    )
    include_empty: bool = Field(
        False,
        description="Keep households with no data (every product missing) in the map. Left "
        "out by default (counted in n_rows_empty): together they would form a dimension of "
        "their own.",
    )


class DimensionRow(BaseModel):
    dimension: str
    eigenvalue: float
    percent_inertia: float
    cumulative_percent: float
    benzecri_eigenvalue: float
    benzecri_percent: float
    greenacre_percent: float


class CategoryRow(BaseModel):
    """One category of one product: bought, not bought or missing."""

    category: str
    product: str
    level: str
    count: int
    mass: float
    coordinates: list[float]
    contributions: list[float] = Field(description="Percent of each dimension's inertia.")
    cos2: list[float]
    v_test: list[float]


class MCAResult(FitResult):
    n_components: int
    products: list[str]
    dimensions: list[str]
    eigenvalues: list[float] = Field(description="All principal inertias (indicator MCA).")
    percent_inertia: list[float]
    total_inertia: float
    benzecri_eigenvalues: list[float]
    benzecri_percent: list[float]
    greenacre_percent: list[float]
    greenacre_total_inertia: float
    summary: list[DimensionRow] = Field(description="The kept dimensions, one row each.")
    categories: list[CategoryRow]
    product_coordinates: list[list[float]] = Field(
        description="products × dimensions: coordinates of each product's 'bought' category."
    )
    product_eta2: list[list[float]] = Field(
        description="products × dimensions: squared correlation ratio of product and dimension."
    )
    n_obs: int
    n_missing_cells: int
    n_rows_empty: int = Field(
        0,
        description="Households with every product missing, left out of the map (empty "
        "coordinates in the per-household table) unless include_empty was asked for.",
    )
    n_rows_mapped: int | None = Field(None, description="Households the map was computed on.")
