"""EM passes of the LCA engine on a two-worker Dask LocalCluster against the same passes in
process, side by side in one run.

    .venv/bin/python bench/dask_em.py                     # 2M × 100, K = 6, 10 starts
    .venv/bin/python bench/dask_em.py --n 10000000        # the issue's size, if memory allows
    .venv/bin/python bench/dask_em.py --n 2500000 --starts 2 --memory-limit 1GiB --rounds 2
                                                          # out of core: 3 GB on 1 GiB workers

The data are n households × p products (density 0.2), the parameters those of S random starts
of K classes: one pass is what every EM step of a fit with S starts costs. Compared:

* `in process`: `engine.e_pass` with the engine's thread pool on `--threads` threads (the
  fit's default on this machine);
* `on Dask`: the same pass with the rows as partitions on a LocalCluster of two worker
  processes of one thread each (`workers/models/lca/on_cluster.py`), reduced here;
* `no-op pass`: a pass over the same partitions whose task returns at once: what scheduling
  one pass costs (submit, run, gather of one task per partition), the scheduler's overhead;
* per partition: one partition's share of the pass computed alone, in this process.

Bytes moved per pass are the pickled sizes of what travels: the parameters to every partition
(S × K × p numbers) and its sums back (S × K × (2p + 1) numbers plus S log-likelihoods).
Passes are timed in float64 and float32 (a fit runs float32 first), rounds interleaved so a
change in the machine's load hits both sides alike. It prints medians and the ratios.
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def noop(part: object) -> int:
    return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=2_000_000)
    ap.add_argument("--p", type=int, default=100)
    ap.add_argument("--k", type=int, default=6)
    ap.add_argument("--starts", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2, help="the in-process pool's threads")
    ap.add_argument("--memory-limit", default="auto", help="each Dask worker's, e.g. 1GiB")
    args = ap.parse_args()

    from distributed import LocalCluster
    from threadpoolctl import threadpool_limits

    from backend.settings import get_settings
    from workers.models import cluster
    from workers.models.lca import engine as E
    from workers.models.lca.on_cluster import on_cluster, partition_pass, partition_rows

    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    X = (rng.random((args.n, args.p), dtype=np.float32) < 0.2).astype(np.float64)
    design = E.prepare(X, compress=False, sparse=False)
    del X
    print(f"data {args.n:,} × {args.p}: prepared in {time.perf_counter() - t0:.1f} s", flush=True)
    S, K, p = args.starts, args.k, args.p
    starts = [E.random_start(np.random.default_rng(s), K, design.observed_rate) for s in range(S)]
    theta = np.stack([t for t, _ in starts])
    log_pi = np.stack([lp for _, lp in starts])

    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        memory_limit=args.memory_limit,
    ) as lc:
        os.environ["DASK_SCHEDULER_ADDRESS"] = lc.scheduler_address
        os.environ["DASK_MIN_CELLS"] = "0"
        get_settings.cache_clear()
        t0 = time.perf_counter()
        with on_cluster(design) as remote, threadpool_limits(1, user_api="blas"):
            scatter_s = time.perf_counter() - t0
            assert remote.remote is not None
            partitions = remote.remote.partitions  # type: ignore[attr-defined]
            n_parts = len(partitions.futures)
            print(f"{n_parts} partitions scattered in {scatter_s:.1f} s", flush=True)
            spilled = partitions.client.run(_spilled)
            # The first partition as on_cluster cut it (two worker threads).
            part = design.part(0, min(design.n_rows, partition_rows(design, 2)))
            pool = E.Pool(args.threads)
            times: dict[str, list[float]] = {}
            passes = {
                "in process": lambda t: E.e_pass(design, theta, log_pi, t, pool),
                "on Dask": lambda t: E.e_pass(remote, theta, log_pi, t, pool),
                "no-op pass": lambda t: partitions.run(noop),
                "one partition": lambda t: partition_pass(part, theta, log_pi, t, True),
            }
            with pool.running():
                for dtype in (np.float64, np.float32):
                    for _ in range(args.rounds):
                        for label, fn in passes.items():
                            t = time.perf_counter()
                            fn(dtype)
                            key = f"{label} {np.dtype(dtype).name}"
                            times.setdefault(key, []).append(time.perf_counter() - t)
            out = partition_pass(part, theta, log_pi, np.float64, True)
            sent = len(pickle.dumps((theta, log_pi, np.float64, True)))
            back = len(pickle.dumps(out))
        cluster.close()

    med = {k: statistics.median(v) for k, v in times.items()}
    load = os.getloadavg()[0]
    print(f"\n{args.n:,} × {p}, K = {K}, {S} starts; {n_parts} partitions; load {load:.1f}")
    for name in ("float64", "float32"):
        here, there = med[f"in process {name}"], med[f"on Dask {name}"]
        print(
            f"{name}: s per pass in process {here:.3f} ({args.threads} threads), on Dask "
            f"{there:.3f} (2 workers × 1 thread): Dask/in process {there / here:.2f}x; "
            f"no-op pass {med[f'no-op pass {name}']:.3f} s "
            f"({med[f'no-op pass {name}'] / there:.1%} of the Dask pass); one partition "
            f"{med[f'one partition {name}']:.3f} s"
        )
    print(
        f"bytes per pass: {sent:,} to each partition, {back:,} back "
        f"({S}×{K}×{p} = {S * K * p:,} numbers in; {n_parts} partitions: "
        f"{n_parts * (sent + back) / 1e6:.2f} MB a pass); data held on the cluster "
        f"{12 * design.n_rows * p / 1e9:.2f} GB, scattered once in {scatter_s:.1f} s"
    )
    print(f"partitions per worker in memory / on disk after scattering: {spilled}")


def _spilled(dask_worker: object) -> str:
    data = dask_worker.data  # type: ignore[attr-defined]
    return f"{len(data.fast)} / {len(getattr(data, 'slow', {}))}"


if __name__ == "__main__":
    main()
