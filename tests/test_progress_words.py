"""The words a person reads while an LCA searches its starting points: the fit's progress
carries how many starts converged and how many reached the best so far, and the app says
"Trying 8 starting points: 5 done, best so far found twice" from them."""

from __future__ import annotations

from backend.schemas.lca import LCAParams
from tests.support.progress import Recorder
from tests.test_lca_model import matrix
from ui.progress_text import person_message
from workers.models.lca.fit import fit


def test_a_start_search_reports_how_often_the_best_was_found() -> None:
    data, _ = matrix(n=1500)
    recorder = Recorder()
    result = fit(data, LCAParams(n_classes=3, n_init=8, random_state=5), recorder)
    counted = recorder.with_details("at_best")
    assert counted
    assert all(0 <= c["details"]["at_best"] <= c["details"]["converged"] for c in counted)
    last = counted[-1]
    assert last["details"]["at_best"] >= 1 and result.n_starts_at_best >= 1
    words = person_message({**last, "progress": last["fraction"]})  # as the API sends it
    assert words.startswith("Trying 8 starting points: ") and "best so far found" in words
    assert "iterations" not in words and "log-likelihood" not in words
