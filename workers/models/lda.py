"""Latent Dirichlet allocation of households' baskets (scikit-learn's LatentDirichletAllocation).

Households are documents and the products they bought are their words: each topic is a
shopping mission (a distribution over products), each household a mix of missions. The data go
in as a sparse matrix (only purchases are stored). A missing cell counts as not bought.

Progress and cancel: scikit-learn calls `_em_step` once per pass (batch) or per mini-batch
(online); a subclass reports after each call. With learning_method "auto", more than 20,000
households use online learning so a single step never takes long.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.decomposition import LatentDirichletAllocation

from backend.errors import DataError
from backend.schemas.lda import LDAParams, LDAResult, TopicProduct
from workers.models.base import BinaryMatrix, FitFunction, Progress
from workers.models.lda_work import LDAWork
from workers.models.pair_counts import iter_chunks
from workers.models.provenance import build_provenance, resolve_seed
from workers.models.scoring import Scored, ScoreFunction, check_binary

AUTO_ONLINE_ROWS = 20_000
TOP_PRODUCTS = 10


class _ReportingLDA(LatentDirichletAllocation):
    """Calls `self._on_step()` after each EM step (a pass, or a mini-batch when online) and
    `self._on_bound(perplexity)` after each perplexity check."""

    def _em_step(self, *args: Any, **kwargs: Any) -> Any:
        out = super()._em_step(*args, **kwargs)
        callback = getattr(self, "_on_step", None)
        if callback is not None:
            callback()
        return out

    def _perplexity_precomp_distr(self, *args: Any, **kwargs: Any) -> Any:
        bound = super()._perplexity_precomp_distr(*args, **kwargs)
        callback = getattr(self, "_on_bound", None)
        if callback is not None:
            callback(float(bound))
        return bound


def sparse_purchases(data: BinaryMatrix) -> sp.csr_matrix:
    """The purchases as a sparse matrix, built chunk by chunk (no dense copy of the data)."""
    blocks = [
        sp.csr_matrix(np.nan_to_num(data.values[start:end], nan=0.0))
        for start, end in iter_chunks(data.n_rows)
    ]
    return sp.csr_matrix(sp.vstack(blocks, format="csr"))


def fit(data: BinaryMatrix, params: LDAParams, progress: Progress) -> LDAResult:
    n, p = data.values.shape
    if p < 2:
        raise DataError(f"LDA needs at least 2 products; this run has {p}.")
    X = sparse_purchases(data)
    if X.nnz == 0:
        raise DataError("No household bought any product; LDA has nothing to model.")
    seed = resolve_seed(params.random_state)
    method = params.learning_method
    if method == "auto":
        method = "online" if n > AUTO_ONLINE_ROWS else "batch"
    steps_per_pass = -(-n // params.batch_size) if method == "online" else 1
    model = _ReportingLDA(
        n_components=params.n_topics,
        doc_topic_prior=params.doc_topic_prior,
        topic_word_prior=params.topic_word_prior,
        learning_method=method,
        learning_decay=params.learning_decay,
        learning_offset=params.learning_offset,
        batch_size=params.batch_size,
        max_iter=params.max_iter,
        evaluate_every=params.evaluate_every if params.evaluate_every > 0 else -1,
        perp_tol=params.tol,
        total_samples=n,
        random_state=seed,
    )
    work = LDAWork(params.max_iter, params.evaluate_every, params.tol)
    steps = 0

    def on_step() -> None:
        nonlocal steps
        steps += 1
        work.passes = steps / steps_per_pass
        progress(
            work.fraction(),
            f"LDA with {params.n_topics} topics: pass {work.passes:.1f} of at most "
            f"{params.max_iter}.",
            iteration=int(np.ceil(work.passes)),
            details={"learning_method": method, "steps": steps},
        )

    model._on_step, model._on_bound = on_step, work.checked
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X)
    model._on_step = model._on_bound = None
    work.passes = float(model.n_iter_)
    work.finished = True
    progress(work.fraction(), "Computing topic mixes per household.")
    doc_topics = model.transform(X)
    perplexity = float(model.bound_)
    loglik = float(model.score(X))
    return _summarise(data, params, seed, model, X, doc_topics, perplexity, loglik, method)


def _summarise(
    data: BinaryMatrix,
    params: LDAParams,
    seed: int,
    model: LatentDirichletAllocation,
    X: sp.csr_matrix,
    doc_topics: np.ndarray,
    perplexity: float,
    loglik: float,
    method: str,
) -> LDAResult:
    k = params.n_topics
    topic_product = model.components_ / model.components_.sum(axis=1, keepdims=True)
    share = doc_topics.mean(axis=0)
    order = np.argsort(-share, kind="stable")  # largest topic first
    topic_product, share, doc_topics = topic_product[order], share[order], doc_topics[:, order]
    overall = np.asarray(X.sum(axis=0)).ravel() / X.sum()
    topics = [f"Topic {j + 1}" for j in range(k)]
    top = []
    for j in range(k):
        idx = np.argsort(-topic_product[j], kind="stable")[:TOP_PRODUCTS]
        top.append(
            [
                TopicProduct(
                    product=data.products[i],
                    probability=float(topic_product[j, i]),
                    lift=float(topic_product[j, i] / overall[i]) if overall[i] > 0 else 0.0,
                )
                for i in idx
            ]
        )
    n_iter = int(model.n_iter_)
    converged = n_iter < params.max_iter and params.evaluate_every > 0
    empty = int(np.sum(np.asarray(X.sum(axis=1)).ravel() == 0))
    warnings_: list[str] = []
    if params.evaluate_every > 0 and not converged:
        warnings_.append(
            f"Perplexity still moved by more than tol={params.tol} after max_iter="
            f"{params.max_iter} passes; increase max_iter."
        )
    if empty:
        warnings_.append(
            f"{empty} household(s) bought nothing; their topic mix is the prior's (equal)."
        )
    if data.n_missing:
        warnings_.append(f"{data.n_missing} missing cell(s) counted as not bought.")
    result = LDAResult(
        provenance=build_provenance(
            "lda", params, data, ("scikit-learn", "numpy"), warnings_, random_state=seed
        ),
        n_topics=k,
        products=data.products,
        topics=topics,
        topic_product=topic_product.tolist(),
        topic_share=share.tolist(),
        top_products=top,
        perplexity=perplexity,
        loglik=loglik,
        learning_method="online" if method == "online" else "batch",
        n_iter=n_iter,
        converged=converged,
        n_obs=data.n_rows,
        n_empty_households=empty,
        n_missing_cells=data.n_missing,
    )
    # What transform needs to give new households their mixes (score, below).
    result.scoring = {
        "exp_dirichlet_component": model.exp_dirichlet_component_.tolist(),
        "doc_topic_prior": float(model.doc_topic_prior_),
        "max_doc_update_iter": int(model.max_doc_update_iter),
        "mean_change_tol": float(model.mean_change_tol),
        "topic_order": order.tolist(),
    }
    index = data.row_index()
    rows = _mixes_table(doc_topics)
    rows.insert(0, index.name or "row", index.to_numpy())
    result.attach_rows(rows)
    return result


def _mixes_table(doc_topics: np.ndarray) -> pd.DataFrame:
    rows = pd.DataFrame(doc_topics, columns=[f"topic_{j + 1}" for j in range(doc_topics.shape[1])])
    rows["dominant_topic"] = doc_topics.argmax(axis=1) + 1
    return rows


def score(data: BinaryMatrix, result: dict[str, Any], progress: Progress) -> Scored:
    """New households' topic mixes: scikit-learn's transform (the variational E-step from the
    same start) with the fitted topics, a missing cell counted as not bought, as in the fit."""
    check_binary(data)
    stored = result["scoring"]
    E = np.asarray(stored["exp_dirichlet_component"], dtype=np.float64)
    model = LatentDirichletAllocation(
        n_components=E.shape[0],
        doc_topic_prior=stored["doc_topic_prior"],
        max_doc_update_iter=stored["max_doc_update_iter"],
        mean_change_tol=stored["mean_change_tol"],
    )
    model.exp_dirichlet_component_ = E
    model.components_ = E
    model.doc_topic_prior_ = stored["doc_topic_prior"]
    model.n_features_in_ = E.shape[1]
    progress(0.0, f"Finding the topic mixes of {data.n_rows:,} households.")
    mixes = model.transform(sparse_purchases(data))[:, stored["topic_order"]]
    return Scored(_mixes_table(mixes), unit_column="dominant_topic")


_checked: FitFunction[LDAParams, LDAResult] = fit
_scores: ScoreFunction = score
