"""The work a fit that stops once it settles will do (workers/models/progress.py): projected
from the geometric shrinking of its moves, so its progress does not jump at an early stop."""

from __future__ import annotations

from workers.models.lda_work import LDAWork
from workers.models.progress import planned_until_settled

# An LDA fit's perplexity moves, measured (checks every 5 passes, tol 0.1): it stopped at 25.
MOVES = [(10, 0.306), (15, 0.104), (20, 0.115), (25, 0.059)]


def test_the_passes_planned_follow_the_moves() -> None:
    planned = [planned_until_settled(50, MOVES[:n], 0.1) for n in range(len(MOVES) + 1)]
    # max_iter until two moves tell a ratio, then within a check of the truth
    assert planned == [50, 50, 20, 25, 25]


def test_settling_twice_in_a_row_and_moves_that_do_not_shrink() -> None:
    # VI stops after two windows in a row below tol: one more is planned after the first
    assert planned_until_settled(20_000, [(1000, 0.01), (1500, 0.0009)], 0.001, 2) == 2000
    assert planned_until_settled(20_000, [(1000, 0.01), (1500, 0.02)], 0.001) == 20_000


def test_lda_progress_follows_its_work_once_the_moves_tell() -> None:
    # The fit of MOVES: 25 passes, 5 checks, then the final perplexity, transform and score
    work, total = LDAWork(max_iter=50, evaluate_every=5, tol=0.1), 25 + 5 + 3
    for step in range(1, 26):
        work.passes = step
        if step % 5 == 0:
            work.checked(25.0 - sum(m for _, m in MOVES[: step // 5 - 1]))
        if step >= 15:  # two moves seen (before, passes / max_iter: 0.3 here)
            assert abs(work.fraction() - (step + step // 5) / total) < 0.15, step
