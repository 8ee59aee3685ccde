"""Latent class analysis of binary purchase data: StepMix's binary measurement model, one random
start at a time so progress and cancel work per start and per EM iteration."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from stepmix.stepmix import StepMix

from backend.errors import DataError
from backend.schemas.lca import LCAParams, LCAResult, StartRecord
from backend.schemas.results import Provenance
from workers.models.base import BinaryMatrix, Progress
from workers.provenance import library_versions

SMALL_CLASS_SHARE = 0.01


class _ReportingStepMix(StepMix):
    """StepMix that calls `self._on_estep(avg_loglik)` after each E-step (once per EM iteration)."""

    def _e_step(
        self, X: Any, Y: Any = None, sample_weight: Any = None, log_emission_pm: Any = None
    ) -> Any:
        out = super()._e_step(X, Y=Y, sample_weight=sample_weight, log_emission_pm=log_emission_pm)
        callback = getattr(self, "_on_estep", None)
        if callback is not None:
            callback(float(out[0]))
        return out


def fit(data: BinaryMatrix, params: LCAParams, progress: Progress) -> LCAResult:
    X = data.values
    n = X.shape[0]
    k = params.n_classes
    if n < 2 * k:
        raise DataError(
            f"{n} rows are too few for {k} classes; use fewer classes or more households."
        )
    missing = data.n_missing
    measurement = "binary_nan" if missing else "binary"
    seed = params.random_state
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1)[0])
    seeds = [int(s) for s in np.random.SeedSequence(seed).generate_state(params.n_init)]

    best: StepMix | None = None
    best_ll = -np.inf
    starts: list[StartRecord] = []
    for start, start_seed in enumerate(seeds):
        model = _ReportingStepMix(
            n_components=k,
            measurement=measurement,
            n_init=1,
            max_iter=params.max_iter,
            abs_tol=params.tol,
            random_state=start_seed,
            progress_bar=0,
            verbose=0,
        )
        iteration = 0

        def on_estep(avg_ll: float, start: int = start) -> None:
            nonlocal iteration
            iteration += 1
            within = min(iteration / params.max_iter, 0.99)
            progress(
                (start + within) / params.n_init,
                f"Start {start + 1} of {params.n_init}, EM iteration {iteration}.",
                iteration=iteration,
                loglik=avg_ll * n,
                details={"start": start + 1, "n_init": params.n_init},
            )

        model._on_estep = on_estep
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X)
        loglik = float(model.lower_bound_) * n
        starts.append(
            StartRecord(
                start=start + 1,
                seed=start_seed,
                loglik=loglik,
                iterations=int(model.n_iter_),
                converged=bool(model.converged_),
            )
        )
        if best is None or loglik > best_ll:
            best, best_ll = model, loglik
        progress(
            (start + 1) / params.n_init,
            f"Finished start {start + 1} of {params.n_init}: log-likelihood {loglik:,.1f}"
            f" after {starts[-1].iterations} iterations.",
            force=True,
            iteration=starts[-1].iterations,
            loglik=loglik,
            details={"start": start + 1, "n_init": params.n_init, "best_loglik": best_ll},
        )

    assert best is not None
    best._on_estep = None
    return _summarise(best, data, params, seed, starts, missing)


def _best_index(starts: list[StartRecord]) -> int:
    return int(np.argmax([s.loglik for s in starts])) if starts else 0


def _summarise(
    model: StepMix,
    data: BinaryMatrix,
    params: LCAParams,
    seed: int,
    starts: list[StartRecord],
    missing: int,
) -> LCAResult:
    X = data.values
    n = data.n_rows
    k = params.n_classes
    posterior = model.predict_proba(X)
    # Largest class first, so labels are stable across seeds and runs.
    order = np.argsort(-np.asarray(model.weights_), kind="stable")
    posterior = posterior[:, order]
    weights = np.asarray(model.weights_)[order]
    pis = np.asarray(model.get_parameters()["measurement"]["pis"])[order]

    loglik = float(model.score(X)) * n
    npar = int(model.n_parameters)
    modal = posterior.argmax(axis=1)
    counts = np.bincount(modal, minlength=k)
    avg_posterior = [float(posterior[modal == c, c].mean()) if counts[c] else 0.0 for c in range(k)]
    entropy = None
    if k > 1:
        clipped = np.clip(posterior, 1e-300, 1.0)
        entropy = float(1.0 - (-(posterior * np.log(clipped)).sum()) / (n * np.log(k)))

    best_ll = max(s.loglik for s in starts)
    at_best = sum(abs(s.loglik - best_ll) <= max(1e-3, 1e-6 * abs(best_ll)) for s in starts)
    best_start = starts[_best_index(starts)]
    warnings_: list[str] = []
    if params.n_init > 1 and at_best == 1:
        warnings_.append(
            "Only one random start reached the best log-likelihood; it may be a local optimum. "
            "Increase n_init."
        )
    if not best_start.converged:
        warnings_.append(
            f"The best start did not converge within max_iter={params.max_iter}; increase max_iter."
        )
    small = [c + 1 for c in range(k) if weights[c] < SMALL_CLASS_SHARE]
    if small:
        warnings_.append(
            f"Class(es) {small} hold under {SMALL_CLASS_SHARE:.0%} of households; "
            "consider fewer classes."
        )
    classes = [f"Class {c + 1}" for c in range(k)]
    result = LCAResult(
        provenance=Provenance(
            model_type="lca",
            params=params.model_dump(mode="json"),
            random_state=seed,
            data_hash=data.digest(),
            library_versions=library_versions("stepmix", "scikit-learn", "numpy"),
            n_rows=n,
            n_products=data.n_products,
            warnings=warnings_,
        ),
        n_classes=k,
        products=data.products,
        classes=classes,
        loglik=loglik,
        npar=npar,
        aic=-2 * loglik + 2 * npar,
        bic=-2 * loglik + npar * np.log(n),
        sabic=-2 * loglik + npar * np.log((n + 2) / 24),
        caic=-2 * loglik + npar * (np.log(n) + 1),
        entropy=entropy,
        n_obs=n,
        n_missing_cells=missing,
        class_sizes=[float(w) for w in weights],
        class_counts=[int(c) for c in counts],
        smallest_class_share=float(weights.min()),
        avg_posterior=avg_posterior,
        item_probabilities=pis.tolist(),
        converged=best_start.converged,
        iterations=best_start.iterations,
        starts=starts,
        n_starts_at_best=int(at_best),
    )
    rows = pd.DataFrame(posterior, columns=[f"p_class_{c + 1}" for c in range(k)])
    rows.insert(0, data.row_index().name or "row", data.row_index().to_numpy())
    rows["modal_class"] = modal + 1
    result.attach_rows(rows)
    return result
