"""How quickly a running fit stops when cancelled: time from `POST /runs/{id}/cancel` to the
run's status `cancelled`, over repeated cancels of running fits. Prints p50 / p95 / max.

    .venv/bin/python bench/cancel_latency.py [--repeats 20]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import print_latencies, segment_run, stack_client
from tests.support.data import slow_fit_table, slow_lca_params
from tests.support.runs import wait_for, wait_for_phase


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    delays = []
    with stack_client("cancel") as (_, client):
        body = segment_run(client, slow_fit_table(), slow_lca_params(600))
        for _ in range(args.repeats):
            run = client.post("/runs", json=body).json()
            wait_for_phase(client, run["id"], "fitting")
            time.sleep(0.5)  # well inside the fit
            asked = time.perf_counter()
            client.post(f"/runs/{run['id']}/cancel")
            final = wait_for(client, run["id"], timeout=60)
            delays.append(time.perf_counter() - asked)
            assert final["status"] == "cancelled", final
    print_latencies(f"cancel of a running LCA -> status cancelled, {len(delays)} cancels:", delays)


if __name__ == "__main__":
    main()
