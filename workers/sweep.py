"""The worker side of sweeps: live progress of the parent, and its comparison once the last
child has ended (whichever worker ends it)."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from sqlalchemy import select, update

from backend.db import session_scope
from backend.families import family
from backend.orm import Artifact, Result, Run, utcnow
from backend.progress import ProgressStore, make_message
from backend.schemas.api import ProgressMessage
from backend.schemas.common import TERMINAL_STATUSES, Phase, RunStatus

log = logging.getLogger(__name__)

CRITERIA = ("loglik", "npar", "aic", "bic", "sabic", "caic", "entropy", "smallest_class_share")
PARENT_PUBLISH_INTERVAL = 1.0


def compare(param: str, children: list[Run]) -> dict[str, Any]:
    """One row per value with every criterion; the value with the lowest BIC is recommended."""
    table = []
    for child in children:
        row: dict[str, Any] = {param: child.sweep_value, "run_id": child.id, "status": child.status}
        result = child.result.result if child.result else {}
        row.update({c: result.get(c) for c in CRITERIA if c in result})
        if result.get("blrt"):  # the child ran a bootstrap test of k against k − 1
            row["blrt_p_value"] = result["blrt"]["p_value"]
        if child.error:
            row["error"] = child.error
        table.append(row)
    scored = [
        r for r in table if isinstance(r.get("bic"), (int, float)) and math.isfinite(r["bic"])
    ]
    best = min(scored, key=lambda r: r["bic"]) if scored else None
    by_criterion = {
        c: min(scored, key=lambda r, c=c: r[c])[param]  # type: ignore[misc]
        for c in ("aic", "bic", "sabic", "caic")
        if scored and all(c in r for r in scored)
    }
    return {
        "param": param,
        "values": [c.sweep_value for c in children],
        "criterion": "bic",
        "recommended": best[param] if best else None,
        "recommended_run_id": best["run_id"] if best else None,
        "best_by_criterion": by_criterion,
        "table": table,
    }


def child_finished(parent_id: str, store: ProgressStore) -> None:
    """Called after a child ended. The caller that sees every child ended completes the parent;
    the status compare-and-set makes sure only one does, even when two finish together."""
    with session_scope() as session:
        parent = session.get(Run, parent_id)
        if parent is None or parent.status in TERMINAL_STATUSES:
            return
        children = list(parent.children)
        done = [c for c in children if c.status in TERMINAL_STATUSES]
        parent.progress = len(done) / max(len(children), 1)
        if len(done) < len(children):
            parent.progress_message = f"{len(done)} of {len(children)} fits done."
            return
        spec = family(parent.model_type)
        comparison = compare(str(spec.sweep_param), children)
        completed = [c for c in children if c.status == RunStatus.completed]
        best = next((c for c in completed if c.id == comparison["recommended_run_id"]), None)
        status = RunStatus.completed if best else RunStatus.failed
        ended = session.execute(
            update(Run)
            .where(Run.id == parent_id, Run.status.in_([RunStatus.queued, RunStatus.running]))
            .values(status=status.value, finished_at=utcnow(), progress=1.0)
        )
        if ended.rowcount != 1:  # type: ignore[attr-defined]
            return
        if best is None:
            message = "Every fit of the sweep failed: " + "; ".join(
                f"{spec.sweep_param}={c.sweep_value}: {c.error}" for c in children
            )
            parent.error = parent.progress_message = message
        else:
            _store_parent_result(session, parent, best, comparison)
            failed = [c.sweep_value for c in children if c.status != RunStatus.completed]
            parent.progress_message = (
                f"Completed: {spec.sweep_param}={comparison['recommended']} has the lowest BIC"
                + (f"; {spec.sweep_param}={failed} did not complete." if failed else ".")
            )
            message = parent.progress_message
    phase = Phase.completed if best else Phase.failed
    store.publish(make_message(parent_id, phase, 1.0, message))


def _store_parent_result(session: Any, parent: Run, best: Run, comparison: dict[str, Any]) -> None:
    """The parent's result reads like the recommended solution's, plus the `sweep` comparison."""
    assert best.result is not None
    payload = {**best.result.result, "sweep": comparison}
    session.add(Result(run_id=parent.id, result=payload))
    for artifact in session.scalars(select(Artifact).where(Artifact.run_id == best.id)):
        session.add(
            Artifact(
                run_id=parent.id,
                name=artifact.name,
                content_type=artifact.content_type,
                data=artifact.data,
            )
        )
    parent.data_hash = best.data_hash
    parent.library_versions = best.library_versions
    parent.fit_summary = {
        **(best.fit_summary or {}),
        "recommended": comparison["recommended"],
        "sweep": [
            {k: r.get(k) for k in (comparison["param"], "bic", "status")}
            for r in comparison["table"]
        ],
    }


def start_parent(store: ProgressStore, child: Run) -> ParentProgress | None:
    """Marks the parent running (its first child started) and answers its progress relay."""
    assert child.parent_id is not None
    with session_scope() as session:
        session.execute(
            update(Run)
            .where(Run.id == child.parent_id, Run.status == RunStatus.queued)
            .values(status=RunStatus.running.value, started_at=utcnow())
        )
        parent = session.get(Run, child.parent_id)
        if parent is None or parent.status in TERMINAL_STATUSES:
            return None
        return ParentProgress(store, parent, child)


class ParentProgress:
    """Publishes the parent's aggregate progress (mean over its children) at most once a second,
    from the progress of whichever child is publishing."""

    def __init__(self, store: ProgressStore, parent: Run, child: Run) -> None:
        self.store = store
        self.parent_id = parent.id
        self.sibling_ids = [c.id for c in parent.children]
        self.label = f"{family(parent.model_type).sweep_param}={child.sweep_value}"
        self._last = float("-inf")

    def __call__(self, message: ProgressMessage) -> None:
        now = time.monotonic()
        if now - self._last < PARENT_PUBLISH_INTERVAL:
            return
        self._last = now
        latest = [self.store.latest(i) for i in self.sibling_ids]
        fractions = [
            1.0
            if m and m.phase in (Phase.completed, Phase.failed, Phase.cancelled)
            else (m.progress if m else 0.0)
            for m in latest
        ]
        done = sum(f == 1.0 for f in fractions)
        total = len(self.sibling_ids)
        self.store.publish(
            make_message(
                self.parent_id,
                Phase.fitting,
                sum(fractions) / max(total, 1),
                f"{done} of {total} fits done; {self.label}: {message.message}",
                details={"children": total, "done": done},
            )
        )
