"""Declarative parameters of each model family, with ranges. The API publishes their JSON Schema."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ModelParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LCAParams(ModelParams):
    """Latent class analysis of binary product columns (EM, many random starts)."""

    n_classes: int = Field(3, ge=1, le=30, description="Number of latent classes (segments).")
    n_init: int = Field(
        10, ge=1, le=1000, description="Random starts; the best log-likelihood wins."
    )
    max_iter: int = Field(1000, ge=1, le=100_000, description="EM iterations per start.")
    tol: float = Field(
        1e-6, gt=0, le=1, description="Stop a start when the average log-likelihood moves less."
    )
    random_state: int | None = Field(
        None, ge=0, le=2**32 - 1, description="Seed; empty picks one and records it."
    )
