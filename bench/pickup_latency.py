"""Time from `POST /runs` answering 202 to a worker starting the run (its first progress event),
for an idle worker, over repeated small runs. Prints p50 / p95 / max.

    .venv/bin/python bench/pickup_latency.py [--runs 30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.data import SEGMENT_MODEL, simulate_lca
from tests.support.runs import upload, wait_for
from tests.support.services import IsolatedStack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    stack = IsolatedStack(Path(tempfile.mkdtemp(prefix="bench-pickup-")))
    stack.start_api()
    stack.start_worker()
    delays = []
    try:
        with httpx.Client(base_url=f"{stack.api_url}/api/v1", timeout=30) as client:
            dataset = upload(client, simulate_lca(n=300, seed=1).csv()).json()
            body = {
                "model_type": SEGMENT_MODEL,
                "dataset_id": dataset["id"],
                "params": {"n_classes": 2, "n_init": 1},
            }
            wait_for(client, client.post("/runs", json=body).json()["id"])  # warm-up
            for _ in range(args.runs):
                time.sleep(0.5)  # the worker is idle when the run arrives
                submitted = time.perf_counter()
                run = client.post("/runs", json=body).json()
                while client.get(f"/progress/{run['id']}").json()["phase"] == "queued":
                    time.sleep(0.005)
                delays.append(time.perf_counter() - submitted)
                wait_for(client, run["id"])
    finally:
        stack.close()
    delays.sort()
    p95 = delays[int(0.95 * (len(delays) - 1))]
    print(f"submit -> worker started, idle worker, {len(delays)} runs:")
    p50, worst = statistics.median(delays), delays[-1]
    print(f"  p50 {p50 * 1000:6.0f} ms   p95 {p95 * 1000:6.0f} ms   max {worst * 1000:6.0f} ms")


if __name__ == "__main__":
    main()
