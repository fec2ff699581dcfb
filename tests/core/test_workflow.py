import itertools

import pytest

from workbench.core.errors import InvalidTransition
from workbench.core.workflow import (
    TRANSITIONS,
    EngagementState,
    allowed_transitions,
    check_transition,
)

S = EngagementState
HAPPY_PATH = [
    S.SETUP,
    S.DESIGN,
    S.FIELDWORK,
    S.EXPERT_SCORING,
    S.DRAFTING,
    S.REVIEW,
    S.ISSUED,
    S.ARCHIVED,
]


def test_the_official_sequence_is_walkable_step_by_step() -> None:
    for source, target in itertools.pairwise(HAPPY_PATH):
        check_transition(source, target)


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (S.SETUP, S.ISSUED),
        (S.FIELDWORK, S.REVIEW),
        (S.ISSUED, S.DRAFTING),
        (S.ARCHIVED, S.ISSUED),
        (S.SETUP, S.SETUP),
        (S.DRAFTING, S.ISSUED),
    ],
)
def test_skipping_or_reopening_is_refused(source: S, target: S) -> None:
    with pytest.raises(InvalidTransition, match="not an allowed transition"):
        check_transition(source, target)


def test_archived_is_final_and_every_state_is_covered() -> None:
    assert set(TRANSITIONS) == set(S)
    assert allowed_transitions(S.ARCHIVED) == []


def test_forward_moves_are_listed_first() -> None:
    assert allowed_transitions(S.REVIEW) == [S.ISSUED, S.DRAFTING]
