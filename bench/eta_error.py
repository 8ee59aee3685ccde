"""How far off the ETA is: each run's published `eta_seconds` at 25 %, 50 % and 75 % of its
progress against the time it really had left, over fits of several families.

A stack of its own (API, one worker process), each run one after another on the idle worker;
after a run ends its events are replayed from the SSE stream, and for each quarter the first
event at or past it is compared with the run's end (the terminal event's `updated_at`):
relative error = |eta − left| / left. Prints each run's errors and the median absolute error at
each point (runs too short to carry an ETA there are listed, not counted).

    .venv/bin/python bench/eta_error.py [--scale 1.0] [--budget 20] [--only lca nmf]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pandas as pd

from bench.common import stack_client
from tests.support.data import simulate_lca, slow_fit_table, slow_lca_params
from tests.support.runs import read_events, upload, wait_for

POINTS = (0.25, 0.5, 0.75)


def households(n: int, p: int = 8, seed: int = 1) -> bytes:
    """One-factor purchases of p products with two household features (income, region)."""
    rng = np.random.default_rng(seed)
    scores = rng.standard_normal(n)
    prob = 1 / (1 + np.exp(-(-0.3 + 1.5 * np.outer(scores, np.ones(p)))))
    frame = pd.DataFrame((rng.random((n, p)) < prob).astype(int), columns=PRODUCTS[:p])
    frame.insert(0, "household_id", [f"h{i}" for i in range(n)])
    frame["income"] = rng.normal(50, 10, n).round(1)
    frame["region"] = rng.choice(["north", "south"], n)
    return frame.to_csv(index=False).encode()


PRODUCTS = [f"prod_{j + 1}" for j in range(20)]


def cases(scale: float) -> list[tuple[str, dict[str, Any], bytes]]:
    """(label, body of the POST /runs but its data, data) of the runs measured; sized so the
    whole bench takes some 15 minutes on a quiet 2-core machine."""
    big = slow_fit_table(n=int(20_000 * scale), p=20)
    # The fits that take a second on `big` (no ETA before 2 s of evidence) get more data.
    wide = slow_fit_table(n=int(200_000 * scale), p=60)
    small = simulate_lca(n=int(5_000 * scale), seed=3).csv()
    features = households(int(100_000 * scale))
    bayes = households(int(300 * scale), p=6)

    def run(model_type: str, params: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {"model_type": model_type, "params": params, **extra}

    with_features = {"product_columns": PRODUCTS[:8], "id_column": "household_id"}
    return [
        ("lca, slow starts", run("lca", slow_lca_params(45 * scale)), big),
        ("lca, defaults, simulated", run("lca", {"n_classes": 3, "stability_samples": 5}), small),
        (
            "lca_covariates",
            run(
                "lca_covariates",
                {"n_classes": 3, "stability_samples": 0},
                covariate_columns=["income", "region"],
                **with_features,
            ),
            features,
        ),
        ("factor_tetrachoric", run("factor_tetrachoric", {"n_factors": 3, "n_parallel": 50}), wide),
        ("nmf", run("nmf", {"n_components": 4, "n_init": 4}), wide),
        ("mca", run("mca", {"n_components": 3}), wide),
        ("lda", run("lda", {"n_topics": 4, "max_iter": 30}), big),
        ("bayesian_factor_vi", run("bayesian_factor_vi", {"n_factors": 2}), small),
        (
            "bayesian_factor_pymc (NUTS)",
            run("bayesian_factor_pymc", {"n_factors": 1, "draws": 300, "tune": 300, "chains": 2}),
            small,
        ),
        (
            "dcm",
            run(
                "dcm",
                {"draws": 200, "tune": 200, "chains": 2},
                product_columns=PRODUCTS[:6],
                id_column="household_id",
            ),
            bayes,
        ),
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
    parser.add_argument("--budget", type=float, default=20.0, help="minutes for all the runs")
    parser.add_argument("--only", nargs="*", help="labels (prefixes) of the runs to measure")
    parser.add_argument("--events", type=Path, help="write each run's progress events here")
    args = parser.parse_args()
    deadline = time.monotonic() + 60 * args.budget
    found: dict[float, list[float]] = {p: [] for p in POINTS}
    before: dict[float, list[float]] = {p: [] for p in POINTS}
    with stack_client("eta", timeout=120) as (stack, client):
        for label, body, data in cases(args.scale):
            if args.only and not any(label.startswith(o) for o in args.only):
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                print(f"{label}: skipped (the bench's budget is spent)")
                continue
            dataset = upload(client, data).json()
            response = client.post("/runs", json={**body, "dataset_id": dataset["id"]})
            if response.status_code != 202:
                print(f"{label}: refused {response.status_code} {response.json()['detail']}")
                continue
            run_id = response.json()["id"]
            started = time.perf_counter()
            try:
                run = wait_for(client, run_id, timeout=left)
            except TimeoutError:
                client.post(f"/runs/{run_id}/cancel")
                print(f"{label}: cancelled, not done within the bench's budget")
                continue
            seconds = time.perf_counter() - started
            if run["status"] != "completed":
                print(f"{label}: {run['status']} {run['error']}")
                continue
            events = read_events(stack.api_url, run_id)
            progress = [e.data for e in events if e.event == "message" and "progress" in e.data]
            if args.events:  # JSON lines: one run a line, to replay estimators against
                with args.events.open("a") as out:
                    out.write(json.dumps({"label": label, "progress": progress}) + "\n")
            errors, old = errors_of(progress), errors_of(with_old_eta(progress))
            print(f"{label:42s} {seconds:6.1f} s  now {shown(errors)}", flush=True)
            print(f"{'':42s} {'':8s}  was {shown(old)}", flush=True)
            for point in POINTS:
                for table, error in ((found, errors[point]), (before, old[point])):
                    if error is not None:
                        table[point].append(error)
    print("load average (1, 5, 15 min) " + ", ".join(f"{x:.1f}" for x in os.getloadavg()))
    for point in POINTS:
        for name, table in (("now", found), ("was", before)):
            if table[point]:
                print(
                    f"median |ETA error| at {int(point * 100)}% ({name}): "
                    f"{statistics.median(table[point]) * 100:.1f}% over {len(table[point])} runs"
                )


if __name__ == "__main__":
    main()
