"""Clusters of a finished run's products, answered from the clusterings the worker stored with
its product map (workers/product_map.py): k-means labels for each k, and each linkage's tree,
cut here to the number of clusters asked for. No model library runs in the API process."""

from __future__ import annotations

from typing import Any

import numpy as np

from backend.errors import Conflict, InvalidInput
from backend.schemas.api import ClusteringOut, ClusteringRequest


def cluster_products(
    run_id: str, product_map: dict[str, Any] | None, request: ClusteringRequest
) -> ClusteringOut:
    if product_map is None:
        raise Conflict("This run has no product map to cluster.")
    products = [str(p) for p in product_map["products"]]
    if len(products) < 3:
        raise InvalidInput(f"Clustering needs at least 3 products; this run has {len(products)}.")
    clusterings = product_map.get("clusterings")
    if clusterings is None:
        raise Conflict(
            "This run was saved before clusterings were stored with its product map; "
            "fit it again to cluster its products."
        )
    k, labels, silhouette, scores = choose(clusterings, len(products), request)
    return ClusteringOut(
        run_id=run_id,
        method=request.method,
        n_clusters=k,
        labels=dict(zip(products, (int(v) for v in labels), strict=True)),
        silhouette_score=silhouette,
        scores_by_k=scores,
    )


def choose(
    clusterings: dict[str, Any], n: int, request: ClusteringRequest
) -> tuple[int, list[int], float | None, dict[int, float]]:
    """(k, labels, silhouette, silhouette by k tried) for the request."""
    if request.method == "kmeans":
        stored = clusterings["kmeans"]
        if request.random_state != stored["random_state"]:
            raise InvalidInput(
                f"k-means clusters are computed when the run is fitted, with random_state "
                f"{stored['random_state']}; got random_state {request.random_state}."
            )
        by_k = {int(k): v for k, v in stored["by_k"].items()}

        def labels_at(k: int) -> list[int]:
            return list(by_k[k]["labels"])

        def score_at(k: int) -> float | None:
            return by_k[k]["silhouette"]

        available = sorted(by_k)
    else:
        tree = clusterings["hierarchical"][request.linkage_method]
        silhouettes = {int(k): v for k, v in tree["silhouette_by_k"].items()}

        def labels_at(k: int) -> list[int]:
            return cut_tree(tree["tree"], k).tolist()

        def score_at(k: int) -> float | None:
            return silhouettes.get(k)

        available = sorted(silhouettes)

    if request.n_clusters is not None:
        k = request.n_clusters
        if k >= n:
            raise InvalidInput(f"n_clusters must be below the number of products ({n}); got {k}.")
        if k not in available:
            raise InvalidInput(
                f"{request.method} clusters are stored for 2 to {max(available)} clusters; "
                f"got n_clusters {k}."
            )
        return k, labels_at(k), score_at(k), {}
    scores = {k: s for k in available if k <= request.max_k and (s := score_at(k)) is not None}
    if not scores:
        raise InvalidInput("No number of clusters separated these products; give n_clusters.")
    best = max(scores, key=lambda k: (scores[k], -k))
    return best, labels_at(best), scores[best], scores


def cut_tree(tree: Any, k: int) -> np.ndarray:
    """Labels of the k clusters left after the first n - k merges of a linkage (SciPy's rows:
    the two merged nodes, leaves 0..n-1 and merge i as node n + i, distance, size)."""
    rows = np.asarray(tree, dtype=float)
    n = rows.shape[0] + 1
    parent = list(range(2 * n - 1))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for step in range(n - k):
        parent[root(int(rows[step, 0]))] = n + step
        parent[root(int(rows[step, 1]))] = n + step
    roots = [root(i) for i in range(n)]
    order = {r: c for c, r in enumerate(dict.fromkeys(roots))}
    return np.asarray([order[r] for r in roots])
