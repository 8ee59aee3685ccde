"""Budgets: what a run will cost, estimated before it is queued, and the refusal of one that
costs more than the deployment allows (MAX_RUN_SECONDS, MAX_RUN_MEMORY_MB).

The estimate is the family's (`FamilySpec.cost`, backend/families/costs.py) from the validated
params and the data's shape; a sweep costs its fits' seconds together and its largest fit's
memory. The refusal says the estimate, the limit, and which parameters to lower.
"""

from __future__ import annotations

from collections.abc import Sequence

from backend.errors import InvalidInput
from backend.families import FamilySpec
from backend.families.spec import Cost, DataShape
from backend.schemas.api import ColumnProfile
from backend.schemas.params import ModelParams
from backend.settings import get_settings


def data_shape(
    n_rows: int, products: Sequence[str], covariates: Sequence[str], profiles: list[ColumnProfile]
) -> DataShape:
    """Rows, products and the design columns the household features make (a text column one per
    level but its reference level; numbers and 0/1 columns one each)."""
    by_name = {p.name: p for p in profiles}
    design = 0
    for name in covariates:
        profile = by_name.get(name)
        if profile is None or profile.kind in ("binary", "numeric"):
            design += 1
        else:
            design += max(profile.n_unique - 1, 1)
    return DataShape(n_rows=n_rows, n_products=len(products), n_covariates=design)


def estimate(spec: FamilySpec, fits: Sequence[ModelParams], shape: DataShape) -> list[Cost] | None:
    """One estimate per fit (a sweep's children, or the run itself); None when the family has
    no cost function."""
    if spec.cost is None:
        return None
    return [spec.cost(params, shape) for params in fits]


def total(costs: Sequence[Cost]) -> Cost:
    combined = costs[0]
    for cost in costs[1:]:
        combined = combined + cost
    return combined


def as_record(cost: Cost) -> dict[str, float]:
    """What the run's row keeps (and RunOut shows)."""
    return {"seconds": round(cost.seconds, 1), "memory_mb": round(cost.memory_mb, 1)}


def check(cost: Cost, fits: Sequence[ModelParams], shape: DataShape, sweep: str | None) -> None:
    """Refuse (422) a run estimated past the deployment's limits, saying what to change."""
    settings = get_settings()
    seconds_limit = min(settings.max_run_seconds, float(settings.job_timeout_seconds))
    limit_name = (
        "MAX_RUN_SECONDS"
        if settings.max_run_seconds <= settings.job_timeout_seconds
        else "JOB_TIMEOUT_SECONDS"
    )
    what = f"These {len(fits)} fits" if len(fits) > 1 else "This run"
    problems = []
    if cost.seconds > seconds_limit:
        problems.append(
            f"{what} would take {duration(cost.seconds)} on one worker (the limit is "
            f"{duration(seconds_limit, about=False)}, {limit_name}): "
            + _advice(cost.time_drivers, fits[0], shape, sweep if len(fits) > 1 else None)
        )
    if cost.memory_mb > settings.max_run_memory_mb:
        problems.append(
            f"{what} would need {memory(cost.memory_mb)} of memory (the limit is "
            f"{memory(settings.max_run_memory_mb, about=False)}, MAX_RUN_MEMORY_MB): "
            + _advice(cost.memory_drivers, fits[0], shape, None)
        )
    if problems:
        raise InvalidInput(" ".join(problems), extra={"estimate": as_record(cost)})


def _advice(
    drivers: Sequence[str], params: ModelParams, shape: DataShape, sweep: str | None
) -> str:
    values = params.model_dump()
    named = [f"{name} ({_shown(values[name])})" for name in drivers if name in values][:3]
    options = []
    if sweep:
        options.append(f"fewer values of {sweep}")
    if named:
        options.append("lower " + " or ".join(named))
    options.append(f"fit a sample of the {shape.n_rows:,} households")
    return ", or ".join(options) + "."


def _shown(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def duration(seconds: float, about: bool = True) -> str:
    """A person's reading of a number of seconds: "about 10 days", "about 4.3 h", "about 25
    min", "40 s"."""
    prefix = "about " if about else ""
    if seconds >= 2 * 86400:
        return f"{prefix}{seconds / 86400:.0f} days"
    if seconds >= 5400:
        return f"{prefix}{seconds / 3600:.1f} h"
    if seconds >= 90:
        return f"{prefix}{seconds / 60:.0f} min"
    return f"{prefix}{max(seconds, 1):.0f} s"


def memory(mb: float, about: bool = True) -> str:
    prefix = "about " if about else ""
    return f"{prefix}{mb / 1024:.1f} GB" if mb >= 1024 else f"{prefix}{mb:.0f} MB"
