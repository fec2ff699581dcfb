"""The one way a view changes data: run the service, commit or roll back, say what happened.

A view calls its service inside :func:`unit_of_work`; on success the transaction is committed,
on a domain error it is rolled back and the error's message (from :mod:`workbench.error_messages`)
is flashed or added to the form. The view then decides where to go::

    with unit_of_work(form) as work:
        services.add_member(db.session, current_user, engagement, user, role)
    if work.ok:
        flash(_("Team updated."), "success")
        return redirect(...)

Only the exception types listed in ``HANDLED`` (the services' and the core's "bad input" errors)
become messages; anything else (an ``abort()`` too) rolls the block back and propagates: a bug
is logged as a 500, as it should. A ``return`` inside the block commits first.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from flask import flash
from sqlalchemy.orm.exc import StaleDataError

from workbench.db import db
from workbench.error_messages import message_for

#: exceptions a user can cause by what they typed or uploaded (ValueError covers every
#: service's ``…Error`` and the core's ``DomainError``); StaleDataError is a concurrent edit
HANDLED: tuple[type[BaseException], ...] = (ValueError, StaleDataError)


@dataclass
class Work:
    """What happened inside a :func:`unit_of_work` block."""

    ok: bool = True
    error: BaseException | None = None
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@contextmanager
def unit_of_work(
    form: Any = None, *, category: str = "danger", commit: bool = True
) -> Iterator[Work]:
    """Commit what the block did, or roll it back and report the error.

    ``form``: a WTForms form whose ``form_errors`` receives the message (shown above the form),
    or one of its fields (after validation) whose ``errors`` receives it; without one the message
    is flashed with ``category``.
    """
    work = Work()
    try:
        yield work
        if commit:
            db.session.commit()
    except HANDLED as exc:
        db.session.rollback()
        work.ok, work.error, work.message = False, exc, message_for(exc)
        if form is not None and hasattr(form, "form_errors"):
            form.form_errors.append(work.message)
        elif form is not None and isinstance(getattr(form, "errors", None), list):
            form.errors.append(work.message)  # a field: the message shows under it
        else:
            flash(work.message, category)
    except BaseException:
        # not the user's doing (or an abort()): nothing of the block is kept, and it propagates
        db.session.rollback()
        raise
