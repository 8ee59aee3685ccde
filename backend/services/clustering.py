"""Cluster the products of a finished run by their embedding (k-means or hierarchical).

Tiny problems (products × a few dimensions), so they run in the API process.
"""

from __future__ import annotations

import numpy as np

from backend.errors import InvalidInput
from backend.schemas.api import ClusteringOut, ClusteringRequest
from backend.services.tables import product_embedding


def cluster_products(
    run_id: str, model_type: str, result: dict, request: ClusteringRequest
) -> ClusteringOut:
    from sklearn.cluster import AgglomerativeClustering, KMeans
    from sklearn.metrics import silhouette_score

    embedding = product_embedding(model_type, result)
    X = embedding.to_numpy(dtype=float)
    n = X.shape[0]
    if n < 3:
        raise InvalidInput(f"Clustering needs at least 3 products; this run has {n}.")

    def fit(k: int) -> np.ndarray:
        if request.method == "kmeans":
            model = KMeans(n_clusters=k, n_init=10, random_state=request.random_state)
        else:
            model = AgglomerativeClustering(n_clusters=k, linkage=request.linkage_method)
        return np.asarray(model.fit_predict(X))

    def score(labels: np.ndarray) -> float | None:
        if len(set(labels.tolist())) < 2 or len(set(labels.tolist())) >= n:
            return None
        return float(silhouette_score(X, labels))

    scores: dict[int, float] = {}
    if request.n_clusters is not None:
        if request.n_clusters >= n:
            raise InvalidInput(
                f"n_clusters must be below the number of products ({n}); got {request.n_clusters}."
            )
        k = request.n_clusters
        labels = fit(k)
    else:
        best: tuple[float, int, np.ndarray] | None = None
        for k in range(2, min(request.max_k, n - 1) + 1):
            candidate = fit(k)
            s = score(candidate)
            if s is None:
                continue
            scores[k] = s
            if best is None or s > best[0]:
                best = (s, k, candidate)
        if best is None:
            raise InvalidInput("No number of clusters separated these products; give n_clusters.")
        _, k, labels = best
    return ClusteringOut(
        run_id=run_id,
        method=request.method,
        n_clusters=k,
        labels={str(p): int(label) for p, label in zip(embedding.index, labels, strict=True)},
        silhouette_score=score(labels),
        scores_by_k=scores,
    )
