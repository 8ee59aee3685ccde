"""The worker side of sweeps: live progress of the parent, and its comparison once the last
child has ended (whichever worker ends it)."""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy import select, update

from backend.db import session_scope
from backend.families import family
from backend.orm import Artifact, Result, Run, utcnow
from backend.progress import ProgressStore, make_message
from backend.queue import enqueue_run
from backend.schemas.api import ProgressMessage
from backend.schemas.common import TERMINAL_STATUSES, Phase, RunStatus
from backend.storage.records import copy_artifacts

log = logging.getLogger(__name__)

CRITERIA = (
    "loglik",
    "npar",
    "aic",
    "bic",
    "sabic",
    "caic",
    "entropy",
    "smallest_class_share",
    "l_squared",
    "l_squared_df",
    "l_squared_p_value",
    "l_squared_bootstrap_p_value",
    "classification_error",
    "n_starts_at_best",
    "n_starts",
    "replicated",
)
PARENT_PUBLISH_INTERVAL = 1.0


def compare(
    param: str,
    children: list[Run],
    params: dict[str, Any] | None = None,
    requested: list[int] | None = None,
) -> dict[str, Any]:
    """One row per value with every criterion; recommended by the sweep's `criterion` (lowest
    BIC unless asked otherwise; workers/models/lca/selection.recommend states the rules)."""
    from workers.models.lca.selection import recommend

    params = params or {}
    criterion = str(params.get("criterion") or "bic")
    cap = params.get("max_classes")
    table = []
    for child in sorted(children, key=lambda c: c.sweep_value or 0):
        row: dict[str, Any] = {param: child.sweep_value, "run_id": child.id, "status": child.status}
        result = child.result.result if child.result else {}
        row.update({c: result.get(c) for c in CRITERIA if c in result})
        if result.get("blrt"):  # the child ran a bootstrap test of k against k − 1
            row["blrt_p_value"] = result["blrt"]["p_value"]
        if result.get("stability"):
            row["stability_ari"] = result["stability"]["ari_mean"]
        if child.error:
            row["error"] = child.error
        table.append(row)
    done = [r for r in table if r["status"] == RunStatus.completed]
    rec = recommend(done, param, criterion, cap=cap if isinstance(cap, int) else None)
    best = next((r for r in done if r[param] == rec["recommended"]), None)
    return {
        "param": param,
        "values": [r[param] for r in table],
        "criterion": criterion,
        "recommended": rec["recommended"],
        "recommended_run_id": best["run_id"] if best else None,
        "best_by_criterion": rec["best_by_criterion"],
        "elbow": rec["elbow"],
        "at_top": rec["at_top"],
        "reason": rec["reason"],
        "requested": requested or [r[param] for r in table],
        "extended": sorted(r[param] for r in table if requested and r[param] not in requested),
        "table": table,
    }


def child_finished(parent_id: str, store: ProgressStore) -> None:
    """Called after a child ended. The caller that sees every child ended either extends the
    range (the recommendation is its top: one more child run) or completes the parent; the
    status compare-and-set makes sure only one does, even when two finish together."""
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
        param = str(spec.sweep_param)
        requested = (parent.fit_summary or {}).get("requested")
        comparison = compare(param, children, parent.params, requested)
        extra = _extend(session, parent, children, comparison, param)
        if extra is not None:
            message = parent.progress_message or ""
        else:
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
                    f"{param}={c.sweep_value}: {c.error}" for c in children
                )
                parent.error = parent.progress_message = message
            else:
                _store_parent_result(session, parent, best, comparison)
                failed = [c.sweep_value for c in children if c.status != RunStatus.completed]
                parent.progress_message = (
                    f"Completed: {param}={comparison['recommended']}. {comparison['reason']}"
                    + (f" {param}={failed} did not complete." if failed else "")
                )
                message = parent.progress_message
    if extra is not None:
        store.publish(make_message(extra.id, Phase.queued, 0.0, "Waiting for a worker."))
        enqueue_run(extra.id, extra.queue_name)
        store.publish(make_message(parent_id, Phase.fitting, parent.progress, message))
        return
    phase = Phase.completed if best else Phase.failed
    store.publish(make_message(parent_id, phase, 1.0, message))


def _extend(
    session: Any, parent: Run, children: list[Run], comparison: dict[str, Any], param: str
) -> Run | None:
    """When the recommendation is the largest value fitted and the cap (`max_classes`) allows,
    adds the next value as a new child run (committed by the caller's session before it is
    enqueued) and answers it; else None. A compare-and-set on the parent's message makes sure
    two workers ending the last children together add it once."""
    cap = parent.params.get("max_classes")
    top = max(c.sweep_value or 0 for c in children)
    if not comparison["at_top"] or not isinstance(cap, int) or top >= cap:
        return None
    value = top + 1
    if any(c.sweep_value == value for c in children):
        return None
    note = (
        f"{comparison['reason']} Extending the range: fitting {param}={value} "
        f"(up to max_classes={cap})."
    )
    claimed = session.execute(
        update(Run)
        .where(
            Run.id == parent.id,
            Run.status.in_([RunStatus.queued, RunStatus.running]),
            (Run.progress_message.is_(None)) | (Run.progress_message != note),
        )
        .values(progress_message=note)
    )
    if claimed.rowcount != 1:
        return None
    session.refresh(parent)
    template = max(children, key=lambda c: c.sweep_value or 0)
    params = {**template.params, param: value}
    name = template.name.rsplit(f" · {param}=", 1)[0] + f" · {param}={value}"
    child = Run(
        name=name,
        description=template.description,
        model_type=template.model_type,
        status=RunStatus.queued.value,
        params=params,
        dataset_id=template.dataset_id,
        product_columns=template.product_columns,
        covariate_columns=template.covariate_columns,
        id_column=template.id_column,
        queue_name=template.queue_name,
        progress_message="Waiting for a worker.",
        sweep_value=value,
    )
    for attribute in ("weight_column", "client_id"):  # copied when the schema has them
        if hasattr(template, attribute):
            setattr(child, attribute, getattr(template, attribute))
    parent.children.append(child)
    summary = parent.fit_summary or {}
    parent.fit_summary = {**summary, "requested": summary.get("requested") or parent.params[param]}
    # The parent's params list every value its children fit (the parent/child contract).
    parent.params = {**parent.params, param: sorted({*(c.sweep_value for c in children), value})}
    parent.progress = len(children) / (len(children) + 1)
    session.flush()
    return child


def _store_parent_result(session: Any, parent: Run, best: Run, comparison: dict[str, Any]) -> None:
    """The parent's result reads like the recommended solution's, plus the `sweep` comparison."""
    assert best.result is not None
    payload = {**best.result.result, "sweep": comparison}
    session.add(Result(run_id=parent.id, result=payload))
    best_artifacts = session.scalars(select(Artifact).where(Artifact.run_id == best.id))
    session.add_all(copy_artifacts(session, best_artifacts, parent.id))
    parent.data_hash = best.data_hash
    parent.library_versions = best.library_versions
    parent.fit_summary = {
        **(best.fit_summary or {}),
        "recommended": comparison["recommended"],
        "criterion": comparison["criterion"],
        "extended": comparison["extended"],
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
