"""One EM pass of the LCA engine against two bare GEMMs over the same data, side by side.

    .venv/bin/python bench/lca_pass.py                  # 200k × 50, K = 6, 10 starts, float32
    .venv/bin/python bench/lca_pass.py --n 50000 --dtype float64

An EM pass over S starts of K classes must at least multiply the n × p data by a p × SK matrix
(the E-step) and multiply its transpose by the n × SK posteriors (the M-step's sums): two GEMMs.
Everything else (the constant, the log-sum-exp over classes, the weights, the class totals) is
overhead on top of them. This script times, in one process with BLAS on one thread and the
engine's pool on one thread, interleaved round by round so a change in the machine's load hits
all of them alike:

* `2 GEMMs`: X·W and Xᵀ·A over the whole data (the floor);
* `pass`: `workers.models.lca.engine.e_pass` (row blocks, classes × starts × rows layout);
* `pass, 16,384-row blocks`: the same pass with the blocks it had before they were cut to
  `engine.BLOCK_MAX_ROWS` (4,096) rows;
* `pass (rows × starts × classes)`: the pass as it was before issue 14, kept here for the
  comparison: the work array rows × starts × classes, one strided NumPy op per class, in the
  16,384-row blocks of then.

It prints each one's median over the rounds, the pass / GEMMs ratios and the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def strided_pass(design, theta, log_pi, dtype, pool):  # type: ignore[no-untyped-def]
    """The E-pass before issue 14 (rows × starts × classes work array)."""
    from workers.models.lca.engine import log_params

    S, K, p = theta.shape
    SK = S * K
    logit, log1m = log_params(theta)
    W = np.ascontiguousarray(logit.transpose(2, 0, 1).reshape(p, SK), dtype=dtype)
    const = (log1m.sum(axis=2) + log_pi).reshape(SK).astype(dtype)

    def work(block):  # type: ignore[no-untyped-def]
        A = np.asarray(block.x[dtype] @ W, dtype=dtype)
        A += const
        A3 = A.reshape(block.rows, S, K)
        m = A3[:, :, 0].copy()
        for k in range(1, K):
            np.maximum(m, A3[:, :, k], out=m)
        for k in range(K):
            np.subtract(A3[:, :, k], m, out=A3[:, :, k])
        np.exp(A, out=A)
        s = A3[:, :, 0].copy()
        for k in range(1, K):
            s += A3[:, :, k]
        ll_rows = np.log(s, dtype=np.float64)
        ll_rows += m
        ll = block.w @ ll_rows
        scale = block.w.astype(dtype)[:, None] / s
        for k in range(K):
            A3[:, :, k] *= scale
        nk = A.sum(axis=0, dtype=np.float64)
        xr = block.x[dtype].T @ A
        return ll, nk, xr

    return pool.map(work, design.blocks(SK, dtype), None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--p", type=int, default=50)
    ap.add_argument("--k", type=int, default=6)
    ap.add_argument("--starts", type=int, default=10)
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()

    from threadpoolctl import threadpool_limits

    from workers.models.lca import engine as E
    from workers.models.lca.simulation import simulate_binary

    dtype = np.float32 if args.dtype == "float32" else np.float64
    X, _, _ = simulate_binary(n=args.n, p=args.p, k=args.k, seed=2024)
    design = E.prepare(X, compress=False, sparse=False)
    rng = np.random.default_rng(0)
    starts = [E.random_start(rng, args.k, design.observed_rate) for _ in range(args.starts)]
    theta = np.stack([t for t, _ in starts])
    log_pi = np.stack([lp for _, lp in starts])
    SK = args.starts * args.k
    assert design.dense is not None
    data = design.dense[dtype]
    W = rng.normal(size=(args.p, SK)).astype(dtype)
    A = rng.random((args.n, SK)).astype(dtype)
    pool = E.Pool(1)

    def gemms() -> None:
        data @ W
        data.T @ A

    rows_now = E.BLOCK_MAX_ROWS

    def engine_pass() -> None:
        E.BLOCK_MAX_ROWS = rows_now
        E.e_pass(design, theta, log_pi, dtype, pool)

    def big_blocks() -> None:
        E.BLOCK_MAX_ROWS = 16384
        E.e_pass(design, theta, log_pi, dtype, pool)

    def old_pass() -> None:
        E.BLOCK_MAX_ROWS = 16384
        strided_pass(design, theta, log_pi, dtype, pool)

    cases: dict[str, Callable[[], None]] = {
        "2 GEMMs": gemms,
        f"pass ({rows_now:,}-row blocks)": engine_pass,
        "pass, 16,384-row blocks": big_blocks,
        "pass (rows × starts × classes)": old_pass,
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    print(
        f"{args.n:,} × {args.p}, K = {args.k}, {args.starts} starts ({SK} columns), "
        f"{args.dtype}, one thread; cpus {os.cpu_count()}, load before {os.getloadavg()}"
    )
    with threadpool_limits(1), pool.running():
        for fn in cases.values():  # warm up (block layout cached, pages touched)
            fn()
        for _ in range(args.rounds):
            for name, fn in cases.items():
                t = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t)
    floor = statistics.median(times["2 GEMMs"])
    for name, ts in times.items():
        med = statistics.median(ts)
        print(
            f"{name:>32}: median {med * 1000:8.1f} ms  (min {min(ts) * 1000:7.1f})  "
            f"{med / floor:5.2f}× the 2 GEMMs"
        )
    print(f"load after {os.getloadavg()}")


if __name__ == "__main__":
    main()
