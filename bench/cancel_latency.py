"""How quickly a running fit stops when cancelled: time from `POST /runs/{id}/cancel` to the
run's status `cancelled`, over repeated cancels of running fits. Prints p50 / p95 / max.

    .venv/bin/python bench/cancel_latency.py [--repeats 20]
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

from tests.support.data import SEGMENT_MODEL, slow_fit_table, slow_lca_params
from tests.support.runs import upload, wait_for, wait_for_phase
from tests.support.services import IsolatedStack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    stack = IsolatedStack(Path(tempfile.mkdtemp(prefix="bench-cancel-")))
    stack.start_api()
    stack.start_worker()
    delays = []
    try:
        with httpx.Client(base_url=f"{stack.api_url}/api/v1", timeout=60) as client:
            dataset = upload(client, slow_fit_table()).json()
            body = {
                "model_type": SEGMENT_MODEL,
                "dataset_id": dataset["id"],
                "params": slow_lca_params(600),
            }
            for _ in range(args.repeats):
                run = client.post("/runs", json=body).json()
                wait_for_phase(client, run["id"], "fitting")
                time.sleep(0.5)  # well inside the fit
                asked = time.perf_counter()
                client.post(f"/runs/{run['id']}/cancel")
                final = wait_for(client, run["id"], timeout=60)
                delays.append(time.perf_counter() - asked)
                assert final["status"] == "cancelled", final
    finally:
        stack.close()
    delays.sort()
    p95 = delays[int(0.95 * (len(delays) - 1))]
    print(f"cancel of a running LCA -> status cancelled, {len(delays)} cancels:")
    print(
        f"  p50 {statistics.median(delays) * 1000:.0f} ms   p95 {p95 * 1000:.0f} ms   "
        f"max {delays[-1] * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
