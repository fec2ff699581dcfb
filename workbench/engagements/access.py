"""The engagement permission rules, used by the views of every area (the role-only rule,
``require_role``, is :mod:`workbench.accounts.access`).

Rules (issue #2):

* admins see and manage everything;
* evaluators and reviewers see an engagement only when they are on its team;
* client users see, read-only, only the engagements commissioned by their own organisation;
* anything an actor may not see answers 404, so its existence is not revealed.
"""

from __future__ import annotations

from typing import TypeVar

import sqlalchemy as sa
from flask import abort
from flask_babel import gettext as _
from flask_login import current_user

from workbench.accounts.models import Role, User
from workbench.core.workflow import FROZEN_STATES
from workbench.db import db
from workbench.engagements.models import Engagement, EngagementMember, MemberRole
from workbench.extensions import login_manager

#: Largest primary key (INTEGER on PostgreSQL): a larger posted id cannot exist, and the
#: database driver would fail on it (a 500) instead of finding nothing.
MAX_ID = 2**31 - 1


def visible_engagements_filter(user: User) -> sa.ColumnElement[bool]:
    """A WHERE clause selecting the engagements ``user`` may see."""
    if user.role is Role.ADMIN:
        return sa.true()
    if user.role is Role.CLIENT:
        return Engagement.client_id == (user.organisation_id or -1)
    return Engagement.id.in_(
        sa.select(EngagementMember.engagement_id).where(EngagementMember.user_id == user.id)
    )


def can_view_engagement(user: User, engagement: Engagement) -> bool:
    if user.role is Role.ADMIN:
        return True
    if user.role is Role.CLIENT:
        return user.organisation_id is not None and engagement.client_id == user.organisation_id
    return engagement.member_role(user) is not None


def can_edit_engagement(user: User, engagement: Engagement) -> bool:
    """Team members (and admins) edit; nobody edits a frozen (archived) engagement."""
    if engagement.state in FROZEN_STATES:
        return False
    if user.role is Role.ADMIN:
        return True
    return user.role is not Role.CLIENT and engagement.member_role(user) is not None


def can_manage_engagement(user: User, engagement: Engagement) -> bool:
    """The lead (and admins) manage the team and move the workflow."""
    if user.role is Role.ADMIN:
        return True
    return user.role is not Role.CLIENT and engagement.member_role(user) is MemberRole.LEAD


def can_review_engagement(user: User, engagement: Engagement) -> bool:
    """The engagement's 复核人 (and admins) decide on a draft under review."""
    if user.role is Role.ADMIN:
        return True
    return user.role is not Role.CLIENT and engagement.member_role(user) is MemberRole.REVIEWER


def can_see_internal(user: User, engagement: Engagement) -> bool:
    """Team, audit log and other internal records: staff on the team only, never clients."""
    return user.role is not Role.CLIENT and can_view_engagement(user, engagement)


def get_engagement_or_404(engagement_id: int, *, need: str = "view") -> Engagement:
    """Load an engagement and check ``need`` (view/internal/edit/internal_edit/manage).

    Not visible → 404. Visible but not allowed (e.g. a client asking to edit, or editing an
    archived engagement) → 403. Not logged in → the login page (some areas have no
    ``login_required`` of their own).
    """
    if not current_user.is_authenticated:
        abort(login_manager.unauthorized())
    engagement = db.session.get(Engagement, engagement_id)
    if engagement is None or not can_view_engagement(current_user, engagement):
        abort(404)
    if need == "manage" and current_user.role is Role.CLIENT:
        abort(404)  # team management is internal: clients do not learn of it
    if need == "internal_edit":  # internal pages: unknown to clients (404), then editable?
        if not can_see_internal(current_user, engagement):
            abort(404)
        need = "edit"
    check = {
        "view": lambda: True,
        "internal": lambda: can_see_internal(current_user, engagement),
        "edit": lambda: can_edit_engagement(current_user, engagement),
        "manage": lambda: (
            can_manage_engagement(current_user, engagement)
            and can_edit_engagement(current_user, engagement)
        ),
    }[need]
    if not check():
        if current_user.role is Role.CLIENT and need == "internal":
            abort(404)
        if engagement.state in FROZEN_STATES and current_user.role is not Role.CLIENT:
            abort(403, description=_("This engagement is archived and can no longer be changed."))
        abort(403)
    return engagement


M = TypeVar("M")


def owned_or_404(model: type[M], item_id: int | None, engagement: Engagement) -> M:
    """A row of ``model`` (anything with an ``engagement_id``) that belongs to ``engagement``;
    404 otherwise, so ids of other engagements reveal nothing."""
    if item_id is None or not 0 < item_id <= MAX_ID:  # a huge id overflows the driver
        abort(404)
    item = db.session.get(model, item_id)
    if item is None or item.engagement_id != engagement.id:  # type: ignore[attr-defined]
        abort(404)
    return item
