"""An engagement's survey data sets and their responses (raw data is kept as imported)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workbench.db import UTCDateTime, db, utcnow
from workbench.engagements.models import Engagement


class Survey(db.Model):
    """A satisfaction survey of one respondent group, with its question-to-level mapping."""

    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(
        sa.ForeignKey("engagements.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(sa.String(200))
    respondent_group: Mapped[str] = mapped_column(sa.String(100), default="")  # 受益群众 …
    population: Mapped[int | None]  # size of the respondent group, for sample adequacy
    source_name: Mapped[str] = mapped_column(sa.String(200), default="")  # imported file
    flavour: Mapped[str] = mapped_column(sa.String(10), default="text")  # text | code
    columns: Mapped[list[str]] = mapped_column(sa.JSON, default=list)  # question headers
    #: question headers counted as satisfaction items
    satisfaction_columns: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    #: answer text (or option number) → level label (非常满意 … 非常不满意, 不了解)
    level_map: Mapped[dict[str, str]] = mapped_column(sa.JSON, default=dict)
    #: the survey leaf of the indicator system this survey feeds (e.g. D12)
    leaf_code: Mapped[str | None] = mapped_column(sa.String(40))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    engagement: Mapped[Engagement] = relationship()
    responses: Mapped[list[SurveyResponse]] = relationship(
        back_populates="survey", cascade="all, delete-orphan", order_by="SurveyResponse.id"
    )

    def __repr__(self) -> str:
        return f"<Survey {self.id} {self.title!r}>"


class SurveyResponse(db.Model):
    """One imported questionnaire, answers as in the file (header → value)."""

    __tablename__ = "survey_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(
        sa.ForeignKey("surveys.id", ondelete="CASCADE"), index=True
    )
    row_no: Mapped[str] = mapped_column(sa.String(20), default="")  # 序号
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    duration_s: Mapped[float | None]
    channel: Mapped[str] = mapped_column(sa.String(100), default="")  # 来源 / 来源详情
    ip_hash: Mapped[str] = mapped_column(sa.String(64), default="")  # no raw IP is stored
    answers: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)

    survey: Mapped[Survey] = relationship(back_populates="responses")

    def __repr__(self) -> str:
        return f"<SurveyResponse {self.id} of survey {self.survey_id}>"
