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
    #: what the leaf takes: rate (满意率) | index (指数 ÷ 100) | stratified (分层加权满意率)
    leaf_measure: Mapped[str] = mapped_column(sa.String(12), default="rate")
    #: only this group's responses feed the leaf (None = all)
    leaf_group: Mapped[str | None] = mapped_column(sa.String(200))
    #: "form" (built here and collected on the public page) or "import" (a file's columns)
    kind: Mapped[str] = mapped_column(sa.String(10), default="import")
    #: questionnaire definition (workbench.core.questionnaire.Question dicts) of a form survey
    questions: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    description: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[str] = mapped_column(sa.String(10), default="draft")  # draft|open|closed
    public_token: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    opens_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closes_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    target_n: Mapped[int | None]  # target number of valid responses
    #: 发放数 when questionnaires were handed out outside the tool (paper, 问卷星)
    distributed: Mapped[int | None]
    require_token: Mapped[bool] = mapped_column(default=False)
    #: column whose answers are the respondent groups (e.g. 所在乡镇), for quotas and strata
    group_column: Mapped[str | None] = mapped_column(sa.String(300))
    #: group → {"population": N, "quota": n}
    group_targets: Mapped[dict[str, dict[str, int]]] = mapped_column(sa.JSON, default=dict)
    #: screening rules (workbench.core.cleaning.Rules.from_dict)
    cleaning: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    #: remembered import mapping: file header → survey column or metadata role
    import_map: Mapped[dict[str, str]] = mapped_column(sa.JSON, default=dict)
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
    source: Mapped[str] = mapped_column(sa.String(10), default="import")  # web | import
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    duration_s: Mapped[float | None]
    channel: Mapped[str] = mapped_column(sa.String(100), default="")  # 来源 / 来源详情
    ip_hash: Mapped[str] = mapped_column(sa.String(64), default="")  # no raw IP is stored
    ua_hash: Mapped[str] = mapped_column(sa.String(64), default="")
    #: hashed random id of the respondent's browser ("" for imports and code-opened answers)
    device_hash: Mapped[str] = mapped_column(sa.String(64), default="")
    token_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("survey_tokens.id", ondelete="SET NULL")
    )
    answers: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    #: the answer to the survey's group column, kept for quota counts (an index, not a JSON
    #: scan); None: not stored (an old row, an odd column name, an answer over 200 characters)
    #: and then read from the answers (workbench.surveys.collect.group_counts)
    group_value: Mapped[str | None] = mapped_column(sa.String(200))
    #: the evaluator's decision overriding the rules: include | exclude | None
    override: Mapped[str | None] = mapped_column(sa.String(10))
    override_note: Mapped[str] = mapped_column(sa.String(300), default="")

    survey: Mapped[Survey] = relationship(back_populates="responses")

    __table_args__ = (
        sa.Index("ix_survey_responses_group", "survey_id", "group_value"),
        # one response per browser, enforced by the database: two simultaneous submissions
        # (a double tap) cannot both be stored
        sa.Index(
            "uq_survey_responses_device",
            "survey_id",
            "device_hash",
            unique=True,
            sqlite_where=sa.text("device_hash != ''"),
            postgresql_where=sa.text("device_hash != ''"),
        ),
    )

    def __repr__(self) -> str:
        return f"<SurveyResponse {self.id} of survey {self.survey_id}>"


class SurveyToken(db.Model):
    """A one-time access code for the public questionnaire (e.g. one per household)."""

    __tablename__ = "survey_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(
        sa.ForeignKey("surveys.id", ondelete="CASCADE"), index=True
    )
    #: the code itself (short, shown on printed sheets; lookups are by survey and code)
    code: Mapped[str] = mapped_column(sa.String(20))
    label: Mapped[str] = mapped_column(sa.String(200), default="")  # e.g. 户主 / 门牌号
    batch: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (sa.UniqueConstraint("survey_id", "code"),)


class ImportJob(db.Model):
    """A survey import running in the background, with its outcome."""

    __tablename__ = "survey_import_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(
        sa.ForeignKey("engagements.id", ondelete="CASCADE"), index=True
    )
    #: the survey the rows go into (None: a new survey is created from the file)
    survey_id: Mapped[int | None] = mapped_column(sa.ForeignKey("surveys.id", ondelete="CASCADE"))
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(sa.String(10))  # wjx | table
    filename: Mapped[str] = mapped_column(sa.String(200))
    stored_as: Mapped[str] = mapped_column(sa.String(100))  # file name under instance/uploads
    #: mapping | queued | running | done | failed
    status: Mapped[str] = mapped_column(sa.String(10), default="queued")
    options: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    rows: Mapped[int | None]
    errors: Mapped[list[list[Any]]] = mapped_column(sa.JSON, default=list)  # [code, params]
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: when the job was queued or claimed by a worker (the start of its lease); while it runs
    #: the worker keeps the lease alive by touching ``instance/jobs/<id>.beat`` (see jobs.py)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
