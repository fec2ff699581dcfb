"""The stored enumerations of accounts and engagements (like :mod:`workbench.core.workflow`).

Plain values with no Flask or database: the models store them, and the shared modules below
the areas (display labels, permission rules) can name them without importing an area.
"""

from __future__ import annotations

import enum


class OrganisationKind(enum.StrEnum):
    """What an organisation is to the firm."""

    FIRM = "firm"  # 评价机构 (the evaluation firm running the workbench)
    CLIENT = "client"  # 委托方 (usually a 财政局)
    EVALUATED = "evaluated"  # 被评价单位


class Role(enum.StrEnum):
    """A user's role in the workbench. Experts and respondents are not users."""

    ADMIN = "admin"
    EVALUATOR = "evaluator"
    REVIEWER = "reviewer"  # 质控复核
    CLIENT = "client"  # staff of a client organisation


STAFF_ROLES = frozenset({Role.ADMIN, Role.EVALUATOR, Role.REVIEWER})


class EvaluationKind(enum.StrEnum):
    """评价类型."""

    PROJECT = "project"  # 项目支出绩效评价
    DEPARTMENT = "department"  # 部门整体支出绩效评价
    POLICY = "policy"  # 政策绩效评价


class CommissionScope(enum.StrEnum):
    """The four kinds of work a finance bureau may commission (财预〔2021〕6号)."""

    EX_ANTE = "ex_ante"  # 事前绩效评估及目标审核
    EVALUATION = "evaluation"  # 绩效评价或结果复核
    INDICATORS = "indicators"  # 指标和标准体系制定
    RESEARCH = "research"  # 课题研究


class MemberRole(enum.StrEnum):
    """A user's role inside one engagement."""

    LEAD = "lead"  # 项目负责人
    MEMBER = "member"  # 成员
    REVIEWER = "reviewer"  # 复核人
