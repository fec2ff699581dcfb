"""The one registry of messages for domain errors (what a user is told when a service refuses).

Services raise their area's error with a code (``EngagementError("end_before_start")``) or a core
:class:`~workbench.core.scoring.InvalidInput` that renders itself; views never hold their own
dictionaries. Codes are unique across the application: an area prefixes a code when it could be
read two ways.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm.exc import StaleDataError

from workbench.core.errors import InvalidTransition

#: by exception type: errors that mean the same whatever the area
BY_TYPE: dict[type[BaseException], object] = {
    StaleDataError: _l(
        "Someone else changed this after you opened the form. Your changes were not saved; "
        "the current values are shown."
    ),
    InvalidTransition: _l("This status change is not allowed from the current status."),
}

#: by code (``str(exc)``), one section per area; keep each section in its area's order
CODES: dict[str, object] = {}


def register(codes: Mapping[str, object]) -> None:
    """Add an area's codes; a code registered twice with another message is a bug."""
    for code, message in codes.items():
        if code in CODES and str(CODES[code]) != str(message):
            raise ValueError(f"error code {code!r} registered twice")
        CODES[code] = message


# --- accounts ---------------------------------------------------------------------------------

register(
    {
        "username_required": _l("A user name is required."),
        "username_taken": _l("This user name is already taken."),
        "password_too_short": _l("The password must have at least 10 characters."),
        "password_one_kind": _l("The password must not be only digits or only letters."),
        "client_needs_client_org": _l("A client user must belong to a client organisation."),
        "cannot_demote_self": _l("You cannot disable yourself or remove your own admin role."),
        "organisation_taken": _l("An organisation with this name already exists."),
    }
)

# --- engagements ------------------------------------------------------------------------------

register(
    {
        "engagement_stale": _l(
            "Someone else changed this engagement after you opened the form. "
            "Your changes were not saved; the current values are shown below."
        ),
        "end_before_start": _l("The end date is before the start date."),
        "parties_lead_only": _l(
            "Only the engagement lead or an administrator can change the client or the "
            "evaluated units."
        ),
        "parties_after_issue": _l(
            "The client and the evaluated units can no longer be changed: a report has been "
            "sent to the client (draft for comments or issued report)."
        ),
        "reviewer_only": _l(
            "Only the engagement's reviewer or an administrator can decide on a draft under review."
        ),
        "member_not_staff": _l("Only staff of the evaluation firm can join the team."),
        "reviewer_role_needed": _l(
            "Only users with the reviewer role can be the engagement's reviewer."
        ),
        "last_lead": _l("An engagement needs at least one engagement lead."),
        "negative_amount": _l("Amounts must not be negative."),
        # the archive package build (engagements/archiving.py), shown on the overview
        "archive_stale": _l(
            "The engagement changed while its package was built; archive it again."
        ),
    }
)

# --- scoring ----------------------------------------------------------------------------------

# --- experts ----------------------------------------------------------------------------------

# --- surveys ----------------------------------------------------------------------------------

# the public questionnaire's gate (surveys/collect.py): why a visitor cannot answer
register(
    {
        "draft": _l("This questionnaire is not open yet."),
        "not_yet": _l("This questionnaire is not open yet."),
        "closed": _l("This questionnaire is closed. Thank you for your interest."),
        "ended": _l("This questionnaire is closed. Thank you for your interest."),
        "token_required": _l(
            "This questionnaire is answered with a personal code. Scan the QR code you were given."
        ),
        "token_unknown": _l(
            "This code is not valid. Check the link or the QR code you were given."
        ),
        "token_used": _l("This code has already been used to answer. Thank you."),
        "duplicate": _l("You have already answered this questionnaire on this device. Thank you."),
        "quota_full": _l("We have enough answers from your group. Thank you for your interest."),
    }
)

# --- workpapers -------------------------------------------------------------------------------

register(
    {
        "workpaper_no_list": _l("Unknown standard list."),
        "workpaper_title_required": _l("Name the document."),
        "workpaper_empty": _l("The file is empty."),
        "workpaper_too_large": _l("The file is larger than 20 MB."),
        "workpaper_bad_type": _l(
            "%(detail)s is not a PDF, Word, Excel or image file (checked by its content)."
        ),
        "workpaper_type_mismatch": _l("The name %(detail)s does not match the file's content."),
        "workpaper_storage": _l(
            "The file could not be stored (is the disk full?); nothing was saved."
        ),
    }
)

# --- reports ----------------------------------------------------------------------------------


def message_for(exc: BaseException) -> str:
    """The translated message for ``exc``: by type, then by code, then the exception's own
    rendering (core errors carry translatable templates), then its text."""
    for kind in type(exc).__mro__:
        if kind in BY_TYPE:
            return str(BY_TYPE[kind])
    code = str(exc)
    if code in CODES:
        return _interpolate(str(CODES[code]), exc)
    render = getattr(exc, "render", None)
    if callable(render):
        return str(render(_))
    return code


def _interpolate(message: str, exc: BaseException) -> str:
    """Fill a message's ``%(detail)s`` (and any other named field) from the exception: its
    ``params`` mapping, else its ``detail`` (an untranslated specific such as a file name)."""
    if "%(" not in message:
        return message
    params = getattr(exc, "params", None) or {"detail": getattr(exc, "detail", "")}
    try:
        return message % params
    except (KeyError, TypeError, ValueError):
        return message
