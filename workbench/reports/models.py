"""Findings (经验、问题、建议) and report versions with their review trail."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workbench.db import UTCDateTime, db, utcnow


class Finding(db.Model):
    """An experience (经验做法), a problem (问题, with its cause) or another matter to state
    (其他需要说明的问题), linked to indicators and evidence."""

    __tablename__ = "findings"

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(
        sa.ForeignKey("engagements.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(sa.String(12))  # experience | problem | other
    title: Mapped[str] = mapped_column(sa.String(200))
    text: Mapped[str] = mapped_column(sa.Text, default="")
    cause: Mapped[str] = mapped_column(sa.Text, default="")  # problems: 原因分析
    indicator_codes: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    evidence: Mapped[str] = mapped_column(sa.Text, default="")
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    recommendations: Mapped[list[Recommendation]] = relationship(
        secondary="recommendation_problems", back_populates="problems", viewonly=True
    )


class Recommendation(db.Model):
    """A recommendation (建议), answering one or more problems."""

    __tablename__ = "recommendations"

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(
        sa.ForeignKey("engagements.id", ondelete="CASCADE"), index=True
    )
    text: Mapped[str] = mapped_column(sa.Text)
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    #: loaded with the recommendations (one query for all): every list of them shows these
    problems: Mapped[list[Finding]] = relationship(
        secondary="recommendation_problems", back_populates="recommendations", lazy="selectin"
    )


recommendation_problems = sa.Table(
    "recommendation_problems",
    db.metadata,
    sa.Column(
        "recommendation_id",
        sa.ForeignKey("recommendations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("finding_id", sa.ForeignKey("findings.id", ondelete="CASCADE"), primary_key=True),
)


class ReportVersion(db.Model):
    """One built report. Drafts can be rebuilt; an issued version is an immutable file with
    its number, date and SHA-256 (re-issuing makes a new version)."""

    __tablename__ = "report_versions"
    __table_args__ = (sa.UniqueConstraint("engagement_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(
        sa.ForeignKey("engagements.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int]
    template: Mapped[str] = mapped_column(sa.String(100))
    #: draft | review | consultation | issued | withdrawn
    status: Mapped[str] = mapped_column(sa.String(16), default="draft")
    stored_as: Mapped[str] = mapped_column(sa.String(100))  # file under instance/reports
    sha256: Mapped[str] = mapped_column(sa.String(64))
    size: Mapped[int]
    #: an issued version's PDF, made once (at issuing) and served as stored, with its SHA-256
    pdf_stored_as: Mapped[str | None] = mapped_column(sa.String(100))
    pdf_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    qa: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)  # failed checks
    total: Mapped[str | None] = mapped_column(sa.String(20))  # printed total at build time
    grade: Mapped[str | None] = mapped_column(sa.String(10))
    report_no: Mapped[str | None] = mapped_column(sa.String(100), unique=True)
    #: digest of what the report says (not the draft mark, number or date): an issue must
    #: print exactly what the reviewers signed
    content_hash: Mapped[str] = mapped_column(sa.String(64), default="")
    #: the printed scores by first-level dimension at build time (portfolio, 得分率)
    dimensions: Mapped[list[dict[str, str]]] = mapped_column(sa.JSON, default=list)
    issued_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    issued_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    reviews: Mapped[list[ReportReview]] = relationship(
        back_populates="version", cascade="all, delete-orphan", order_by="ReportReview.id"
    )
    comments: Mapped[list[ReportComment]] = relationship(
        back_populates="version", cascade="all, delete-orphan", order_by="ReportComment.id"
    )


class ReportReview(db.Model):
    """A sign-off or rejection at one review level, with its comment."""

    __tablename__ = "report_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(
        sa.ForeignKey("report_versions.id", ondelete="CASCADE"), index=True
    )
    level: Mapped[int]
    level_name: Mapped[str] = mapped_column(sa.String(50))
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    reviewer: Mapped[str] = mapped_column(sa.String(120))
    decision: Mapped[str] = mapped_column(sa.String(10))  # approve | reject
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    version: Mapped[ReportVersion] = relationship(back_populates="reviews")

    __table_args__ = (
        # one sign-off (or rejection) per level of a version, enforced by the database: two
        # reviewers signing the same level at the same moment cannot both be stored
        sa.Index("uq_report_reviews_version_level", "version_id", "level", unique=True),
    )


class ReportComment(db.Model):
    """A comment of the client or the evaluated unit on the 征求意见稿, and the response."""

    __tablename__ = "report_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(
        sa.ForeignKey("report_versions.id", ondelete="CASCADE"), index=True
    )
    party: Mapped[str] = mapped_column(sa.String(12))  # client | unit
    author: Mapped[str] = mapped_column(sa.String(120), default="")
    text: Mapped[str] = mapped_column(sa.Text)
    response: Mapped[str] = mapped_column(sa.Text, default="")
    responded_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    version: Mapped[ReportVersion] = relationship(back_populates="comments")


class ReportTemplateFile(db.Model):
    """A firm's own Word template, for its organisation or for one engagement."""

    __tablename__ = "report_template_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    engagement_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("engagements.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(100))
    filename: Mapped[str] = mapped_column(sa.String(200))
    stored_as: Mapped[str] = mapped_column(sa.String(100))
    uploaded_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class RectificationItem(db.Model):
    """整改: a problem of an issued report, followed up by the evaluated side and the bureau."""

    __tablename__ = "rectification_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(
        sa.ForeignKey("engagements.id", ondelete="CASCADE"), index=True
    )
    version_id: Mapped[int] = mapped_column(
        sa.ForeignKey("report_versions.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int]  # the problem's number in the report
    title: Mapped[str] = mapped_column(sa.String(200))
    recommendation: Mapped[str] = mapped_column(sa.Text, default="")
    owner: Mapped[str] = mapped_column(sa.String(120), default="")  # 整改责任单位/人
    deadline: Mapped[dt.date | None]
    status: Mapped[str] = mapped_column(sa.String(12), default="open")  # open | progress | done
    note: Mapped[str] = mapped_column(sa.Text, default="")  # 整改情况
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    files: Mapped[list[RectificationFile]] = relationship(
        back_populates="item", cascade="all, delete-orphan", order_by="RectificationFile.id"
    )


class RectificationFile(db.Model):
    """A file showing how a problem was rectified (整改佐证), stored under its SHA-256 in
    ``instance/rectification/`` (the uploaded name is only shown, never part of a path)."""

    __tablename__ = "rectification_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(
        sa.ForeignKey("rectification_items.id", ondelete="CASCADE"), index=True
    )
    engagement_id: Mapped[int] = mapped_column(
        sa.ForeignKey("engagements.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(10))  # pdf | docx | xlsx | png | jpeg
    sha256: Mapped[str] = mapped_column(sa.String(64))
    size: Mapped[int]
    uploaded_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    item: Mapped[RectificationItem] = relationship(back_populates="files")


class WorkPhase(db.Model):
    """A phase of the evaluation work as the team records it (工作过程): its kind (准备/方案
    设计, 现场核查, 座谈访谈, 数据分析, 交换意见, 专家评审会, 报告撰写与复核), dates, place,
    participants and what was done. The report's 工作过程 is written from these."""

    __tablename__ = "work_phases"

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(
        sa.ForeignKey("engagements.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(sa.String(20))
    start: Mapped[dt.date] = mapped_column(sa.Date)
    end: Mapped[dt.date | None] = mapped_column(sa.Date)
    place: Mapped[str] = mapped_column(sa.String(200), default="")
    participants: Mapped[str] = mapped_column(sa.String(500), default="")
    text: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
