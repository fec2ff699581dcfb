"""An engagement's own indicator system and the inputs recorded for its leaves."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workbench.db import UTCDateTime, db, utcnow
from workbench.engagements.models import Engagement


class IndicatorSystem(db.Model):
    """The engagement's indicator tree: a validated template document, edited in place.

    ``tree`` holds the template as a mapping (the format of ``scoring_templates/``); it is
    re-validated by :mod:`workbench.core.indicators` on every change.
    """

    __tablename__ = "indicator_systems"

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(
        sa.ForeignKey("engagements.id", ondelete="CASCADE"), unique=True
    )
    source_code: Mapped[str] = mapped_column(sa.String(60))  # template it was created from
    tree: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    #: AHP/entropy derivations kept for the report: {parent code: {...}}.
    weight_notes: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    engagement: Mapped[Engagement] = relationship()

    __mapper_args__: dict[str, Any] = {"version_id_col": version}  # noqa: RUF012

    def __repr__(self) -> str:
        return f"<IndicatorSystem e{self.engagement_id} from {self.source_code}>"


class IndicatorInput(db.Model):
    """What was recorded for one leaf: method inputs (JSON), applicability, evidence."""

    __tablename__ = "indicator_inputs"
    __table_args__ = (sa.UniqueConstraint("engagement_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(
        sa.ForeignKey("engagements.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(sa.String(40))
    #: LeafInput fields as JSON (Decimals as strings); see scoring.frames.
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    not_applicable: Mapped[bool] = mapped_column(default=False)
    updated_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="RESTRICT")
    )
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__: dict[str, Any] = {"version_id_col": version}  # noqa: RUF012

    def __repr__(self) -> str:
        return f"<IndicatorInput e{self.engagement_id} {self.code}>"


class CustomTemplate(db.Model):
    """A firm's own indicator-system template, uploaded once and reused across engagements."""

    __tablename__ = "custom_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(60), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    tree: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    uploaded_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="RESTRICT")
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    is_active: Mapped[bool] = mapped_column(default=True)

    def __repr__(self) -> str:
        return f"<CustomTemplate {self.code!r}>"
