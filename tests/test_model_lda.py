"""LDA: recovery of known topics (batch and online), progress, cancel and refusals."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from backend.errors import DataError
from backend.schemas.lda import LDAParams
from tests.support.families import assert_export_tables, assert_reports_progress_and_cancels
from workers.models.base import BinaryMatrix, no_progress
from workers.models.lda import fit

N_TOPICS = 4


def simulate_topics(n: int = 1500, seed: int = 0) -> BinaryMatrix:
    """LDA's generative model, binarised: 4 topics over disjoint sets of 5 of 20 products,
    household mixes from Dirichlet(0.3), 8 draws per household."""
    rng = np.random.default_rng(seed)
    phi = np.zeros((N_TOPICS, 20))
    for t in range(N_TOPICS):
        phi[t, t * 5 : (t + 1) * 5] = rng.dirichlet(np.full(5, 5.0))
    theta = rng.dirichlet(np.full(N_TOPICS, 0.3), size=n)
    X = np.zeros((n, 20))
    for i in range(n):
        X[i, rng.choice(20, size=8, p=theta[i] @ phi)] = 1.0
    return BinaryMatrix(X, [f"prod_{j + 1:02d}" for j in range(20)])


def topic_sets(result: Any) -> list[list[int]]:
    return sorted(sorted(int(t.product[5:]) - 1 for t in top[:5]) for top in result.top_products)


TRUE_SETS = [list(range(t * 5, (t + 1) * 5)) for t in range(N_TOPICS)]


@pytest.mark.parametrize("method", ["batch", "online"])
def test_recovers_known_topics(method: str) -> None:
    data = simulate_topics()
    params = LDAParams(n_topics=4, learning_method=method, batch_size=256, random_state=0)
    result = fit(data, params, no_progress)
    assert result.learning_method == method
    assert topic_sets(result) == TRUE_SETS
    probs = np.array(result.topic_product)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert np.allclose(result.topic_share, 0.25, atol=0.05)
    assert result.topic_share == sorted(result.topic_share, reverse=True)
    # A topic's own products are bought about four times as often as across all purchases.
    assert all(top[0].lift > 3 for top in result.top_products)
    assert result.perplexity > 1 and result.loglik < 0
    rows = result.rows
    assert rows is not None and rows.columns[0] == "row"
    mixes = rows[[f"topic_{j}" for j in range(1, 5)]].to_numpy()
    np.testing.assert_allclose(mixes.sum(axis=1), 1.0)
    assert rows["dominant_topic"].between(1, 4).all()


def test_empty_households_and_missing_cells_are_reported() -> None:
    data = simulate_topics(n=400)
    data.values[:5] = 0.0
    data.values[10, 3] = np.nan
    result = fit(data, LDAParams(n_topics=4, max_iter=10, random_state=0), no_progress)
    assert result.n_empty_households == 5 and result.n_missing_cells == 1
    assert any("bought nothing" in w for w in result.provenance.warnings)
    assert any("missing" in w for w in result.provenance.warnings)


def test_progress_and_cancel() -> None:
    data = simulate_topics(n=600)
    online = LDAParams(n_topics=3, learning_method="online", batch_size=100, max_iter=3)
    calls = assert_reports_progress_and_cancels(fit, data, online, LDAParams(n_topics=3))
    assert len(calls) >= 18  # 6 mini-batches × 3 passes, then the final step


def test_no_purchases_is_a_data_error() -> None:
    with pytest.raises(DataError, match="No household"):
        fit(BinaryMatrix(np.zeros((10, 3)), ["a", "b", "c"]), LDAParams(), no_progress)


def test_export_tables_and_product_embedding() -> None:
    params = LDAParams(n_topics=3, max_iter=5, random_state=0)
    assert_export_tables(
        "lda",
        fit(simulate_topics(n=300), params, no_progress),
        {"topic_product", "fit", "topics", "top_products"},
        n_dimensions=3,
    )
