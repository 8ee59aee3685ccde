"""Tetrachoric matrix of 100 products × 200k households: this project, a plain per-pair
implementation and R's psych, side by side on the same data.

    .venv/bin/python bench/tetrachoric.py                 # 200k × 100 (needs Rscript + psych)
    .venv/bin/python bench/tetrachoric.py --n 20000 --p 30 --no-r

- ours: one chunked, bit-packed pass for all 2×2 tables, vectorised Newton for all pairs at once
  (workers/models/pair_counts.py, workers/models/factor/tetrachoric.py), then the whole
  factor_tetrachoric fit (minres, oblimin, 20 permutations of parallel analysis, scores) for
  scale;
- per pair: for each pair a pass over the rows for its 2×2 table and a scipy `minimize_scalar`
  of the same likelihood with scipy's bivariate normal CDF, timed on `--pairs` pairs and
  extrapolated to all p(p-1)/2 (stated in the output);
- psych: `tetrachoric(x)` in Rscript on the same data written to CSV (reading the CSV is not
  timed); its matrix is compared with ours.
Each runs in its own process with one BLAS thread (as workers run); peak memory is ru_maxrss
of that process (including the data).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import in_own_process, peak_mb, report_to_parent, size_parser


def simulate(n: int, p: int, seed: int = 0) -> np.ndarray:
    """p products driven by 5 correlated factors, penetration 3 %..50 %."""
    from tests.reference.simulate import simulate_factors

    rng = np.random.default_rng(seed)
    loadings = np.zeros((p, 5))
    loadings[np.arange(p), np.arange(p) % 5] = rng.uniform(0.4, 0.8, p)
    phi = np.full((5, 5), 0.2) + 0.8 * np.eye(5)
    penetration = rng.uniform(0.03, 0.5, p)
    sim = simulate_factors(
        n=n, loadings=loadings, phi=phi, penetration=penetration, seed=seed, id_column=None
    )
    return sim.frame.to_numpy(dtype=float)


def run_ours(args: argparse.Namespace) -> dict:
    from backend.schemas.factor import TetrachoricFactorParams
    from workers.models.base import BinaryMatrix, no_progress
    from workers.models.factor.fit import fit
    from workers.models.factor.tetrachoric import tetrachoric
    from workers.models.pair_counts import pair_counts

    X = simulate(args.n, args.p)
    products = [f"p{j}" for j in range(args.p)]
    data_mb = peak_mb()
    t0 = time.perf_counter()
    counts = pair_counts(X)
    t_counts = time.perf_counter() - t0
    tet = tetrachoric(counts, products)
    t_matrix = time.perf_counter() - t0
    np.save(args.work / "ours.npy", tet.rho)
    t1 = time.perf_counter()
    result = fit(
        BinaryMatrix(X, products),
        TetrachoricFactorParams(n_factors=5, random_state=0),
        no_progress,
    )
    t_fit = time.perf_counter() - t1
    return {
        "counts_s": t_counts,
        "matrix_s": t_matrix,
        "full_fit_s": t_fit,
        "suggested": result.n_factors_suggested,
        "peak_mb": peak_mb(),
        "data_mb": data_mb,
    }


def run_per_pair(args: argparse.Namespace) -> dict:
    from scipy.optimize import minimize_scalar
    from scipy.special import ndtri
    from scipy.stats import multivariate_normal

    X = simulate(args.n, args.p)
    tau = -ndtri(X.mean(axis=0))
    pairs = [(i, j) for i in range(args.p) for j in range(i + 1, args.p)]
    rng = np.random.default_rng(1)
    chosen = [pairs[k] for k in rng.choice(len(pairs), min(args.pairs, len(pairs)), False)]
    ours = np.load(args.work / "ours.npy")
    worst = 0.0
    t0 = time.perf_counter()
    for i, j in chosen:
        x, y = X[:, i], X[:, j]
        n11 = float(np.sum((x == 1) & (y == 1)))
        n10 = float(np.sum((x == 1) & (y == 0)))
        n01 = float(np.sum((x == 0) & (y == 1)))
        n00 = float(np.sum((x == 0) & (y == 0)))
        cells = np.array([n00, n01, n10, n11])
        cells[cells == 0] = 0.5
        fx, fy = 1 - X[:, i].mean(), 1 - X[:, j].mean()

        def nll(r: float, i: int = i, j: int = j, cells: np.ndarray = cells,
                fx: float = fx, fy: float = fy) -> float:  # fmt: skip
            p00 = multivariate_normal(cov=[[1, r], [r, 1]]).cdf([tau[i], tau[j]])
            probs = np.array([p00, fx - p00, fy - p00, 1 - fx - fy + p00])
            return float(-np.sum(cells * np.log(np.maximum(probs, 1e-300))))

        r = minimize_scalar(nll, bounds=(-0.9999, 0.9999), method="bounded").x
        worst = max(worst, abs(r - ours[i, j]))
    elapsed = time.perf_counter() - t0
    return {
        "pairs_timed": len(chosen),
        "timed_s": elapsed,
        "all_pairs_s": elapsed * len(pairs) / len(chosen),
        "max_abs_diff_vs_ours": worst,
        "peak_mb": peak_mb(),
    }


R_SCRIPT = """
suppressPackageStartupMessages(library(psych))
args <- commandArgs(trailingOnly = TRUE)
x <- as.matrix(read.csv(args[1]))
t0 <- proc.time()[["elapsed"]]
r <- suppressWarnings(suppressMessages(tetrachoric(x)))$rho
elapsed <- proc.time()[["elapsed"]] - t0
write.csv(unname(r), args[2], row.names = FALSE)
peak <- as.numeric(system(paste0("grep VmHWM /proc/", Sys.getpid(), "/status | awk '{print $2}'"),
                          intern = TRUE)) / 1024
cat(sprintf('{"matrix_s": %f, "peak_mb": %f, "cores": %s}',
            elapsed, peak, getOption("mc.cores", 2L)))
"""


def run_psych(args: argparse.Namespace) -> dict:
    X = simulate(args.n, args.p)
    csv = args.work / "data.csv"
    np.savetxt(csv, X, fmt="%d", delimiter=",", header=",".join(f"p{j}" for j in range(args.p)),
               comments="")  # fmt: skip
    script = args.work / "psych.R"
    script.write_text(R_SCRIPT)
    out = subprocess.run(
        ["Rscript", str(script), str(csv), str(args.work / "psych.csv")],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    psych = np.loadtxt(args.work / "psych.csv", delimiter=",", skiprows=1)
    result["max_abs_diff_vs_ours"] = float(np.abs(psych - np.load(args.work / "ours.npy")).max())
    return result


def child(which: str, args: argparse.Namespace) -> dict:
    return in_own_process(__file__, which, "--n", str(args.n), "--p", str(args.p),
                          "--pairs", str(args.pairs), "--work", str(args.work))  # fmt: skip


def main() -> None:
    parser = size_parser(__doc__, n=200_000, p=100)
    parser.add_argument("--pairs", type=int, default=100)
    parser.add_argument("--no-r", action="store_true")
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        runner = {"ours": run_ours, "per_pair": run_per_pair, "psych": run_psych}[args.child]
        report_to_parent(runner(args))
        return
    with tempfile.TemporaryDirectory() as tmp:
        args.work = Path(tmp)
        results = {"ours": child("ours", args), "per_pair": child("per_pair", args)}
        if not args.no_r:
            results["psych"] = child("psych", args)
    pairs = args.p * (args.p - 1) // 2
    print(f"tetrachoric matrix, {args.n:,} households × {args.p} products ({pairs:,} pairs); "
          f"load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
