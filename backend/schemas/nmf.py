"""Non-negative matrix factorisation (parts-based baskets): parameters and result."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from backend.schemas.params import ModelParams
from backend.schemas.results import FitResult

ComponentCount = Annotated[int, Field(ge=1, le=50)]


class NMFParams(ModelParams):
    """NMF of the household × product 0/1 matrix (scikit-learn's NMF)."""

    n_components: (
        ComponentCount | Annotated[list[ComponentCount], Field(min_length=1, max_length=20)]
    ) = Field(
        4,
        description="Number of components (baskets); a list fits each and reports the "
        "error per number, detailing the one at the elbow of the error curve.",
    )
    init: Literal["nndsvda", "nndsvd", "nndsvdar", "random"] = Field(
        "nndsvda", description="Starting point: SVD-based (nndsvd*) or random."
    )
    solver: Literal["cd", "mu"] = Field(
        "cd", description="cd (coordinate descent) or mu (multiplicative updates)."
    )
    beta_loss: Literal["frobenius", "kullback-leibler"] = Field(
        "frobenius", description="Loss to minimise; kullback-leibler needs solver mu."
    )
    alpha_W: float = Field(0.0, ge=0, le=100, description="Regularisation of household weights.")
    alpha_H: float = Field(0.0, ge=0, le=100, description="Regularisation of the components.")
    l1_ratio: float = Field(
        0.0, ge=0, le=1, description="Share of L1 (sparsity) in the regularisation."
    )
    n_init: int = Field(
        1, ge=1, le=100, description="Random starts (init random or nndsvdar); the best is kept."
    )
    max_iter: int = Field(500, ge=1, le=100_000, description="Iterations per fit.")
    tol: float = Field(
        1e-4, gt=0, le=1, description="Stop when the relative error improves less per iteration."
    )
    random_state: int | None = Field(None, ge=0, le=2**32 - 1, description="Seed; empty picks one.")

    @model_validator(mode="after")
    def _loss_needs_solver(self) -> NMFParams:
        if self.beta_loss == "kullback-leibler" and self.solver != "mu":
            raise ValueError('beta_loss "kullback-leibler" needs solver "mu"; set solver to "mu".')
        return self

    @property
    def component_values(self) -> list[int]:
        values = self.n_components if isinstance(self.n_components, list) else [self.n_components]
        return sorted(set(values))


class SweepRow(BaseModel):
    n_components: int
    reconstruction_error: float
    relative_error: float
    n_iter: int
    converged: bool


class TopProduct(BaseModel):
    product: str
    weight: float
    share: float = Field(description="Share of the component's total weight.")


class NMFResult(FitResult):
    n_components: int
    selected_by: Literal["given", "elbow"]
    products: list[str]
    component_names: list[str]
    components: list[list[float]] = Field(
        description="components × products (scikit-learn's components_, H); the households' "
        "weights on each component are the run's per-row output (W)."
    )
    component_share: list[float] = Field(
        description="Share of the reconstructed purchases each component accounts for."
    )
    top_products: list[list[TopProduct]]
    reconstruction_error: float = Field(
        description="Frobenius norm ‖X - WH‖ (or the beta divergence) at the solution."
    )
    relative_error: float = Field(description="reconstruction_error / ‖X‖.")
    explained: float | None = Field(description="1 - ‖X - WH‖² / ‖X‖² (Frobenius loss only).")
    n_iter: int
    converged: bool
    sweep: list[SweepRow]
    n_obs: int
    n_missing_cells: int
