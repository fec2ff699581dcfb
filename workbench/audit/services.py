"""Writing audit entries."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy.orm import Session

from workbench.audit.models import AuditEntry


class Actor(Protocol):
    """Who acts: a :class:`workbench.accounts.models.User` (audit sits below accounts and names
    only what it reads)."""

    id: int
    username: str
    display_name: str


def json_safe(value: Any) -> Any:
    """Make a model value storable as JSON without losing its meaning (Decimal → str)."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Decimal):
        # normalised so that 12000.00 (from the database) equals 12000 (from a form)
        return format(value.normalize(), "f")
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def snapshot(obj: Any, fields: list[str]) -> dict[str, Any]:
    """The JSON-safe values of ``fields`` on ``obj``."""
    return {f: json_safe(getattr(obj, f)) for f in fields}


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``{field: {"before": b, "after": a}}`` for the fields whose value changed."""
    keys = list(dict.fromkeys([*before, *after]))
    return {
        k: {"before": before.get(k), "after": after.get(k)}
        for k in keys
        if before.get(k) != after.get(k)
    }


def record(
    session: Session,
    actor: Actor | None,
    action: str,
    object_type: str,
    object_id: int | None,
    *,
    engagement_id: int | None = None,
    changes: Mapping[str, Any] | None = None,
    summary: str | None = None,
    ip_address: str | None = None,
    actor_label: str | None = None,
) -> AuditEntry:
    """Append one audit entry (flushed, not committed: it commits with the change it records)."""
    entry = AuditEntry(
        user_id=actor.id if actor else None,
        actor=actor_label or (f"{actor.display_name} ({actor.username})" if actor else "system"),
        engagement_id=engagement_id,
        action=action,
        object_type=object_type,
        object_id=object_id,
        changes=dict(changes or {}),
        summary=summary[:500] if summary else None,
        ip_address=ip_address,
    )
    session.add(entry)
    session.flush()
    return entry
