"""Hold many concurrent SSE clients on one API process while runs publish progress.

Measures the delay from a worker's publish (the message's `updated_at`) to each client's
receipt (same machine, same clock): p50 / p99 / max, the events each client received, and the
API process's memory before and while the clients are connected. Loopback only; bounded.

    .venv/bin/python bench/sse_load.py [--clients 500] [--runs 5] [--seconds 20] [--procs 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
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
    sent_at: list[float],
    connected_at: list[float],
) -> None:
    received = 0
    asked = time.time()
    async with client.stream("GET", f"/api/v1/progress/{run_id}/stream") as response:
        event = None
        connected = time.time()  # events published before this are replayed history, not live
        connects.append(connected - asked)
        connected_at.append(connected)
        async for line in response.aiter_lines():
            if line == "":
                event = None  # an event ends; the next one is of the default type unless named
            elif line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event in (None, "message"):
                sent = datetime.fromisoformat(json.loads(line[5:])["updated_at"]).timestamp()
                if sent >= connected:
                    delays.append(time.time() - sent)
                    sent_at.append(sent)
                received += 1
            elif line.startswith("data:") and event == "close":
                break
    counts.append(received)


def listen_all(api_url: str, run_ids: list[str]) -> dict[str, list[float]]:
    """One load-generator process: a client per run id, until each got its `close`."""
    out: dict[str, list[float]] = {
        k: [] for k in ("delays", "counts", "connects", "sent_at", "connected_at")
    }

    async def run() -> None:
        limits = httpx.Limits(max_connections=len(run_ids) + 10)
        timeout = httpx.Timeout(600, connect=60)
        async with httpx.AsyncClient(base_url=api_url, limits=limits, timeout=timeout) as c:
            await asyncio.gather(
                *(
                    listen(
                        c,
                        run_id,
                        out["delays"],
                        out["counts"],  # type: ignore[arg-type]
                        out["connects"],
                        out["sent_at"],
                        out["connected_at"],
                    )
                    for run_id in run_ids
                )
            )

    asyncio.run(run())
    return out


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
            wait_for_phase(client, runs[0], "fitting", timeout=600)
        rss_before = api.memory_info().rss
        cpu_before = sum(api.cpu_times()[:2])
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        sampler = asyncio.create_task(peak_rss(api))
        # The load generator in processes of its own (--procs), each holding its share of the
        # clients on one connection per listener: what the API sees is N open streams.
        shares = [list(range(p, args.clients, args.procs)) for p in range(args.procs)]
        loop = asyncio.get_running_loop()
        with ProcessPoolExecutor(args.procs) as pool:
            parts = await asyncio.gather(
                *(
                    loop.run_in_executor(
                        pool, listen_all, stack.api_url, [runs[i % len(runs)] for i in share]
                    )
                    for share in shares
                )
            )
        delays = [d for part in parts for d in part["delays"]]
        sent_at = [t for part in parts for t in part["sent_at"]]
        counts = [c for part in parts for c in part["counts"]]
        connects = [c for part in parts for c in part["connects"]]
        connected_at = [c for part in parts for c in part["connected_at"]]
        peak = sampler.result() if sampler.done() else await cancel_and_get(sampler)
        elapsed = time.perf_counter() - started
        api_cpu = sum(api.cpu_times()[:2]) - cpu_before
    finally:
        stack.close()
    print(
        f"{args.clients} SSE clients ({args.procs} load-generator processes) on one API "
        f"process, {args.runs} runs publishing every 0.2 s"
    )
    print(f"  load average (1 min) before / after : {load_before:.1f} / {os.getloadavg()[0]:.1f}")
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
    # Once every client is connected (the connection storm over): the steady live delay.
    settled = max(connected_at) + 1.0
    steady = [d for d, sent in zip(delays, sent_at, strict=True) if sent >= settled]
    print(
        f"  the same, all clients connected   : p50 {percentile(steady, 0.5) * 1000:.0f} ms, "
        f"p99 {percentile(steady, 0.99) * 1000:.0f} ms, max {max(steady or [0]) * 1000:.0f} ms "
        f"({len(steady)} receipts)"
    )
    idle_mb, peak_mb = rss_before / 2**20, peak / 2**20
    print(f"  API memory (RSS)                 : {idle_mb:.0f} MB idle, {peak_mb:.0f} MB peak")
    print(f"  wall time                        : {elapsed:.0f} s")
    print(
        f"  API process CPU time             : {api_cpu:.0f} s ({api_cpu / elapsed:.0%} of a core)"
    )


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
    parser.add_argument("--procs", type=int, default=4, help="load-generator processes")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
