"""Working papers (工作底稿): the document request list, evidence files, per-indicator notes."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from workbench.db import UTCDateTime, db, utcnow


class RequestItem(db.Model):
    """One document asked of the evaluated unit (资料清单), with the indicators it supports."""

    __tablename__ = "request_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(
        sa.ForeignKey("engagements.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(default=0)
    title: Mapped[str] = mapped_column(sa.String(300))
    indicator_codes: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    received: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str] = mapped_column(sa.String(500), default="")


class EvidenceFile(db.Model):
    """An uploaded evidence file; a new upload of the same name is a new version (kept)."""

    __tablename__ = "evidence_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(
        sa.ForeignKey("engagements.id", ondelete="CASCADE"), index=True
    )
    indicator_code: Mapped[str | None] = mapped_column(sa.String(40))
    request_item_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("request_items.id", ondelete="SET NULL")
    )
    filename: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(10))  # pdf | docx | xlsx | png | jpeg
    version: Mapped[int] = mapped_column(default=1)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    size: Mapped[int]
    uploaded_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: the team shares the document with the expert panel (experts may download it)
    shared_with_panel: Mapped[bool] = mapped_column(default=False, server_default=sa.false())


class WorkingPaper(db.Model):
    """The working paper of one indicator: what was checked, where the data came from, what
    was found and why the score; reviewed by the 复核人."""

    __tablename__ = "working_papers"
    __table_args__ = (sa.UniqueConstraint("engagement_id", "indicator_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(
        sa.ForeignKey("engagements.id", ondelete="CASCADE"), index=True
    )
    indicator_code: Mapped[str] = mapped_column(sa.String(40))
    checked_object: Mapped[str] = mapped_column(sa.Text, default="")  # 核查对象
    data_source: Mapped[str] = mapped_column(sa.Text, default="")  # 数据来源
    problems: Mapped[str] = mapped_column(sa.Text, default="")  # 发现问题
    scoring_note: Mapped[str] = mapped_column(sa.Text, default="")  # 评分说明
    status: Mapped[str] = mapped_column(sa.String(10), default="draft")  # draft | reviewed
    reviewed_by: Mapped[str] = mapped_column(sa.String(120), default="")
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
