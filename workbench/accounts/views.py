"""Login, logout, password, language; user and organisation administration."""

from __future__ import annotations

from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from workbench.accounts import services
from workbench.accounts.access import require_role
from workbench.accounts.forms import (
    ChangePasswordForm,
    LanguageForm,
    LoginForm,
    OrganisationForm,
    UserForm,
)
from workbench.accounts.models import Organisation, OrganisationKind, Role, User
from workbench.audit.services import record
from workbench.db import db
from workbench.extensions import limiter, login_username_key
from workbench.forms import BaseForm
from workbench.labels import label
from workbench.web import unit_of_work
from workbench.xlsx import send_table

bp = Blueprint("accounts", __name__, template_folder="templates")


def _login_limit() -> str:
    return str(current_app.config["LOGIN_RATE_LIMIT"])


def _login_user_limit() -> str:
    return str(current_app.config["LOGIN_USER_RATE_LIMIT"])


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths are followed after login."""
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("engagements.list")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@limiter.limit(_login_user_limit, methods=["POST"], key_func=login_username_key)
def login():  # type: ignore[no-untyped-def]
    """Log in."""
    if current_user.is_authenticated:
        return redirect(url_for("engagements.list"))
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(db.session, form.username.data, form.password.data)
        if user is None:
            record(
                db.session,
                None,
                "auth.login_failed",
                "user",
                None,
                actor_label=form.username.data[:80],
                ip_address=request.remote_addr,
            )
            db.session.commit()
            flash(_("Wrong user name or password, or the account is disabled."), "danger")
        else:
            session.clear()
            login_user(user)
            session.permanent = True
            record(db.session, user, "auth.login", "user", user.id, ip_address=request.remote_addr)
            db.session.commit()
            return redirect(_safe_next(request.args.get("next")))
    return render_template("accounts/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():  # type: ignore[no-untyped-def]
    """Log out: this session and every other of the user's (a copied cookie stops working)."""
    lang = session.get("lang")
    user = current_user._get_current_object()
    services.end_sessions(
        db.session,
        user,
        user,
        action="auth.logout",
        ip_address=request.remote_addr,
    )
    db.session.commit()
    logout_user()
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("You have been logged out."), "info")
    return redirect(url_for("accounts.login"))


@bp.post("/language")
def set_language():  # type: ignore[no-untyped-def]
    """Switch the interface language (stored in the session and on the user)."""
    form = LanguageForm()
    lang = form.lang.data if form.validate_on_submit() else None
    if lang not in current_app.config["LANGUAGES"]:
        abort(400)
    session["lang"] = lang
    if current_user.is_authenticated:
        current_user.locale = lang
        db.session.commit()
    return redirect(_safe_next(form.next.data))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():  # type: ignore[no-untyped-def]
    """Change one's own password."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if not services.verify_password(current_user, form.current_password.data):
            form.current_password.errors.append(_("The current password is wrong."))
        else:
            with unit_of_work(form.new_password) as work:
                services.change_password(
                    db.session, current_user, current_user, form.new_password.data
                )
            if work.ok:
                login_user(current_user._get_current_object())  # stay logged in here
                flash(_("Your password has been changed."), "success")
                return redirect(url_for("engagements.list"))
    return render_template("accounts/password.html", form=form)


# --- administration ---------------------------------------------------------------------------


def _organisation_choices() -> list[tuple[int, str]]:
    orgs = db.session.scalars(
        sa.select(Organisation).order_by(Organisation.kind, Organisation.name)
    )
    return [(o.id, f"{o.name} · {label(o.kind)}") for o in orgs]


@bp.get("/admin/users")
@require_role(Role.ADMIN)
def users():  # type: ignore[no-untyped-def]
    """List users (admin)."""
    rows = db.session.scalars(sa.select(User).order_by(User.role, User.username)).all()
    if request.args.get("format") == "xlsx":
        return send_table(
            _("Users"),
            [
                _("User name"),
                _("Full name"),
                _("Role"),
                _("Organisation"),
                _("E-mail"),
                _("Enabled"),
                _("Last login"),
            ],
            [
                [
                    u.username,
                    u.display_name,
                    label(u.role),
                    u.organisation.name if u.organisation else "",
                    u.email or "",
                    _("Yes") if u.is_enabled else _("No"),
                    u.last_login_at,
                ]
                for u in rows
            ],
            "users.xlsx",
        )
    return render_template("accounts/users.html", users=rows)


@bp.post("/admin/users/<int:user_id>/end-sessions")
@require_role(Role.ADMIN)
def user_end_sessions(user_id: int):  # type: ignore[no-untyped-def]
    """Log a user out of every session (admin), e.g. after a lost laptop."""
    user = db.get_or_404(User, user_id)
    if not BaseForm().validate_on_submit():
        abort(400)
    services.end_sessions(db.session, current_user, user, ip_address=request.remote_addr)
    db.session.commit()
    flash(_("Every session of %(name)s has ended.", name=user.username), "success")
    return redirect(url_for("accounts.users"))


def _save_user(form: UserForm, user: User | None) -> User | None:
    """Create (``user`` None) or update the user from the form; None when refused."""
    if user is None and not form.password.data:
        form.password.errors.append(_("A password is required for a new user."))
        return None
    with unit_of_work(form) as work:
        saved = _create_user(form) if user is None else _update_user(form, user)
    return saved if work.ok else None


def _create_user(form: UserForm) -> User:
    user = services.create_user(
        db.session,
        current_user,
        username=form.username.data,
        display_name=form.display_name.data,
        password=form.password.data,
        role=Role(form.role.data),
        organisation=db.session.get(Organisation, form.organisation_id.data or 0),
        email=form.email.data,
    )
    if not form.is_enabled.data:
        services.update_user(db.session, current_user, user, is_enabled=False)
    return user


def _update_user(form: UserForm, user: User) -> User:
    services.update_user(
        db.session,
        current_user,
        user,
        display_name=form.display_name.data,
        email=form.email.data or None,
        role=Role(form.role.data),
        organisation=db.session.get(Organisation, form.organisation_id.data or 0),
        is_enabled=form.is_enabled.data,
    )
    if form.password.data:
        services.change_password(db.session, current_user, user, form.password.data)
    return user


@bp.route("/admin/users/new", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def user_new():  # type: ignore[no-untyped-def]
    """Create a user (admin)."""
    form = UserForm(organisations=_organisation_choices(), new=True)
    if form.validate_on_submit() and _save_user(form, None):
        flash(_("User created."), "success")
        return redirect(url_for("accounts.users"))
    return render_template("accounts/user_form.html", form=form, user=None)


@bp.route("/admin/users/<int:user_id>/edit", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def user_edit(user_id: int):  # type: ignore[no-untyped-def]
    """Edit or disable a user (admin)."""
    user = db.get_or_404(User, user_id)
    form = UserForm(obj=user, organisations=_organisation_choices(), new=False)
    form.username.render_kw = {"readonly": True}
    if request.method == "GET":
        form.role.data = user.role.value
        form.organisation_id.data = user.organisation_id or 0
    if request.method == "POST":
        form.username.data = user.username  # user names are immutable
    if form.validate_on_submit() and _save_user(form, user):
        flash(_("User saved."), "success")
        return redirect(url_for("accounts.users"))
    return render_template("accounts/user_form.html", form=form, user=user)


@bp.get("/admin/organisations")
@require_role(Role.ADMIN, Role.EVALUATOR, Role.REVIEWER)
def organisations():  # type: ignore[no-untyped-def]
    """List organisations."""
    rows = db.session.scalars(
        sa.select(Organisation).order_by(Organisation.kind, Organisation.name)
    ).all()
    if request.args.get("format") == "xlsx":
        return send_table(
            _("Organisations"),
            [_("Name"), _("Kind"), _("Region"), _("Contact")],
            [[o.name, label(o.kind), o.region or "", o.contact or ""] for o in rows],
            "organisations.xlsx",
        )
    return render_template("accounts/organisations.html", organisations=rows)


@bp.route("/admin/organisations/new", methods=["GET", "POST"])
@require_role(Role.ADMIN, Role.EVALUATOR)
def organisation_new():  # type: ignore[no-untyped-def]
    """Create an organisation (client or evaluated unit)."""
    form = OrganisationForm()
    if request.method == "GET" and request.args.get("kind") in {k.value for k in OrganisationKind}:
        form.kind.data = request.args["kind"]
    if form.validate_on_submit():
        with unit_of_work(form.name) as work:
            services.create_organisation(
                db.session,
                current_user,
                name=form.name.data,
                kind=OrganisationKind(form.kind.data),
                region=form.region.data,
                contact=form.contact.data,
            )
        if work.ok:
            flash(_("Organisation created."), "success")
            return redirect(
                _safe_next(request.args.get("next") or url_for("accounts.organisations"))
            )
    return render_template("accounts/organisation_form.html", form=form, organisation=None)


@bp.route("/admin/organisations/<int:organisation_id>/edit", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def organisation_edit(organisation_id: int):  # type: ignore[no-untyped-def]
    """Edit an organisation (admin)."""
    org = db.get_or_404(Organisation, organisation_id)
    form = OrganisationForm(obj=org)
    if request.method == "GET":
        form.kind.data = org.kind.value
    if form.validate_on_submit():
        with unit_of_work(form.name) as work:
            services.update_organisation(
                db.session,
                current_user,
                org,
                name=form.name.data,
                kind=OrganisationKind(form.kind.data),
                region=form.region.data,
                contact=form.contact.data,
            )
        if work.ok:
            flash(_("Organisation saved."), "success")
            return redirect(url_for("accounts.organisations"))
    return render_template("accounts/organisation_form.html", form=form, organisation=org)


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    """Home: the engagement list (or the login page)."""
    return redirect(url_for("engagements.list"))
