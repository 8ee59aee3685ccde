"""An LCA fit's progress is proportional to its work (issue 17): at 25, 50 and 75 % of the fit's
share of the bar it has done about that share of its EM passes per start, counted (every EM
step's M-step over a batch of starts), not timed, so the test is deterministic.

Before, the first stage (30 iterations of every start) and the first round of the start search
filled most of the bar: 25 % came after 0.1 % of the EM passes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from backend.schemas.lca import LCAParams
from tests.support.data import simulate_lca
from workers.models.base import BinaryMatrix
from workers.models.lca import engine
from workers.models.lca.fit import fit

# The fit's share of the bar when no analysis follows it (statistics take the rest).
FIT_SHARE = 0.95
BOUND = 0.05


def unstructured(n: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    return (rng.random((n, 20)) < rng.uniform(0.1, 0.6, 20)).astype(float)


def structured(n: int) -> np.ndarray:
    return simulate_lca(n=n, seed=3).frame.iloc[:, 1:].to_numpy(float)


@pytest.mark.parametrize(
    "values",
    [
        pytest.param(unstructured(8000), id="two stages"),  # too costly for a start search
        pytest.param(structured(2000), id="start search rounds"),  # cheap: rounds of starts
        pytest.param(unstructured(2000), id="start search unstructured"),
    ],
)
def test_progress_follows_the_em_passes_done(
    values: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    passes = 0
    m_step = engine.m_step

    def counted(out: Any, theta: np.ndarray, *args: Any, **kwargs: Any) -> Any:
        nonlocal passes
        passes += theta.shape[0]  # one EM step for each start of the batch
        return m_step(out, theta, *args, **kwargs)

    monkeypatch.setattr(engine, "m_step", counted)
    seen: list[tuple[float, int]] = []
    data = BinaryMatrix(values=values, products=[f"p{j}" for j in range(values.shape[1])])
    # A tolerance never met: every finalist runs max_iter, so the work is known in the end.
    params = LCAParams(
        n_classes=4,
        n_init=8,
        max_iter=300,
        tol=1e-15,
        replicate=1,
        stability_samples=0,
        random_state=1,
    )
    fit(data, params, lambda fraction, message, **fields: seen.append((fraction, passes)))
    for point in (0.25, 0.5, 0.75):
        done = next(n for fraction, n in seen if fraction >= point * FIT_SHARE)
        assert done / passes == pytest.approx(point, abs=BOUND), point
