"""Co-purchase network of products (networkx).

Pair counts come from one chunked pass (the same Xᵀ·X as the tetrachoric correlations; pairs
use the households where both cells are observed). For every pair: lift = n·n11 / (n1·n2),
phi (the 0/1 correlation), Jaccard = n11 / (n1 + n2 - n11) and cosine = n11 / √(n1·n2).
Products are linked when the chosen measure is above the threshold (without one: lift above
1.2, or phi above 0.1 for phi, see backend/schemas/network.py) and at least
`min_co_purchases` households bought both. Communities: Louvain or greedy modularity on the
edge weights. Centralities: degree and strength, betweenness (path length 1 / weight, so a
strong link is a short one) and eigenvector centrality (weighted).
"""

from __future__ import annotations

import networkx as nx
import numpy as np

from backend.errors import DataError
from backend.schemas.network import (
    Community,
    NetworkEdge,
    NetworkNode,
    NetworkParams,
    NetworkResult,
)
from workers.models.base import BinaryMatrix, FitFunction, Progress
from workers.models.pair_counts import PairCounts, pair_counts
from workers.models.progress import sub_progress
from workers.models.provenance import build_provenance, resolve_seed


def association_measures(counts: PairCounts) -> dict[str, np.ndarray]:
    """lift, phi, jaccard, cosine and co-purchase counts for every pair (p × p)."""
    a = counts.n11
    m = counts.n_obs
    bi = counts.bought_where_observed  # buyers of i among households with j observed
    bj = bi.T
    with np.errstate(divide="ignore", invalid="ignore"):
        lift = m * a / (bi * bj)
        phi = (m * a - bi * bj) / np.sqrt(bi * (m - bi) * bj * (m - bj))
        jaccard = a / (bi + bj - a)
        cosine = a / np.sqrt(bi * bj)
    measures = {"lift": lift, "phi": phi, "jaccard": jaccard, "cosine": cosine}
    for value in measures.values():
        np.nan_to_num(value, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    measures["co_purchases"] = a
    return measures


def fit(data: BinaryMatrix, params: NetworkParams, progress: Progress) -> NetworkResult:
    n, p = data.values.shape
    if p < 2:
        raise DataError(f"A co-purchase network needs at least 2 products; this run has {p}.")
    seed = resolve_seed(params.random_state)
    counts = pair_counts(data.values, sub_progress(progress, 0.0, 0.7))
    buyers = counts.bought
    never = [data.products[j] for j in np.flatnonzero(buyers == 0)]
    measures = association_measures(counts)
    weight = measures[params.measure]
    rule_measure, threshold = params.edge_rule
    rule = measures[rule_measure]
    co = measures["co_purchases"]
    progress(0.75, "Building the graph and finding communities.")

    graph = nx.Graph()
    graph.add_nodes_from(range(p))
    iu, ju = np.triu_indices(p, 1)
    keep = (rule[iu, ju] > threshold) & (co[iu, ju] >= params.min_co_purchases)
    for i, j in zip(iu[keep], ju[keep], strict=True):
        w = float(weight[i, j])
        graph.add_edge(int(i), int(j), weight=w, distance=1.0 / w)

    warnings_: list[str] = []
    if params.community == "louvain":
        groups = nx.community.louvain_communities(
            graph, weight="weight", resolution=params.resolution, seed=seed
        )
    else:
        groups = nx.community.greedy_modularity_communities(
            graph, weight="weight", resolution=params.resolution
        )
    groups = sorted((sorted(g) for g in groups), key=lambda g: (-len(g), g[0]))
    modularity = None
    if graph.number_of_edges():
        modularity = float(
            nx.community.modularity(graph, groups, weight="weight", resolution=params.resolution)
        )
    community_of = {node: c + 1 for c, group in enumerate(groups) for node in group}
    progress(0.85, "Computing centralities.")
    betweenness = nx.betweenness_centrality(graph, weight="distance", normalized=True)
    degree_centrality = nx.degree_centrality(graph)
    eigenvector: dict[int, float] | None = None
    if graph.number_of_edges():
        try:
            eigenvector = nx.eigenvector_centrality(graph, weight="weight", max_iter=1000)
        except nx.PowerIterationFailedConvergence:
            warnings_.append("Eigenvector centrality did not converge; it is left out.")
    observed = counts.observed
    nodes = [
        NetworkNode(
            product=data.products[j],
            penetration=float(buyers[j] / observed[j]) if observed[j] else 0.0,
            buyers=int(buyers[j]),
            community=community_of[j],
            degree=int(graph.degree(j)),
            strength=float(graph.degree(j, weight="weight")),
            degree_centrality=float(degree_centrality[j]),
            betweenness=float(betweenness[j]),
            eigenvector=float(eigenvector[j]) if eigenvector is not None else None,
        )
        for j in range(p)
    ]
    edges = sorted(
        (
            NetworkEdge(
                source=data.products[i],
                target=data.products[j],
                weight=float(weight[i, j]),
                co_purchases=int(co[i, j]),
                lift=float(measures["lift"][i, j]),
                phi=float(measures["phi"][i, j]),
                jaccard=float(measures["jaccard"][i, j]),
                cosine=float(measures["cosine"][i, j]),
            )
            for i, j in graph.edges()
        ),
        key=lambda e: -e.weight,
    )
    communities = [
        Community(community=c + 1, products=[data.products[j] for j in group], size=len(group))
        for c, group in enumerate(groups)
    ]
    isolated = [data.products[j] for j in range(p) if graph.degree(j) == 0]
    if never:
        warnings_.append(f"Nobody bought {', '.join(never[:10])}; they have no links.")
    if not graph.number_of_edges():
        warnings_.append(
            f"No pair passed the threshold ({rule_measure} > {threshold}, at least "
            f"{params.min_co_purchases} co-purchases); lower the threshold."
        )
    similarity = weight.copy()
    np.fill_diagonal(similarity, 0.0)
    return NetworkResult(
        provenance=build_provenance(
            "network", params, data, ("networkx", "numpy"), warnings_, random_state=seed
        ),
        measure=params.measure,
        threshold=threshold,
        threshold_measure=rule_measure,
        products=data.products,
        nodes=nodes,
        edges=edges,
        communities=communities,
        modularity=modularity,
        n_edges=graph.number_of_edges(),
        density=float(nx.density(graph)),
        n_isolated=len(isolated),
        n_components=nx.number_connected_components(graph),
        similarity=similarity.tolist(),
        n_obs=n,
        n_missing_cells=data.n_missing,
    )


_checked: FitFunction[NetworkParams, NetworkResult] = fit
