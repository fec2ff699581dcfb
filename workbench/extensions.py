"""Flask extension singletons, initialised in :func:`workbench.create_app`."""

from __future__ import annotations

from flask import request
from flask_babel import Babel
from flask_bootstrap import Bootstrap5
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

babel = Babel()
bootstrap = Bootstrap5()
csrf = CSRFProtect()
login_manager = LoginManager()
migrate = Migrate()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def login_username_key() -> str:
    """Rate-limit key for the login form: the submitted user name, case-folded."""
    # Deliberately the raw request.form, not LoginForm: Flask-Limiter calls this key function
    # before the view runs (and before any form validation), and it only reads a key to count
    # attempts by; nothing is stored or changed from it. The login view itself validates the
    # same field through its form class.
    return "login-user:" + (request.form.get("username") or "").strip().casefold()
