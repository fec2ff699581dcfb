"""Account forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional

from workbench.accounts.models import OrganisationKind, Role
from workbench.forms import BaseForm
from workbench.labels import choices, pairs

SHORT_PASSWORD = _l("The password must have at least 10 characters.")


class LoginForm(BaseForm):
    """Log in with user name and password."""

    username = StringField(
        _l("User name"),
        validators=[DataRequired(), Length(max=80)],
        render_kw={"autocomplete": "username", "autofocus": True},
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(), Length(max=200)],
        render_kw={"autocomplete": "current-password"},
    )


class ChangePasswordForm(BaseForm):
    """Change one's own password."""

    current_password = PasswordField(
        _l("Current password"),
        validators=[DataRequired()],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = PasswordField(
        _l("New password"),
        validators=[DataRequired(), Length(min=10, max=200, message=SHORT_PASSWORD)],
        description=_l("At least 10 characters, not only digits or only letters."),
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("Repeat new password"),
        validators=[DataRequired(), EqualTo("new_password", message=_l("Passwords differ."))],
        render_kw={"autocomplete": "new-password"},
    )


class UserForm(BaseForm):
    """Create or edit a user (admin)."""

    username = StringField(_l("User name"), validators=[DataRequired(), Length(max=80)])
    display_name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=100)])
    email = StringField(
        _l("E-mail"), validators=[Optional(), Email(check_deliverability=False), Length(max=200)]
    )
    role = SelectField(_l("Role"), choices=[])
    organisation_id = SelectField(_l("Organisation"), coerce=int, choices=[])
    is_enabled = BooleanField(_l("Enabled"), default=True)
    password = PasswordField(
        _l("Password"),
        validators=[Optional(), Length(min=10, max=200, message=SHORT_PASSWORD)],
        render_kw={"autocomplete": "new-password"},
    )

    def __init__(
        self, *args: object, organisations: list[tuple[int, str]], new: bool, **kwargs: object
    ):
        super().__init__(*args, **kwargs)
        self.role.choices = choices(Role)
        self.organisation_id.choices = pairs([(0, "—"), *organisations])
        self.password.description = (
            _l("At least 10 characters, not only digits or only letters.")
            if new
            else _l("Leave empty to keep the current password.")
        )
        if new and not self.role.data:
            self.role.data = Role.EVALUATOR.value  # never an admin by accident


class OrganisationForm(BaseForm):
    """Create or edit an organisation."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    kind = SelectField(_l("Kind"), choices=[])
    region = StringField(_l("Region"), validators=[Optional(), Length(max=100)])
    contact = StringField(_l("Contact"), validators=[Optional(), Length(max=200)])

    def __init__(self, *args: object, **kwargs: object):
        super().__init__(*args, **kwargs)
        self.kind.choices = choices(OrganisationKind)


class LanguageForm(BaseForm):
    """Switch the interface language; ``next`` is the page to go back to."""

    lang = StringField(validators=[DataRequired()])
    next = StringField()
