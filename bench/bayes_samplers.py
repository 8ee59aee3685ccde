"""Bayesian factor model benchmarks (figures in bench/README.md and docs/bayesian.md).

    .venv/bin/python bench/bayes_samplers.py nuts  [--households 500 --products 12 --factors 2]
            [--models factor,dcm --variants pymc,nutpie-diag,nutpie-lowrank --repeats 2]
        the same models sampled with PyMC's NUTS and nutpie's settings side by side: compile
        time, sampling time, smallest bulk ESS over the global parameters, ESS per second and
        the ratios to the first variant, with the load average (`uptime`) at each fit.
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
import resource
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


# Longer adaptation windows (nutpie's default: the mass matrix switches every 80 draws).
WINDOW_200 = {"mass_matrix_switch_freq": 200, "window_switch_freq": 200}
# The samplers compared by `nuts`: (label, sampler, nutpie mass matrix, further nutpie settings).
VARIANTS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "pymc": ("pymc", "diagonal", {}),
    "nutpie-diag": ("nutpie", "diagonal", {}),
    "nutpie-lowrank": ("nutpie", "low_rank", {}),
    "nutpie-lowrank-cut10": ("nutpie", "low_rank", {"mass_matrix_eigval_cutoff": 10.0}),
    # Fewer eigenvalues ignored (nutpie's default cutoff is 2: those in [1/2, 2] are left out).
    "nutpie-lowrank-cut1.2": ("nutpie", "low_rank", {"mass_matrix_eigval_cutoff": 1.2}),
    # Stronger regularisation of the estimated eigenvalues (default 1e-5).
    "nutpie-lowrank-gamma1e-2": ("nutpie", "low_rank", {"mass_matrix_gamma": 1e-2}),
    "nutpie-lowrank-window200": ("nutpie", "low_rank", WINDOW_200),
    "nutpie-diag-stan": ("nutpie", "diagonal", {"use_grad_based_mass_matrix": False}),
}


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def simulate_dcm(n: int, p: int, seed: int = 2) -> tuple[BinaryMatrix, Any]:
    """Purchases from the choice model: two household features with per-product effects around
    0.5 and -0.3, household random intercepts (sd 0.8)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 2))
    beta = np.stack([rng.normal(0.5, 0.3, p), rng.normal(-0.3, 0.3, p)])
    alpha = rng.normal(-0.5, 0.6, p)
    u = rng.normal(0, 0.8, n)
    eta = alpha + x @ beta + u[:, None]
    y = (rng.random((n, p)) < 1 / (1 + np.exp(-eta))).astype(float)
    covariates = pd.DataFrame({"income": x[:, 0], "age": x[:, 1]})
    data = BinaryMatrix(values=y, products=[f"prod_{j + 1}" for j in range(p)])
    return data, covariates


def build_for(model_name: str, args: argparse.Namespace) -> tuple[Any, dict[str, Any], Any]:
    """The model, its data containers and what `global_ess` needs."""
    from workers.models.bayes import factor_model as fm

    if model_name == "factor":
        data, _ = simulate(args.households, args.products, args.factors)
        fd = fm.prepare(data, args.factors)
        model, containers = fm.build_model(fd, "logit")
        return model, containers, ("factor", fd)
    from backend.schemas.dcm import DCMParams
    from workers.models.bayes import dcm, features

    data, covariates = simulate_dcm(args.households, args.products)
    fd = fm.prepare(data, 1)
    fd.n_factors, fd.anchors = 0, []
    hh = features.encode(covariates, 20, "Household feature")
    pf = features.encode(None, 20, "Product feature")
    params = DCMParams(random_intercepts=True, n_latent=0)
    model, containers = dcm.build_model(fd, hh.matrix, hh.names, pf.matrix, pf.names, params)
    return model, containers, ("dcm", fd)


def dcm_ess(idata: Any) -> float:
    from workers.models.bayes import summary as bs

    names = ["mu", "sigma_alpha", "intercept", "beta_mean", "beta_sd", "beta", "sigma_household"]
    ess = [np.asarray(bs.summarise(bs.draws_of(idata, n)).ess_bulk, dtype=float) for n in names]
    return float(min(np.nanmin(e) for e in ess))


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (PyMC's chain processes)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class SamplingClock:
    """A progress reporter that notes this process's CPU seconds (`cpu_seconds`) at the first
    sampling event: after PyMC compiled (its first draw) or nutpie's sampler is about to start.
    CPU time from there on is that of sampling alone for both samplers; PyMC compiles inside
    `pm.sample`, so the CPU of the whole call also counts its compile (1-10 s here)."""

    def __init__(self) -> None:
        self.at_first_draw: float | None = None

    def __call__(self, fraction: float, message: str, **fields: Any) -> None:
        if self.at_first_draw is None and fields.get("phase") == "sampling":
            self.at_first_draw = cpu_seconds()


def precompile(model: Any, key: Any) -> None:
    """nutpie's compiled model put in the per-process cache first, so the CPU seconds counted
    for nutpie are those of sampling (PyMC compiles in this process before its chain
    processes start; their CPU time is what is counted for it)."""
    import nutpie

    from workers.models.bayes.sampling import COMPILED

    COMPILED.get_or_compile(key, lambda: nutpie.compile_pymc_model(model))


def run_nuts(args: argparse.Namespace) -> None:
    """Every variant on the same data, seed and starting values, one after another in this
    process (compile caches warm after the first), repeated `--repeats` times in turn so load
    changes hit all variants alike."""
    from workers.models.bayes.sampling import NUTSSettings, sample_nuts
    from workers.models.progress import Span

    variants = args.variants.split(",")
    print(f"load before: {load()}", flush=True)
    for model_name in args.models.split(","):
        rows: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
        for repeat in range(args.repeats):
            for label in variants:
                sampler, mass, extra = VARIANTS[label]
                model, containers, (kind, fd) = build_for(model_name, args)
                key = ("bench", model_name, label, repeat)
                if sampler == "nutpie":
                    precompile(model, key)
                settings = NUTSSettings(
                    args.draws, args.tune, 2, 0.9, sampler, seed=args.seed + repeat,
                    mass_matrix=mass, nutpie_options=extra,
                )  # fmt: skip
                clock = SamplingClock()
                cpu = cpu_seconds()
                out = sample_nuts(
                    model, settings, clock, span=Span(0, 1),
                    cache_key=key if sampler == "nutpie" else None, data=containers,
                )  # fmt: skip
                ended = cpu_seconds()
                cpu, sampling_cpu = ended - cpu, ended - (clock.at_first_draw or cpu)
                ess = global_ess(out.idata, fd) if kind == "factor" else dcm_ess(out.idata)
                row = {
                    "model": model_name,
                    "variant": label,
                    "repeat": repeat,
                    "compile_s": round(out.compile_seconds, 1),
                    "sampling_s": round(out.sampling_seconds, 1),
                    "min_ess_bulk": round(ess),
                    "ess_per_s": round(ess / out.sampling_seconds, 2),
                    "cpu_s": round(cpu, 1),
                    "ess_per_cpu_s": round(ess / cpu, 2),
                    "sampling_cpu_s": round(sampling_cpu, 1),
                    "ess_per_sampling_cpu_s": round(ess / sampling_cpu, 2),
                    "divergences": int(out.idata["sample_stats"]["diverging"].values.sum()),
                    "load": load().split("load average:")[-1].strip(),
                }
                rows[label].append(row)
                print(json.dumps(row), flush=True)
        for measure in ("ess_per_s", "ess_per_cpu_s", "ess_per_sampling_cpu_s"):
            base_rows = rows[variants[0]]
            base = float(np.median([r[measure] for r in base_rows]))
            for label in variants:
                med = float(np.median([r[measure] for r in rows[label]]))
                # Per seed: both samplers on the same seed and starting values, side by side.
                paired = [
                    r[measure] / b[measure] for r, b in zip(rows[label], base_rows, strict=True)
                ]
                print(
                    f"{model_name}: n={args.households} p={args.products} draws={args.draws} "
                    f"tune={args.tune} chains=2: {label} median {measure} {med:.2f} = "
                    f"{med / base:.2f}x {variants[0]}; per-seed ratios "
                    f"{', '.join(f'{x:.2f}' for x in paired)} (median {np.median(paired):.2f}x)",
                    flush=True,
                )
    print(f"load after: {load()}", flush=True)


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
    parser.add_argument("--models", default="factor,dcm", help="nuts: factor and/or dcm")
    parser.add_argument("--variants", default="pymc,nutpie-diag,nutpie-lowrank")
    parser.add_argument("--repeats", type=int, default=2, help="nuts: seeds --seed, --seed + 1…")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    {"nuts": run_nuts, "blas": run_blas, "blas-child": run_blas_child, "vi": run_vi}[args.what](
        args
    )


if __name__ == "__main__":
    main()
