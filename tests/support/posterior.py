"""The `posterior` artifact of a Bayesian result (ArviZ InferenceData as NetCDF bytes) read back
whole, for tests of what a fit stored."""

from __future__ import annotations

import tempfile
from typing import Any


def load_posterior(data: bytes) -> Any:
    """The InferenceData in memory (loaded before its temporary file goes)."""
    import arviz as az

    with tempfile.NamedTemporaryFile(suffix=".nc") as fh:
        fh.write(data)
        fh.flush()
        idata = az.from_netcdf(fh.name)
        idata.load()
    return idata
