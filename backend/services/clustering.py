"""Cluster the products of a finished run by their embedding (k-means or hierarchical).

Tiny problems (products × a few dimensions), so they run in the API process.
"""

from __future__ import annotations

from typing import Any

from backend.schemas.api import ClusteringOut, ClusteringRequest
from backend.services.product_map import cluster_embedding
from backend.services.tables import product_embedding


def cluster_products(
    run_id: str, model_type: str, result: dict[str, Any], request: ClusteringRequest
) -> ClusteringOut:
    embedding = product_embedding(model_type, result)
    k, labels, silhouette, scores = cluster_embedding(embedding, request)
    return ClusteringOut(
        run_id=run_id,
        method=request.method,
        n_clusters=k,
        labels={str(p): int(label) for p, label in zip(embedding.index, labels, strict=True)},
        silhouette_score=silhouette,
        scores_by_k=scores,
    )
