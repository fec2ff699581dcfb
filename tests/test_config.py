import pytest
import sqlalchemy as sa

from workbench import create_app
from workbench.config import ConfigError, instance_secret_key
from workbench.db import db


def test_secret_key_is_generated_once_into_the_instance_folder(tmp_path):
    first = instance_secret_key(tmp_path)
    assert len(first) == 64
    assert instance_secret_key(tmp_path) == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("key", [None, "dev", "changeme", "short-but-random"])
def test_production_refuses_a_missing_default_or_short_key(tmp_path, monkeypatch, key):
    monkeypatch.setenv("WORKBENCH_ENV", "production")
    if key is None:
        monkeypatch.delenv("SECRET_KEY", raising=False)
    else:
        monkeypatch.setenv("SECRET_KEY", key)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app({"INSTANCE_PATH": str(tmp_path)})


def test_production_starts_with_a_real_key_and_secure_cookies(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 16 + "9f8e7d6c5b4a39281706f5e4d3c2b1a0")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'p.db'}")
    monkeypatch.setenv("WORKBENCH_BASE_URL", "https://pj.example.gov.cn/")
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["WORKBENCH_BASE_URL"] == "https://pj.example.gov.cn"
    assert app.config["TRUSTED_HOSTS"] == ["pj.example.gov.cn"]
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert not (tmp_path / "secret_key").exists()
    with app.app_context():
        db.engine.dispose()


def test_environment_sets_database_upload_limit_and_language(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    monkeypatch.setenv("WORKBENCH_MAX_UPLOAD_MB", "2")
    monkeypatch.setenv("WORKBENCH_LANGUAGE", "en")
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("env.db")
    assert app.config["MAX_CONTENT_LENGTH"] == 2 * 1024 * 1024
    assert app.config["BABEL_DEFAULT_LOCALE"] == "en"
    with app.app_context():
        db.engine.dispose()


def test_default_database_is_the_instance_sqlite_file(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'workbench.db'}"
    with app.app_context():
        db.engine.dispose()


def test_sqlite_connections_use_wal_foreign_keys_and_busy_timeout(app):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite pragmas")
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(sa.text("PRAGMA busy_timeout")).scalar() == 5000


def test_security_headers_and_cookie_flags(client, auth, make_user):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    login = auth.login(make_user())
    cookie = login.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_oversized_upload_gets_a_413_page(app_with, make_user):
    app = app_with(MAX_CONTENT_LENGTH=1024)
    client = app.test_client()
    response = client.post("/login", data={"username": "x" * 5000, "password": "y"})
    assert response.status_code == 413
    assert b"too large" in response.data


def test_csrf_is_enforced_on_state_changing_posts(app_with, make_user, make_engagement):
    user = make_user()
    engagement = make_engagement(lead=user)
    app = app_with(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    # login itself needs the token
    response = client.post(
        "/login", data={"username": user.username, "password": "correct-horse-42"}
    )
    assert response.status_code == 400
    assert b"security token" in response.data
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    response = client.post(
        "/login",
        data={"username": user.username, "password": "correct-horse-42", "csrf_token": token},
    )
    assert response.status_code == 302
    for path, data in [
        (f"/engagements/{engagement.id}/edit", {"title": "x"}),
        (f"/engagements/{engagement.id}/transition", {"target": "design"}),
        (f"/engagements/{engagement.id}/budget", {}),
        ("/logout", {}),
        ("/language", {"lang": "en"}),
    ]:
        assert client.post(path, data=data).status_code == 400, path


def test_the_report_qa_loss_threshold_is_a_positive_number_or_the_app_does_not_start():
    from decimal import Decimal

    from workbench.config import ConfigError, loss_threshold

    assert loss_threshold(None) == Decimal("0.5") and loss_threshold("1.25") == Decimal("1.25")
    for bad in ("0", "-1", "abc", "NaN", "Infinity", "1e9"):
        with pytest.raises(ConfigError, match="WORKBENCH_REPORT_QA_LOSS_THRESHOLD"):
            loss_threshold(bad)
