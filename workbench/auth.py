"""Deprecated: the engagement permission rules are :mod:`workbench.engagements.access`.

Kept only so that branches written before the move still import; remove it once they are
merged (issue #14). New code imports ``workbench.engagements.access``.
"""

from workbench.engagements.access import (
    MAX_ID,
    can_edit_engagement,
    can_manage_engagement,
    can_review_engagement,
    can_see_internal,
    can_view_engagement,
    get_engagement_or_404,
    owned_or_404,
    visible_engagements_filter,
)

__all__ = [
    "MAX_ID",
    "can_edit_engagement",
    "can_manage_engagement",
    "can_review_engagement",
    "can_see_internal",
    "can_view_engagement",
    "get_engagement_or_404",
    "owned_or_404",
    "visible_engagements_filter",
]
