"""Exploratory factor analysis of binary purchase data through tetrachoric correlations.

The steps and numbers follow R's psych (`tetrachoric`, `fa(x, cor = "tet")`, `fa.parallel`):

1. all pair counts in one chunked pass (Xᵀ·X), tetrachoric correlations with psych's
   continuity correction and smoothing (workers/models/pair_counts.py, factor/tetrachoric.py);
2. parallel analysis: the same correlations of column-permuted copies of the data give the
   eigenvalues to beat; the suggested number of factors is used when `n_factors` is empty;
3. extraction (minres, ml or principal axis) and rotation (oblimin, promax, varimax, none);
4. psych's statistics: model communalities diag(ΛΦΛᵀ), uniquenesses, variance accounted for,
   RMSR, the ML-based chi-square, TLI, RMSEA and BIC, Hofmann complexity;
5. factor scores per household (psych's regression weights R⁻¹ΛΦ with R the households'
   phi correlations, applied to the standardised 0/1 columns; a missing cell counts as the
   product's mean), or Bartlett scores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import chi2
from threadpoolctl import threadpool_limits

from backend.errors import DataError
from backend.schemas.factor import (
    FactorFitStatistics,
    ScreeRow,
    TetrachoricFactorParams,
    TetrachoricFactorResult,
    VarianceRow,
)
from workers.models.base import BinaryMatrix, FitFunction, Progress
from workers.models.factor.extraction import Extraction, IterationCallback, extract
from workers.models.factor.rotation import Rotated, rotate
from workers.models.factor.tetrachoric import (
    Tetrachoric,
    column_moments,
    cor_smooth,
    phi_correlations,
    tetrachoric,
)
from workers.models.pair_counts import PairCounts, iter_chunks, pair_counts
from workers.models.progress import sub_progress
from workers.models.provenance import build_provenance, resolve_seed

PARALLEL_MAX_ROWS = 200_000
HEYWOOD_COMMUNALITY = 0.995


def fit(
    data: BinaryMatrix, params: TetrachoricFactorParams, progress: Progress
) -> TetrachoricFactorResult:
    # Small p × p linear algebra throughout: one BLAS thread is much faster than several
    # competing for a busy machine (the worker process sets this too; benchmarks may not).
    with threadpool_limits(1, user_api="blas"):
        return _fit(data, params, progress)


# The stages' work in permuted data sets of the parallel analysis (each a pair count and a
# tetrachoric estimate), measured on 200,000 households × 60 products: pair counts 0.1 s, the
# tetrachoric estimate 0.1 s, a permuted data set 0.25 s, extraction and rotation 0.1 s, fit
# statistics and factor scores 0.5 s. Fixed shares gave the parallel analysis 55 % of the bar
# for 93 % of the time.
COUNTS, ESTIMATE, EXTRACTION, ROTATION, SCORES, NO_SCORES = 0.4, 0.4, 0.3, 0.1, 2.0, 0.2


def _stage_edges(params: TetrachoricFactorParams) -> list[float]:
    """Where the pair counts, the tetrachoric estimate, the parallel analysis, the extraction
    and the rotation end on the bar; statistics and scores fill the rest."""
    last = SCORES if params.scores != "none" else NO_SCORES
    work = [COUNTS, ESTIMATE, float(params.n_parallel), EXTRACTION, ROTATION]
    total = sum(work) + last
    return [sum(work[: i + 1]) / total for i in range(len(work))]


def _fit(
    data: BinaryMatrix, params: TetrachoricFactorParams, progress: Progress
) -> TetrachoricFactorResult:
    n, p = data.values.shape
    if p < 3:
        raise DataError(f"Factor analysis needs at least 3 products; this run has {p}.")
    if n < 10:
        raise DataError(f"Factor analysis needs at least 10 households; this run has {n}.")
    if params.n_factors is not None and params.n_factors >= p:
        raise DataError(
            f"n_factors={params.n_factors} needs more products than factors; this run has {p} "
            f"products, so use at most {p - 1} factors."
        )
    seed = resolve_seed(params.random_state)

    at = _stage_edges(params)
    counts = pair_counts(data.values, sub_progress(progress, 0.0, at[0]), weights=data.weights)
    progress(at[0], "Estimating the tetrachoric correlations.")
    tet = tetrachoric(counts, data.products, params.correct, params.smooth)
    r = tet.rho
    eigenvalues = np.sort(np.linalg.eigvalsh(r))[::-1]
    one_factor = extract("minres", r, 1, params.max_iter, params.tol)
    eigenvalues_factor = _reduced_eigenvalues(r, one_factor.loadings)

    random_pc = random_fa = None
    if params.n_parallel > 0:
        random_pc, random_fa = parallel_analysis(
            data.values,
            data.products,
            params,
            seed,
            sub_progress(progress, at[1], at[2]),
        )
    suggested_fa = suggested_pc = None
    if random_pc is not None and random_fa is not None:
        suggested_pc = _n_above(eigenvalues, np.quantile(random_pc, 0.95, axis=0))
        suggested_fa = _n_above(eigenvalues_factor, np.quantile(random_fa, 0.95, axis=0))
    # One rule for the suggestion, the chart and the default (docs/models.md): Horn's parallel
    # analysis on the eigenvalues of the tetrachoric matrix against their 95th percentile over
    # permuted data; without permutations, the eigenvalues above 1 (Kaiser).
    suggested = suggested_pc if suggested_pc is not None else _kaiser_count(eigenvalues)
    k = params.n_factors
    if k is None:
        k = min(max(1, suggested), p - 1)

    on_extract = _iterations(
        sub_progress(progress, at[2], at[3]),
        params.max_iter,
        f"Extracting {k} factor(s) ({params.extraction})",
        stage="extraction",
        value="objective",
    )
    extraction = extract(params.extraction, r, k, params.max_iter, params.tol, on_extract)
    on_rotate = _iterations(
        sub_progress(progress, at[3], at[4]),
        params.max_iter,
        f"Rotating ({params.rotation})",
        stage="rotation",
        value="criterion",
    )
    rotated = rotate(extraction.loadings, params.rotation, params.max_iter, on_rotate)
    progress(at[4], "Computing fit statistics and factor scores.")
    stats = fit_statistics(r, rotated, counts, n)
    scores = None
    if params.scores != "none":
        scores = factor_scores(
            data.values, counts, rotated, params.scores, sub_progress(progress, at[4], 1.0)
        )
    result = _summarise(
        data,
        params,
        seed,
        k,
        tet,
        eigenvalues,
        eigenvalues_factor,
        random_pc,
        random_fa,
        (suggested, suggested_pc, suggested_fa),
        extraction,
        rotated,
        stats,
        scores,
    )
    if scores is not None:  # what scoring new households needs (workers/models/factor/score.py)
        mean, sd = column_moments(counts)
        weights = score_weights(counts, rotated, params.scores)
        result.scoring = {"weights": weights.tolist(), "mean": mean.tolist(), "sd": sd.tolist()}
    return result


def _iterations(
    report: Progress, max_iter: int, doing: str, stage: str, value: str
) -> IterationCallback:
    """The callback of an iterative stage (extraction, rotation): "<doing>, iteration i." at
    i / max_iter of the stage (below its end), the iteration's value in details[value]."""

    def on_iteration(iteration: int, current: float) -> None:
        report(
            min(iteration / max_iter, 0.99),
            f"{doing}, iteration {iteration}.",
            iteration=iteration,
            details={"stage": stage, value: current},
        )

    return on_iteration


def _reduced_eigenvalues(r: np.ndarray, loadings: np.ndarray) -> np.ndarray:
    reduced = r.copy()
    np.fill_diagonal(reduced, np.einsum("ij,ij->i", loadings, loadings))
    return np.sort(np.linalg.eigvalsh(reduced))[::-1]


def _n_above(observed: np.ndarray, reference: np.ndarray) -> int:
    """psych: the number of leading eigenvalues above their random counterparts."""
    below = np.flatnonzero(~(observed > reference))
    return int(below[0]) if below.size else int(observed.size)


def _kaiser_count(eigenvalues: np.ndarray) -> int:
    return int(np.sum(eigenvalues > 1.0))


def parallel_analysis(
    values: np.ndarray,
    products: list[str],
    params: TetrachoricFactorParams,
    seed: int,
    progress: Progress,
    max_rows: int = PARALLEL_MAX_ROWS,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Eigenvalues (components, and reduced one-factor minres) of the tetrachoric matrices of
    `n_parallel` copies of the data with each column permuted independently: the products keep
    their shares of buyers and lose every association (psych's fa.parallel resampling)."""
    rng = np.random.default_rng(seed)
    n = values.shape[0]
    if n > max_rows:
        base = values[np.sort(rng.choice(n, max_rows, replace=False))].astype(np.float32)
    else:
        base = values.astype(np.float32)
    complete = not np.isnan(base).any()
    buyers = (base == 1).sum(axis=0)
    pcs, fas = [], []
    for it in range(params.n_parallel):
        if complete:
            # Permuting a column = putting its buyers on a random subset of rows: drawing only
            # the buyers' rows is several times faster than shuffling every cell.
            permuted = np.zeros(base.shape, dtype=bool)
            for j, b in enumerate(buyers):
                permuted[rng.choice(base.shape[0], int(b), replace=False, shuffle=False), j] = True
            counts = pair_counts(permuted)
        else:
            counts = pair_counts(rng.permuted(base, axis=0))
        try:
            tet = tetrachoric(counts, products, params.correct, smooth=True)
        except DataError:
            continue  # a very rare product lost all its buyers in the subsample
        pcs.append(np.sort(np.linalg.eigvalsh(tet.rho))[::-1])
        fa1 = extract("minres", tet.rho, 1, params.max_iter, params.tol)
        fas.append(_reduced_eigenvalues(tet.rho, fa1.loadings))
        progress(
            (it + 1) / params.n_parallel,
            f"Parallel analysis: permuted data set {it + 1} of {params.n_parallel}.",
            iteration=it + 1,
            details={"stage": "parallel analysis"},
        )
    if not pcs:
        return None, None
    return np.array(pcs), np.array(fas)


@dataclass
class FitStatistics:
    communalities: np.ndarray
    complexity: np.ndarray
    reported: FactorFitStatistics  # the scalar statistics, under the result's names


def fit_statistics(r: np.ndarray, rotated: Rotated, counts: PairCounts, n: int) -> FitStatistics:
    """psych's fa.stats with the pairwise counts as `np.obs` (fa's raw-data path)."""
    lam, phi = rotated.loadings, rotated.phi
    p, k = lam.shape
    model = lam @ phi @ lam.T if phi is not None else lam @ lam.T
    residual = r - model
    r2 = float(np.sum(r * r))
    rstar2 = float(np.sum(residual * residual))
    dof = int(p * (p - 1) / 2 - p * k + k * (k - 1) / 2)
    np_obs = counts.n_obs
    off = ~np.eye(p, dtype=bool)
    rstar_off = float(np.sum((residual**2 * np_obs)[off]))
    r2_off = float(np.sum((r * r * np_obs)[off]))
    nh = float(np_obs.size / np.sum(1.0 / np_obs))
    rmsr = float(np.sqrt(rstar_off / (nh * p * (p - 1))))
    crms = float(np.sqrt(rstar_off / (2 * nh * dof))) if dof > 0 else None

    smooth_model = model.copy()
    np.fill_diagonal(smooth_model, np.diag(r))
    smooth_model = cor_smooth(smooth_model)[0]
    r_s = cor_smooth(r)[0]
    m_inv_r = np.linalg.solve(smooth_model, r_s)
    objective = float(np.trace(m_inv_r) - np.linalg.slogdet(m_inv_r)[1] - p)
    nm = (n - 1) - (2 * p + 5) / 6 - 2 * k / 3
    statistic = max(objective * nm, 0.0)
    f0 = float(np.trace(r_s) - np.linalg.slogdet(r_s)[1] - p)
    null_dof = int(p * (p - 1) / 2)
    null_chi_square = f0 * ((n - 1) - (2 * p + 5) / 6)
    p_value = tli = rmsea = bic = None
    if dof > 0:
        p_value = float(chi2.sf(statistic, dof))
        mm = objective / dof
        m0 = f0 * 2 / (p * (p - 1))
        tli = float((m0 - mm) / (m0 - 1 / nm))
        rmsea = float(np.sqrt(max(statistic / (dof * n) - 1 / (n - 1), 0.0)))
        bic = float(statistic - dof * np.log(n))
    l2 = lam**2
    complexity = l2.sum(axis=1) ** 2 / np.maximum((l2**2).sum(axis=1), 1e-300)
    reported = FactorFitStatistics(
        rmsr=rmsr,
        crms=crms,
        objective=objective,
        chi_square=statistic,
        dof=dof,
        p_value=p_value,
        tli=tli,
        rmsea=rmsea,
        bic=bic,
        null_chi_square=float(null_chi_square),
        null_dof=null_dof,
        fit=1 - rstar2 / r2,
        fit_off=1 - rstar_off / r2_off,
    )
    return FitStatistics(np.diag(model).copy(), complexity, reported)


def score_weights(counts: PairCounts, rotated: Rotated, method: str) -> np.ndarray:
    lam, phi = rotated.loadings, rotated.phi
    if method == "bartlett":
        h2 = np.einsum("ij,jk,ik->i", lam, phi, lam) if phi is not None else (lam**2).sum(1)
        inv_u2 = 1.0 / np.maximum(1.0 - h2, 1e-6)
        weighted = lam * inv_u2[:, None]
        return np.asarray(weighted @ np.linalg.inv(lam.T @ weighted))
    structure = lam @ phi if phi is not None else lam
    r_phi = phi_correlations(counts)
    try:
        return np.asarray(np.linalg.solve(r_phi, structure))
    except np.linalg.LinAlgError:
        return np.asarray(np.linalg.pinv(r_phi, hermitian=True) @ structure)


def factor_scores(
    values: np.ndarray,
    counts: PairCounts,
    rotated: Rotated,
    method: str,
    progress: Progress,
) -> np.ndarray:
    weights = score_weights(counts, rotated, method)
    mean, sd = column_moments(counts)
    n = values.shape[0]
    scores = np.empty((n, weights.shape[1]))
    chunks = iter_chunks(n)
    for c, (start, end) in enumerate(chunks):
        z = (values[start:end] - mean) / sd
        scores[start:end] = np.nan_to_num(z, nan=0.0) @ weights
        progress((c + 1) / len(chunks), f"Factor scores: {end:,} of {n:,} households.")
    return scores


def _summarise(
    data: BinaryMatrix,
    params: TetrachoricFactorParams,
    seed: int,
    k: int,
    tet: Tetrachoric,
    eigenvalues: np.ndarray,
    eigenvalues_factor: np.ndarray,
    random_pc: np.ndarray | None,
    random_fa: np.ndarray | None,
    suggested: tuple[int, int | None, int | None],
    extraction: Extraction,
    rotated: Rotated,
    stats: FitStatistics,
    scores: np.ndarray | None,
) -> TetrachoricFactorResult:
    products = data.products
    p = len(products)
    factors = [f"Factor {j + 1}" for j in range(k)]
    lam, phi = rotated.loadings, rotated.phi
    h2 = stats.communalities
    ss = np.diag(phi @ lam.T @ lam) if phi is not None else (lam**2).sum(axis=0)
    total = float(h2.sum() + (1 - h2).sum())
    variance = [
        VarianceRow(
            factor=factors[j],
            ss_loadings=float(ss[j]),
            proportion_var=float(ss[j] / total),
            cumulative_var=float(ss[: j + 1].sum() / total),
            proportion_explained=float(ss[j] / ss.sum()),
            cumulative_proportion=float(ss[: j + 1].sum() / ss.sum()),
        )
        for j in range(k)
    ]
    scree = []
    for i in range(p):
        row: dict[str, Any] = {
            "number": i + 1,
            "eigenvalue": float(eigenvalues[i]),
            "eigenvalue_factor": float(eigenvalues_factor[i]),
        }
        if random_pc is not None and random_fa is not None:
            row |= {
                "random_mean": float(random_pc[:, i].mean()),
                "random_p95": float(np.quantile(random_pc[:, i], 0.95)),
                "random_factor_mean": float(random_fa[:, i].mean()),
                "random_factor_p95": float(np.quantile(random_fa[:, i], 0.95)),
            }
        scree.append(ScreeRow(**row))

    heywood = [products[i] for i in np.flatnonzero(h2 >= HEYWOOD_COMMUNALITY)]
    converged = extraction.converged and rotated.converged
    warnings_: list[str] = []
    if tet.smoothed:
        warnings_.append(
            "The tetrachoric matrix was not positive definite (smallest eigenvalue "
            f"{tet.min_eigenvalue:.4f}); it was smoothed as psych's cor.smooth does. Few "
            "households or very rare products usually cause this."
        )
    if tet.corrected_pairs:
        warnings_.append(
            f"{len(tet.corrected_pairs)} product pair(s) had a combination no household showed "
            f"(e.g. {products[tet.corrected_pairs[0][0]]} with "
            f"{products[tet.corrected_pairs[0][1]]}); those empty cells counted as "
            f"{params.correct} household(s) (continuity correction)."
        )
    if heywood:
        warnings_.append(_heywood_sentence(heywood, products, tet.rho, lam, suggested[0]))
    if not extraction.converged:
        warnings_.append(
            f"The {params.extraction} extraction did not converge within max_iter="
            f"{params.max_iter} ({extraction.message}); increase max_iter."
        )
    if not rotated.converged:
        warnings_.append(f"The {params.rotation} rotation did not converge; increase max_iter.")
    if stats.reported.dof < 0:
        warnings_.append(
            f"{k} factors have more parameters than the {p} products' correlations identify "
            f"(degrees of freedom {stats.reported.dof}); use fewer factors."
        )
    if params.n_parallel and data.n_rows > PARALLEL_MAX_ROWS:
        warnings_.append(
            f"Parallel analysis permuted a random {PARALLEL_MAX_ROWS:,} of the {data.n_rows:,} "
            "households; its suggestion is slightly conservative."
        )

    result = TetrachoricFactorResult(
        provenance=build_provenance(
            "factor_tetrachoric", params, data, ("numpy", "scipy"), warnings_, random_state=seed
        ),
        n_factors=k,
        n_factors_suggested=suggested[0],
        n_components_suggested=suggested[1],
        n_factors_suggested_reduced=suggested[2],
        suggestion_rule=(
            f"Parallel analysis: {suggested[0]} eigenvalue(s) of the tetrachoric correlations lie "
            f"above the 95th percentile of {params.n_parallel} permuted copies of the data"
            if suggested[1] is not None
            else f"{suggested[0]} eigenvalue(s) of the tetrachoric correlations are above 1 "
            "(no parallel analysis: n_parallel = 0)"
        ),
        extraction=params.extraction,
        rotation=params.rotation,
        products=products,
        factors=factors,
        loadings=lam.tolist(),
        structure=(lam @ phi).tolist() if phi is not None else None,
        factor_correlations=phi.tolist() if phi is not None else None,
        communalities=h2.tolist(),
        uniquenesses=(1 - h2).tolist(),
        complexity=stats.complexity.tolist(),
        eigenvalues=eigenvalues.tolist(),
        eigenvalues_reduced=_reduced_eigenvalues(tet.rho, extraction.loadings).tolist(),
        variance=variance,
        **stats.reported.model_dump(),
        correlation=tet.rho.tolist(),
        thresholds=tet.tau.tolist(),
        smoothed=tet.smoothed,
        min_eigenvalue=tet.min_eigenvalue,
        corrected_pairs=[[products[i], products[j]] for i, j in tet.corrected_pairs],
        n_obs=data.n_rows,
        n_missing_cells=data.n_missing,
        scree=scree,
        heywood_products=heywood,
        score_method=params.scores,
        converged=converged,
        iterations=extraction.iterations,
    )
    if scores is not None:
        index = data.row_index()
        rows = pd.DataFrame(scores, columns=[f"factor_{j + 1}" for j in range(k)])
        rows.insert(0, index.name or "row", index.to_numpy())
        result.attach_rows(rows)
    return result


NEAR_COPY = 0.9  # tetrachoric correlation above which one product nearly copies another


def _heywood_sentence(
    heywood: list[str], products: list[str], rho: np.ndarray, lam: np.ndarray, suggested: int
) -> str:
    """What a Heywood case is, its likely cause here (too many factors, a factor carried by one
    or two products, a near-copy of another product) and what to do."""
    k = lam.shape[1]
    names = ", ".join(heywood[:10])
    text = (
        f"Heywood case: {names} reached a communality of {HEYWOOD_COMMUNALITY} or more, i.e. "
        "the factors explain (almost) all of their variation and leave no room for anything "
        "else, which real purchase data never do; their loadings and the factor scores that "
        "use them are not to be trusted."
    )
    causes = []
    if k > suggested:
        causes.append(
            f"this run keeps {k} factors where parallel analysis suggests {suggested}: try "
            f"n_factors={suggested}"
        )
    index = {name: i for i, name in enumerate(products)}
    for name in heywood[:3]:
        i = index[name]
        f = int(np.argmax(np.abs(lam[i])))
        carried = [products[j] for j in np.flatnonzero(np.abs(lam[:, f]) >= 0.3)]
        if len(carried) <= 2:
            causes.append(
                f"factor {f + 1} is carried by {' and '.join(carried)} alone (bought together "
                "beyond what the other factors explain), and a factor of one or two products "
                "cannot be estimated: use one factor fewer"
            )
            continue
        others = np.abs(rho[i]).copy()
        others[i] = 0.0
        j = int(np.argmax(others))
        if others[j] >= NEAR_COPY:
            causes.append(
                f"{name} is almost a copy of {products[j]} (tetrachoric correlation "
                f"{rho[i, j]:.2f}): leave one of them out or merge them"
            )
    if not causes:
        causes.append("try fewer factors, or leave out very rare products")
    return text + " Likely cause: " + "; ".join(causes) + "."


_checked: FitFunction[TetrachoricFactorParams, TetrachoricFactorResult] = fit
