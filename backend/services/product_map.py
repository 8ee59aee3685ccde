"""A product map from any fitted model's product embedding (LCA profiles, factor loadings,
MCA coordinates, NMF/LDA components, network positions): cosine similarity, each product's
closest competitors, a dendrogram-ready tree, k-means clusters with k chosen by silhouette,
and 2-D coordinates for a map. Small (products × a few dimensions): computed with the result.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from backend.errors import InvalidInput
from backend.schemas.api import ClusteringRequest

COMPETITORS = 5
# Above this many products the full similarity matrix is left out of the stored map (it grows
# with the square); competitors, tree and clusters are always kept.
MAX_PRODUCTS_WITH_MATRIX = 300


def cosine_similarity(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    unit = np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)
    return np.asarray(np.clip(unit @ unit.T, -1.0, 1.0))


def cluster_embedding(
    embedding: pd.DataFrame, request: ClusteringRequest
) -> tuple[int, np.ndarray, float | None, dict[int, float]]:
    """k-means or hierarchical clusters of the products: (k, labels, silhouette, by k)."""
    from sklearn.cluster import AgglomerativeClustering, KMeans
    from sklearn.metrics import silhouette_score

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
        groups = len(set(labels.tolist()))
        return float(silhouette_score(X, labels)) if 2 <= groups < n else None

    if request.n_clusters is not None:
        if request.n_clusters >= n:
            raise InvalidInput(
                f"n_clusters must be below the number of products ({n}); got {request.n_clusters}."
            )
        labels = fit(request.n_clusters)
        return request.n_clusters, labels, score(labels), {}
    scores: dict[int, float] = {}
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
    return best[1], best[2], best[0], scores


def build_product_map(embedding: pd.DataFrame) -> dict[str, Any]:
    from scipy.cluster.hierarchy import linkage
    from scipy.spatial.distance import squareform

    products = [str(p) for p in embedding.index]
    x = embedding.to_numpy(dtype=float)
    similarity = cosine_similarity(x)
    competitors = {}
    for i, product in enumerate(products):
        others = [j for j in np.argsort(-similarity[i], kind="stable") if j != i][:COMPETITORS]
        competitors[product] = [
            {"product": products[j], "similarity": round(float(similarity[i, j]), 6)}
            for j in others
        ]
    # 2-D map: the first two principal axes of the centred embedding.
    centred = x - x.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    coords = (u[:, :2] * s[:2]) if s.size else np.zeros((len(products), 2))
    if coords.shape[1] < 2:
        coords = np.hstack([coords, np.zeros((len(products), 2 - coords.shape[1]))])
    product_map: dict[str, Any] = {
        "products": products,
        "dimensions": [str(c) for c in embedding.columns],
        "coordinates": [[round(float(a), 6), round(float(b), 6)] for a, b in coords],
        "closest_competitors": competitors,
    }
    if len(products) <= MAX_PRODUCTS_WITH_MATRIX:
        product_map["similarity"] = np.round(similarity, 6).tolist()
    if len(products) >= 2:
        distance = np.clip(1.0 - similarity, 0.0, 2.0)
        np.fill_diagonal(distance, 0.0)
        tree = linkage(squareform((distance + distance.T) / 2, checks=False), method="average")
        # SciPy's linkage rows: the two merged nodes (leaves are 0..n-1), distance, size.
        product_map["dendrogram"] = [
            [int(a), int(b), round(float(d), 6), int(size)] for a, b, d, size in tree
        ]
    if len(products) >= 3:
        try:
            k, labels, silhouette, scores = cluster_embedding(embedding, ClusteringRequest())
            product_map["clusters"] = {
                "method": "kmeans",
                "k": k,
                "labels": dict(zip(products, (int(v) for v in labels), strict=True)),
                "silhouette": silhouette,
                "silhouette_by_k": {str(key): value for key, value in scores.items()},
            }
        except InvalidInput:
            pass  # no number of clusters separates these products: the map has no clusters
    return product_map
