"""The one registry of messages for domain errors (what a user is told when a service refuses).

Services raise their area's error with a code (``EngagementError("stale")``) or a core
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

# --- accounts ---------------------------------------------------------------------------------

# --- engagements ------------------------------------------------------------------------------

# --- scoring ----------------------------------------------------------------------------------

# --- experts ----------------------------------------------------------------------------------

# --- surveys ----------------------------------------------------------------------------------

# --- workpapers -------------------------------------------------------------------------------

# --- reports ----------------------------------------------------------------------------------


def register(codes: Mapping[str, object]) -> None:
    """Add an area's codes; a code registered twice with another message is a bug."""
    for code, message in codes.items():
        if code in CODES and str(CODES[code]) != str(message):
            raise ValueError(f"error code {code!r} registered twice")
        CODES[code] = message


def message_for(exc: BaseException) -> str:
    """The translated message for ``exc``: by type, then by code, then the exception's own
    rendering (core errors carry translatable templates), then its text."""
    for kind in type(exc).__mro__:
        if kind in BY_TYPE:
            return str(BY_TYPE[kind])
    code = str(exc)
    if code in CODES:
        return str(CODES[code])
    render = getattr(exc, "render", None)
    if callable(render):
        return str(render(_))
    return code
