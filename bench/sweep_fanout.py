"""How a class-number sweep's wall time drops with more worker processes.

Runs the same sweep (n_classes 2..7 on one simulated dataset) on a fresh stack with 1 and then
2 worker processes, side by side in one run, and prints the times and their ratio.

    .venv/bin/python bench/sweep_fanout.py [--n 20000] [--n-init 10]

Loopback only; uses the machine's Redis/PostgreSQL when TEST_REDIS_URL / TEST_DATABASE_URL are
set, else an embedded Redis and SQLite (like the test suite).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.data import SEGMENT_MODEL, slow_fit_table
from tests.support.runs import upload, wait_for
from tests.support.services import IsolatedStack


def sweep_seconds(processes: int, csv: bytes, n_init: int, single_threaded: bool) -> float:
    # Fits size their thread pools as cores / WORKER_CONCURRENCY: setting it to the core count
    # makes every fit single-threaded, as on a host with as many processes as cores.
    settings = {"WORKER_CONCURRENCY": str(os.cpu_count() or 1)} if single_threaded else {}
    stack = IsolatedStack(Path(tempfile.mkdtemp(prefix="bench-fanout-")), **settings)
    stack.start_api()
    try:
        stack.start_worker(processes=processes)
        with httpx.Client(base_url=f"{stack.api_url}/api/v1", timeout=60) as client:
            dataset = upload(client, csv).json()
            # Let the workers boot before the clock starts.
            deadline = time.monotonic() + 60
            while httpx.get(f"{stack.api_url}/health").json().get("workers_alive", 0) < processes:
                if time.monotonic() > deadline:
                    raise TimeoutError("workers did not come up")
                time.sleep(0.2)
            started = time.perf_counter()
            parent = client.post(
                "/runs",
                json={
                    "model_type": SEGMENT_MODEL,
                    "dataset_id": dataset["id"],
                    "params": {"n_classes": "2-7", "n_init": n_init, "random_state": 1},
                },
            ).json()
            final = wait_for(client, parent["id"], timeout=3600)
            elapsed = time.perf_counter() - started
            assert final["status"] == "completed", final
            return elapsed
    finally:
        stack.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--p", type=int, default=30)
    parser.add_argument("--n-init", type=int, default=10)
    parser.add_argument(
        "--single-threaded-fits",
        action="store_true",
        help="each fit on one thread (what a fleet of hosts with one process per core sees)",
    )
    args = parser.parse_args()
    # Rows that rarely repeat, so each fit does real work (no pattern compression).
    csv = slow_fit_table(n=args.n, p=args.p, seed=1)
    one = sweep_seconds(1, csv, args.n_init, args.single_threaded_fits)
    two = sweep_seconds(2, csv, args.n_init, args.single_threaded_fits)
    print(f"sweep n_classes 2..7, {args.n} households x {args.p} products, n_init={args.n_init}")
    print("  fits single-threaded" if args.single_threaded_fits else "  fits use the cores/process")
    print(f"  1 worker process : {one:7.2f} s")
    print(f"  2 worker processes: {two:7.2f} s")
    print(f"  speed-up          : {one / two:5.2f}x")


if __name__ == "__main__":
    main()
