"""Experts, their panel seats on engagements, and the scores they give."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workbench.core.panel import Aggregation
from workbench.db import UTCDateTime, db, enum_type, utcnow
from workbench.engagements.models import Engagement


class Expert(db.Model):
    """An outside expert in the firm's registry (专家库). Experts are not users."""

    __tablename__ = "experts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100), index=True)
    title: Mapped[str] = mapped_column(sa.String(100), default="")  # 职称
    organisation: Mapped[str] = mapped_column(sa.String(200), default="")
    field: Mapped[str] = mapped_column(sa.String(200), default="")  # 专业领域
    phone: Mapped[str] = mapped_column(sa.String(50), default="")
    email: Mapped[str] = mapped_column(sa.String(200), default="")
    notes: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    seats: Mapped[list[PanelMember]] = relationship(back_populates="expert")

    def __repr__(self) -> str:
        return f"<Expert {self.id} {self.name!r}>"


class Conflict(enum.StrEnum):
    NONE = "none"
    DECLARED = "declared"  # a relationship was declared: the expert is recused


class PanelSettings(db.Model):
    """How an engagement's panel is aggregated, and which round is open."""

    __tablename__ = "panel_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(
        sa.ForeignKey("engagements.id", ondelete="CASCADE"), unique=True
    )
    aggregation: Mapped[Aggregation] = mapped_column(
        enum_type(Aggregation, 20), default=Aggregation.MEAN
    )
    trim_min_n: Mapped[int] = mapped_column(default=5)
    step: Mapped[Decimal] = mapped_column(sa.Numeric(6, 3), default=Decimal("0.5"))
    round2_open: Mapped[bool] = mapped_column(default=False)
    #: the report's expert table prints the experts' names (else 专家A, 专家B, …)
    named_in_report: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    #: when the experts are asked to have scored, and whom at the firm they may ask
    deadline: Mapped[dt.date | None] = mapped_column(sa.Date)
    contact: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")

    def __repr__(self) -> str:
        return f"<PanelSettings e{self.engagement_id} {self.aggregation.value}>"


class PanelMember(db.Model):
    """An expert's seat on one engagement's panel, with the personal link that opens it.

    Only a SHA-256 hash of the link's token is stored: a lost link is re-issued, not shown
    again.
    """

    __tablename__ = "panel_members"
    __table_args__ = (sa.UniqueConstraint("engagement_id", "expert_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(
        sa.ForeignKey("engagements.id", ondelete="CASCADE"), index=True
    )
    expert_id: Mapped[int] = mapped_column(
        sa.ForeignKey("experts.id", ondelete="RESTRICT"), index=True
    )
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    token_expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: the indicator codes this expert scores
    indicator_codes: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    weight: Mapped[Decimal] = mapped_column(sa.Numeric(6, 3), default=Decimal(1))
    conflict: Mapped[Conflict | None] = mapped_column(enum_type(Conflict, 20))
    conflict_text: Mapped[str] = mapped_column(sa.Text, default="")
    declared_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    confidentiality_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    submitted_round1_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    submitted_round2_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    invited_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    expert: Mapped[Expert] = relationship(back_populates="seats")
    engagement: Mapped[Engagement] = relationship()
    scores: Mapped[list[SheetScore]] = relationship(
        back_populates="member", cascade="all, delete-orphan"
    )

    __mapper_args__: dict[str, Any] = {"version_id_col": version}  # noqa: RUF012

    @property
    def recused(self) -> bool:
        return self.conflict is Conflict.DECLARED

    def __repr__(self) -> str:
        return f"<PanelMember e{self.engagement_id} x{self.expert_id}>"


class SheetScore(db.Model):
    """One expert's score on one indicator in one round (scores are stored long)."""

    __tablename__ = "sheet_scores"
    __table_args__ = (sa.UniqueConstraint("member_id", "indicator_code", "round"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(
        sa.ForeignKey("panel_members.id", ondelete="CASCADE"), index=True
    )
    indicator_code: Mapped[str] = mapped_column(sa.String(40))
    round: Mapped[int] = mapped_column(default=1)
    score: Mapped[Decimal | None] = mapped_column(sa.Numeric(10, 3))
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    member: Mapped[PanelMember] = relationship(back_populates="scores")

    def __repr__(self) -> str:
        return f"<SheetScore m{self.member_id} {self.indicator_code} r{self.round}>"
