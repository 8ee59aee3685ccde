"""The Bayesian factor model fitted by variational inference (PyMC's ADVI), with minibatches.

`advi` is mean-field over every parameter; `fullrank_advi` puts one full-rank Gaussian over the
global parameters (intercepts and loadings) and keeps the per-household factor scores mean-field,
so it stays affordable for many households. Large data is fitted in random minibatches of
households (each household keeps its own variational factor scores; the likelihood is scaled by
n / batch size). Draws of the global parameters come from the fitted Gaussian in numpy, and the
factor scores' posterior is summarised directly from their Gaussian (mean, sd, 94% interval), so
50,000 households never mean 50,000 × draws arrays. The result has the NUTS model's shape.
"""

from __future__ import annotations

import time
from typing import Any

import arviz as az
import numpy as np
import pymc as pm
import xarray as xr
from pymc.variational.opvi import Approximation, Group
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.traversal import ancestors

from backend.errors import DataError
from backend.schemas.bayesian import (
    BayesianFactorResult,
    BayesianFactorVIParams,
    SamplingDiagnostics,
    VIDiagnostics,
)
from workers.models.base import BinaryMatrix, FitFunction, Progress
from workers.models.bayes import factor_model as fm
from workers.models.bayes import summary as bs
from workers.models.bayes.factor_nuts import MODEL_TYPE as NUTS_MODEL_TYPE
from workers.models.progress import Span
from workers.models.provenance import resolve_seed

MODEL_TYPE = "bayesian_factor_vi"
FULL_BATCH_LIMIT = 5000
DEFAULT_BATCH = 1000
LOSS_BLOCK = 100
WINDOW = 500  # convergence: mean loss of consecutive windows of this many iterations
FITTING = Span(0.02, 0.9)
SUMMARY = Span(0.9, 0.99)
GLOBALS = ("intercept", "loading_diag", "loading_free")


def fit(
    data: BinaryMatrix, params: BayesianFactorVIParams, progress: Progress
) -> BayesianFactorResult:
    seed = resolve_seed(params.random_state)
    fd = fm.prepare(data, params.n_factors)
    batch = params.batch_size or (fd.n if fd.n <= FULL_BATCH_LIMIT else DEFAULT_BATCH)
    batch = min(batch, fd.n)
    progress(0.0, "Building the model.", phase="loading", details={"stage": "building"})
    model, _ = fm.build_model(fd, params.link, batch_size=batch if batch < fd.n else None)
    _seed_minibatches(model, seed)

    with model:
        if params.method == "advi":
            inference: pm.KLqp = pm.ADVI(random_seed=seed)
        else:
            globals_ = [model[name] for name in GLOBALS]
            approx = Approximation(
                [
                    Group(globals_, vfam="fr", random_seed=seed),
                    Group(None, vfam="mf", random_seed=seed),
                ]
            )
            # Multi-group approximations lack the `rng` that KLqp's step function reads (PyMC
            # 5.28 forwards it only for single-group ones).
            approx.rng = np.random.RandomState(seed)
            inference = pm.KLqp(approx)

    tracker = _Tracker(progress, params, batch)
    progress(
        FITTING.start,
        "Compiling the model (PyTensor C code; cached on disk after the first run).",
        phase="loading",
        force=True,
        details={"stage": "compiling", "method": params.method},
    )
    callbacks: list[Any] = [tracker]
    with model:
        approx = inference.fit(
            params.max_iter,
            obj_optimizer=pm.adam(learning_rate=params.learning_rate),
            callbacks=callbacks,
            progressbar=False,
        )
    ended = time.monotonic()
    losses = np.asarray(inference.hist, dtype=np.float64)
    iterations = int(losses.size)
    if not np.isfinite(losses[-min(LOSS_BLOCK, iterations) :]).all():
        raise DataError(
            "The variational fit diverged (the loss became infinite or NaN). Lower learning_rate."
        )
    converged = tracker.converged
    first = tracker.first or ended
    compile_seconds = first - tracker.started
    fitting_seconds = ended - first

    progress(
        SUMMARY.start,
        "Drawing from the fitted approximation.",
        phase="fitting",
        details={"stage": "drawing"},
    )
    rng = np.random.default_rng(seed)
    draws = _global_draws(approx, params.draws, rng)
    loadings = _loadings_from(draws, fd)
    intercept = draws["intercept"]
    score_mean, score_sd = _moments(approx, "scores")

    diagnostics = SamplingDiagnostics(
        method=params.method,
        sampler="pymc-vi",
        chains=1,
        draws=params.draws,
        tune=0,
        compile_seconds=round(compile_seconds, 3),
        sampling_seconds=round(fitting_seconds, 3),
        draws_per_second=round(iterations / fitting_seconds, 2) if fitting_seconds > 0 else None,
    )
    final_loss = float(np.mean(losses[-LOSS_BLOCK:]))
    vi = VIDiagnostics(
        method=params.method,
        iterations=iterations,
        converged=converged,
        final_loss=final_loss,
        learning_rate=params.learning_rate,
        batch_size=batch,
        loss_history=tracker.history(losses),
    )
    warnings_: list[str] = []
    if not converged and params.tol > 0:
        warnings_.append(
            f"The variational fit did not settle within max_iter={params.max_iter} iterations "
            f"(tolerance {params.tol}); increase max_iter or learning_rate, and check the loss "
            "history."
        )
    warnings_.append(
        "Variational inference underestimates posterior uncertainty (intervals are too narrow, "
        "especially with mean-field ADVI); confirm important conclusions with "
        f"{NUTS_MODEL_TYPE}."
    )
    factor_fit = fm.FactorFit(
        intercept=intercept[None],
        loadings=loadings[None],
        scores=fm.gaussian_scores(score_mean, score_sd),
        diagnostics=diagnostics,
        vi=vi,
        warnings=warnings_,
    )
    result = fm.assemble(
        data,
        fd,
        factor_fit,
        link=params.link,
        method=params.method,
        params=params.model_dump(mode="json"),
        seed=seed,
        progress=_as_fitting(progress),
        span=SUMMARY,
        model_type=MODEL_TYPE,
    )
    bs.WRITING.report(progress, SUMMARY.end, phase="fitting")
    idata = _inference_data(fd, intercept, loadings, score_mean, score_sd, losses)
    bs.attach_posterior(result, idata, params, anchors=",".join(result.anchors))
    return result


class _Tracker:
    """pm.fit callback: compile time (until the first iteration), loss per block, progress."""

    def __init__(self, progress: Progress, params: BayesianFactorVIParams, batch: int) -> None:
        self.progress = progress
        self.params = params
        self.batch = batch
        self.started = time.monotonic()
        self.first: float | None = None
        self._last = 0.0
        self._windows: list[float] = []
        self._settled = 0
        self.converged = False

    def __call__(self, approx: Any, losses: Any, i: int) -> None:
        now = time.monotonic()
        if self.first is None:
            self.first = now
            self.progress(
                FITTING.start,
                f"Compiled in {now - self.started:.1f} s; optimising.",
                phase="fitting",
                force=True,
                iteration=0,
                details={"stage": "optimising", "compile_seconds": now - self.started},
            )
        if i % WINDOW == 0 and self.params.tol > 0:
            self._check_convergence(np.asarray(losses[-WINDOW:], dtype=np.float64))
        if now - self._last < 0.2 and i % LOSS_BLOCK:
            return
        self._last = now
        recent = np.asarray(losses[-LOSS_BLOCK:], dtype=np.float64)
        loss = float(recent.mean()) if recent.size else float("nan")
        rate = i / (now - self.first) if now > self.first else None
        self.progress(
            FITTING.at(i / self.params.max_iter),
            f"{self.params.method.upper()} iteration {i:,} of up to {self.params.max_iter:,}: "
            f"loss {loss:,.1f}" + (f", {rate:,.0f} it/s." if rate else "."),
            phase="fitting",
            iteration=i,
            samples_per_second=round(rate, 2) if rate else None,
            details={"stage": "optimising", "loss": loss, "batch_size": self.batch},
        )

    def _check_convergence(self, window: np.ndarray) -> None:
        """Stop once the mean loss of two consecutive windows moved relatively less than tol
        twice in a row (the loss is noisy, parameters even more so with minibatches)."""
        if window.size < WINDOW or not np.isfinite(window).all():
            return
        self._windows.append(float(window.mean()))
        if len(self._windows) < 2:
            return
        previous, current = self._windows[-2], self._windows[-1]
        change = abs(current - previous) / max(abs(previous), 1e-12)
        self._settled = self._settled + 1 if change < self.params.tol else 0
        if self._settled >= 2:
            self.converged = True
            raise StopIteration(f"Loss settled (relative change {change:.2g} < {self.params.tol}).")

    def history(self, losses: np.ndarray) -> list[list[float]]:
        blocks = max(1, losses.size // LOSS_BLOCK)
        step = max(1, blocks // 200)  # at most ~200 points in the result
        out = []
        for b in range(0, blocks, step):
            chunk = losses[b * LOSS_BLOCK : (b + 1) * LOSS_BLOCK]
            if chunk.size and np.isfinite(chunk).all():
                out.append([float((b + 1) * LOSS_BLOCK), float(chunk.mean())])
        return out


def _as_fitting(progress: Progress) -> Progress:
    """Summaries report under the VI run's own phase (`fitting`), not `sampling`."""

    def relay(fraction: float, message: str, **fields: Any) -> None:
        fields["phase"] = "fitting"
        progress(fraction, message, **fields)

    return relay


def _seed_minibatches(model: pm.Model, seed: int) -> None:
    """pm.Minibatch draws indices from an unseeded generator; seed it for reproducible fits."""
    outputs = list(model.potentials)
    for var in ancestors(outputs):
        if isinstance(var, SharedVariable) and isinstance(
            var.get_value(borrow=True), np.random.Generator
        ):
            var.set_value(np.random.default_rng(seed))


def _groups(approx: Any) -> list[Any]:
    return list(approx.groups)


def _global_draws(approx: Any, draws: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Draws of the global parameters (constrained scale) from the fitted Gaussian."""
    out: dict[str, np.ndarray] = {}
    for group in _groups(approx):
        names = [name for name in group.ordering if _base(name) in GLOBALS]
        if not names:
            continue
        mu = np.asarray(group.mean.eval(), dtype=np.float64)
        eps = rng.standard_normal((draws, mu.size))
        if isinstance(group, pm.variational.approximations.FullRankGroup):
            chol = np.asarray(group.L.eval(), dtype=np.float64)
            flat = mu + eps @ chol.T
        else:
            flat = mu + eps * np.asarray(group.std.eval(), dtype=np.float64)
        for name in names:
            _, slc, shape, _ = group.ordering[name]
            values = flat[:, slc].reshape(draws, *shape)
            if name.endswith("_log__"):
                values = np.exp(values)
            out[_base(name)] = values
    return out


def _moments(approx: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    for group in _groups(approx):
        if name in group.ordering:
            _, slc, shape, _ = group.ordering[name]
            mean = np.asarray(group.mean.eval(), dtype=np.float64)[slc].reshape(shape)
            sd = np.asarray(group.std.eval(), dtype=np.float64)[slc].reshape(shape)
            return mean, sd
    raise KeyError(name)


def _base(value_name: str) -> str:
    return value_name.removesuffix("_log__")


def _loadings_from(draws: dict[str, np.ndarray], fd: fm.FactorData) -> np.ndarray:
    rows, cols = fm.loading_pattern(fd.p, fd.anchors)
    size = draws["intercept"].shape[0]
    loadings = np.zeros((size, fd.p, fd.n_factors))
    loadings[:, rows, cols] = draws["loading_free"]
    loadings[:, np.asarray(fd.anchors), np.arange(fd.n_factors)] = draws["loading_diag"]
    return loadings


def _inference_data(
    fd: fm.FactorData,
    intercept: np.ndarray,
    loadings: np.ndarray,
    score_mean: np.ndarray,
    score_sd: np.ndarray,
    losses: np.ndarray,
) -> az.InferenceData:
    """Draws of the global parameters as `posterior`; the factor scores' Gaussian (mean, sd) and
    the loss trace as extra groups."""
    coords = {"product": fd.products, "factor": fd.factors, "household": np.arange(fd.n)}
    idata = az.from_dict(
        posterior={"intercept": intercept[None], "loadings": loadings[None]},
        coords=coords,
        dims={"intercept": ["product"], "loadings": ["product", "factor"]},
    )
    idata.add_groups(
        {
            "variational_scores": xr.Dataset(
                {
                    "mean": (("household", "factor"), score_mean),
                    "sd": (("household", "factor"), score_sd),
                },
                coords={"household": coords["household"], "factor": coords["factor"]},
            ),
            "variational_loss": xr.Dataset({"loss": (("iteration",), losses)}),
        }
    )
    return idata


_checked: FitFunction[BayesianFactorVIParams, BayesianFactorResult] = fit
