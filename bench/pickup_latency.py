"""Time from `POST /runs` answering 202 to a worker starting the run (its first progress event),
for an idle worker, over repeated small runs. Prints p50 / p95 / max.

    .venv/bin/python bench/pickup_latency.py [--runs 30]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import print_latencies, segment_run, stack_client
from tests.support.data import simulate_lca
from tests.support.runs import wait_for


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    delays = []
    with stack_client("pickup", timeout=30) as (_, client):
        body = segment_run(client, simulate_lca(n=300, seed=1).csv(), {"n_classes": 2, "n_init": 1})
        wait_for(client, client.post("/runs", json=body).json()["id"])  # warm-up
        for _ in range(args.runs):
            time.sleep(0.5)  # the worker is idle when the run arrives
            submitted = time.perf_counter()
            run = client.post("/runs", json=body).json()
            while client.get(f"/progress/{run['id']}").json()["phase"] == "queued":
                time.sleep(0.005)
            delays.append(time.perf_counter() - submitted)
            wait_for(client, run["id"])
    print_latencies(f"submit -> worker started, idle worker, {len(delays)} runs:", delays)


if __name__ == "__main__":
    main()
