"""Audit trail: an append-only log of every state change and edit."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from workbench.audit.models import AuditEntry


class AuditLogIsAppendOnly(RuntimeError):
    """Raised when code tries to change or delete an audit entry."""


def _refuse_audit_changes(session: Session, _ctx: Any, _instances: Any) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEntry) and (obj in session.deleted or session.is_modified(obj)):
            raise AuditLogIsAppendOnly("audit entries cannot be changed or deleted")


def init_app(app: Flask) -> None:
    if not sa.event.contains(Session, "before_flush", _refuse_audit_changes):
        sa.event.listen(Session, "before_flush", _refuse_audit_changes)
