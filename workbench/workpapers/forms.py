"""Working-paper forms: one per action of the page (the field names are the page's)."""

from __future__ import annotations

from flask_wtf.file import FileField
from wtforms import IntegerField, StringField, TextAreaField
from wtforms.validators import Optional

from workbench.forms import BaseForm


class RequestForm(BaseForm):
    """Add a document to the request list (资料清单); the service requires the title."""

    title = StringField()
    codes = StringField()  # indicator codes, separated by commas (ASCII or Chinese)

    def code_list(self) -> list[str]:
        return (self.codes.data or "").replace("，", ",").split(",")


class ReceivedForm(BaseForm):
    """Mark a request item received (``received`` "1") or missing."""

    id = IntegerField(validators=[Optional()])
    received = StringField()


class UploadForm(BaseForm):
    """Upload an evidence file, for an indicator and/or a request item (both optional)."""

    file = FileField()
    indicator_code = StringField()
    request_id = IntegerField(validators=[Optional()])


class PaperForm(BaseForm):
    """The working paper of one indicator."""

    code = StringField()
    checked_object = TextAreaField()
    data_source = TextAreaField()
    problems = TextAreaField()
    scoring_note = TextAreaField()


class ReviewForm(BaseForm):
    """Mark a working paper reviewed (its id)."""

    id = IntegerField(validators=[Optional()])


class ShareForm(BaseForm):
    """Share an evidence file (its id) with the expert panel (``shared`` "1") or stop."""

    id = IntegerField(validators=[Optional()])
    shared = StringField()
