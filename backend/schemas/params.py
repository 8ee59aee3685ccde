"""Base of every family's parameters. Each family declares its own in backend/schemas/<family>.py,
with ranges; the API validates requests with them and publishes their JSON Schema at /models."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ModelParams(BaseModel):
    # Unknown parameter names are refused, so a typo ("n_clases") never silently uses a default.
    model_config = ConfigDict(extra="forbid")
