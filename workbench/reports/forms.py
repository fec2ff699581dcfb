"""Report forms: one per action of the report pages (the field names are the pages')."""

from __future__ import annotations

from flask_wtf.file import FileField
from wtforms import DateField, IntegerField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import Optional

from workbench.forms import BaseForm


class BuildForm(BaseForm):
    """Build a draft with one of the offered templates (its key)."""

    template = StringField()


class SignForm(BaseForm):
    """A review level signs off (``decision`` "approve") or rejects, with a comment."""

    decision = StringField()
    comment = TextAreaField()


class CommentForm(BaseForm):
    """A comment received on the 征求意见稿, recorded by the team."""

    party = StringField()
    author = StringField()
    text = TextAreaField()


class ClientCommentForm(BaseForm):
    """The commissioning bureau's own comment on the 征求意见稿."""

    text = TextAreaField()


class RespondForm(BaseForm):
    """How the report answers a comment."""

    response = TextAreaField()


class IssueForm(BaseForm):
    """Issue the 正式稿 under a report number."""

    report_no = StringField()


class ItemForm(BaseForm):
    """A finding or recommendation named by its id (delete buttons)."""

    id = IntegerField(validators=[Optional()])


class FindingForm(ItemForm):
    """A finding (experience, problem or other matter); ``id`` only when it is updated."""

    kind = StringField()
    title = StringField()
    text = TextAreaField()
    cause = TextAreaField()
    codes = StringField()  # indicator codes, separated by commas (ASCII or Chinese)
    evidence = StringField()

    def code_list(self) -> list[str]:
        return (self.codes.data or "").replace("，", ",").split(",")


class RecommendationForm(ItemForm):
    """A recommendation and the problems it answers (their ids, ticked)."""

    text = TextAreaField()
    problems = SelectMultipleField(choices=[], validate_choice=False)

    def problem_ids(self) -> list[int]:
        return [int(x) for x in self.problems.data or () if str(x).isdigit()]


class RectificationForm(BaseForm):
    """The follow-up of one rectification item; ``deadline`` is an ISO date or empty."""

    id = IntegerField(validators=[Optional()])
    owner = StringField()
    deadline = StringField()
    status = StringField()
    note = TextAreaField()


class AttachForm(BaseForm):
    """A file showing how a rectification item was dealt with."""

    id = IntegerField(validators=[Optional()])
    file = FileField()


class TemplateForm(BaseForm):
    """Upload a Word template, for the engagement or (admins) the whole firm."""

    file = FileField()
    name = StringField()
    scope = StringField(default="engagement")


class PhaseForm(ItemForm):
    """A recorded phase of the work (工作过程); ``id`` only when it is updated."""

    kind = StringField()
    start = DateField(validators=[Optional()])
    end = DateField(validators=[Optional()])
    place = StringField()
    participants = StringField()
    text = TextAreaField()
