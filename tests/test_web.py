"""The views' one way to change data (workbench.web.unit_of_work) and the one registry of
domain-error messages (workbench.error_messages)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask, get_flashed_messages
from sqlalchemy.orm.exc import StaleDataError
from wtforms import StringField

from workbench.accounts.models import Organisation, OrganisationKind
from workbench.accounts.services import AccountError
from workbench.core.errors import InvalidTransition
from workbench.core.scoring import InvalidInput
from workbench.db import db
from workbench.engagements.services import EngagementError, StaleEdit
from workbench.error_messages import CODES, message_for, register
from workbench.forms import BaseForm
from workbench.web import unit_of_work
from workbench.workpapers.services import WorkpaperError


class _Form(BaseForm):
    name = StringField()


TAKEN = "An organisation with this name already exists."


def _add(name: str) -> None:
    db.session.add(Organisation(name=name, kind=OrganisationKind.CLIENT))
    db.session.flush()


def _add_then_fail(name: str) -> None:
    _add(name)
    raise RuntimeError("a bug")


def _names() -> set[str]:
    """The organisations as stored (a fresh transaction: nothing pending is seen)."""
    db.session.rollback()
    return set(db.session.scalars(sa.select(Organisation.name)))


def test_success_is_committed(app: Flask) -> None:
    with app.test_request_context(), unit_of_work() as work:
        _add("委托方甲")
    assert work.ok and work.error is None and work.message == ""
    assert "委托方甲" in _names()


def test_a_domain_error_is_rolled_back_and_flashed(app: Flask) -> None:
    with app.test_request_context():
        with unit_of_work(category="warning") as work:
            _add("委托方乙")
            raise AccountError("organisation_taken")
        assert get_flashed_messages(with_categories=True) == [("warning", TAKEN)]
    assert not work.ok and isinstance(work.error, AccountError) and work.message == TAKEN
    assert "委托方乙" not in _names()


def test_a_domain_error_goes_to_the_form_or_the_field(app: Flask) -> None:
    with app.test_request_context(method="POST", data={"name": "x"}):
        form = _Form(meta={"csrf": False})
        assert form.validate()
        with unit_of_work(form) as work:
            raise EngagementError("end_before_start")
        assert form.form_errors == ["The end date is before the start date."]
        with unit_of_work(form.name) as work:  # a validated field: the message shows under it
            raise StaleEdit()
        assert work.message.startswith("Someone else changed this engagement")
        assert form.name.errors == [work.message]
        assert get_flashed_messages() == []  # shown with the form, not flashed


def test_an_unknown_exception_propagates_and_nothing_is_kept(app: Flask) -> None:
    with app.test_request_context():
        with pytest.raises(RuntimeError), unit_of_work():
            _add_then_fail("委托方丙")
        assert get_flashed_messages() == []
    assert "委托方丙" not in _names()


def test_without_commit_the_block_is_only_checked(app: Flask) -> None:
    with app.test_request_context(), unit_of_work(commit=False) as work:
        _add("委托方丁")
    assert work.ok
    assert "委托方丁" not in _names()


@pytest.mark.parametrize(
    ("exc", "message"),
    [
        (StaleDataError("x"), "Someone else changed this after you opened the form."),
        (InvalidTransition("draft->issued"), "This status change is not allowed"),
        (AccountError("username_taken"), "This user name is already taken."),
        (
            WorkpaperError("workpaper_bad_type", "病毒.exe"),
            "病毒.exe is not a PDF, Word, Excel or image file",
        ),
        (InvalidInput("Score {score} is above {top}.", score=12, top=10), "Score 12 is above 10."),
        (EngagementError("not_a_registered_code"), "not_a_registered_code"),
    ],
)
def test_message_for(app: Flask, exc: BaseException, message: str) -> None:
    with app.test_request_context():
        assert message_for(exc).startswith(message)


def test_messages_are_translated(app: Flask) -> None:
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        from flask import session

        session["lang"] = "zh_Hans_CN"
        text = message_for(WorkpaperError("workpaper_type_mismatch", "合同.docx"))
    assert "合同.docx" in text and "does not match" not in text


def test_a_code_registered_twice_with_another_message_is_refused() -> None:
    register({"end_before_start": CODES["end_before_start"]})  # the same again: fine
    with pytest.raises(ValueError, match="end_before_start"):
        register({"end_before_start": "another message"})


def test_the_moved_codes_are_registered(app: Flask) -> None:
    codes: list[Any] = [
        *(f"workpaper_{c}" for c in ("no_list", "title_required", "empty", "too_large")),
        "engagement_stale",
        "archive_stale",
        "last_lead",
        "cannot_demote_self",
        "token_used",
        "quota_full",
    ]
    with app.test_request_context():
        assert all(message_for(ValueError(code)) != code for code in codes)
