"""Co-purchase network: parameters and result."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from backend.schemas.params import ModelParams
from backend.schemas.results import FitResult

Measure = Literal["lift", "phi", "jaccard", "cosine"]

# Without a threshold: lift and phi have chance levels (1 and 0) to beat; Jaccard and cosine
# have none (they grow with the products' shares of buyers), so their edges are the pairs
# bought together 20 % more often than chance (lift above 1.2), weighted by the measure.
DEFAULT_THRESHOLDS: dict[str, tuple[str, float]] = {
    "lift": ("lift", 1.2),
    "phi": ("phi", 0.1),
    "jaccard": ("lift", 1.2),
    "cosine": ("lift", 1.2),
}


class NetworkParams(ModelParams):
    """Products linked when they are bought together more than a threshold."""

    measure: Measure = Field(
        "lift",
        description="Edge weight: lift (observed / expected co-purchases), phi (correlation), "
        "jaccard or cosine.",
    )
    threshold: float | None = Field(
        None,
        ge=0,
        le=1000,
        description="Keep edges whose measure is above this; empty keeps lift above 1.2 "
        "(phi above 0.1 for phi).",
    )
    min_co_purchases: int = Field(
        5, ge=1, le=1_000_000, description="Households that must buy both products for an edge."
    )
    community: Literal["louvain", "greedy_modularity"] = Field(
        "louvain", description="Community detection: Louvain or greedy modularity."
    )
    resolution: float = Field(
        1.0, gt=0, le=10, description="Modularity resolution: above 1 gives more, smaller groups."
    )
    random_state: int | None = Field(
        None, ge=0, le=2**32 - 1, description="Seed of Louvain; empty picks one."
    )

    @property
    def edge_rule(self) -> tuple[str, float]:
        """(measure compared, threshold) deciding which pairs are linked."""
        if self.threshold is None:
            return DEFAULT_THRESHOLDS[self.measure]
        return self.measure, self.threshold


class NetworkNode(BaseModel):
    product: str
    penetration: float
    buyers: int
    community: int
    degree: int
    strength: float = Field(description="Sum of the weights of the product's edges.")
    degree_centrality: float
    betweenness: float
    eigenvector: float | None


class NetworkEdge(BaseModel):
    source: str
    target: str
    weight: float
    co_purchases: int
    lift: float
    phi: float
    jaccard: float
    cosine: float


class Community(BaseModel):
    community: int
    products: list[str]
    size: int


class NetworkResult(FitResult):
    measure: Measure
    threshold: float
    threshold_measure: Measure = Field(description="The measure the threshold applies to.")
    products: list[str]
    nodes: list[NetworkNode]
    edges: list[NetworkEdge]
    communities: list[Community]
    modularity: float | None
    n_edges: int
    density: float
    n_isolated: int
    n_components: int = Field(description="Connected components of the graph.")
    similarity: list[list[float]] = Field(
        description="products × products: the chosen measure for every pair."
    )
    n_obs: int
    n_missing_cells: int
