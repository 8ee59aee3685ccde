"""Oversubscription: N worker-like processes on N cores, each with 1 BLAS thread or with N.

Each process runs the same NumPy workload (matrix products of the size an EM step or a
tetrachoric factor extraction makes). Printed: wall time for all processes to finish with
OMP/OPENBLAS threads = 1 (what workers set) and = cores (NumPy's default), and the ratio.

    .venv/bin/python bench/blas_threads.py [--processes 2] [--size 1500] [--repeats 6]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

WORK = """
import time, numpy as np
rng = np.random.default_rng(0)
a = rng.random(({n}, {n}))
for _ in range({r}):
    a = a @ a.T
    a /= np.abs(a).max()
"""


def wall(processes: int, threads: int, size: int, repeats: int) -> float:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    code = WORK.format(n=size, r=repeats)
    started = time.perf_counter()
    children = [subprocess.Popen([sys.executable, "-c", code], env=env) for _ in range(processes)]
    for child in children:
        child.wait()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--size", type=int, default=1500)
    parser.add_argument("--repeats", type=int, default=6)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    one = wall(args.processes, 1, args.size, args.repeats)
    many = wall(args.processes, cores, args.size, args.repeats)
    size = f"{args.size}x{args.size}"
    print(f"{args.processes} processes on {cores} cores, {size} products x{args.repeats}")
    print(f"  1 BLAS thread each      : {one:6.2f} s")
    print(f"  {cores} BLAS threads each     : {many:6.2f} s")
    print(f"  oversubscribed / pinned : {many / one:5.2f}x")


if __name__ == "__main__":
    main()
