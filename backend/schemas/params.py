"""Base of every family's parameters. Each family declares its own in backend/schemas/<family>.py,
with ranges; the API validates requests with them and publishes their JSON Schema at /models."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

# A seed NumPy accepts: 0 … 2**32 - 1, and a whole number (not true, not 3.0).
Seed = Annotated[int, Field(ge=0, le=2**32 - 1, strict=True)]


class ModelParams(BaseModel):
    model_config = ConfigDict(
        # Unknown parameter names are refused, so a typo ("n_clases") never silently uses a
        # default.
        extra="forbid",
        # JSON types as they are: a boolean is not a number (`n_classes: true` is not 1), a
        # whole number is written as one (3, not 3.0 or "3"), text is not a number; a whole
        # number is accepted where a decimal one is asked for (tol: 1).
        strict=True,
        # NaN and Infinity (which Python's JSON parser reads) are refused in every number.
        allow_inf_nan=False,
    )

    def refusal(self, n_rows: int, n_products: int) -> str | None:
        """A sentence when these params can never be estimated from data of this size (the run
        is refused with 422 before it is queued); None when they can. Families override it."""
        return None
