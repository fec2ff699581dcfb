"""The data revision of an engagement: the one key of its evaluated-result cache.

Every write that can change what :func:`workbench.core.evaluation.evaluate` returns (survey
responses, imports, screening overrides and settings, indicator inputs and not-applicable marks,
panel scores, funds, goals, indicator-tree edits, findings) calls :func:`bump` in its own
transaction. The bump is a plain ``UPDATE … SET data_revision = data_revision + 1``: it does not
touch ``engagements.version`` (the optimistic lock of the edit forms), so a respondent's
submission never makes an evaluator's open form stale. A rolled-back write rolls its bump back.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from workbench.engagements.models import Engagement

_table = Engagement.__table__


def bump(session: Session, engagement_id: int) -> None:
    """Mark the engagement's evaluated result as out of date (in the caller's transaction)."""
    session.execute(
        sa.update(_table)
        .where(_table.c.id == engagement_id)
        .values(data_revision=_table.c.data_revision + 1)
    )


def current(session: Session, engagement_id: int) -> int:
    """The revision as stored now (read fresh: the identity map may hold an older value)."""
    value = session.execute(
        sa.select(_table.c.data_revision).where(_table.c.id == engagement_id)
    ).scalar_one_or_none()
    return int(value or 0)
