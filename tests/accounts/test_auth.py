import sqlalchemy as sa

from workbench.accounts.models import Role, User
from workbench.audit.models import AuditEntry


def test_login_with_right_password_lands_on_engagements(client, auth, make_user) -> None:
    user = make_user(Role.EVALUATOR)
    response = auth.login(user)
    assert response.status_code == 302
    assert response.location.endswith("/engagements/")
    assert client.get("/engagements/").status_code == 200


def test_wrong_password_is_refused_and_audited(client, auth, make_user, session) -> None:
    user = make_user(Role.EVALUATOR)
    response = auth.login(user, "wrong-password-1")
    assert response.status_code == 200
    assert b"Wrong user name or password" in response.data
    assert client.get("/engagements/").status_code == 302  # still anonymous
    actions = session.scalars(sa.select(AuditEntry.action)).all()
    assert "auth.login_failed" in actions


def test_disabled_user_cannot_log_in(auth, make_user, session) -> None:
    user = make_user(Role.EVALUATOR)
    user.is_enabled = False
    session.commit()
    response = auth.login(user)
    assert b"Wrong user name or password" in response.data


def test_passwords_are_stored_as_argon2id(make_user) -> None:
    user = make_user(Role.EVALUATOR)
    assert user.password_hash.startswith("$argon2id$")


def test_login_is_rate_limited_per_user_name(app_with, make_user) -> None:
    user = make_user(Role.EVALUATOR)
    limited = app_with(RATELIMIT_ENABLED=True)
    client = limited.test_client()
    codes = [
        client.post(
            "/login", data={"username": user.username, "password": "wrong-password-1"}
        ).status_code
        for _ in range(7)
    ]
    assert codes[:5] == [200] * 5
    assert codes[5:] == [429, 429]
    # another user name from the same address is still allowed (IP limit is 10/min)
    other = client.post("/login", data={"username": "someone-else", "password": "x"})
    assert other.status_code == 200


def test_open_redirect_after_login_is_ignored(auth, client, make_user) -> None:
    user = make_user(Role.EVALUATOR)
    response = client.post(
        "/login?next=//evil.example/x",
        data={"username": user.username, "password": "correct-horse-42"},
    )
    assert response.location.endswith("/engagements/")


def test_password_change_logs_out_other_sessions(app, auth, client, make_user) -> None:
    user = make_user(Role.EVALUATOR)
    other = app.test_client()
    other.post("/login", data={"username": user.username, "password": "correct-horse-42"})
    assert other.get("/engagements/").status_code == 200
    auth.login(user)
    response = client.post(
        "/account/password",
        data={
            "current_password": "correct-horse-42",
            "new_password": "new-password-2026",
            "confirm": "new-password-2026",
        },
    )
    assert response.status_code == 302
    assert client.get("/engagements/").status_code == 200  # this session stays in
    assert other.get("/engagements/").status_code == 302  # the other one is logged out
    auth.logout()
    assert auth.login(user, "new-password-2026").status_code == 302


def test_weak_new_password_is_refused(auth, client, make_user) -> None:
    user = make_user(Role.EVALUATOR)
    auth.login(user)
    response = client.post(
        "/account/password",
        data={
            "current_password": "correct-horse-42",
            "new_password": "1234567890",
            "confirm": "1234567890",
        },
    )
    assert response.status_code == 200
    assert b"only digits" in response.data


def test_admin_pages_are_404_for_non_admins(auth, client, make_user) -> None:
    auth.login(make_user(Role.EVALUATOR))
    assert client.get("/admin/users").status_code == 404
    assert client.get("/admin/users/new").status_code == 404


def test_admin_creates_and_disables_a_user(auth, client, make_user, session) -> None:
    admin = make_user(Role.ADMIN)
    auth.login(admin)
    response = client.post(
        "/admin/users/new",
        data={
            "username": "new.evaluator",
            "display_name": "新评价员",
            "role": "evaluator",
            "organisation_id": "0",
            "is_enabled": "y",
            "password": "a-good-password-1",
        },
    )
    assert response.status_code == 302
    user = session.scalar(sa.select(User).where(User.username == "new.evaluator"))
    assert user is not None and user.role is Role.EVALUATOR
    response = client.post(
        f"/admin/users/{user.id}/edit",
        data={
            "username": "ignored",
            "display_name": "新评价员",
            "role": "evaluator",
            "organisation_id": "0",
        },
    )  # is_enabled unchecked -> disabled
    assert response.status_code == 302
    session.expire_all()
    assert session.get(User, user.id).is_enabled is False
    assert session.get(User, user.id).username == "new.evaluator"


def test_client_user_needs_a_client_organisation(auth, client, make_user, session) -> None:
    auth.login(make_user(Role.ADMIN))
    response = client.post(
        "/admin/users/new",
        data={
            "username": "bureau.staff",
            "display_name": "x",
            "role": "client",
            "organisation_id": "0",
            "is_enabled": "y",
            "password": "a-good-password-1",
        },
    )
    assert response.status_code == 200
    assert b"client organisation" in response.data
    assert session.scalar(sa.select(User).where(User.username == "bureau.staff")) is None


def test_admin_cannot_lock_themselves_out(auth, client, make_user, session) -> None:
    admin = make_user(Role.ADMIN)
    auth.login(admin)
    response = client.post(
        f"/admin/users/{admin.id}/edit",
        data={"display_name": "x", "role": "evaluator", "organisation_id": "0", "is_enabled": "y"},
    )
    assert response.status_code == 200
    session.expire_all()
    assert session.get(User, admin.id).role is Role.ADMIN


def test_role_and_organisation_kind_labels_do_not_collide(auth, client, make_user, make_org):
    from workbench.accounts.models import OrganisationKind

    make_org(OrganisationKind.CLIENT, name="某县财政局")
    auth.login(make_user(Role.ADMIN))
    page = client.get("/admin/organisations").get_data(as_text=True)
    assert "Client (commissioning body)" in page and "Client user" not in page
    form = client.get("/admin/users/new").get_data(as_text=True)
    assert '<option selected value="evaluator">' in form or ('value="evaluator" selected' in form)
