"""Engagements (评价项目): basic facts, evaluated units, team, funds and goals."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workbench.accounts.models import Organisation, User
from workbench.core.budget import Denominator
from workbench.core.goals import GoalNature
from workbench.core.kinds import CommissionScope, EvaluationKind, MemberRole
from workbench.core.workflow import EngagementState
from workbench.db import UTCDateTime, db, enum_type, utcnow

#: 万元 with 6 decimals = precision to 0.01 元.
Money = sa.Numeric(18, 6)


engagement_units = sa.Table(
    "engagement_units",
    db.metadata,
    sa.Column(
        "engagement_id", sa.ForeignKey("engagements.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column(
        "organisation_id", sa.ForeignKey("organisations.id", ondelete="RESTRICT"), primary_key=True
    ),
)


class Engagement(db.Model):
    __tablename__ = "engagements"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    client_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="RESTRICT"), index=True
    )
    project_name: Mapped[str] = mapped_column(sa.String(200))  # 被评价项目
    kind: Mapped[EvaluationKind] = mapped_column(enum_type(EvaluationKind))
    scope: Mapped[CommissionScope] = mapped_column(enum_type(CommissionScope))
    fiscal_year: Mapped[int] = mapped_column(index=True)
    planned_start: Mapped[dt.date | None]
    planned_end: Mapped[dt.date | None]
    contract_no: Mapped[str | None] = mapped_column(sa.String(100))
    fee: Mapped[Decimal | None] = mapped_column(sa.Numeric(14, 2))  # 合同金额, 元
    description: Mapped[str | None] = mapped_column(sa.Text)  # 项目概况
    # the report's framing: 评价期间, who provided the data (责任声明), the 评价依据 selected
    # from workbench.core.reporting.BASIS_RULES, further rules (one a line), the 委托通知
    evaluation_period: Mapped[str | None] = mapped_column(sa.String(100))
    data_provider: Mapped[str | None] = mapped_column(sa.String(200))
    basis_rules: Mapped[list[str] | None] = mapped_column(sa.JSON)
    basis_other: Mapped[str | None] = mapped_column(sa.Text)
    commission_notice: Mapped[str | None] = mapped_column(sa.String(300))
    state: Mapped[EngagementState] = mapped_column(
        enum_type(EngagementState), default=EngagementState.SETUP, index=True
    )
    overall_goal: Mapped[str | None] = mapped_column(sa.Text)  # 总体目标
    annual_goal: Mapped[str | None] = mapped_column(sa.Text)  # 年度目标
    funding_denominator: Mapped[Denominator] = mapped_column(
        enum_type(Denominator), default=Denominator.ADJUSTED
    )
    execution_denominator: Mapped[Denominator] = mapped_column(
        enum_type(Denominator), default=Denominator.ADJUSTED
    )
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="RESTRICT")
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    #: Optimistic-locking counter: an edit based on an older version is refused.
    version: Mapped[int] = mapped_column(default=1)
    #: Data revision: bumped (by :func:`workbench.engagements.revision.bump`, a plain UPDATE that
    #: leaves ``version`` alone) by every write that can change the evaluated result; the
    #: result cache is keyed on it.
    data_revision: Mapped[int] = mapped_column(default=0, server_default="0")

    client: Mapped[Organisation] = relationship(foreign_keys=[client_id])
    evaluated_units: Mapped[list[Organisation]] = relationship(
        secondary=engagement_units, order_by=Organisation.name
    )
    members: Mapped[list[EngagementMember]] = relationship(
        back_populates="engagement",
        cascade="all, delete-orphan",
        order_by="EngagementMember.id",
    )
    budget_lines: Mapped[list[BudgetLine]] = relationship(
        back_populates="engagement",
        cascade="all, delete-orphan",
        order_by="(BudgetLine.position, BudgetLine.id)",
    )
    goals: Mapped[list[GoalIndicator]] = relationship(
        back_populates="engagement",
        cascade="all, delete-orphan",
        order_by="(GoalIndicator.position, GoalIndicator.id)",
    )

    __mapper_args__: dict[str, Any] = {"version_id_col": version}  # noqa: RUF012

    def __repr__(self) -> str:
        return f"<Engagement {self.id} {self.title!r} {self.state.value}>"

    def member_role(self, user: User) -> MemberRole | None:
        for m in self.members:
            if m.user_id == user.id:
                return m.role
        return None


class EngagementMember(db.Model):
    __tablename__ = "engagement_members"
    __table_args__ = (sa.UniqueConstraint("engagement_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(
        sa.ForeignKey("engagements.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    role: Mapped[MemberRole] = mapped_column(enum_type(MemberRole, 20))
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    engagement: Mapped[Engagement] = relationship(back_populates="members")
    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<EngagementMember e{self.engagement_id} u{self.user_id} {self.role.value}>"


class BudgetLine(db.Model):
    """One fund source of the engagement's project budget, all amounts in 万元."""

    __tablename__ = "budget_lines"
    __table_args__ = (sa.UniqueConstraint("engagement_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(
        sa.ForeignKey("engagements.id", ondelete="CASCADE"), index=True
    )
    #: 资金来源 as the engagement names it (中央财政资金, 上年结转, 单位自筹, …; issue #15)
    name: Mapped[str] = mapped_column(sa.String(60))
    position: Mapped[int] = mapped_column(default=0)
    initial: Mapped[Decimal | None] = mapped_column(Money)  # 年初预算数
    adjusted: Mapped[Decimal | None] = mapped_column(Money)  # 调整后(全年)预算数
    available: Mapped[Decimal | None] = mapped_column(Money)  # 实际到位资金
    executed: Mapped[Decimal | None] = mapped_column(Money)  # 全年执行数

    engagement: Mapped[Engagement] = relationship(back_populates="budget_lines")

    def __repr__(self) -> str:
        return f"<BudgetLine e{self.engagement_id} {self.name}>"


class GoalIndicator(db.Model):
    """A performance-goal indicator (绩效目标表 row)."""

    __tablename__ = "goal_indicators"

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(
        sa.ForeignKey("engagements.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(default=0)
    level1: Mapped[str] = mapped_column(sa.String(50))  # 一级指标, e.g. 产出指标
    level2: Mapped[str] = mapped_column(sa.String(50), default="")  # 二级, e.g. 数量指标
    name: Mapped[str] = mapped_column(sa.String(200))  # 三级指标
    nature: Mapped[GoalNature] = mapped_column(enum_type(GoalNature, 20))
    target_value: Mapped[str] = mapped_column(sa.String(100))  # 指标值
    unit: Mapped[str] = mapped_column(sa.String(30), default="")
    actual_value: Mapped[str] = mapped_column(sa.String(100), default="")  # 实际完成值
    deviation_reason: Mapped[str] = mapped_column(sa.Text, default="")  # 偏差原因

    engagement: Mapped[Engagement] = relationship(back_populates="goals")

    def __repr__(self) -> str:
        return f"<GoalIndicator {self.id} {self.name!r}>"
