"""The append-only audit log."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from workbench.db import UTCDateTime, db, utcnow


class AuditEntry(db.Model):
    """Who did what, when, to which object, with the values before and after.

    Rows are never updated or deleted: an ORM guard refuses it, and a database trigger (created
    by the migration) refuses it for anything that bypasses the ORM.
    """

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="RESTRICT"), index=True
    )
    #: Name of the actor at the time (users may be renamed; experts are not users).
    actor: Mapped[str] = mapped_column(sa.String(120))
    engagement_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("engagements.id", ondelete="RESTRICT"), index=True
    )
    action: Mapped[str] = mapped_column(sa.String(60))  # e.g. engagement.update
    object_type: Mapped[str] = mapped_column(sa.String(60))
    object_id: Mapped[int | None]
    #: ``{"field": {"before": ..., "after": ...}}`` (JSON-safe values).
    changes: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    summary: Mapped[str | None] = mapped_column(sa.String(500))
    ip_address: Mapped[str | None] = mapped_column(sa.String(64))

    def __repr__(self) -> str:
        return f"<AuditEntry {self.id} {self.action} {self.object_type}:{self.object_id}>"
