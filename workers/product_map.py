"""The product map of a finished fit, computed once on the worker and stored with the result:
from the family's product embedding (LCA profiles, factor loadings, MCA coordinates, NMF/LDA
components, network similarities) it derives cosine similarity, each product's closest
competitors, a dendrogram-ready tree, 2-D coordinates, k-means clusters with k chosen by
silhouette, and every clustering POST /runs/{id}/clustering can be asked for (k-means for each
k up to KMEANS_MAX_K, the four hierarchical trees with their silhouette by k), so the API
answers from stored data without scikit-learn or SciPy.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from backend.errors import InvalidInput
from backend.schemas.api import ClusteringRequest
from backend.services.clustering import choose, cut_tree

COMPETITORS = 5
# Above this many products the full similarity matrix is left out of the stored map (it grows
# with the square); competitors, tree and clusters are always kept.
MAX_PRODUCTS_WITH_MATRIX = 300
# k-means is stored for 2..KMEANS_MAX_K clusters (10 starts each, random_state 0): the cost
# grows with k and a product map is read at a handful of clusters.
KMEANS_MAX_K = 20
KMEANS_RANDOM_STATE = 0
HIERARCHICAL_MAX_K = 100
LINKAGES = ("ward", "complete", "average", "single")


def cosine_similarity(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    unit = np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)
    return np.asarray(np.clip(unit @ unit.T, -1.0, 1.0))


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
        product_map["dendrogram"] = _rows(tree)
    if len(products) >= 3:
        clusterings = stored_clusterings(x)
        product_map["clusterings"] = clusterings
        try:
            # What a default POST /runs/{id}/clustering answers: k-means, k by silhouette.
            k, labels, score, scores = choose(clusterings, len(products), ClusteringRequest())
        except InvalidInput:
            pass  # no number of clusters separates these products: the map has no clusters
        else:
            product_map["clusters"] = {
                "method": "kmeans",
                "k": k,
                "labels": dict(zip(products, labels, strict=True)),
                "silhouette": score,
                "silhouette_by_k": {str(key): value for key, value in scores.items()},
            }
    return product_map


def stored_clusterings(x: np.ndarray) -> dict[str, Any]:
    """k-means labels for each k, and each linkage's tree (euclidean, as scikit-learn's
    AgglomerativeClustering builds it) with the silhouette of its cut at each k."""
    from scipy.cluster.hierarchy import ClusterWarning, linkage
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

    n = x.shape[0]
    kmeans: dict[str, Any] = {}
    for k in range(2, min(KMEANS_MAX_K, n - 1) + 1):
        model = KMeans(n_clusters=k, n_init=10, random_state=KMEANS_RANDOM_STATE)
        with warnings.catch_warnings():
            # Fewer distinct products than k (tied embeddings): k-means says so, and the
            # silhouette of the labels it returns tells the same.
            warnings.simplefilter("ignore", ConvergenceWarning)
            labels = np.asarray(model.fit_predict(x))
        kmeans[str(k)] = {"labels": labels.tolist(), "silhouette": silhouette(x, labels)}
    hierarchical = {}
    for method in LINKAGES:
        with warnings.catch_warnings():
            # A network's embedding is each product's similarity to every product: square,
            # symmetric, and SciPy wonders whether it is a distance matrix. It is observations.
            warnings.simplefilter("ignore", ClusterWarning)
            tree = linkage(x, method=method)
        hierarchical[method] = {
            "tree": _rows(tree),
            "silhouette_by_k": {
                str(k): silhouette(x, cut_tree(tree, k))
                for k in range(2, min(HIERARCHICAL_MAX_K, n - 1) + 1)
            },
        }
    return {
        "kmeans": {"random_state": KMEANS_RANDOM_STATE, "n_init": 10, "by_k": kmeans},
        "hierarchical": hierarchical,
    }


def silhouette(x: np.ndarray, labels: np.ndarray) -> float | None:
    """Mean silhouette (euclidean); None unless 2 ≤ clusters < products."""
    from sklearn.metrics import silhouette_score

    groups = len(set(labels.tolist()))
    if not 2 <= groups < x.shape[0]:
        return None
    return round(float(silhouette_score(x, labels)), 12)


def _rows(tree: Any) -> list[list[float | int]]:
    return [[int(a), int(b), round(float(d), 6), int(size)] for a, b, d, size in tree]
