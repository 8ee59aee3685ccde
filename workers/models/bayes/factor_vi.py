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
    HDI_PROB,
    BayesianFactorResult,
    BayesianFactorVIParams,
    SamplingDiagnostics,
    VICalibration,
    VIDiagnostics,
)
from workers.models.base import BinaryMatrix, FitFunction, Progress
from workers.models.bayes import factor_model as fm
from workers.models.bayes import summary as bs
from workers.models.bayes.factor_nuts import MODEL_TYPE as NUTS_MODEL_TYPE
from workers.models.progress import Span, planned_until_settled

MODEL_TYPE = "bayesian_factor_vi"
FULL_BATCH_LIMIT = 5000
DEFAULT_BATCH = 1000
LOSS_BLOCK = 100
WINDOW = 500  # convergence: mean loss of consecutive windows of this many iterations
FITTING = Span(0.02, 0.9)
# With the calibration check: the fit, then the refit on simulated data (the same model and
# size: about as many iterations, so an equal share).
FITTING_BEFORE_CHECK = Span(0.02, 0.46)
CALIBRATING = Span(0.46, 0.9)
SUMMARY = Span(0.9, 0.99)
GLOBALS = ("intercept", "loading_diag", "loading_free")


def fit(
    data: BinaryMatrix, params: BayesianFactorVIParams, progress: Progress
) -> BayesianFactorResult:
    seed, fd = fm.begin(data, params, progress)
    span = FITTING_BEFORE_CHECK if params.calibration else FITTING
    fitted = _optimise(fd, params, seed, progress, span)
    approx, losses, tracker, batch = fitted
    ended = time.monotonic()
    iterations = int(losses.size)
    converged = tracker.converged
    first = tracker.first or ended
    compile_seconds = first - tracker.started
    fitting_seconds = ended - first

    rng = np.random.default_rng(seed)
    draws = _global_draws(approx, params.draws, rng)
    loadings = _loadings_from(draws, fd)
    intercept = draws["intercept"]
    score_mean, score_sd = _moments(approx, "scores")
    calibration = None
    if params.calibration:
        calibration = calibrate(fd, params, seed, intercept, loadings, progress)
    sampled = None
    if params.rotation == "varimax" and fd.n_factors > 1:
        # Each draw rotated to the varimax reference; the scores' Gaussian by the rotation of
        # the posterior mean (a rotated diagonal Gaussian: sd² · R²).
        sampled = loadings[None]
        alignment = fm.varimax_alignment(sampled, params.link)
        loadings = fm.apply_alignment(alignment, sampled, None)[0]
        at_mean = fm.procrustes(
            fm.standardised(sampled.mean(axis=(0, 1)), params.link), alignment.reference
        )
        score_mean = score_mean @ at_mean
        score_sd = np.sqrt(score_sd**2 @ at_mean**2)

    progress(
        SUMMARY.start,
        "Drawing from the fitted approximation.",
        phase="fitting",
        details={"stage": "drawing"},
    )
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
    if calibration is None or calibration.approximate:
        warnings_.append(
            "Variational inference underestimates posterior uncertainty (intervals are too "
            "narrow, especially with mean-field ADVI)"
            + ("" if calibration is None else f": {calibration.statement}")
            + f"; confirm important conclusions with {NUTS_MODEL_TYPE}."
        )
    factor_fit = fm.FactorFit(
        intercept=intercept[None],
        loadings=loadings[None],
        scores=fm.gaussian_scores(score_mean, score_sd),
        diagnostics=diagnostics,
        vi=vi,
        warnings=warnings_,
        intervals_from=intervals_statement(params.method, calibration),
        sampled_loadings=sampled,
    )
    run = fm.Run(params, seed, params.method, MODEL_TYPE, _as_fitting(progress), SUMMARY)
    result = fm.assemble(data, fd, factor_fit, run)
    result.vi_calibration = calibration
    bs.WRITING.report(progress, SUMMARY.end, phase="fitting")
    idata = _inference_data(fd, intercept, loadings, score_mean, score_sd, losses)
    bs.attach_posterior(result, idata, params, anchors=",".join(result.anchors))
    return result


def _optimise(
    fd: fm.FactorData,
    params: BayesianFactorVIParams,
    seed: int,
    progress: Progress,
    span: Span,
    stage: str = "optimising",
) -> tuple[Any, np.ndarray, _Tracker, int]:
    """Fit the approximation: (approximation, losses, the tracker, the batch size)."""
    batch = params.batch_size or (fd.n if fd.n <= FULL_BATCH_LIMIT else DEFAULT_BATCH)
    batch = min(batch, fd.n)
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

    tracker = _Tracker(progress, params, batch, span, stage)
    progress(
        span.start,
        "Compiling the model (PyTensor C code; cached on disk after the first run)."
        if stage == "optimising"
        else "Checking the intervals: refitting on data simulated from the fitted model.",
        phase="loading" if stage == "optimising" else "fitting",
        force=True,
        details={"stage": "compiling" if stage == "optimising" else stage, "method": params.method},
    )
    callbacks: list[Any] = [tracker]
    with model:
        approx = inference.fit(
            params.max_iter,
            obj_optimizer=pm.adam(learning_rate=params.learning_rate),
            callbacks=callbacks,
            progressbar=False,
        )
    losses = np.asarray(inference.hist, dtype=np.float64)
    iterations = int(losses.size)
    if not np.isfinite(losses[-min(LOSS_BLOCK, iterations) :]).all():
        raise DataError(
            "The variational fit diverged (the loss became infinite or NaN). Lower learning_rate."
        )
    return approx, losses, tracker, batch


# ---------------------------------------------------------------------------------------------
# How far to trust the intervals: a calibration check


def simulate_from(
    fd: fm.FactorData, intercept: np.ndarray, loadings: np.ndarray, link: str, seed: int
) -> fm.FactorData:
    """Purchases simulated from the fitted model (posterior mean intercepts and loadings, new
    factor scores from their prior), with the same households, products, missing cells and
    anchors as the data."""
    rng = np.random.default_rng(seed)
    scores = rng.standard_normal((fd.n, fd.n_factors))
    prob = fm.inverse_link(intercept + scores @ loadings.T, link)
    y = (rng.random(prob.shape) < prob).astype(np.float64)
    if fd.mask is not None:
        y = y * fd.mask
    observed = fd.mask.sum(axis=0) if fd.mask is not None else np.full(fd.p, fd.n)
    rates = y.sum(axis=0) / observed
    # A product nobody (or everybody) bought in the simulation would have an unbounded
    # intercept: keep one purchase and one non-purchase.
    for j in np.flatnonzero((rates == 0) | (rates == 1)):
        y[0, j], y[1, j] = 1.0, 0.0
        rates[j] = y[:, j].sum() / observed[j]
    return fm.FactorData(
        y=y,
        mask=fd.mask,
        products=fd.products,
        n_factors=fd.n_factors,
        anchors=list(fd.anchors),
        observed_rates=rates,
        n_missing=fd.n_missing,
    )


def coverage(
    intercept: np.ndarray, loadings: np.ndarray, true_a: np.ndarray, true_l: np.ndarray, fd: Any
) -> tuple[int, int, int, int]:
    """(covered, intervals) for the intercepts and for the estimated loadings: how many 94%
    HDIs of the draws (draws × ...) contain the true value."""
    a_sum = bs.summarise(intercept[None], diagnostics=False)
    l_sum = bs.summarise(loadings[None], diagnostics=False)
    rows, cols = fm.loading_pattern(fd.p, fd.anchors)
    rows = np.concatenate([rows, np.asarray(fd.anchors)])
    cols = np.concatenate([cols, np.arange(fd.n_factors)])
    a_in = (a_sum.hdi_low <= true_a) & (true_a <= a_sum.hdi_high)
    l_in = (l_sum.hdi_low[rows, cols] <= true_l[rows, cols]) & (
        true_l[rows, cols] <= l_sum.hdi_high[rows, cols]
    )
    return int(a_in.sum()), int(a_in.size), int(l_in.sum()), int(l_in.size)


def calibrate(
    fd: fm.FactorData,
    params: BayesianFactorVIParams,
    seed: int,
    intercept: np.ndarray,
    loadings: np.ndarray,
    progress: Progress,
) -> VICalibration:
    """Simulate purchases from the fitted model, refit it the same way, and count how many of
    the refit's 94% intervals contain the values the data were simulated from."""
    true_a, true_l = intercept.mean(axis=0), loadings.mean(axis=0)
    simulated = simulate_from(fd, true_a, true_l, params.link, seed + 7)
    approx, _, _, _ = _optimise(
        simulated, params, seed + 7, progress, CALIBRATING, stage="calibrating"
    )
    rng = np.random.default_rng(seed + 7)
    draws = _global_draws(approx, params.draws, rng)
    a_cov, a_n, l_cov, l_n = coverage(
        draws["intercept"], _loadings_from(draws, simulated), true_a, true_l, simulated
    )
    return calibration_of(a_cov, a_n, l_cov, l_n)


def calibration_of(a_cov: int, a_n: int, l_cov: int, l_n: int) -> VICalibration:
    """The check's verdict: intervals are approximate when their coverage falls more than two
    binomial standard errors below the nominal 94%."""
    total, covered = a_n + l_n, a_cov + l_cov
    rate = covered / total
    floor = HDI_PROB - 2 * np.sqrt(HDI_PROB * (1 - HDI_PROB) / total)
    approximate = bool(rate < floor)
    statement = (
        f"on data simulated from the fitted model, {covered} of {total} 94% intervals "
        f"({rate:.0%}) contained the true value (loadings {l_cov} of {l_n}, intercepts "
        f"{a_cov} of {a_n})"
    )
    statement += (
        f", below the {floor:.0%} a calibrated 94% interval would reach: treat the intervals "
        "as approximate (too narrow)"
        if approximate
        else f", consistent with the nominal 94% (at least {floor:.0%} expected)"
    )
    return VICalibration(
        nominal=HDI_PROB,
        coverage=rate,
        coverage_loadings=l_cov / l_n if l_n else None,
        coverage_intercepts=a_cov / a_n if a_n else None,
        n_intervals=total,
        lower_limit=float(floor),
        approximate=approximate,
        statement=statement,
    )


def intervals_statement(method: str, calibration: VICalibration | None) -> str:
    name = "mean-field ADVI" if method == "advi" else "full-rank ADVI"
    head = f"Variational approximation ({name}): 94% intervals of its Gaussian"
    if calibration is None:
        return f"{head}, not checked (calibration off); expect them to be too narrow."
    verdict = "approximate" if calibration.approximate else "checked"
    return f"{head}, {verdict}: {calibration.statement}."


class _Tracker:
    """pm.fit callback: compile time (until the first iteration), loss per block, progress."""

    def __init__(
        self,
        progress: Progress,
        params: BayesianFactorVIParams,
        batch: int,
        span: Span = FITTING_BEFORE_CHECK,
        stage: str = "optimising",
    ) -> None:
        self.progress = progress
        self.params = params
        self.batch = batch
        self.span = span
        self.stage = stage
        self.started = time.monotonic()
        self.first: float | None = None
        self._last = 0.0
        self._windows: list[float] = []
        # (iterations, relative change of the mean loss from the window before)
        self._moves: list[tuple[float, float]] = []
        self._settled = 0
        self.converged = False

    def __call__(self, approx: Any, losses: Any, i: int) -> None:
        now = time.monotonic()
        if self.first is None:
            self.first = now
            self.progress(
                self.span.start,
                f"Compiled in {now - self.started:.1f} s; optimising.",
                phase="fitting",
                force=True,
                iteration=0,
                details={"stage": self.stage, "compile_seconds": now - self.started},
            )
        if i % WINDOW == 0 and self.params.tol > 0:
            self._check_convergence(np.asarray(losses[-WINDOW:], dtype=np.float64))
        if now - self._last < 0.2 and i % LOSS_BLOCK:
            return
        self._last = now
        recent = np.asarray(losses[-LOSS_BLOCK:], dtype=np.float64)
        loss = float(recent.mean()) if recent.size else float("nan")
        rate = i / (now - self.first) if now > self.first else None
        what = "" if self.stage == "optimising" else " (checking the intervals on simulated data)"
        self.progress(
            # The iterations it will run: max_iter, or fewer once the loss settles.
            self.span.at(i / self._planned()),
            f"{self.params.method.upper()} iteration {i:,} of up to {self.params.max_iter:,}"
            f"{what}: loss {loss:,.1f}" + (f", {rate:,.0f} it/s." if rate else "."),
            phase="fitting",
            iteration=i,
            samples_per_second=round(rate, 2) if rate else None,
            details={"stage": self.stage, "loss": loss, "batch_size": self.batch},
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
        self._moves.append((len(self._windows) * WINDOW, change))
        self._settled = self._settled + 1 if change < self.params.tol else 0
        if self._settled >= 2:
            self.converged = True
            raise StopIteration(f"Loss settled (relative change {change:.2g} < {self.params.tol}).")

    def _planned(self) -> float:
        return planned_until_settled(self.params.max_iter, self._moves, self.params.tol, settled=2)

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
