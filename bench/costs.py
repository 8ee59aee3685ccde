"""Cost estimates against measurement: each family's fit at a few sizes, estimate beside measured.

    .venv/bin/python bench/costs.py                        # every family, every size (~20 min)
    .venv/bin/python bench/costs.py --families lca,mca     # some families
    .venv/bin/python bench/costs.py --quick                # the smallest size of each

Each fit runs in a process of its own with one BLAS thread, as a worker runs it: the process
imports the worker's stack (backend, Dramatiq, the family's fit module), simulates the data,
builds the fit's matrix from a table as the executor does, and times the fit call; its peak
memory is ru_maxrss, libraries and data included — what `Cost.memory_mb` estimates. The
estimate is `spec.cost(params, DataShape)` from backend/families/costs.py without what the
executor adds around the fit (claim, load, save: `costs.executor_seconds`), whose constants
come from this script's output (bench/README.md keeps it). A ratio (estimate / measured) between
0.5 and 2 is good; the tests hold the live estimate within a factor of 3 of a run's duration.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.families import FamilySpec, costs, families
from backend.families.spec import CostFunction, DataShape
from bench.common import in_own_process, peak_mb, report_to_parent

SCRIPT = str(Path(__file__).resolve())


@dataclass(frozen=True)
class Case:
    """One fit to measure: the family (by its cost function), the data's size, the params."""

    cost: CostFunction
    n: int
    p: int
    params: dict[str, Any] = field(default_factory=dict)
    covariates: int = 0  # numeric household features simulated beside the products

    @property
    def spec(self) -> FamilySpec:
        return next(s for s in families().values() if s.cost is self.cost)

    @property
    def label(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in self.params.items() if k != "random_state")
        return f"{self.n:,} × {self.p}" + (f", {shown}" if shown else "")


NUTS_SMALL = {"draws": 300, "tune": 300, "chains": 2, "random_state": 1}
NUTS = {"draws": 1000, "tune": 1000, "chains": 2, "random_state": 1}
CASES = [
    Case(costs.segments, 20_000, 20, {"n_classes": 4, "random_state": 1}),
    Case(costs.segments, 100_000, 30, {"n_classes": 5, "random_state": 1}),
    Case(costs.segments, 20_000, 40, {"n_classes": 6, "n_init": 20, "random_state": 1}),
    Case(costs.segments, 5_000, 12, {"n_classes": 3, "bootstrap_lrt": 20, "random_state": 1}),
    Case(
        costs.segments_with_covariates,
        10_000,
        15,
        {"n_classes": 3, "random_state": 1},
        covariates=3,
    ),
    Case(
        costs.segments_with_covariates,
        50_000,
        20,
        {"n_classes": 4, "random_state": 1},
        covariates=3,
    ),
    Case(costs.tetrachoric_factors, 20_000, 30, {"random_state": 1}),
    Case(costs.tetrachoric_factors, 100_000, 60, {"n_factors": 5, "random_state": 1}),
    Case(
        costs.tetrachoric_factors,
        300_000,
        100,
        {"n_factors": 5, "n_parallel": 10, "random_state": 1},
    ),
    Case(costs.correspondence_map, 100_000, 50),
    Case(costs.correspondence_map, 500_000, 100),
    Case(costs.nmf_baskets, 20_000, 50, {"n_components": 5, "random_state": 1}),
    Case(costs.nmf_baskets, 100_000, 40, {"n_components": [3, 5, 8], "random_state": 1}),
    Case(costs.topic_missions, 5_000, 20, {"n_topics": 5, "random_state": 1}),
    Case(costs.topic_missions, 25_000, 30, {"n_topics": 8, "max_iter": 10, "random_state": 1}),
    Case(costs.copurchase_graph, 50_000, 50),
    Case(costs.copurchase_graph, 100_000, 150),
    Case(costs.factor_nuts, 500, 12, {"n_factors": 2, **NUTS_SMALL}),
    Case(costs.factor_nuts, 2_000, 12, {"n_factors": 2, **NUTS}),
    Case(costs.factor_nuts, 1_000, 20, {"n_factors": 3, **NUTS_SMALL}),
    Case(costs.factor_vi, 2_000, 12, {"n_factors": 2, "random_state": 1}),
    Case(costs.factor_vi, 20_000, 20, {"n_factors": 3, "random_state": 1}),
    Case(costs.choice_nuts, 500, 10, {**NUTS_SMALL}, covariates=2),
    Case(costs.choice_nuts, 1_500, 12, {"n_latent": 1, **NUTS_SMALL}, covariates=2),
]


def simulate(case: Case) -> Any:
    """The data a worker would hold: a table of 0/1 products (and numeric household features),
    read into the fit's matrix as the executor does."""
    import numpy as np
    import pandas as pd

    from workers.models.base import BinaryMatrix
    from workers.models.lca.simulation import simulate_binary

    X, _, _ = simulate_binary(case.n, case.p, 5, seed=11)
    products = [f"p{j + 1}" for j in range(case.p)]
    frame = pd.DataFrame(X, columns=products)
    features = [f"x{j + 1}" for j in range(case.covariates)]
    rng = np.random.default_rng(5)
    for name in features:
        frame[name] = rng.normal(size=case.n) + X[:, 0]  # related to the purchases
    frame.insert(0, "household_id", [f"H{i:07d}" for i in range(case.n)])
    return BinaryMatrix.from_frame(frame, products, "household_id", features or None)


def measure(index: int) -> dict[str, Any]:
    """One case, in this (fresh) process: seconds of the fit call and the process's peak memory."""
    import workers.executor  # noqa: F401  (the worker's stack, as a worker process holds it)
    from workers.models.base import no_progress

    case = CASES[index]
    spec = case.spec
    fit = spec.load_fit()
    params = spec.params.model_validate(case.params)
    data = simulate(case)
    before = peak_mb()
    started = time.perf_counter()
    result = fit(data, params, no_progress)
    seconds = time.perf_counter() - started
    # Iterations the fit took, where it says: what the estimate had to guess.
    iterations = next(
        (getattr(result, f) for f in ("iterations", "n_iter") if hasattr(result, f)), None
    )
    if iterations is None and getattr(result, "vi", None) is not None:
        iterations = result.vi.iterations
    return {"seconds": seconds, "peak_mb": peak_mb(), "before_mb": before, "iterations": iterations}


def estimate(case: Case) -> Any:
    params = case.spec.params.model_validate(case.params)
    return case.cost(params, DataShape(case.n, case.p, case.covariates))


def duration(seconds: float) -> str:
    return f"{seconds:.1f}" if seconds < 100 else f"{seconds:,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", help="comma-separated model types (default: all)")
    parser.add_argument("--quick", action="store_true", help="the first case of each family")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        report_to_parent(measure(args.child))
        return
    wanted = set(args.families.split(",")) if args.families else None
    seen: set[str] = set()
    print(
        "| model_type | households × products, params | estimate s | measured s | ratio "
        "| estimate MB | measured MB | ratio | iterations |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for index, case in enumerate(CASES):
        model_type = case.spec.model_type
        if wanted is not None and model_type not in wanted:
            continue
        if args.quick and model_type in seen:
            continue
        seen.add(model_type)
        cost = estimate(case)
        # The fit alone: the executor's claim, load and save are not part of the measurement.
        fit_seconds = cost.seconds - costs.executor_seconds(DataShape(case.n, case.p))
        got = in_own_process(SCRIPT, str(index))
        print(
            f"| {model_type} | {case.label} | {duration(fit_seconds)} | "
            f"{duration(got['seconds'])} | {fit_seconds / got['seconds']:.2f} | "
            f"{cost.memory_mb:,.0f} | {got['peak_mb']:,.0f} | "
            f"{cost.memory_mb / got['peak_mb']:.2f} | {got['iterations'] or ''} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
