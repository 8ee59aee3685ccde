"""Statistics of a fitted latent class model: information criteria, entropy, class summaries,
index against the overall rate, bivariate residuals and the per-household table. Formulas in
docs/lca.md."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from backend.schemas.lca import BivariateResidual, InformationCriteria, StartRecord
from workers.models.base import BinaryMatrix
from workers.models.lca.engine import THETA_MIN, Design

BVR_THRESHOLD = 3.84  # χ²(1) at 5%: LatentGOLD's rule of thumb for local dependence
BVR_MAX_LISTED = 5000  # all pairs up to 100 products; beyond, the largest ones
SMALL_CLASS_SHARE = 0.01
DUPLICATE_GAP = 0.01  # two classes whose item probabilities all differ by less are duplicates


def criteria(loglik: float, npar: int, n: float) -> InformationCriteria:
    """AIC, BIC, SABIC (Sclove: n* = (n + 2)/24), CAIC (Bozdogan) with n the total weight."""
    return InformationCriteria(
        loglik=loglik,
        npar=npar,
        aic=-2 * loglik + 2 * npar,
        bic=-2 * loglik + npar * math.log(n),
        sabic=-2 * loglik + npar * math.log((n + 2) / 24),
        caic=-2 * loglik + npar * (math.log(n) + 1),
    )


def lca_npar(k: int, p: int) -> int:
    return (k - 1) + k * p


def relative_entropy(post: np.ndarray, w: np.ndarray) -> float | None:
    """1 − Σ_i w_i Σ_k −r_ik log r_ik / (N log K); None for one class."""
    k = post.shape[1]
    if k < 2:
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(post > 0, post * np.log(post), 0.0).sum(axis=1)
    return float(1.0 - (w @ h) / (w.sum() * math.log(k)))


def class_summaries(post: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, list[int], list[float]]:
    """Modal class per design row, weighted modal counts, and the average posterior of each class
    among its modal members."""
    k = post.shape[1]
    modal = post.argmax(axis=1)
    counts = np.bincount(modal, weights=w, minlength=k)
    sums = np.bincount(modal, weights=w * post[np.arange(len(modal)), modal], minlength=k)
    avg = [float(sums[c] / counts[c]) if counts[c] > 0 else 0.0 for c in range(k)]
    return modal, [round(float(c)) for c in counts], avg


def item_index(theta: np.ndarray, rate: np.ndarray) -> np.ndarray:
    """100 × θ_kj / overall rate_j (100 = the average household)."""
    return 100.0 * theta / np.maximum(rate, 1e-12)[None, :]


def _pair_counts(design: Design) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted G[j,l] = Σ w x_j x_l, R[j,l] = Σ w x_j o_l, B[j,l] = Σ w o_j o_l (o = observed)."""
    p = design.n_products
    if design.dense is not None:
        # In row blocks: no n × p temporary.
        G = np.zeros((p, p))
        R = np.zeros((p, p))
        B = np.zeros((p, p))
        for block in design.blocks(p, np.float64):
            x = np.asarray(block.x[np.float64])
            xw = x * block.w[:, None]
            G += x.T @ xw
            if block.miss is None:
                R += xw.sum(axis=0)[:, None]
                B += block.w.sum()
            else:
                obs = 1.0 - block.miss[np.float64].toarray()
                R += xw.T @ obs
                B += (obs * block.w[:, None]).T @ obs
        return G, R, B
    assert design.sparse_blocks is not None
    G = np.zeros((p, p))
    R = np.zeros((p, p))
    B = np.zeros((p, p))
    for block in design.sparse_blocks:
        x = block.x[np.float64]
        xw = sp.diags(block.w) @ x
        G += np.asarray((x.T @ xw).todense())
        if block.miss is None:
            col = np.asarray(xw.sum(axis=0)).ravel()
            R += col[:, None]
            B += block.w.sum()
        else:
            m = block.miss[np.float64]
            o = 1.0 - m.toarray()
            R += np.asarray(xw.T @ o)
            B += (o * block.w[:, None]).T @ o
    return G, R, B


def bivariate_residuals(
    design: Design, theta: np.ndarray, pi: np.ndarray, products: list[str]
) -> tuple[list[BivariateResidual], int, bool]:
    """Pearson χ² per product pair of observed vs model-implied 2×2 tables over the rows where
    both products are observed (LatentGOLD's BVR); largest first."""
    p = theta.shape[1]
    if p < 2:
        return [], 0, False
    G, R, B = _pair_counts(design)
    n11 = G
    n10 = R - G
    n01 = R.T - G
    n00 = B - n11 - n10 - n01
    P11 = (theta * pi[:, None]).T @ theta
    m = pi @ theta
    P10 = m[:, None] - P11
    P01 = m[None, :] - P11
    P00 = 1.0 - m[:, None] - m[None, :] + P11
    bvr = np.zeros((p, p))
    for n_ab, P in ((n11, P11), (n10, P10), (n01, P01), (n00, P00)):
        e = B * np.clip(P, 1e-300, None)
        bvr += np.where(B > 0, (n_ab - e) ** 2 / e, 0.0)
    iu, ju = np.triu_indices(p, k=1)
    values = bvr[iu, ju]
    order = np.argsort(-values, kind="stable")
    flagged = int((values > BVR_THRESHOLD).sum())
    truncated = len(order) > BVR_MAX_LISTED
    pairs = [
        BivariateResidual(
            product_a=products[iu[i]],
            product_b=products[ju[i]],
            bvr=float(values[i]),
            flagged=bool(values[i] > BVR_THRESHOLD),
        )
        for i in order[:BVR_MAX_LISTED]
    ]
    return pairs, flagged, truncated


def class_warnings(
    theta: np.ndarray, pi: np.ndarray, total: float, complete: bool = True
) -> list[str]:
    """Empty, very small and duplicate classes, and more parameters than the data's distinct
    patterns can identify (too many classes for the data)."""
    out: list[str] = []
    k, p = theta.shape
    npar = lca_npar(k, p)
    if complete and p <= 30 and npar > 2**p - 1:
        out.append(
            f"The model has {npar} parameters but {p} products give only {2**p - 1} independent "
            "pattern frequencies: it is not identified; use fewer classes."
        )
    empty = [c + 1 for c in range(k) if pi[c] * total < 0.5]
    if empty:
        out.append(f"Class(es) {empty} are empty (under half a household); use fewer classes.")
    small = [c + 1 for c in range(k) if pi[c] < SMALL_CLASS_SHARE and c + 1 not in empty]
    if small:
        out.append(
            f"Class(es) {small} hold under {SMALL_CLASS_SHARE:.0%} of households; "
            "consider fewer classes."
        )
    dups = [
        (a + 1, b + 1)
        for a in range(k)
        for b in range(a + 1, k)
        if np.abs(theta[a] - theta[b]).max() < DUPLICATE_GAP
    ]
    if dups:
        out.append(
            "Classes "
            + ", ".join(f"{a} and {b}" for a, b in dups)
            + f" have item probabilities within {DUPLICATE_GAP} of each other (duplicates); "
            "use fewer classes."
        )
    return out


def boundary_count(theta: np.ndarray) -> int:
    return int(((theta <= THETA_MIN * 1.0001) | (theta >= 1 - THETA_MIN * 1.0001)).sum())


def starts_at_best(starts: list[StartRecord], tolerance: float | None = None) -> int:
    """Finished starts within `tolerance` of the best (the search's replication tolerance;
    without one, max(1e-3, 1e-6·|ℓ|))."""
    finished = [s.loglik for s in starts if s.finished]
    best = max(finished)
    tol = max(1e-3, 1e-6 * abs(best)) if tolerance is None else tolerance
    return sum(abs(ll - best) <= tol for ll in finished)


def household_table(
    data: BinaryMatrix, design: Design, post: np.ndarray, prior: np.ndarray
) -> pd.DataFrame:
    """Per input row: id, p_class_1..K, modal_class. Rows with every product missing get their
    prior (the class sizes, or their covariate-implied shares: `prior` rows × K) and no modal
    class."""
    k = post.shape[1]
    rows = np.empty((data.n_rows, k))
    fitted = design.row_of >= 0
    rows[fitted] = post[design.row_of[fitted]]
    if not fitted.all():
        rows[~fitted] = prior if prior.ndim == 1 else prior[~fitted]
    index = data.row_index()
    frame = pd.DataFrame(rows, columns=[f"p_class_{c + 1}" for c in range(k)])
    frame.insert(0, index.name or "row", index.to_numpy())
    modal = pd.array(rows.argmax(axis=1) + 1, dtype="Int64")
    if not fitted.all():
        modal[~fitted] = pd.NA
    frame["modal_class"] = modal
    return frame


# ---------------------------------------------------------------------------------------------
# Fit against the saturated model, classification error, identification (issue 14)

SPARSE_TABLE = 1.0  # the χ² p-value of L² is given only when 2^p ≤ households / SPARSE_TABLE
MIN_SEGMENT_HOUSEHOLDS = 20
BOUNDARY_SHARE = 0.1  # "many" item probabilities at the bound: more than this share


@dataclass
class SaturatedFit:
    l_squared: float
    df: int
    p_value: float | None


def l_squared(design: Design, values: np.ndarray, loglik: float, npar: int) -> SaturatedFit | None:
    """L² = 2(ℓ_saturated − ℓ), ℓ_saturated = Σ n log(n/N) over the observed response patterns,
    df = 2^p − 1 − npar; complete data with p ≤ 40 only (a missing cell makes the saturated
    model a different one per missingness pattern)."""
    from scipy import stats

    p = design.n_products
    if design.n_missing_cells or p > 40:
        return None
    if design.kind == "patterns":
        counts = design.weights
    else:
        from workers.models.lca.engine import _unique_rows

        _, _, counts = _unique_rows(np.asarray(values[design.row_of >= 0], dtype=np.uint8))
        counts = counts.astype(np.float64)
    N = float(counts.sum())
    ll_sat = float(counts @ np.log(counts / N))
    g2 = max(0.0, 2.0 * (ll_sat - loglik))
    df = 2**p - 1 - npar
    p_value = None
    if df > 0 and 2**p <= N / SPARSE_TABLE:
        p_value = float(stats.chi2.sf(g2, df))
    return SaturatedFit(g2, df, p_value)


def classification_error(post: np.ndarray, w: np.ndarray) -> float:
    """1 − Σ_i w_i max_k r_ik / N: the expected share of households whose modal class is wrong."""
    return float(1.0 - (w @ post.max(axis=1)) / w.sum())


def information_rank(
    design: Design, theta: np.ndarray, pi: np.ndarray, post: np.ndarray
) -> tuple[int, int] | None:
    """Rank and size of the information matrix Σ_i w_i g_i g_iᵀ (outer product of the scores of
    the free parameters: logit θ not at the bound, K − 1 share logits against the last class),
    accumulated in row blocks; None when it would be too large to compute (over 2,000
    parameters). Each block's share is one symmetric rank-k update (BLAS syrk: half the work
    of a general product), the blocks spread over the engine's threads and added in block order
    (the same sum on any machine)."""
    from scipy.linalg.blas import dsyrk

    from workers.models.lca.engine import Block, Pool

    k, p = theta.shape
    free = ((theta > THETA_MIN * 1.0001) & (theta < 1 - THETA_MIN * 1.0001)).ravel()
    D = int(free.sum()) + k - 1
    if D > 2000 or D == 0:
        return None

    cols = free.reshape(k, p)
    offsets = np.concatenate([[0], np.cumsum(cols.sum(axis=1))])

    def part(block: Block) -> tuple[np.ndarray]:
        x = block.x[np.float64]
        X = x.toarray() if isinstance(x, sp.csr_matrix) else np.asarray(x)
        obs = None if block.miss is None else 1.0 - block.miss[np.float64].toarray()
        # The scores times √w, written straight into G (rows × D): class c's free items are
        # r_ic (x_ij − θ_cj) (0 where x_ij is missing), then the share logits r_ic − π_c.
        R = post[block.start : block.stop] * np.sqrt(block.w)[:, None]
        G = np.empty((block.rows, D))
        for c in range(k):
            f = cols[c]
            view = G[:, offsets[c] : offsets[c + 1]]
            np.subtract(X[:, f], theta[c, f], out=view)
            if obs is not None:
                view *= obs[:, f]
            view *= R[:, c : c + 1]
        np.subtract(
            R[:, : k - 1],
            pi[None, : k - 1] * np.sqrt(block.w)[:, None],
            out=G[:, offsets[k] :],
        )
        # Gᵀ G from the Fortran-ordered D × rows view of G: the upper triangle only.
        return (np.asarray(dsyrk(1.0, G.T, trans=0, lower=0)),)

    info = np.zeros((D, D))
    pool = Pool()
    blocks = design.blocks(p, np.float64)
    step = 2 * pool.threads  # a few blocks' D × D shares in memory at a time
    with pool.running():
        for i in range(0, len(blocks), step):
            for (share,) in pool.map(part, blocks[i : i + step], None):
                info += share
    info = np.triu(info) + np.triu(info, 1).T
    eig = np.linalg.eigvalsh(info)
    top = float(eig.max()) if len(eig) else 0.0
    return int((eig > 1e-9 * max(top, 1e-300)).sum()), D


def identification_warnings(
    npar: int,
    n_patterns: int | None,
    total: float,
    rank: tuple[int, int] | None,
    counts: list[int],
    pi: np.ndarray,
    boundary: int,
    n_items: int,
) -> list[str]:
    """Sentences for a model the data cannot pin down: more parameters than distinct response
    patterns or households, a rank-deficient information matrix, segments under 20 households,
    many item probabilities at the bound."""
    out: list[str] = []
    if npar >= total:
        out.append(
            f"The model has {npar} parameters for {total:,.0f} households: more parameters than "
            "households, so the estimates mean little; use fewer classes."
        )
    elif n_patterns is not None and npar >= n_patterns:
        out.append(
            f"The model has {npar} parameters but the data hold only {n_patterns} distinct "
            "response patterns: it cannot be identified from them; use fewer classes."
        )
    if rank is not None and rank[0] < rank[1]:
        out.append(
            f"The information matrix has rank {rank[0]} for {rank[1]} free parameters: "
            f"{rank[1] - rank[0]} combination(s) of parameters are not identified (the same fit "
            "with different values); use fewer classes."
        )
    few = [
        c + 1 for c, n in enumerate(counts) if n < MIN_SEGMENT_HOUSEHOLDS and pi[c] * total >= 0.5
    ]
    if few:
        out.append(
            f"Class(es) {few} have fewer than {MIN_SEGMENT_HOUSEHOLDS} households assigned: too "
            "few to describe; consider fewer classes."
        )
    if n_items and boundary > BOUNDARY_SHARE * n_items:
        out.append(
            f"{boundary} of {n_items} item probabilities are at 0 or 1 (the bound): the classes "
            "are fitted to a few households each; consider fewer classes."
        )
    return out
