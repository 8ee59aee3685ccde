"""Co-purchase network: measures from their definitions, recovery of known product groups and
of a bridge product, progress, cancel and refusals."""

from __future__ import annotations

import numpy as np
import pytest

from backend.schemas.network import NetworkParams
from tests.reference.simulate import simulate_factors
from tests.support.families import assert_export_tables, assert_reports_progress_and_cancels
from workers.models.base import BinaryMatrix, no_progress
from workers.models.network import fit


def three_groups(n: int = 6000, seed: int = 2) -> BinaryMatrix:
    """Products 1-4, 5-8 and 9-12 each driven by their own independent factor; product 13
    loads on the first two factors (a bridge between two groups)."""
    loadings = np.zeros((13, 3))
    loadings[0:4, 0] = 0.75
    loadings[4:8, 1] = 0.75
    loadings[8:12, 2] = 0.75
    loadings[12, :2] = 0.6
    sim = simulate_factors(
        n=n, loadings=loadings, phi=np.eye(3), penetration=np.full(13, 0.25), seed=seed
    )
    return BinaryMatrix.from_frame(sim.frame, sim.products, "household_id")


def test_measures_follow_their_definitions_with_missing_cells() -> None:
    data = three_groups(n=2000)
    data.values[::9, 1] = np.nan
    result = fit(
        data, NetworkParams(measure="lift", threshold=0.0, min_co_purchases=1), no_progress
    )
    edge = next(e for e in result.edges if {e.source, e.target} == {"prod_01", "prod_02"})
    both = ~np.isnan(data.values[:, 0]) & ~np.isnan(data.values[:, 1])
    a, b = data.values[both, 0], data.values[both, 1]
    n11, n1, n2, m = (a * b).sum(), a.sum(), b.sum(), both.sum()
    assert edge.co_purchases == n11
    assert edge.lift == pytest.approx(m * n11 / (n1 * n2))
    assert edge.phi == pytest.approx(np.corrcoef(a, b)[0, 1])
    assert edge.jaccard == pytest.approx(n11 / (n1 + n2 - n11))
    assert edge.cosine == pytest.approx(n11 / np.sqrt(n1 * n2))
    assert edge.weight == edge.lift
    assert result.n_missing_cells == int(np.isnan(data.values).sum())


@pytest.mark.parametrize("community", ["louvain", "greedy_modularity"])
@pytest.mark.parametrize("measure", ["lift", "phi", "jaccard", "cosine"])
def test_recovers_the_product_groups(measure: str, community: str) -> None:
    data = three_groups()
    result = fit(
        data, NetworkParams(measure=measure, community=community, random_state=0), no_progress
    )
    by_product = {node.product: node.community for node in result.nodes}
    groups = [{by_product[f"prod_{j:02d}"] for j in range(start, start + 4)} for start in (1, 5, 9)]
    assert all(len(g) == 1 for g in groups)  # each group in one community
    assert len(set.union(*groups)) == 3  # and the three apart
    assert by_product["prod_13"] in groups[0] | groups[1]
    assert result.modularity is not None and result.modularity > 0.3
    assert sum(c.size for c in result.communities) == 13


def test_the_bridge_product_has_the_highest_betweenness() -> None:
    result = fit(three_groups(), NetworkParams(measure="phi", random_state=0), no_progress)
    top = max(result.nodes, key=lambda node: node.betweenness)
    assert top.product == "prod_13" and top.degree >= 8
    # Group 3 is disconnected from the rest: two connected components.
    assert result.n_components == 2 and result.n_isolated == 0
    assert all(node.eigenvector is not None for node in result.nodes)
    assert 0 < result.density < 1


def test_a_threshold_nothing_passes_leaves_isolated_products_and_a_warning() -> None:
    result = fit(three_groups(n=1000), NetworkParams(threshold=50), no_progress)
    assert result.n_edges == 0 and result.n_isolated == 13 and result.modularity is None
    assert any("lower the threshold" in w for w in result.provenance.warnings)


def test_progress_and_cancel() -> None:
    assert_reports_progress_and_cancels(fit, three_groups(n=1000), NetworkParams())


def test_export_tables_and_product_embedding() -> None:
    assert_export_tables(
        "network",
        fit(three_groups(n=1000), NetworkParams(random_state=0), no_progress),
        {"nodes", "communities", "edges", "summary"},
        n_dimensions=13,  # the network's square embedding: one column per product
    )
