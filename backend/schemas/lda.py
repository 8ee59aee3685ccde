"""Latent Dirichlet allocation (purchase topics): parameters and result."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from backend.schemas.params import ModelParams
from backend.schemas.results import FitResult


class LDAParams(ModelParams):
    """LDA of the households' baskets (scikit-learn's LatentDirichletAllocation)."""

    n_topics: int = Field(5, ge=1, le=50, description="Number of topics (shopping missions).")
    doc_topic_prior: float | None = Field(
        None, gt=0, le=100, description="Dirichlet prior of household mixes; empty = 1/n_topics."
    )
    topic_word_prior: float | None = Field(
        None, gt=0, le=100, description="Dirichlet prior of topic profiles; empty = 1/n_topics."
    )
    learning_method: Literal["auto", "batch", "online"] = Field(
        "auto",
        description="batch (all households per update), online (mini-batches) or auto "
        "(batch up to 20,000 households, online above).",
    )
    batch_size: int = Field(1024, ge=16, le=1_000_000, description="Mini-batch size (online).")
    learning_decay: float = Field(0.7, gt=0.5, le=1, description="Online learning-rate decay.")
    learning_offset: float = Field(10.0, gt=1, le=10_000, description="Online learning offset.")
    max_iter: int = Field(100, ge=1, le=10_000, description="Passes over the data.")
    evaluate_every: int = Field(
        5, ge=0, le=1000, description="Check perplexity every this many passes (0: never)."
    )
    tol: float = Field(
        0.1, gt=0, le=1000, description="Stop when perplexity moves less between checks."
    )
    random_state: int | None = Field(None, ge=0, le=2**32 - 1, description="Seed; empty picks one.")


class TopicProduct(BaseModel):
    product: str
    probability: float = Field(description="P(product | topic).")
    lift: float = Field(description="P(product | topic) / the product's share of all purchases.")


class LDAResult(FitResult):
    n_topics: int
    products: list[str]
    topics: list[str]
    topic_product: list[list[float]] = Field(description="topics × products: P(product | topic).")
    topic_share: list[float] = Field(description="Average weight of each topic over households.")
    top_products: list[list[TopicProduct]]
    perplexity: float
    loglik: float = Field(description="Approximate log-likelihood (variational bound).")
    learning_method: Literal["batch", "online"]
    n_iter: int
    converged: bool
    n_obs: int
    n_empty_households: int
    n_missing_cells: int
