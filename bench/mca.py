"""MCA on 1M households × 100 products: time and peak memory, against prince's dense one-hot.

    .venv/bin/python bench/mca.py                      # 1M × 100 ours; prince at 100k and 200k
    .venv/bin/python bench/mca.py --n 100000 --prince 20000

Each run is its own process; peak memory is ru_maxrss (including the data, which alone is
n × p × 8 bytes as float64: 800 MB at 1M × 100). "extra" is the peak minus the memory right
after the data was made. prince (the `mca` extra in the dev dependencies) one-hot encodes into
a dense n × 2p matrix and runs CA on it; it is run at smaller n and its eigenvalues compared.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import in_own_process, peak_mb, report_to_parent, size_parser


def simulate(n: int, p: int, seed: int = 0) -> np.ndarray:
    """Latent-factor purchases, generated in row blocks so the float64 matrix is the only big
    allocation; penetration 3 %..50 %."""
    from scipy.special import ndtri

    rng = np.random.default_rng(seed)
    loadings = np.zeros((p, 5))
    loadings[np.arange(p), np.arange(p) % 5] = rng.uniform(0.4, 0.8, p)
    tau = -ndtri(rng.uniform(0.03, 0.5, p))
    unique = np.sqrt(1 - (loadings**2).sum(axis=1))
    X = np.empty((n, p))
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        z = rng.standard_normal((m, 5)) @ loadings.T + rng.standard_normal((m, p)) * unique
        X[start : start + m] = z > tau
    return X


def measured(started: float, data_mb: float, eigenvalues: list[float]) -> dict[str, Any]:
    """Seconds since `started`, peak memory, and the memory above the data's."""
    elapsed = time.perf_counter() - started
    peak = peak_mb()
    return {
        "seconds": elapsed,
        "peak_mb": peak,
        "data_mb": data_mb,
        "extra_mb": peak - data_mb,
        "eigenvalues": eigenvalues,
    }


def run_ours(n: int, p: int) -> dict[str, Any]:
    from backend.schemas.mca import MCAParams
    from workers.models.base import BinaryMatrix, no_progress
    from workers.models.mca import fit

    X = simulate(n, p)
    data_mb = peak_mb()
    t0 = time.perf_counter()
    result = fit(BinaryMatrix(X, [f"p{j}" for j in range(p)]), MCAParams(n_components=5),
                 no_progress)  # fmt: skip
    return measured(t0, data_mb, result.eigenvalues[:5])


def run_prince(n: int, p: int) -> dict[str, Any]:
    import pandas as pd
    import prince

    X = simulate(n, p)
    frame = pd.DataFrame(X.astype(np.int8), columns=[f"p{j}" for j in range(p)]).astype(str)
    data_mb = peak_mb()
    t0 = time.perf_counter()
    model = prince.MCA(n_components=5, engine="scipy").fit(frame)
    return measured(t0, data_mb, [float(v) for v in np.asarray(model.eigenvalues_)[:5]])


def child(which: str, n: int, p: int) -> dict[str, Any]:
    return in_own_process(__file__, which, "--n", str(n), "--p", str(p))


def main() -> None:
    parser = size_parser(__doc__, n=1_000_000, p=100)
    parser.add_argument("--prince", type=int, nargs="*", default=[100_000, 200_000])
    args = parser.parse_args()
    if args.child:
        runner = run_ours if args.child == "ours" else run_prince
        report_to_parent(runner(args.n, args.p))
        return
    print(f"MCA, {args.p} products; load average {os.getloadavg()[0]:.2f}")
    rows = [("ours", args.n, child("ours", args.n, args.p))]
    for n in args.prince:
        rows.append(("ours", n, child("ours", n, args.p)))
        rows.append(("prince", n, child("prince", n, args.p)))
    print(f"{'engine':8} {'households':>10} {'seconds':>8} {'peak MB':>8} {'data MB':>8} "
          f"{'extra MB':>9}  first eigenvalues")  # fmt: skip
    for engine, n, r in rows:
        eig = " ".join(f"{v:.6f}" for v in r["eigenvalues"][:3])
        print(f"{engine:8} {n:>10,} {r['seconds']:>8.1f} {r['peak_mb']:>8.0f} "
              f"{r['data_mb']:>8.0f} {r['extra_mb']:>9.0f}  {eig}")  # fmt: skip


if __name__ == "__main__":
    main()
