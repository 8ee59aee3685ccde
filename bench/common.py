"""What the benchmarks share.

Service benchmarks: a stack of their own on loopback (API, Dramatiq workers, their own database
and Redis prefix, as the tests start it) with a client on its API, the body of a segment-model
run, and the latency figures they print. Model benchmarks: each measurement in a process of its
own with one BLAS thread (as workers run) that prints its figures as one JSON line, and that
process's peak memory.

Scripts run as `python bench/<script>.py` put the repository root on sys.path first, then
import this module as `bench.common`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.support.data import SEGMENT_MODEL
from tests.support.runs import upload
from tests.support.services import IsolatedStack


@contextmanager
def stack_client(
    name: str, processes: int = 1, timeout: float = 60
) -> Iterator[tuple[IsolatedStack, httpx.Client]]:
    """A stack of its own (API and `processes` worker processes), with a client on its API
    (`/api/v1`); the stack stops when the block ends."""
    stack = IsolatedStack(Path(tempfile.mkdtemp(prefix=f"bench-{name}-")))
    stack.start_api()
    stack.start_worker(processes=processes)
    try:
        with httpx.Client(base_url=f"{stack.api_url}/api/v1", timeout=timeout) as client:
            yield stack, client
    finally:
        stack.close()


def segment_run(client: httpx.Client, csv: bytes, params: dict[str, Any]) -> dict[str, Any]:
    """Uploads `csv` and answers the body of a `POST /runs` of the segment model on it."""
    dataset = upload(client, csv).json()
    return {"model_type": SEGMENT_MODEL, "dataset_id": dataset["id"], "params": params}


def print_latencies(title: str, delays: list[float]) -> None:
    """`title`, then the median, the 95th percentile and the largest of `delays` (seconds)."""
    delays = sorted(delays)
    p50, p95, worst = statistics.median(delays), delays[int(0.95 * (len(delays) - 1))], delays[-1]
    print(title)
    print(f"  p50 {p50 * 1000:6.0f} ms   p95 {p95 * 1000:6.0f} ms   max {worst * 1000:6.0f} ms")


def peak_mb() -> float:
    """This process's peak resident memory (ru_maxrss) in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def size_parser(doc: str, n: int, p: int) -> argparse.ArgumentParser:
    """Arguments of a model benchmark: households (`--n`) and products (`--p`), and `--child`,
    which runs one measurement (the parent's `in_own_process`)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--n", type=int, default=n, help="households")
    parser.add_argument("--p", type=int, default=p, help="products")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    return parser


def report_to_parent(figures: dict[str, Any]) -> None:
    """A child's figures, as the one JSON line `in_own_process` reads."""
    print(json.dumps(figures))


def in_own_process(script: str, which: str, *args: str) -> dict[str, Any]:
    """Runs `script --child <which> <args>` with one BLAS thread (as the worker package sets
    it) and answers the JSON object the child prints on its last line."""
    cmd = [sys.executable, script, "--child", which, *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))
