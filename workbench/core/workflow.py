"""The engagement status workflow (评价项目状态流转).

The states follow the official procedure of 财预〔2020〕10号 as practised by evaluation firms:
立项 → 方案设计 → 实施(数据采集) → 专家评分 → 报告撰写 → 复核 → 已出具 → 归档.
Only the transitions in :data:`TRANSITIONS` are allowed: one step forward, plus the few steps
back that real engagements need (a reviewer returns a draft; more data must be collected after
the expert panel). 已出具 can only be archived, and 归档 is final.
"""

from __future__ import annotations

import enum

from workbench.core.errors import InvalidTransition


class EngagementState(enum.StrEnum):
    """Where an engagement stands. Values are stored in the database."""

    SETUP = "setup"  # 立项
    DESIGN = "design"  # 方案设计
    FIELDWORK = "fieldwork"  # 实施(数据采集)
    EXPERT_SCORING = "expert_scoring"  # 专家评分
    DRAFTING = "drafting"  # 报告撰写
    REVIEW = "review"  # 复核
    ISSUED = "issued"  # 已出具
    ARCHIVED = "archived"  # 归档


ORDER: tuple[EngagementState, ...] = tuple(EngagementState)

#: Allowed moves: state -> the states it may move to.
TRANSITIONS: dict[EngagementState, frozenset[EngagementState]] = {
    EngagementState.SETUP: frozenset({EngagementState.DESIGN}),
    EngagementState.DESIGN: frozenset({EngagementState.FIELDWORK, EngagementState.SETUP}),
    EngagementState.FIELDWORK: frozenset({EngagementState.EXPERT_SCORING, EngagementState.DESIGN}),
    EngagementState.EXPERT_SCORING: frozenset(
        {EngagementState.DRAFTING, EngagementState.FIELDWORK}
    ),
    EngagementState.DRAFTING: frozenset({EngagementState.REVIEW, EngagementState.EXPERT_SCORING}),
    EngagementState.REVIEW: frozenset({EngagementState.ISSUED, EngagementState.DRAFTING}),
    EngagementState.ISSUED: frozenset({EngagementState.ARCHIVED}),
    EngagementState.ARCHIVED: frozenset(),
}

#: Moves that only the engagement's reviewer (复核人) or an admin may make: the decision on a
#: draft under review belongs to quality control, not to the team that wrote it.
REVIEW_DECISIONS: frozenset[tuple[EngagementState, EngagementState]] = frozenset(
    {
        (EngagementState.REVIEW, EngagementState.ISSUED),
        (EngagementState.REVIEW, EngagementState.DRAFTING),
    }
)

#: States in which the engagement's data are frozen.
FROZEN_STATES: frozenset[EngagementState] = frozenset({EngagementState.ARCHIVED})


def allowed_transitions(state: EngagementState) -> list[EngagementState]:
    """The states reachable from ``state`` in workflow order (forward moves first).

    >>> [s.value for s in allowed_transitions(EngagementState.REVIEW)]
    ['issued', 'drafting']
    """
    here = ORDER.index(state)
    return sorted(TRANSITIONS[state], key=lambda s: (ORDER.index(s) < here, ORDER.index(s)))


def is_forward(source: EngagementState, target: EngagementState) -> bool:
    """True when ``target`` comes after ``source`` in the workflow."""
    return ORDER.index(target) > ORDER.index(source)


def check_transition(source: EngagementState, target: EngagementState) -> None:
    """Raise :class:`InvalidTransition` unless ``source → target`` is allowed.

    >>> check_transition(EngagementState.SETUP, EngagementState.ISSUED)
    Traceback (most recent call last):
    ...
    workbench.core.errors.InvalidTransition: setup → issued is not an allowed transition
    """
    if target not in TRANSITIONS[source]:
        raise InvalidTransition(f"{source.value} → {target.value} is not an allowed transition")
