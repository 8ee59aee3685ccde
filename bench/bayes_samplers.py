"""Bayesian factor model benchmarks (figures in bench/README.md and docs/bayesian.md).

    .venv/bin/python bench/bayes_samplers.py nuts  [--households 500 --products 12 --factors 2]
        the same model sampled with PyMC's NUTS and with nutpie: compile time, sampling time,
        smallest bulk ESS over the global parameters, ESS per second and the ratio.
    .venv/bin/python bench/bayes_samplers.py blas
        PyTensor's C backend without BLAS (what a plain pip install gives) and with OpenBLAS
        (Debian's libopenblas-dev): gradient evaluations per second and PyMC NUTS draws/s.
    .venv/bin/python bench/bayes_samplers.py vi --households 50000
        ADVI (minibatches) against NUTS (nutpie) on a large simulated dataset: time and agreement
        of posterior means.

Data: two factors loading 1.5 (logit scale) on halves of the products, intercepts ~ N(-0.4, 0.4).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # as in a worker process (workers/__init__.py)

import numpy as np  # noqa: E402

from workers.models.base import BinaryMatrix, no_progress  # noqa: E402


def simulate(n: int, p: int, k: int, seed: int = 1) -> tuple[BinaryMatrix, np.ndarray]:
    rng = np.random.default_rng(seed)
    loadings = np.zeros((p, k))
    for j in range(p):
        loadings[j, j * k // p] = 1.5
    intercepts = rng.normal(-0.4, 0.4, p)
    scores = rng.standard_normal((n, k))
    prob = 1 / (1 + np.exp(-(intercepts + scores @ loadings.T)))
    y = (rng.random((n, p)) < prob).astype(float)
    return BinaryMatrix(values=y, products=[f"prod_{j + 1}" for j in range(p)]), loadings


def matched_error(got: np.ndarray, truth: np.ndarray) -> float:
    """Largest loading error with the factors put in the order that fits best."""
    return min(
        float(np.abs(got[:, list(perm)] - truth).max())
        for perm in itertools.permutations(range(truth.shape[1]))
    )


def global_ess(idata: Any, fd: Any) -> float:
    from workers.models.bayes import factor_model as fm
    from workers.models.bayes import summary as bs

    a = bs.summarise(bs.draws_of(idata, "intercept"))
    lam = bs.summarise(bs.draws_of(idata, "loadings"))
    rows, cols = fm.loading_pattern(fd.p, fd.anchors)
    assert a.ess_bulk is not None and lam.ess_bulk is not None
    free = np.concatenate(
        [lam.ess_bulk[rows, cols], lam.ess_bulk[np.asarray(fd.anchors), np.arange(fd.n_factors)]]
    )
    return float(min(a.ess_bulk.min(), free.min()))


def run_nuts(args: argparse.Namespace) -> None:
    from workers.models.bayes import factor_model as fm
    from workers.models.bayes.sampling import NUTSSettings, sample_nuts
    from workers.models.progress import Span

    data, _ = simulate(args.households, args.products, args.factors)
    fd = fm.prepare(data, args.factors)
    rows = []
    for sampler in ("pymc", "nutpie"):
        model, containers = fm.build_model(fd, "logit")
        settings = NUTSSettings(args.draws, args.tune, 2, 0.9, sampler, seed=3)
        out = sample_nuts(
            model,
            settings,
            no_progress,
            span=Span(0, 1),
            cache_key=None,
            data=containers,
            var_names=["intercept", "loading_diag", "loading_free", "loadings", "scores"],
        )
        ess = global_ess(out.idata, fd)
        rows.append(
            {
                "sampler": sampler,
                "compile_s": round(out.compile_seconds, 1),
                "sampling_s": round(out.sampling_seconds, 1),
                "min_ess_bulk": round(ess),
                "ess_per_s": round(ess / out.sampling_seconds, 2),
                "divergences": int(out.idata["sample_stats"]["diverging"].values.sum()),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    ratio = rows[1]["ess_per_s"] / rows[0]["ess_per_s"]
    print(
        f"n={args.households} p={args.products} K={args.factors} draws={args.draws} "
        f"tune={args.tune} chains=2: nutpie / PyMC ESS/s = {ratio:.1f}x"
    )


def run_blas_child(args: argparse.Namespace) -> None:
    import pymc as pm
    import pytensor

    from workers.models.bayes import factor_model as fm

    data, _ = simulate(args.households, args.products, args.factors)
    fd = fm.prepare(data, args.factors)
    model, _ = fm.build_model(fd, "logit")
    fn = model.compile_dlogp()
    x = model.initial_point()
    fn(x)
    # CPU time of this process (one BLAS/OpenMP thread): far less sensitive than wall time to
    # the other jobs on a shared machine.
    rates = []
    for _ in range(5):
        cpu, wall, calls = time.process_time(), time.perf_counter(), 0
        while time.perf_counter() - wall < 2:
            fn(x)
            calls += 1
        rates.append(calls / (time.process_time() - cpu))
    grads = float(np.median(rates))
    settings: dict[str, Any] = {"draws": 200, "tune": 200, "chains": 2, "cores": 2}
    with model:
        started = time.perf_counter()
        pm.sample(**settings, random_seed=1, progressbar=False, compute_convergence_checks=False)
        seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "blas_ldflags": pytensor.config.blas__ldflags or "(none)",
                "gradients_per_cpu_s": round(grads, 1),
                "pymc_sample_s_incl_compile": round(seconds, 1),
                "pymc_draws_per_s": round(800 / seconds, 1),
            }
        ),
        flush=True,
    )


def run_blas(args: argparse.Namespace) -> None:
    script = str(Path(__file__).resolve())
    common = [
        "--households",
        str(args.households),
        "--products",
        str(args.products),
        "--factors",
        str(args.factors),
    ]
    for flags in ("blas__ldflags=", None):
        env = dict(os.environ)
        if flags is not None:
            env["PYTENSOR_FLAGS"] = flags
        subprocess.run([sys.executable, script, "blas-child", *common], env=env, check=True)


def run_vi(args: argparse.Namespace) -> None:
    from backend.schemas.bayesian import BayesianFactorPymcParams, BayesianFactorVIParams
    from workers.models.bayes import factor_model as fm
    from workers.models.bayes import factor_nuts as bayesian_factor_pymc
    from workers.models.bayes import factor_vi as bayesian_factor_vi

    data, truth = simulate(args.households, args.products, args.factors)
    std_truth = fm.standardised(truth, "logit")
    results = {}
    for name in ("vi", "nuts"):
        started = time.perf_counter()
        if name == "vi":
            result = bayesian_factor_vi.fit(
                data,
                BayesianFactorVIParams(
                    n_factors=args.factors,
                    batch_size=args.batch,
                    max_iter=args.max_iter,
                    random_state=1,
                ),
                no_progress,
            )
        else:
            result = bayesian_factor_pymc.fit(
                data,
                BayesianFactorPymcParams(
                    n_factors=args.factors, draws=args.draws, tune=args.tune, random_state=1
                ),
                no_progress,
            )
        seconds = time.perf_counter() - started
        results[name] = result
        loadings = np.asarray(result.loadings)
        print(
            json.dumps(
                {
                    "method": name,
                    "total_s": round(seconds, 1),
                    "compile_s": result.diagnostics.compile_seconds,
                    "fit_s": result.diagnostics.sampling_seconds,
                    "max_abs_error_std_loadings": round(matched_error(loadings, std_truth), 3),
                    "iterations": result.vi.iterations if result.vi else None,
                    "max_r_hat": result.diagnostics.max_r_hat,
                }
            ),
            flush=True,
        )
    vi, nuts = results["vi"], results["nuts"]
    diff = np.abs(np.asarray(vi.loadings) - np.asarray(nuts.loadings)).max()
    vi_sd, nuts_sd = np.asarray(vi.loadings_sd), np.asarray(nuts.loadings_sd)
    sd_ratio = np.median(vi_sd[nuts_sd > 0] / nuts_sd[nuts_sd > 0])  # fixed zeros left out
    assert vi.rows is not None and nuts.rows is not None
    corr = [
        float(np.corrcoef(vi.rows[f"factor_{k + 1}"], nuts.rows[f"factor_{k + 1}"])[0, 1])
        for k in range(args.factors)
    ]
    print(
        f"agreement: max |VI - NUTS| standardised loading {diff:.3f}; median posterior sd "
        f"VI/NUTS {sd_ratio:.2f}; factor score correlation {', '.join(f'{c:.3f}' for c in corr)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["nuts", "blas", "blas-child", "vi"])
    parser.add_argument("--households", type=int, default=500)
    parser.add_argument("--products", type=int, default=12)
    parser.add_argument("--factors", type=int, default=2)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--max-iter", type=int, default=20000)
    args = parser.parse_args()
    {"nuts": run_nuts, "blas": run_blas, "blas-child": run_blas_child, "vi": run_vi}[args.what](
        args
    )


if __name__ == "__main__":
    main()
