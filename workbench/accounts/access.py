"""The role rule: a view only for some roles (others get 404).

Here rather than in :mod:`workbench.engagements.access` (the engagement rules), which imports the
engagements area: accounts sits below engagements and may not import it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort
from flask_login import current_user, login_required

from workbench.core.kinds import Role

F = TypeVar("F", bound=Callable[..., Any])


def require_role(*roles: Role) -> Callable[[F], F]:
    """Decorator: the logged-in user must have one of ``roles``; others get 404."""

    def decorator(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if current_user.role not in roles:
                abort(404)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator
