"""Sessions end on the server: logout, password change, disabling and an admin's "end sessions"
make every cookie issued before them useless (issue #13, "Logout does not end the session")."""

from __future__ import annotations

import sqlalchemy as sa

from tests.conftest import PASSWORD
from workbench.accounts.models import Role, User
from workbench.audit.models import AuditEntry


def _cookie(client) -> str:  # type: ignore[no-untyped-def]
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def _replay(app, value: str):  # type: ignore[no-untyped-def]
    """A fresh browser carrying a copied session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", value)
    return thief


def test_a_cookie_copied_before_logout_no_longer_opens_pages(
    app, auth, client, make_user, make_engagement, session
) -> None:
    lead = make_user(Role.EVALUATOR)
    engagement = make_engagement(lead=lead)
    auth.login(lead)
    url = f"/engagements/{engagement.id}"
    assert client.get(url).status_code == 200
    copied = _cookie(client)
    assert _replay(app, copied).get(url).status_code == 200  # the copy works while logged in

    assert auth.logout().status_code == 302
    response = _replay(app, copied).get(url)
    assert response.status_code == 302
    assert "/login" in response.location
    actions = session.scalars(sa.select(AuditEntry.action)).all()
    assert "auth.logout" in actions


def test_logout_ends_the_users_other_sessions_too(app, auth, client, make_user) -> None:
    user = make_user(Role.EVALUATOR)
    other = app.test_client()
    other.post("/login", data={"username": user.username, "password": PASSWORD})
    assert other.get("/engagements/").status_code == 200
    auth.login(user)
    auth.logout()
    assert other.get("/engagements/").status_code == 302
    auth.login(user)  # logging in again works
    assert client.get("/engagements/").status_code == 200


def test_admin_ends_a_users_sessions(app, auth, client, make_user, session) -> None:
    admin = make_user(Role.ADMIN)
    user = make_user(Role.EVALUATOR)
    victim = app.test_client()
    victim.post("/login", data={"username": user.username, "password": PASSWORD})
    assert victim.get("/engagements/").status_code == 200
    auth.login(admin)
    assert b"End sessions" in client.get("/admin/users").data
    response = client.post(f"/admin/users/{user.id}/end-sessions")
    assert response.status_code == 302
    assert victim.get("/engagements/").status_code == 302
    assert client.get("/admin/users").status_code == 200  # the admin's own session stays
    entry = session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "user.sessions")).one()
    assert entry.object_id == user.id
    assert entry.user_id == admin.id


def test_end_sessions_is_admin_only_and_needs_csrf(app_with, auth, client, make_user, session):
    user = make_user(Role.EVALUATOR)
    other = make_user(Role.EVALUATOR)
    auth.login(user)
    assert client.post(f"/admin/users/{other.id}/end-sessions").status_code == 404
    version = session.get(User, other.id).session_version

    admin = make_user(Role.ADMIN)
    strict = app_with(WTF_CSRF_ENABLED=True).test_client()
    strict.post("/login", data={"username": admin.username, "password": PASSWORD})
    response = strict.post(f"/admin/users/{other.id}/end-sessions")
    assert response.status_code == 400
    session.expire_all()
    assert session.get(User, other.id).session_version == version


def test_disabling_or_resetting_a_password_ends_sessions(app, auth, client, make_user) -> None:
    admin = make_user(Role.ADMIN)
    user = make_user(Role.EVALUATOR)
    victim = app.test_client()
    victim.post("/login", data={"username": user.username, "password": PASSWORD})
    copied = _cookie(victim)
    auth.login(admin)
    form = {
        "display_name": user.display_name,
        "email": "",
        "role": "evaluator",
        "organisation_id": "0",
        "is_enabled": "y",
        "password": "a-new-password-2026",
    }
    assert client.post(f"/admin/users/{user.id}/edit", data=form).status_code == 302
    assert _replay(app, copied).get("/engagements/").status_code == 302


def test_disabling_a_user_ends_their_sessions(app, auth, client, make_user) -> None:
    admin = make_user(Role.ADMIN)
    user = make_user(Role.EVALUATOR)
    victim = app.test_client()
    victim.post("/login", data={"username": user.username, "password": PASSWORD})
    copied = _cookie(victim)
    auth.login(admin)
    form = {
        "display_name": user.display_name,
        "email": "",
        "role": "evaluator",
        "organisation_id": "0",
        "password": "",
    }  # is_enabled not ticked: disabled
    assert client.post(f"/admin/users/{user.id}/edit", data=form).status_code == 302
    assert _replay(app, copied).get("/engagements/").status_code == 302
