"""How far off the ETA is: each run's published `eta_seconds` at 25 %, 50 % and 75 % of its
progress against the time it really had left, over fits of several families.

A stack of its own (API, one worker process), each run one after another on the idle worker;
after a run ends its events are replayed from the SSE stream, and for each quarter the first
event at or past it is compared with the run's end (the terminal event's `updated_at`):
relative error = |eta − left| / left. Prints each run's errors and the median absolute error at
each point (runs too short to carry an ETA there are listed, not counted).

    .venv/bin/python bench/eta_error.py [--scale 1.0]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import stack_client
from tests.support.data import simulate_lca, slow_fit_table, slow_lca_params
from tests.support.runs import read_events, upload, wait_for

POINTS = (0.25, 0.5, 0.75)


def cases(scale: float) -> list[tuple[str, str, dict[str, Any], bytes]]:
    """(label, model type, params, data) of the runs measured."""
    n = int(20_000 * scale)
    big = slow_fit_table(n=n, p=20)
    small = simulate_lca(n=int(5_000 * scale), seed=3).csv()
    return [
        ("lca, slow starts", "lca", slow_lca_params(15 * scale), big),
        (
            "lca, defaults (start search + 5 resamples)",
            "lca",
            {"n_classes": 3, "stability_samples": 5},
            small,
        ),
        ("factor_tetrachoric", "factor_tetrachoric", {"n_factors": 3, "n_parallel": 50}, big),
        ("nmf", "nmf", {"n_components": 4, "n_init": 4}, big),
        ("lda", "lda", {"n_topics": 4, "max_iter": 50}, big),
        ("bayesian_factor_vi", "bayesian_factor_vi", {"n_factors": 2}, small),
        (
            "bayesian_factor_pymc",
            "bayesian_factor_pymc",
            {"n_factors": 2, "draws": 500, "tune": 500, "chains": 2},
            small,
        ),
        ("dcm", "dcm", {"draws": 300, "tune": 300, "chains": 2}, small),
    ]


def stamp(message: dict[str, Any]) -> float:
    return datetime.fromisoformat(message["updated_at"]).timestamp()


def with_old_eta(progress: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same events with the ETA the reporter gave before issue 17, recomputed from them:
    the pace since the current phase began (none in its first half second)."""
    out, phase, began, base = [], None, 0.0, 0.0
    for message in progress:
        now, fraction = stamp(message), message["progress"]
        if message["phase"] != phase:
            phase, began, base = message["phase"], now, fraction
        done, spent = fraction - base, now - began
        eta = (
            None if done <= 1e-6 or spent < 0.5 or fraction >= 1 else spent / done * (1 - fraction)
        )
        out.append({**message, "eta_seconds": eta})
    return out


def errors_of(progress: list[dict[str, Any]]) -> dict[float, float | None]:
    """Relative ETA error at each point of progress (None: no ETA published there)."""
    end = stamp(progress[-1])
    out: dict[float, float | None] = {}
    for point in POINTS:
        at = next((p for p in progress if p["progress"] >= point), None)
        if at is None or at.get("eta_seconds") is None:
            out[point] = None
            continue
        left = end - stamp(at)
        out[point] = abs(at["eta_seconds"] - left) / left if left > 0 else None
    return out


def shown(errors: dict[float, float | None]) -> str:
    return "  ".join(
        f"{int(p * 100)}%: " + ("   —  " if e is None else f"{e * 100:5.1f}%")
        for p, e in errors.items()
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the data sizes")
    args = parser.parse_args()
    found: dict[float, list[float]] = {p: [] for p in POINTS}
    before: dict[float, list[float]] = {p: [] for p in POINTS}
    with stack_client("eta", timeout=120) as (stack, client):
        for label, model_type, params, data in cases(args.scale):
            dataset = upload(client, data).json()
            body = {"model_type": model_type, "dataset_id": dataset["id"], "params": params}
            response = client.post("/runs", json=body)
            if response.status_code != 202:
                print(f"{label}: refused {response.status_code} {response.json()['detail']}")
                continue
            run_id = response.json()["id"]
            started = time.perf_counter()
            run = wait_for(client, run_id, timeout=1800)
            seconds = time.perf_counter() - started
            if run["status"] != "completed":
                print(f"{label}: {run['status']} {run['error']}")
                continue
            events = read_events(stack.api_url, run_id)
            progress = [e.data for e in events if e.event == "message" and "progress" in e.data]
            errors, old = errors_of(progress), errors_of(with_old_eta(progress))
            print(f"{label:42s} {seconds:6.1f} s  now {shown(errors)}", flush=True)
            print(f"{'':42s} {'':8s}  was {shown(old)}", flush=True)
            for point in POINTS:
                for table, error in ((found, errors[point]), (before, old[point])):
                    if error is not None:
                        table[point].append(error)
    print(f"load average {os.getloadavg()[0]:.1f}")
    for point in POINTS:
        for name, table in (("now", found), ("was", before)):
            if table[point]:
                print(
                    f"median |ETA error| at {int(point * 100)}% ({name}): "
                    f"{statistics.median(table[point]) * 100:.1f}% over {len(table[point])} runs"
                )


if __name__ == "__main__":
    main()
