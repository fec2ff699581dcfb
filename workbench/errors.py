"""Error pages: friendly, translated, never a stack trace."""

from __future__ import annotations

from flask import Flask, has_request_context, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, SecurityError

from workbench.db import db

MESSAGES = {
    400: _l("The request could not be understood."),
    403: _l("You are not allowed to do this."),
    404: _l("This page does not exist, or you do not have access to it."),
    405: _l("This action is not allowed here."),
    409: _l("Someone else changed this in the meantime."),
    413: _l("The uploaded file is too large."),
    429: _l("Too many attempts. Please wait a minute and try again."),
    500: _l("Something went wrong on our side. The error has been logged."),
}


#: paths of the people who come through a link, not a login: respondents and experts
PUBLIC_PREFIXES = ("/s/", "/x/")


def _render(code: int, message: str | None = None) -> tuple[str, int]:
    public = has_request_context() and request.path.startswith(PUBLIC_PREFIXES)
    return render_template(
        "errors/public.html" if public else "errors/error.html",
        code=code,
        message=message or str(MESSAGES.get(code, MESSAGES[400])),
    ), code


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError) -> tuple[str, int]:
        return _render(
            400,
            _(
                "The form expired or was sent without its security token. "
                "Reload the page and try again."
            ),
        )

    @app.errorhandler(SecurityError)
    def _untrusted_host(error: SecurityError) -> tuple[str, int, dict[str, str]]:
        # a Host header outside TRUSTED_HOSTS: no URL can be built for it, so no page either
        return (
            "400 Bad Request: this server does not answer to that host name.\n",
            400,
            {"Content-Type": "text/plain; charset=utf-8"},
        )

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> tuple[str, int] | HTTPException:
        if error.code is None or error.code < 400:
            return error
        custom = error.description if error.description != type(error).description else None
        if error.code == 429:  # Flask-Limiter describes the limit ("5 per 1 minute"): not for users
            custom = None
        return _render(error.code, custom)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> tuple[str, int]:
        db.session.rollback()
        app.logger.exception("unhandled error")
        return _render(500)
