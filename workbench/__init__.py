"""Evaluation Workbench (评价工作台): the Flask application factory."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, request, session
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix

from workbench.config import DEFAULT_INSTANCE, PROJECT_ROOT, check_production_config, load_config
from workbench.db import configure_sqlite, db
from workbench.extensions import babel, bootstrap, csrf, limiter, login_manager, migrate
from workbench.logmask import install_werkzeug_filter

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def select_locale() -> str:
    """The language picked in the session, else the user's, else the configured default."""
    from flask import current_app

    languages = current_app.config["LANGUAGES"]
    chosen = session.get("lang")
    if chosen in languages:
        return str(chosen)
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return str(current_user.locale)
    return str(current_app.config["BABEL_DEFAULT_LOCALE"])


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application.

    ``config`` overrides the environment-derived settings (tests pass their database URL and
    cheap password-hashing parameters here).
    """
    instance_path = Path(
        (config or {}).get("INSTANCE_PATH") or DEFAULT_INSTANCE  # type: ignore[arg-type]
    )
    app = Flask(__name__, instance_path=str(instance_path), instance_relative_config=True)
    app.config.update(load_config(instance_path))
    if config:
        app.config.update(config)
    check_production_config(app.config)
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies:  # the client's address and scheme as the proxy saw them (rate limits, hashes)
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]
    install_werkzeug_filter()  # `flask run`: no link tokens in the request log

    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            configure_sqlite(db.engine, app.config["SQLITE_BUSY_TIMEOUT_MS"])
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    bootstrap.init_app(app)
    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(Path(__file__).parent / "translations"),
    )
    login_manager.init_app(app)

    # Imported here, not at the top: the app factory is the one place that knows every area
    # (composition root), and `import workbench` alone (e.g. by `workbench.core` users) stays
    # light.
    from workbench import accounts, archiving, audit, cli, errors, evaluation, serving, templating
    from workbench.engagements import hub
    from workbench.engagements.views import bp as engagements_bp
    from workbench.experts import services as experts_services
    from workbench.experts.views import bp as experts_bp
    from workbench.portfolio.views import bp as portfolio_bp
    from workbench.reports import services as reports_services
    from workbench.reports.views import bp as reports_bp
    from workbench.scoring import services as scoring_services
    from workbench.scoring.views import bp as scoring_bp
    from workbench.scoring.views import library as templates_library_bp
    from workbench.surveys.public import bp as public_survey_bp
    from workbench.surveys.views import bp as surveys_bp
    from workbench.workpapers import services as workpapers_services
    from workbench.workpapers.views import bp as workpapers_bp

    accounts.init_app(app)
    # engagements may not import the areas above it: hand their facts to its pages
    hub.provide(
        app,
        recused=experts_services.recused,
        report_versions=reports_services.versions_in,
        pdf_converter=reports_services.soffice,
        start_archiving=archiving.start,
        archive_status=archiving.status,
        archive_path=archiving.package_path,
        archive_facts=archiving.package_facts,
        declared_denominators=scoring_services.declared_denominators,
        result_of=evaluation.result_of,
        panel_documents=workpapers_services.shared_documents,
        panel_document=lambda db_session, engagement, evidence_id: (
            workpapers_services.shared_download(
                db_session, engagement, evidence_id, Path(app.instance_path) / "evidence"
            )
        ),
    )
    app.jinja_env.globals["comment_max"] = reports_services.COMMENT_MAX
    app.register_blueprint(engagements_bp)
    app.register_blueprint(scoring_bp)
    app.register_blueprint(templates_library_bp)
    app.register_blueprint(experts_bp)
    app.register_blueprint(surveys_bp)
    app.register_blueprint(public_survey_bp)
    app.register_blueprint(reports_bp)
    app.register_blueprint(portfolio_bp)
    app.register_blueprint(workpapers_bp)
    audit.init_app(app)
    errors.init_app(app)
    cli.init_app(app)
    templating.init_app(app)
    serving.init_app(app)

    @app.after_request
    def _security_headers(response):  # type: ignore[no-untyped-def]
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.endpoint and not request.endpoint.endswith("static"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    return app
