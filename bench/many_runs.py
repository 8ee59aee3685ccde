"""Submit many small runs and check every one completes exactly once.

1,000 small LCA runs by default, submitted as fast as the API takes them, fitted by two worker
processes. Prints the submit rate, the time until all completed, and checks that each run
completed with exactly one attempt and published exactly one `completed` event.
Loopback only; bounded in time.

    .venv/bin/python bench/many_runs.py [--runs 1000] [--processes 2]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import segment_run, stack_client
from tests.support.data import simulate_lca


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()
    with stack_client("many", processes=args.processes) as (stack, client):
        params = {"n_classes": 2, "n_init": 2, "random_state": 1}
        body = segment_run(client, simulate_lca(n=300, seed=1).csv(), params)
        started = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            ids = list(
                pool.map(lambda _: client.post("/runs", json=body).json()["id"], range(args.runs))
            )
        submitted = time.perf_counter() - started
        deadline = started + args.timeout
        while True:
            done = client.get("/runs", params={"status": "completed", "limit": 1}).json()["total"]
            if done >= args.runs or time.perf_counter() > deadline:
                break
            time.sleep(1)
        finished = time.perf_counter() - started
        runs = [client.get(f"/runs/{i}").json() for i in ids]
        redis = stack.redis()
        prefix = stack.environment.prefix
        completed_events = [
            sum(
                json.loads(f["data"])["phase"] == "completed"
                for _, f in redis.xrange(f"{prefix}:progress:{i}:events")
            )
            for i in ids
        ]
    statuses = {s: sum(r["status"] == s for r in runs) for s in {r["status"] for r in runs}}
    once = sum(r["status"] == "completed" and r["attempts"] == 1 for r in runs)
    print(f"{args.runs} small LCA runs, {args.processes} worker processes")
    print(f"  submitted in      : {submitted:6.1f} s ({args.runs / submitted:.0f} runs/s)")
    print(f"  all ended after   : {finished:6.1f} s ({args.runs / finished:.1f} runs/s)")
    print(f"  statuses          : {statuses}")
    print(f"  completed once    : {once} / {args.runs} (one attempt each)")
    print(f"  completed events  : {sum(c == 1 for c in completed_events)} runs with exactly one")
    if once != args.runs or any(c != 1 for c in completed_events):
        raise SystemExit("some run did not complete exactly once")


if __name__ == "__main__":
    main()
