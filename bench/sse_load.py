"""Hold many concurrent SSE clients on one API process while runs publish progress.

Measures the delay from a worker's publish (the message's `updated_at`) to each client's
receipt (same machine, same clock): p50 / p99 / max, the events each client received, and the
API process's memory before and while the clients are connected. Loopback only; bounded.

    .venv/bin/python bench/sse_load.py [--clients 500] [--runs 5] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.data import SEGMENT_MODEL, slow_fit_table, slow_lca_params
from tests.support.runs import upload, wait_for_phase
from tests.support.services import IsolatedStack


async def listen(
    client: httpx.AsyncClient,
    run_id: str,
    delays: list[float],
    counts: list[int],
    connects: list[float],
) -> None:
    received = 0
    asked = time.time()
    async with client.stream("GET", f"/api/v1/progress/{run_id}/stream") as response:
        event = None
        connected = time.time()  # events published before this are replayed history, not live
        connects.append(connected - asked)
        async for line in response.aiter_lines():
            if line == "":
                event = None  # an event ends; the next one is of the default type unless named
            elif line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event in (None, "message"):
                sent = datetime.fromisoformat(json.loads(line[5:])["updated_at"]).timestamp()
                if sent >= connected:
                    delays.append(time.time() - sent)
                received += 1
            elif line.startswith("data:") and event == "close":
                break
    counts.append(received)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values) or [float("nan")]
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


async def main_async(args: argparse.Namespace) -> None:
    stack = IsolatedStack(
        Path(tempfile.mkdtemp(prefix="bench-sse-")), PROGRESS_MIN_INTERVAL_SECONDS="0.2"
    )
    stack.start_api()
    stack.start_worker(processes=2)
    api = psutil.Process(stack.environment.processes[0].pid)
    try:
        with httpx.Client(base_url=f"{stack.api_url}/api/v1", timeout=60) as client:
            dataset = upload(client, slow_fit_table(n=20_000, p=20)).json()
            body = {
                "model_type": SEGMENT_MODEL,
                "dataset_id": dataset["id"],
                "params": slow_lca_params(args.seconds),
            }
            runs = [client.post("/runs", json=body).json()["id"] for _ in range(args.runs)]
            wait_for_phase(client, runs[0], "fitting")
        rss_before = api.memory_info().rss
        delays: list[float] = []
        counts: list[int] = []
        connects: list[float] = []
        started = time.perf_counter()
        # One client object, one connection per listener: what the API sees is N open streams.
        limits = httpx.Limits(max_connections=args.clients + 10)
        timeout = httpx.Timeout(600, connect=60)
        async with httpx.AsyncClient(base_url=stack.api_url, limits=limits, timeout=timeout) as c:
            listeners = [
                listen(c, runs[i % len(runs)], delays, counts, connects)
                for i in range(args.clients)
            ]
            sampler = asyncio.create_task(peak_rss(api))
            await asyncio.wait_for(
                asyncio.gather(*listeners), timeout=args.seconds * args.runs + 300
            )
        peak = sampler.result() if sampler.done() else await cancel_and_get(sampler)
        elapsed = time.perf_counter() - started
    finally:
        stack.close()
    print(f"{args.clients} SSE clients on one API process, {args.runs} runs publishing every 0.2 s")
    print(f"  clients that got the close event : {len(counts)} / {args.clients}")
    print(
        f"  time to connect                  : p50 {percentile(connects, 0.5) * 1000:.0f} ms, "
        f"max {max(connects) * 1000:.0f} ms"
    )
    print(f"  progress events received        : {sum(counts)} (min {min(counts)} per client)")
    print(
        f"  live publish -> receipt delay    : p50 {percentile(delays, 0.5) * 1000:.0f} ms, "
        f"p99 {percentile(delays, 0.99) * 1000:.0f} ms, max {max(delays or [0]) * 1000:.0f} ms"
    )
    idle_mb, peak_mb = rss_before / 2**20, peak / 2**20
    print(f"  API memory (RSS)                 : {idle_mb:.0f} MB idle, {peak_mb:.0f} MB peak")
    print(f"  wall time                        : {elapsed:.0f} s")


async def peak_rss(process: psutil.Process) -> int:
    peak = 0
    try:
        while True:
            peak = max(peak, process.memory_info().rss)
            await asyncio.sleep(0.2)
    except asyncio.CancelledError:
        return peak


async def cancel_and_get(task: asyncio.Task[int]) -> int:
    task.cancel()
    return await task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=20, help="length of each run")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
