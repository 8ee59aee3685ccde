"""Objects follow the transaction that records or forgets them.

An object is written before the transaction that stores its key (`written`): if that
transaction does not commit, the object is removed. An object whose row is deleted is removed
only once the deletion commits (`forget`): a rolled-back delete keeps both. Removal is best
effort; an object left behind (a crash, an unreachable store) is an orphan, never a key that
points at nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from backend.storage.store import get_store

log = logging.getLogger(__name__)

WRITTEN = "storage.written"
FORGOTTEN = "storage.forgotten"


def written(session: Session, *keys: str) -> None:
    """Objects written for this transaction: removed unless it commits."""
    session.info.setdefault(WRITTEN, []).extend(keys)


def forget(session: Session, *keys: str) -> None:
    """Objects (or prefixes ending in "/") to remove once this transaction commits."""
    session.info.setdefault(FORGOTTEN, []).extend(keys)


def abandon(session: Session) -> None:
    """Remove what this transaction wrote now: it will commit without recording it."""
    remove(session.info.pop(WRITTEN, []))


def remove(keys: list[str]) -> None:
    for key in keys:
        try:
            get_store().delete(key)
        except Exception:  # the database already moved on; an orphan is harmless
            log.warning("object %s not removed from storage", key, exc_info=True)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    session.info.pop(WRITTEN, None)
    remove(session.info.pop(FORGOTTEN, []))


@event.listens_for(Session, "after_transaction_end")
def _ended(session: Session, transaction: SessionTransaction, *_: Any) -> None:
    # After a commit both lists are empty; anything left belongs to a rollback or a close.
    if transaction.parent is None:
        session.info.pop(FORGOTTEN, None)
        remove(session.info.pop(WRITTEN, []))
