"""The data revision of an engagement: the one key of its evaluated-result cache.

Every write that can change what :func:`workbench.core.evaluation.evaluate` returns (survey
responses, imports, screening overrides and settings, indicator inputs and not-applicable marks,
panel scores, funds, goals, indicator-tree edits, findings) calls :func:`bump` in its own
transaction. The bump is a plain ``UPDATE … SET data_revision = data_revision + 1``: it does not
touch ``engagements.version`` (the optimistic lock of the edit forms) nor ``updated_at``, so a
respondent's submission never makes an evaluator's open form stale. A rolled-back write rolls
its bump back.

A cache keyed on the revision must not keep what a transaction computed from its own
uncommitted writes under the bare number: rolled back, the same number comes round again with
other data. :func:`keys` therefore adds a marker, unique per bump, while the session's
transaction that bumped is still open (see ``docs/architecture.md``, "Data revision").
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, scoped_session

from workbench.engagements.models import Engagement

_table = Engagement.__table__
#: session.info entry: engagement id → (the transaction that bumped it, a unique marker)
_LOCAL = "data_revision.local"
_markers = itertools.count(1)


def bump(session: Session, engagement_id: int) -> None:
    """Mark the engagement's evaluated result as out of date (in the caller's transaction)."""
    session.execute(
        sa.update(_table)
        .where(_table.c.id == engagement_id)
        # updated_at named so that its onupdate default stays out: a data change is not an
        # edit of the engagement
        .values(data_revision=_table.c.data_revision + 1, updated_at=_table.c.updated_at)
    )
    own = _own(session)
    own.info.setdefault(_LOCAL, {})[engagement_id] = (own.get_transaction(), next(_markers))


def current(session: Session, engagement_id: int) -> int:
    """The revision as stored now (read fresh: the identity map may hold an older value)."""
    value = session.execute(
        sa.select(_table.c.data_revision).where(_table.c.id == engagement_id)
    ).scalar_one_or_none()
    return int(value or 0)


def _own(session: Session | scoped_session[Session]) -> Session:
    """The session itself (Flask-SQLAlchemy's ``db.session`` is a proxy of the request's)."""
    return session() if isinstance(session, scoped_session) else session


@functools.cache
def _keys_statement() -> sa.Select[Any]:
    """Built once (building a statement costs more than running it)."""
    return sa.select(_table.c.id, _table.c.data_revision).where(
        _table.c.id.in_(sa.bindparam("ids", expanding=True))
    )


def keys(session: Session, engagement_ids: Iterable[int]) -> dict[int, tuple[int, Any]]:
    """Cache keys of several engagements with one statement: ``(revision, marker)``.

    The marker is None, unless this session bumped the engagement in its still open
    transaction: then it is unique to that bump, so that nothing computed from uncommitted
    data is found again under the same key once the transaction has ended (committed, the key
    is ``(revision, None)``: one recomputation; rolled back, the revision may be reused).
    """
    ids = sorted(set(engagement_ids))
    if not ids:
        return {}
    rows = session.execute(_keys_statement(), {"ids": ids}).all()
    own = _own(session)
    local = own.info.get(_LOCAL) or {}
    open_transaction = own.get_transaction()
    out: dict[int, tuple[int, Any]] = {}
    for engagement_id, value in rows:
        mark = local.get(engagement_id)
        own = mark is not None and open_transaction is not None and mark[0] is open_transaction
        out[engagement_id] = (int(value or 0), mark[1] if own else None)
    return out
