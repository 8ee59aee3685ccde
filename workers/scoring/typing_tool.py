"""A typing-tool run: forward selection of the products that best assign a household to its
segment, on a finished latent class model's own classification (workers/models/lca/
typing_tool.py); the per-household table holds the tool's segment at every k."""

from __future__ import annotations

import numpy as np
import pandas as pd

from backend.errors import DataError
from backend.orm import Run
from backend.progress import ProgressReporter, ProgressStore, make_message
from backend.schemas.common import Phase
from backend.schemas.lca import LCAParams
from backend.schemas.scoring import ProductPoints, TypingResult, TypingStep
from backend.services.ingest import to_parquet
from workers.dataset_cache import datasets as dataset_cache
from workers.models.base import BinaryMatrix
from workers.models.lca import typing_tool as tool
from workers.models.provenance import build_provenance
from workers.scoring.score import keyed, load_source

METHOD = (
    "Forward selection on the model's own classification: starting from no product, each step "
    "adds the product whose points assign the most households (not held back) to their modal "
    "segment. Points per answer and segment are the model's log-probabilities of the answer in "
    "the segment, in hundredths, less the smallest over the segments; every household starts "
    "with the log class sizes the same way. A household goes to the segment with the most "
    "points (the first on a tie); an unanswered question gives no points."
)


def execute(run: Run, reporter: ProgressReporter, store: ProgressStore) -> None:
    from workers import executor

    reporter(0.0, "Loading the model and its households.", phase=Phase.loading)
    source, result, rows = load_source(run)
    if rows is None or "modal_class" not in rows.columns:
        raise DataError("The typing tool needs a latent class model's per-household table.")
    frame = dataset_cache.frame(source.dataset_id)
    products = list(result["products"])
    data = BinaryMatrix.from_frame(frame, products, source.id_column)
    theta = np.asarray(result["item_probabilities"], dtype=np.float64)
    pi = np.asarray(result["class_sizes"], dtype=np.float64)
    modal = pd.to_numeric(rows["modal_class"], errors="coerce").fillna(0).to_numpy(int) - 1
    post = rows[[f"p_class_{c + 1}" for c in range(theta.shape[0])]].to_numpy(dtype=np.float64)
    params = run.params
    reporter(0.05, "Choosing the products.", phase=Phase.fitting)
    outcome = tool.select(
        data.values,
        theta,
        pi,
        modal,
        params["max_products"],
        params["holdout"],
        params["random_state"],
    )
    reporter(0.9, "Measuring the tool's accuracy.")
    steps = _steps(outcome, modal, post, products)
    held = outcome.holdout & (modal >= 0)
    typing = TypingResult(
        provenance=build_provenance(
            source.model_type, LCAParams.model_validate(source.params), data, ("numpy",), []
        ),
        source_run_id=source.id,
        method=METHOD,
        segments=list(result["classes"]),
        order=[products[j] for j in outcome.order],
        points=[
            ProductPoints(
                product=products[j],
                bought=outcome.bought[j].tolist(),
                not_bought=outcome.not_bought[j].tolist(),
            )
            for j in outcome.order
        ],
        constant=outcome.constant.tolist(),
        steps=steps,
        suggested_k=tool.suggested(
            [s.holdout_accuracy if s.holdout_accuracy is not None else s.accuracy for s in steps]
        ),
        suggestion_rule=(
            f"The fewest products whose agreement with the full model (held-back households, "
            f"else all) is within {tool.WITHIN:.0%} of the agreement with all "
            f"{len(steps)} products."
        ),
        full_model_holdout_expected_accuracy=float(post[held].max(axis=1).mean())
        if held.any()
        else None,
        n_selection=int((~outcome.holdout & (modal >= 0)).sum()),
        n_holdout=int(held.sum()),
        id_column=source.id_column,
    )
    table = pd.DataFrame({"modal_class": rows["modal_class"].to_numpy()})
    for k in range(outcome.assigned.shape[1]):
        table[f"segment_k{k + 1}"] = outcome.assigned[:, k] + 1
    table["held_back"] = outcome.holdout
    table = keyed(table, data, source.id_column)
    typing.attach_rows(table)
    reporter(1.0, "Saving the typing tool.", phase=Phase.saving)
    summary = {"suggested_k": typing.suggested_k, "warnings": []}
    payload = typing.model_dump(mode="json")
    payload.setdefault("classes", typing.segments)  # where clients look for the units
    if executor._write_result(run.id, typing, payload, summary, to_parquet(table)):
        store.publish(
            make_message(run.id, Phase.completed, 1.0, "Completed.", details={"summary": summary})
        )


def _steps(
    outcome: tool.TypingOutcome, modal: np.ndarray, post: np.ndarray, products: list[str]
) -> list[TypingStep]:
    known = modal >= 0
    learn = known & ~outcome.holdout
    held = known & outcome.holdout
    judged = held if held.any() else known
    k_segments = post.shape[1]
    steps = []
    for k in range(outcome.assigned.shape[1]):
        assigned = outcome.assigned[:, k]
        confusion = np.zeros((k_segments, k_segments), dtype=np.int64)
        np.add.at(confusion, (modal[judged], assigned[judged]), 1)
        steps.append(
            TypingStep(
                k=k + 1,
                product=products[outcome.order[k]],
                accuracy=float((assigned[learn] == modal[learn]).mean()) if learn.any() else 0.0,
                holdout_accuracy=float((assigned[held] == modal[held]).mean())
                if held.any()
                else None,
                holdout_expected_accuracy=float(post[held, assigned[held]].mean())
                if held.any()
                else None,
                confusion=confusion.tolist(),
            )
        )
    return steps
