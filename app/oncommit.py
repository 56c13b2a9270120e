"""Side effects that must wait for the transaction to commit (a Redis message, a job,
a live push): queued on the session, run once it commits, dropped if it rolls back, so
nothing announces a change that was never saved."""

from __future__ import annotations

import logging
from collections.abc import Callable

import sqlalchemy as sa
import sqlalchemy.orm as so

log = logging.getLogger(__name__)

_KEY = "carillon.after_commit"


def after_commit(session: so.Session, callback: Callable[[], object]) -> None:
    """Run ``callback`` once ``session``'s current transaction commits."""
    session.info.setdefault(_KEY, []).append(callback)


@sa.event.listens_for(so.Session, "after_commit")
def _run_committed(session: so.Session) -> None:
    for callback in session.info.pop(_KEY, ()):
        try:
            callback()
        except Exception:  # the change is saved: a failing side effect must not report it lost
            log.exception("after-commit callback %r failed", callback)


@sa.event.listens_for(so.Session, "after_rollback")
def _drop_rolled_back(session: so.Session) -> None:
    session.info.pop(_KEY, None)
