"""Accounts: organisations, users, roles, login."""

from __future__ import annotations

from flask import Flask
from flask_babel import lazy_gettext as _l

from workbench.db import db
from workbench.extensions import login_manager


def init_app(app: Flask) -> None:
    # Imported here, not at the top: the app factory registers the blueprint; importing the
    # package (for its models, from a service or the CLI) must not load its views.
    from workbench.accounts.models import User
    from workbench.accounts.views import bp

    login_manager.login_view = "accounts.login"
    login_manager.login_message = _l("Please log in to see this page.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(token: str) -> User | None:
        try:
            user_id, version = (int(p) for p in token.split(":", 1))
        except ValueError:
            return None
        user = db.session.get(User, user_id)
        if user is None or user.session_version != version or not user.is_enabled:
            return None
        return user

    app.register_blueprint(bp)
