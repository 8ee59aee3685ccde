"""Multiple correspondence analysis of binary product columns, from counts alone.

Each product is a categorical variable with the categories "not bought" and "bought" (and
"missing" when some of its cells are missing: FactoMineR's default `na.method = "NA"`). MCA is
the correspondence analysis of the n × K indicator matrix Z; its eigenvalues and category
coordinates follow from the K × K Burt table B = ZᵀZ, and for 0/1 data every block of B is a
pair count (Xᵀ·X, Xᵀ·O, Oᵀ·O with O the observed-cell mask) — so no indicator matrix is built,
dense or sparse: one chunked pass over the rows makes the counts, a K × K eigenproblem gives
the map, and a second chunked pass places the households (the transition formula: a household
sits at the average of its categories' coordinates divided by √eigenvalue).

The numbers are FactoMineR's `MCA(x)`: eigenvalues, percentages of inertia, category
coordinates, contributions, cos², v-tests, eta², household coordinates and cos²; plus the
Benzécri and Greenacre adjusted inertias (Greenacre, Correspondence Analysis in Practice, ch. 19).
prince.MCA gives the same values but one-hot encodes densely (tests cross-check against both).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from backend.errors import DataError
from backend.schemas.mca import CategoryRow, DimensionRow, MCAParams, MCAResult
from workers.models.base import BinaryMatrix, FitFunction, Progress
from workers.models.pair_counts import PairCounts, iter_chunks, pair_counts
from workers.models.progress import sub_progress
from workers.models.provenance import build_provenance
from workers.models.scoring import Scored, ScoreFunction, check_binary

LEVELS = ("not bought", "bought", "missing")


@dataclass
class Categories:
    """Which categories exist (product index, level index) and the Burt table over them."""

    product: np.ndarray
    level: np.ndarray
    burt: np.ndarray

    @property
    def counts(self) -> np.ndarray:
        return np.diag(self.burt).copy()


def burt_table(counts: PairCounts) -> Categories:
    """B = ZᵀZ for Z = [not bought, bought, missing] per product, from the pair counts."""
    n = counts.base
    x = counts.n11  # Σ bought_i bought_j
    xo = counts.bought_where_observed  # Σ bought_i observed_j
    oo = counts.n_obs  # Σ observed_i observed_j
    b = counts.bought[:, None]
    o = counts.observed[:, None]
    nb = xo.T - x  # Σ notbought_i bought_j = Σ (o_i - x_i) x_j
    blocks = {
        (1, 1): x,
        (0, 1): nb,
        (0, 0): oo - xo - xo.T + x,
        (1, 2): b - xo,  # Σ x_i (1 - o_j)
        (0, 2): (o - b) - (oo - xo),  # Σ (o_i - x_i)(1 - o_j)
        (2, 2): n - o - o.T + oo,
    }
    blocks[(1, 0)] = blocks[(0, 1)].T
    blocks[(2, 1)] = blocks[(1, 2)].T
    blocks[(2, 0)] = blocks[(0, 2)].T
    p = x.shape[0]
    with_missing = counts.observed < n
    product = np.concatenate([np.arange(p), np.arange(p), np.flatnonzero(with_missing)])
    level = np.concatenate([np.zeros(p, int), np.ones(p, int), np.full(with_missing.sum(), 2)])
    order = np.lexsort((level, product))  # FactoMineR's order: per product 0, 1, NA
    product, level = product[order], level[order]
    burt = np.empty((product.size, product.size))
    for a in range(3):
        for c in range(3):
            rows, cols = np.flatnonzero(level == a), np.flatnonzero(level == c)
            if rows.size and cols.size:
                burt[np.ix_(rows, cols)] = blocks[(a, c)][np.ix_(product[rows], product[cols])]
    return Categories(product, level, burt)


def fit(data: BinaryMatrix, params: MCAParams, progress: Progress) -> MCAResult:
    # Small p × p linear algebra throughout: one BLAS thread is much faster than several
    # competing for a busy machine (the worker process sets this too; benchmarks may not).
    with threadpool_limits(1, user_api="blas"):
        return _fit(data, params, progress)


def _fit(data: BinaryMatrix, params: MCAParams, progress: Progress) -> MCAResult:
    """Households with no data (every product missing) are left out of the map unless
    `include_empty`: on their own they make every product's "missing" category coincide, a
    dimension of its own (half the inertia when half the rows are empty). They are counted,
    said in a warning, and get empty coordinates in the per-household table."""
    empty = np.isnan(data.values).all(axis=1)
    n_empty = int(empty.sum())
    if n_empty and not params.include_empty:
        kept = dataclasses.replace(
            data,
            values=data.values[~empty],
            row_ids=data.row_index()[~empty].reset_index(drop=True),
            covariates=None,
            weights=None if data.weights is None else data.weights[~empty],
        )
        result = _fit_all(kept, params, progress)
        result.n_rows_empty = n_empty
        result.n_obs = data.n_rows
        result.provenance.n_rows = data.n_rows
        result.provenance.data_hash = data.digest()
        result.provenance.warnings.insert(
            0,
            f"{n_empty:,} of {data.n_rows:,} households have no data (every product missing): "
            "left out of the map, with empty coordinates in the per-household table "
            "(include_empty keeps them; they would form a dimension of their own).",
        )
        result.attach_rows(_with_empty(data, result.rows, empty))
        return result
    result = _fit_all(data, params, progress)
    result.n_rows_empty = n_empty
    if n_empty:
        result.provenance.warnings.insert(
            0,
            f"{n_empty:,} households have no data (every product missing) and were kept, as "
            "asked (include_empty): they sit together and may form a dimension of their own.",
        )
    return result


def _with_empty(data: BinaryMatrix, rows: pd.DataFrame | None, empty: np.ndarray) -> pd.DataFrame:
    """The per-household table over every input row; rows left out get empty coordinates."""
    assert rows is not None
    index = data.row_index()
    full = pd.DataFrame({rows.columns[0]: index.to_numpy()})
    for col in rows.columns[1:]:
        values = np.full(data.n_rows, np.nan)
        values[~empty] = rows[col].to_numpy()
        full[col] = values
    return full


def _fit_all(data: BinaryMatrix, params: MCAParams, progress: Progress) -> MCAResult:
    n, q = data.values.shape
    if q < 2:
        raise DataError(f"MCA needs at least 2 products; this run has {q}.")
    if n < 3:
        raise DataError(f"MCA needs at least 3 households; this run has {n}.")
    counts = pair_counts(data.values, sub_progress(progress, 0.0, 0.5), weights=data.weights)
    cats = burt_table(counts)
    n_k = cats.counts
    constant = sorted({data.products[j] for j in cats.product[n_k == 0]})
    if constant:
        raise DataError(
            "MCA needs products that some households bought and some did not; these never "
            f"vary: {', '.join(constant[:10])}. Leave them out of the run."
        )
    progress(0.5, "Solving the Burt table's eigenproblem.")
    k_total = n_k.size
    # With case weights every count is a sum of weights: the base is their total.
    n_rows, n = n, (n if data.weights is None else float(data.row_weights().sum()))
    mass = n_k / (n * q)
    scaled = (cats.burt / (n * q * q) - np.outer(mass, mass)) / np.sqrt(np.outer(mass, mass))
    values, vectors = np.linalg.eigh((scaled + scaled.T) / 2)
    order = np.argsort(values)[::-1]
    n_eig = min(k_total - q, n_rows - 1)
    values, vectors = np.clip(values[order][:n_eig], 0.0, None), vectors[:, order][:, :n_eig]
    d = min(params.n_components, int(np.sum(values > 1e-12 * max(values.max(), 1e-300))))
    if d < 1:
        raise DataError("The products show no association at all; MCA has nothing to map.")
    lam = values[:d]
    coords = vectors[:, :d] * np.sqrt(lam) / np.sqrt(mass)[:, None]
    # Orient each dimension so that buying more products moves a household to the positive side.
    bought = cats.level == 1
    signs = np.where(coords[bought].sum(axis=0) < 0, -1.0, 1.0)
    coords *= signs

    distance2 = n / n_k - 1.0
    contributions = 100.0 * mass[:, None] * coords**2 / lam
    cos2 = coords**2 / distance2[:, None]
    v_test = coords * np.sqrt((n - 1) * n_k / np.maximum(n - n_k, 1e-300))[:, None]
    eta2 = np.zeros((q, d))
    np.add.at(eta2, cats.product, (n_k / n)[:, None] * coords**2)

    # Weighted, each household's distance to the centroid has the weighted base n (the sum of
    # the weights) like every category count, so integer weights give repeated rows' cos².
    household, household_cos2 = household_coordinates(
        data.values, cats, coords, lam, n_k, sub_progress(progress, 0.55, 1.0), n_fit=n
    )

    total = float(values.sum())
    inv_q = 1.0 / q
    benzecri = np.where(values > inv_q, (q / (q - 1) * (values - inv_q)) ** 2, 0.0)
    greenacre_total = q / (q - 1) * (float(np.sum(values**2)) - (k_total - q) / q**2)
    benzecri_percent = 100.0 * benzecri / benzecri.sum() if benzecri.sum() > 0 else benzecri
    greenacre_percent = 100.0 * benzecri / greenacre_total if greenacre_total > 0 else benzecri
    percent = 100.0 * values / total
    dims = [f"Dim {s + 1}" for s in range(d)]
    summary = [
        DimensionRow(
            dimension=dims[s],
            eigenvalue=float(values[s]),
            percent_inertia=float(percent[s]),
            cumulative_percent=float(percent[: s + 1].sum()),
            benzecri_eigenvalue=float(benzecri[s]),
            benzecri_percent=float(benzecri_percent[s]),
            greenacre_percent=float(greenacre_percent[s]),
        )
        for s in range(d)
    ]
    categories = [
        CategoryRow(
            category=f"{data.products[j]}:{LEVELS[lvl].replace(' ', '_')}",
            product=data.products[j],
            level=LEVELS[lvl],
            count=int(n_k[i]),
            mass=float(mass[i]),
            coordinates=coords[i].tolist(),
            contributions=contributions[i].tolist(),
            cos2=cos2[i].tolist(),
            v_test=v_test[i].tolist(),
        )
        for i, (j, lvl) in enumerate(zip(cats.product, cats.level, strict=True))
    ]
    product_coordinates = np.zeros((q, d))
    product_coordinates[cats.product[bought]] = coords[bought]
    warnings_: list[str] = []
    if params.n_components > d:
        warnings_.append(
            f"Only {d} dimension(s) carry inertia; n_components={params.n_components} was "
            f"reduced to {d}."
        )
    if cats.level.max() == 2:
        warnings_.append(
            "Missing cells form their own category per product (FactoMineR's default); "
            "products with many missing cells may shape the first dimensions."
        )
    result = MCAResult(
        provenance=build_provenance("mca", params, data, ("numpy",), warnings_),
        n_components=d,
        products=data.products,
        dimensions=dims,
        eigenvalues=values.tolist(),
        percent_inertia=percent.tolist(),
        total_inertia=total,
        benzecri_eigenvalues=benzecri.tolist(),
        benzecri_percent=benzecri_percent.tolist(),
        greenacre_percent=greenacre_percent.tolist(),
        greenacre_total_inertia=greenacre_total,
        summary=summary,
        categories=categories,
        product_coordinates=product_coordinates.tolist(),
        product_eta2=eta2.tolist(),
        n_obs=n_rows,
        n_missing_cells=data.n_missing,
        n_rows_mapped=n_rows,
    )
    # Supplementary rows (score, below) need the exact category counts and the base.
    result.scoring = {
        "n_rows_mapped": int(n_rows),
        "base": float(n),  # the sum of the weights (the rows when unweighted): d² of new rows
        "category_counts": n_k.tolist(),
    }
    index = data.row_index()
    rows = _coordinates_table(household, household_cos2)
    rows.insert(0, index.name or "row", index.to_numpy())
    result.attach_rows(rows)
    return result


def _coordinates_table(household: np.ndarray, cos2: np.ndarray) -> pd.DataFrame:
    d = household.shape[1]
    rows = pd.DataFrame(household, columns=[f"dim_{s + 1}" for s in range(d)])
    for s in range(d):
        rows[f"cos2_{s + 1}"] = cos2[:, s]
    return rows


def score(data: BinaryMatrix, result: dict[str, Any], progress: Progress) -> Scored:
    """New households as supplementary rows of the map: each at the average of its categories'
    principal coordinates divided by √eigenvalue (the transition formula), with its cos²; the
    map itself does not move. Households with no data get empty coordinates unless the fit kept
    them (include_empty)."""
    check_binary(data)
    stored = result["scoring"]
    products = list(result["products"])
    cats_rows = result["categories"]
    cats = Categories(
        product=np.array([products.index(c["product"]) for c in cats_rows]),
        level=np.array([LEVELS.index(c["level"]) for c in cats_rows]),
        burt=np.zeros((0, 0)),
    )
    coords = np.array([c["coordinates"] for c in cats_rows], dtype=np.float64)
    lam = np.asarray(result["eigenvalues"][: coords.shape[1]], dtype=np.float64)
    n_k = np.asarray(stored["category_counts"], dtype=np.float64)
    household, cos2 = household_coordinates(
        data.values,
        cats,
        coords,
        lam,
        n_k,
        progress,
        n_fit=stored.get("base", stored["n_rows_mapped"]),
    )
    empty = np.isnan(data.values).all(axis=1)
    include_empty = bool(result["provenance"]["params"].get("include_empty", False))
    if empty.any() and not include_empty:
        household[empty] = np.nan
        cos2[empty] = np.nan
    return Scored(_coordinates_table(household, cos2))


def household_coordinates(
    values: np.ndarray,
    cats: Categories,
    coords: np.ndarray,
    lam: np.ndarray,
    n_k: np.ndarray,
    progress: Progress,
    n_fit: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Row principal coordinates and cos², chunk by chunk: f_i = Σ_{k ∈ i} g_k / (Q √λ);
    squared distance to the centroid d_i² = (n / Q) Σ_{k ∈ i} 1 / n_k - 1, n the households
    the map was fitted on (`n_fit` when these are supplementary rows)."""
    n, q = values.shape
    n_map = n if n_fit is None else n_fit
    d = coords.shape[1]
    per_level = np.zeros((3, q, d))
    inv_count = np.zeros((3, q))
    per_level[cats.level, cats.product] = coords
    inv_count[cats.level, cats.product] = 1.0 / n_k
    # f = x·G1 + (o - x)·G0 + (1 - o)·G2 = x·(G1 - G0) + o·(G0 - G2) + 1·G2
    w_bought = per_level[1] - per_level[0]
    w_obs = per_level[0] - per_level[2]
    base = per_level[2].sum(axis=0)
    d_bought = inv_count[1] - inv_count[0]
    d_obs = inv_count[0] - inv_count[2]
    d_base = inv_count[2].sum()
    out = np.empty((n, d))
    cos2 = np.empty((n, d))
    scale = 1.0 / (q * np.sqrt(lam))
    chunks = iter_chunks(n)
    for c, (start, end) in enumerate(chunks):
        chunk = values[start:end]
        missing = np.isnan(chunk)
        x = np.where(missing, 0.0, chunk)
        observed = (~missing).astype(float)
        f = (x @ w_bought + observed @ w_obs + base) * scale
        dist2 = (x @ d_bought + observed @ d_obs + d_base) * (n_map / q) - 1.0
        out[start:end] = f
        cos2[start:end] = f**2 / np.maximum(dist2, 1e-300)[:, None]
        progress((c + 1) / len(chunks), f"Placing households: {end:,} of {n:,}.")
    return out, cos2


_checked: FitFunction[MCAParams, MCAResult] = fit
_scores: ScoreFunction = score
