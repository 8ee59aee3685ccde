"""Non-negative matrix factorisation of the household × product matrix (scikit-learn's NMF).

X ≈ W·H with W (households × components) and H (components × products) non-negative: each
component is a "basket" of products bought together, each household a mix of baskets.
scikit-learn's solvers have no per-iteration callback, so the fit runs in blocks of iterations
(each block warm-starts from the last W and H with init="custom"), sized to take about half a
second, so progress and cancel come between blocks. Convergence: the relative reconstruction
error improves by less than `tol` per iteration over a block.

A missing cell is filled with the product's share of buyers (NMF has no missing-data mode).
`n_components` as a list fits each number and reports the error per number (a scree of
errors); the detailed solution is the one at the elbow of that curve.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.decomposition import NMF, non_negative_factorization

from backend.errors import DataError
from backend.schemas.nmf import NMFParams, NMFResult, SweepRow, TopProduct
from workers.models.base import BinaryMatrix, FitFunction, Progress
from workers.models.progress import planned_until_settled, sub_progress
from workers.models.provenance import build_provenance, resolve_seed
from workers.models.scoring import Scored, ScoreFunction, check_binary

BLOCK_SECONDS = 0.5
TOP_PRODUCTS = 10


@dataclass
class Solution:
    k: int
    W: np.ndarray
    H: np.ndarray
    error: float
    n_iter: int
    converged: bool


def _fill_values(data: BinaryMatrix) -> np.ndarray:
    """Each product's share of buyers: what a missing cell counts as (0 for a product with no
    observed cell)."""
    if not data.n_missing:
        return data.values.mean(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.nan_to_num(np.nanmean(data.values, axis=0), nan=0.0)


def filled_matrix(data: BinaryMatrix) -> np.ndarray:
    """The data with each missing cell replaced by its product's share of buyers."""
    X = data.values
    if not data.n_missing:
        return X
    means = np.nanmean(X, axis=0)
    return np.where(np.isnan(X), means, X)


def household_weights(X: np.ndarray, H: np.ndarray, params: NMFParams) -> np.ndarray:
    """Each household's weights on fixed components H: scikit-learn's transform (W solved with
    H held, from the same start whatever the household), so a household gets the same weights
    in the fit's table and when it is scored later."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        W, _, _ = non_negative_factorization(
            X,
            H=H,
            n_components=H.shape[0],
            update_H=False,
            solver=params.solver,
            beta_loss=params.beta_loss,
            tol=params.tol,
            max_iter=params.max_iter,
            alpha_W=params.alpha_W,
            alpha_H="same",
            l1_ratio=params.l1_ratio,
        )
    return np.asarray(W)


def score(data: BinaryMatrix, result: dict[str, Any], progress: Progress) -> Scored:
    """New households' weights on the stored components (missing cells filled with the
    training share of buyers), and the dominant component, as in the fit's table."""
    check_binary(data)
    params = NMFParams.model_validate(result["provenance"]["params"])
    H = np.asarray(result["components"], dtype=np.float64)
    fill = np.asarray((result.get("scoring") or {}).get("fill", np.zeros(H.shape[1])))
    X = np.where(np.isnan(data.values), fill, data.values)
    progress(0.0, f"Solving the weights of {data.n_rows:,} households.")
    return Scored(_weights_table(household_weights(X, H, params)), unit_column="dominant_component")


def _weights_table(W: np.ndarray) -> pd.DataFrame:
    rows = pd.DataFrame(W, columns=[f"weight_{j + 1}" for j in range(W.shape[1])])
    rows["dominant_component"] = np.where(W.max(axis=1) > 0, W.argmax(axis=1) + 1, 0)
    return rows


def fit(data: BinaryMatrix, params: NMFParams, progress: Progress) -> NMFResult:
    n, p = data.values.shape
    ks = params.component_values
    too_many = [k for k in ks if k > min(n, p)]
    if too_many:
        raise DataError(
            f"n_components={too_many[0]} is more than this data allows: at most "
            f"min(households, products) = {min(n, p)}."
        )
    X = filled_matrix(data)
    if not X.any():
        raise DataError("No household bought any product; NMF has nothing to factorise.")
    seed = resolve_seed(params.random_state)
    norm_x = float(np.sqrt(np.sum(X * X)))

    solutions: dict[int, Solution] = {}
    for i, k in enumerate(ks):
        stage = sub_progress(progress, i / len(ks), (i + 1) / len(ks))
        solutions[k] = fit_one(X, k, params, seed, stage, label=f"{k} components")
    selected_by = "given" if len(ks) == 1 else "elbow"
    k = ks[0] if len(ks) == 1 else elbow(ks, [solutions[j].error for j in ks])
    best = solutions[k]
    sweep = [
        SweepRow(
            n_components=j,
            reconstruction_error=solutions[j].error,
            relative_error=solutions[j].error / norm_x,
            n_iter=solutions[j].n_iter,
            converged=solutions[j].converged,
        )
        for j in ks
    ]
    return _summarise(data, params, seed, best, sweep, selected_by, norm_x)


def fit_one(
    X: np.ndarray, k: int, params: NMFParams, seed: int, progress: Progress, label: str
) -> Solution:
    seeds = [int(s) for s in np.random.SeedSequence(seed + k).generate_state(params.n_init)]
    if params.init not in ("random", "nndsvdar"):
        seeds = seeds[:1]  # deterministic starts: one is enough
    best: Solution | None = None
    for s, start_seed in enumerate(seeds):
        stage = sub_progress(progress, s / len(seeds), (s + 1) / len(seeds))
        solution = _fit_start(X, k, params, start_seed, stage, label)
        if best is None or solution.error < best.error:
            best = solution
    assert best is not None
    return best


def _model(params: NMFParams, k: int, init: str, max_iter: int, seed: int) -> NMF:
    return NMF(
        n_components=k,
        init=init,
        solver=params.solver,
        beta_loss=params.beta_loss,
        alpha_W=params.alpha_W,
        alpha_H=params.alpha_H,
        l1_ratio=params.l1_ratio,
        max_iter=max_iter,
        tol=0.0,  # blocks run in full; convergence is judged between blocks
        random_state=seed,
    )


def _fit_start(
    X: np.ndarray, k: int, params: NMFParams, seed: int, progress: Progress, label: str
) -> Solution:
    done = 0
    block = 1
    W: np.ndarray | None = None
    H: np.ndarray | None = None
    previous = np.inf
    converged = False
    error = np.inf
    moves: list[tuple[float, float]] = []  # (iterations, improvement per iteration)
    while done < params.max_iter:
        block = min(block, params.max_iter - done)
        started = time.monotonic()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if W is None:
                model = _model(params, k, params.init, block, seed)
                W = model.fit_transform(X)
            else:
                model = _model(params, k, "custom", block, seed)
                W = model.fit_transform(X, W=W, H=H)
        H = model.components_
        done += block
        error = float(model.reconstruction_err_)
        improvement = (previous - error) / max(previous, 1e-300) / block
        if np.isfinite(previous):
            moves.append((done, improvement))
        progress(
            # The iterations it will run: max_iter, or fewer once the improvement settles.
            done / planned_until_settled(params.max_iter, moves, params.tol),
            f"NMF with {label}: iteration {done}, reconstruction error {error:,.4f}.",
            iteration=done,
            details={"n_components": k, "reconstruction_error": error},
        )
        if np.isfinite(previous) and improvement < params.tol:
            converged = True
            break
        previous = error
        elapsed = max(time.monotonic() - started, 1e-3)
        block = int(np.clip(block * BLOCK_SECONDS / elapsed, 1, 100))
    assert W is not None and H is not None
    return Solution(k, np.asarray(W), np.asarray(H), error, done, converged)


def elbow(ks: list[int], errors: list[float]) -> int:
    """The k farthest below the straight line from the first to the last error (Kneedle);
    with fewer than three values, the largest k."""
    if len(ks) < 3:
        return ks[-1]
    x = (np.asarray(ks, float) - ks[0]) / (ks[-1] - ks[0])
    e = np.asarray(errors, float)
    span = e[0] - e[-1]
    if span <= 0:
        return ks[0]
    y = (e - e[-1]) / span
    distance = (1.0 - x) - y
    return int(ks[int(np.argmax(distance))])


def _summarise(
    data: BinaryMatrix,
    params: NMFParams,
    seed: int,
    solution: Solution,
    sweep: list[SweepRow],
    selected_by: str,
    norm_x: float,
) -> NMFResult:
    W, H, k = solution.W, solution.H, solution.k
    # Order components by the purchases they reconstruct, largest first.
    mass = W.sum(axis=0) * H.sum(axis=1)
    order = np.argsort(-mass, kind="stable")
    W, H, mass = W[:, order], H[order], mass[order]
    share = mass / mass.sum() if mass.sum() > 0 else mass
    names = [f"Component {j + 1}" for j in range(k)]
    top = []
    for j in range(k):
        total = H[j].sum()
        idx = np.argsort(-H[j], kind="stable")[:TOP_PRODUCTS]
        top.append(
            [
                TopProduct(
                    product=data.products[i],
                    weight=float(H[j, i]),
                    share=float(H[j, i] / total) if total > 0 else 0.0,
                )
                for i in idx
                if H[j, i] > 0
            ]
        )
    frobenius = params.beta_loss == "frobenius"
    warnings_: list[str] = []
    if not solution.converged:
        warnings_.append(
            f"NMF with {k} components did not converge within max_iter={params.max_iter}; "
            "increase max_iter."
        )
    if data.n_missing:
        warnings_.append(
            f"{data.n_missing} missing cell(s) were filled with the product's share of buyers."
        )
    empty = [names[j] for j in range(k) if mass[j] <= 0]
    if empty:
        warnings_.append(f"{', '.join(empty)} came out empty; use fewer components.")
    result = NMFResult(
        provenance=build_provenance(
            "nmf", params, data, ("scikit-learn", "numpy"), warnings_, random_state=seed
        ),
        n_components=k,
        selected_by="given" if selected_by == "given" else "elbow",
        products=data.products,
        component_names=names,
        components=H.tolist(),
        component_share=share.tolist(),
        top_products=top,
        reconstruction_error=solution.error,
        relative_error=solution.error / norm_x,
        explained=1.0 - (solution.error / norm_x) ** 2 if frobenius else None,
        n_iter=solution.n_iter,
        converged=solution.converged,
        sweep=sweep,
        n_obs=data.n_rows,
        n_missing_cells=data.n_missing,
    )
    # The table holds the weights the components give each household (their transform), the
    # same a scoring run gives it: within the fit's tolerance of the factorisation's own W.
    X = filled_matrix(data)
    result.scoring = {"fill": _fill_values(data).tolist()}
    index = data.row_index()
    rows = _weights_table(household_weights(X, H, params))
    rows.insert(0, index.name or "row", index.to_numpy())
    result.attach_rows(rows)
    return result


_checked: FitFunction[NMFParams, NMFResult] = fit
_scores: ScoreFunction = score
