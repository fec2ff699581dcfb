"""CSRF on every state-changing route, security headers on every kind of response, session
cookie flags, rate limits, and the production secret-key check."""

from __future__ import annotations

import re
import secrets
from typing import Any

import pytest
from flask import Flask

from tests.conftest import BASE_CONFIG, PASSWORD
from tests.security.conftest import (
    ACTORS,
    World,
    classify,
    csrf_token,
    login_client,
    row_counts,
)
from tests.security.test_access_matrix import DATA, EXPECTED, build_url, params_for, routes
from workbench import create_app
from workbench.config import ConfigError

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
#: who sends each request: the first actor of this list the route lets through
PREFERRED = ("lead", "respondent", "expert_a", "reviewer", "client", "admin", *ACTORS)
CSRF_MESSAGE = "sent without its security token"


def _authorised(key: str) -> str:
    return next(actor for actor in PREFERRED if EXPECTED[key][actor] == "ok")


#: a plausible payload per route, so that the missing token is the only thing wrong
PAYLOAD: dict[str, Any] = {
    "POST accounts.login": lambda w: {"username": w.usernames["lead"], "password": "wrong"},
    "POST accounts.change_password": lambda w: {
        "current_password": w.passwords["lead"],
        "new_password": "a-new-password-123",
        "confirm": "a-new-password-123",
    },
    "POST engagements.goal_delete": lambda w: {},
    "POST reports.build": lambda w: {"template": "project"},
    "POST experts.save": lambda w: {"score-D11": "8", "comment-D11": "理由"},
    "POST experts.submit": lambda w: {"score-D11": "8", "comment-D11": "理由"},
    "POST experts.draft": lambda w: {"score-D11": "8", "comment-D11": "理由"},
    "POST public_survey.answer": lambda w: {"q1": "满意"},
    "POST portfolio.rules": lambda w: {"action-中": "核减", "share-中": "80"},
    "POST reports.comment": lambda w: {"party": "client", "author": "x", "text": "意见"},
}


def test_every_state_changing_route_refuses_a_request_without_the_token(
    app: Flask, app_with: Any, world: World
) -> None:
    protected = app_with(WTF_CSRF_ENABLED=True)
    clients = {actor: login_client(protected, world, actor) for actor in ACTORS}
    checked, failures = [], []
    for key, method, rule in routes(protected):
        if method not in STATE_CHANGING:
            continue
        actor = _authorised(key)
        url = build_url(rule, params_for(rule.endpoint, world), actor, world)
        payload = (PAYLOAD.get(key) or DATA.get(key) or (lambda w: {"note": "x"}))(world)
        before = row_counts()
        response = clients[actor].open(url, method=method, data=payload)
        text = response.get_data(as_text=True)
        if response.status_code != 400 or CSRF_MESSAGE not in text:
            failures.append(f"{key} as {actor}: {response.status_code}, not the CSRF error")
        elif row_counts() != before:
            failures.append(f"{key} as {actor}: rows changed")
        checked.append(key)
    assert not failures, "\n".join(failures)
    assert len(checked) >= 50  # every POST route of the app (64 when written)
    # still logged in after the refused logout; the refused password change changed nothing
    assert classify(clients["lead"].get("/account/password")) == "ok"
    login_client(protected, world, "lead")  # asserts that the old password still works


def test_a_token_of_another_session_is_refused_and_the_right_one_accepted(
    app: Flask, app_with: Any, world: World
) -> None:
    protected = app_with(WTF_CSRF_ENABLED=True)
    respondent, stranger = protected.test_client(), protected.test_client()
    url = f"/s/{world.tokens['public']}?t={world.tokens['code']}"
    own = csrf_token(respondent.get(url).get_data(as_text=True))
    foreign = csrf_token(stranger.get(url).get_data(as_text=True))
    before = row_counts()
    refused = respondent.post(url, data={"csrf_token": foreign, "q1": "满意"})
    assert refused.status_code == 400 and CSRF_MESSAGE in refused.get_data(as_text=True)
    assert row_counts() == before
    accepted = respondent.post(url, data={"csrf_token": own, "q1": "满意"})
    assert accepted.status_code == 422  # past the token: the questionnaire's own validation


# --- security headers ---------------------------------------------------------------------------


def _csp(response: Any) -> dict[str, list[str]]:
    policy = response.headers.get("Content-Security-Policy", "")
    directives = [d.split() for d in policy.split(";") if d.strip()]
    return {d[0]: d[1:] for d in directives}


def assert_security_headers(response: Any, what: str) -> None:
    csp = _csp(response)
    script = csp.get("script-src", csp.get("default-src"))
    assert script, f"{what}: no script-src"
    assert "'unsafe-inline'" not in script and "'unsafe-eval'" not in script, what
    assert "'unsafe-inline'" not in csp.get("style-src", []), what
    assert csp.get("frame-ancestors") == ["'none'"], what
    assert csp.get("object-src") == ["'none'"], what
    assert response.headers.get("X-Content-Type-Options") == "nosniff", what
    assert response.headers.get("Referrer-Policy") == "same-origin", what


def test_security_headers_on_pages_json_downloads_redirects_and_errors(
    app: Flask, app_with: Any, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    lead, client = login_client(app, world, "lead"), login_client(app, world, "client")
    anonymous = app.test_client()
    e, ids = world.engagement_id, world.ids
    responses = {
        "HTML page": (lead.get(f"/engagements/{e}"), 200, "text/html"),
        "JSON": (lead.get(f"/engagements/{e}/surveys/imports/{ids['job']}.json"), 200, "json"),
        "expert JSON": (
            anonymous.post(f"/x/{world.tokens['expert_a']}/draft", data={"score-D11": "7"}),
            200,
            "json",
        ),
        "Excel download": (lead.get(f"/engagements/{e}/budget.xlsx"), 200, "spreadsheet"),
        "Word download": (
            client.get(f"/engagements/{e}/report/versions/{ids['issued']}.docx"),
            200,
            "wordprocessing",
        ),
        "evidence download": (
            lead.get(f"/engagements/{e}/workpapers/evidence/{ids['evidence']}"),
            200,
            "pdf",
        ),
        "SVG download": (
            lead.get(f"/engagements/{e}/surveys/{ids['survey']}/qr.svg"),
            200,
            "svg",
        ),
        "public questionnaire": (
            anonymous.get(f"/s/{world.tokens['public']}?t={world.tokens['code']}"),
            200,
            "text/html",
        ),
        "static file": (anonymous.get("/static/favicon.svg"), 200, "svg"),
        "redirect to login": (anonymous.get(f"/engagements/{e}"), 302, ""),
        "404 page": (client.get(f"/engagements/{e}/audit"), 404, "text/html"),
        "403 page": (client.get(f"/engagements/{e}/edit"), 403, "text/html"),
        "405 page": (lead.get("/logout"), 405, "text/html"),
        "410 page (withdrawn link)": None,
        "400 CSRF page": None,
        "500 page": None,
    }
    protected = app_with(WTF_CSRF_ENABLED=True)
    responses["400 CSRF page"] = (protected.test_client().post("/language"), 400, "text/html")
    monkeypatch.setattr(
        "workbench.portfolio.services.portfolio",
        lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom")),
    )
    responses["500 page"] = (lead.get("/portfolio/"), 500, "text/html")
    admin = login_client(app, world, "admin")
    admin.post(f"/engagements/{e}/panel/{ids['seat_b']}/revoke")
    responses["410 page (withdrawn link)"] = (
        anonymous.get(f"/x/{world.tokens['expert_b']}"),
        410,
        "text/html",
    )
    for what, (response, status, mimetype) in responses.items():
        assert response.status_code == status, what
        assert mimetype in response.mimetype, what
        assert_security_headers(response, what)
        if response.status_code >= 400:
            assert "Traceback" not in response.get_data(as_text=True), what
    for what in ("Excel download", "Word download", "evidence download", "SVG download"):
        response = responses[what][0]
        assert response.headers["Content-Disposition"].startswith("attachment"), what
        cache = response.headers.get("Cache-Control", "")
        assert "public" not in cache and ("no-store" in cache or "no-cache" in cache), what
    for response, _status, _mimetype in responses.values():
        response.close()


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=", re.IGNORECASE)


def test_pages_need_no_inline_script_or_style(app: Flask, world: World) -> None:
    """The CSP forbids inline script and style: pages must not depend on them."""
    lead = login_client(app, world, "lead")
    e, s = world.engagement_id, world.ids["survey"]
    pages = {
        lead: [
            "/engagements/",
            f"/engagements/{e}",
            f"/engagements/{e}/edit",
            f"/engagements/{e}/budget",
            f"/engagements/{e}/goals",
            f"/engagements/{e}/panel",
            f"/engagements/{e}/indicators",
            f"/engagements/{e}/scores",
            f"/engagements/{e}/surveys/",
            f"/engagements/{e}/surveys/{s}/results",
            f"/engagements/{e}/surveys/{s}/publish",
            f"/engagements/{e}/report/",
            f"/engagements/{e}/report/findings",
            f"/engagements/{e}/workpapers/",
            "/portfolio/",
        ],
        app.test_client(): [
            "/login",
            f"/x/{world.tokens['expert_a']}",
            f"/s/{world.tokens['public']}?t={world.tokens['code']}",
        ],
    }
    for client, urls in pages.items():
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, url
            html = response.get_data(as_text=True)
            for pattern in (INLINE_SCRIPT, INLINE_HANDLER, INLINE_STYLE):
                found = pattern.search(html)
                assert found is None, f"{url}: {html[found.start() : found.start() + 80]!r}"


# --- session cookies ----------------------------------------------------------------------------


def _cookie(response: Any, name: str = "session") -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(f"{name}=")]
    assert cookies, f"no {name} cookie set"
    return cookies[-1]


def test_session_cookies_are_secure_in_production(
    app_with: Any, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_ENV", "production")
    monkeypatch.setenv("TRUSTED_HOSTS", "localhost")  # the test client's host
    production = app_with(SECRET_KEY=secrets.token_hex(32))
    client = production.test_client()
    login = client.post(
        "/login", data={"username": world.usernames["outsider"], "password": PASSWORD}
    )
    assert login.status_code == 302
    # the public questionnaire also keeps a cookie (its device id), for anonymous visitors
    survey = production.test_client().get(f"/s/{world.tokens['public']}?t={world.tokens['code']}")
    for what, cookie in (("login", _cookie(login)), ("questionnaire", _cookie(survey))):
        flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
        assert {"secure", "httponly"} <= flags, what
        assert "SameSite=Lax" in cookie, what


def test_session_cookies_are_http_only_and_same_site_in_development(
    app: Flask, world: World
) -> None:
    survey = app.test_client().get(f"/s/{world.tokens['public']}?t={world.tokens['code']}")
    cookie = _cookie(survey)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http on a development machine still works


# --- rate limits --------------------------------------------------------------------------------


def test_login_is_limited_per_user_name(app_with: Any, world: World) -> None:
    client = app_with(RATELIMIT_ENABLED=True).test_client()
    name, right = world.usernames["lead"], world.passwords["lead"]
    for _ in range(5):  # LOGIN_USER_RATE_LIMIT: 5 per minute per user name
        assert client.post("/login", data={"username": name, "password": "x"}).status_code == 200
    before = row_counts()
    blocked = client.post("/login", data={"username": name.upper(), "password": right})
    assert blocked.status_code == 429  # even with the right password, in any letter case
    assert "Too many attempts" in blocked.get_data(as_text=True)
    assert_security_headers(blocked, "429 page")
    assert row_counts() == before  # not logged in, nothing audited
    assert classify(client.get("/account/password")) == "login"
    # another user name from the same address is still let in
    other = client.post(
        "/login", data={"username": world.usernames["outsider"], "password": PASSWORD}
    )
    assert other.status_code == 302


def test_login_is_limited_per_address(app_with: Any, world: World) -> None:
    client = app_with(RATELIMIT_ENABLED=True).test_client()
    for n in range(10):  # LOGIN_RATE_LIMIT: 10 per minute per address
        assert client.post("/login", data={"username": f"u{n}", "password": "x"}).status_code == 200
    blocked = client.post(
        "/login", data={"username": world.usernames["outsider"], "password": PASSWORD}
    )
    assert blocked.status_code == 429


def test_login_is_not_limited_when_limits_are_off(app_with: Any, world: World) -> None:
    client = app_with(RATELIMIT_ENABLED=False).test_client()
    name = world.usernames["lead"]
    for _ in range(12):
        client.post("/login", data={"username": name, "password": "wrong"})
    right = client.post("/login", data={"username": name, "password": world.passwords["lead"]})
    assert right.status_code == 302


def test_public_questionnaire_posts_are_limited_per_browser_not_per_address(
    app_with: Any, world: World
) -> None:
    """Stored submissions count per browser and per survey; incomplete ones count nowhere,
    and a shared address (one Wi-Fi) is not what limits them."""
    limited = app_with(RATELIMIT_ENABLED=True, SURVEY_RATE_LIMIT="1 per minute")
    assert app_with(RATELIMIT_ENABLED=True).config["SURVEY_RATE_LIMIT"] == "10 per minute"
    client = limited.test_client()
    url = f"/s/{world.tokens['public']}?t={world.tokens['code']}"
    before = row_counts()
    for _ in range(40):
        assert client.post(url, data={"q1": ""}).status_code == 422  # incomplete, not stored
    assert row_counts() == before
    assert client.get(url).status_code == 200  # reading is counted apart from submitting


def test_public_questionnaire_views_are_limited_per_browser(app_with: Any, world: World) -> None:
    """An anonymous GET costs queries (the quota counts): a browser that repeats it is
    stopped; before a browser has its id, its address has a looser allowance of its own."""
    assert app_with(RATELIMIT_ENABLED=True).config["SURVEY_READ_RATE_LIMIT"] == "120 per minute"
    limited = app_with(
        RATELIMIT_ENABLED=True,
        SURVEY_READ_RATE_LIMIT="3 per minute",
        SURVEY_ADDRESS_READ_RATE_LIMIT="5 per minute",
    )
    client = limited.test_client()
    url = f"/s/{world.tokens['public']}"
    # the first view (no browser id yet) counts for the address; then three for the browser
    assert [client.get(url).status_code for _ in range(5)] == [200, 200, 200, 200, 429]
    other = limited.test_client()  # another browser on the same address is not affected
    assert [other.get(url).status_code for _ in range(4)] == [200] * 4
    # submitting has its own allowance: the views used up do not block the answers
    assert client.post(url, data={"q1": ""}).status_code in (403, 422)


def test_expert_links_are_rate_limited(app_with: Any, world: World) -> None:
    limited = app_with(RATELIMIT_ENABLED=True, EXPERT_RATE_LIMIT="3 per minute")
    client = limited.test_client()
    url = f"/x/{world.tokens['expert_a']}"
    assert [client.get(url).status_code for _ in range(4)] == [200, 200, 200, 429]


# --- the production secret key ------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "secret",
        "  DEV  ",
        "default",
        "change-me",
        BASE_CONFIG["SECRET_KEY"],  # long, but published in this repository's tests
        "bench-secret-key-not-for-production-0123456789",
        "ab" * 32,  # long, but not random
    ],
)
def test_production_refuses_default_published_or_weak_keys(tmp_path, monkeypatch, key):
    monkeypatch.setenv("WORKBENCH_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", key)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app({"INSTANCE_PATH": str(tmp_path)})


def test_production_refuses_a_default_key_given_as_configuration(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", secrets.token_hex(32))
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "dev"})
    assert not (tmp_path / "secret_key").exists()  # production never generates its own key


def test_forwarded_addresses_count_only_behind_a_configured_proxy(
    app_with: Any, world: World
) -> None:
    """Behind nginx every request comes from the proxy's address: with
    WORKBENCH_TRUSTED_PROXIES=1 the limit counts the client named in X-Forwarded-For; without
    it (the default) that header is ignored, so a client cannot pick a fresh address."""

    def attempts(client: Any, address: str) -> list[int]:
        return [
            client.post(
                "/login",
                data={"username": f"u{n}", "password": "x"},
                headers={"X-Forwarded-For": address},
            ).status_code
            for n in range(10)
        ]

    behind = app_with(RATELIMIT_ENABLED=True, TRUSTED_PROXIES=1).test_client()
    assert attempts(behind, "203.0.113.7") == [200] * 10  # LOGIN_RATE_LIMIT: 10 per minute
    assert attempts(behind, "203.0.113.8") == [200] * 10  # another respondent, own quota
    direct = app_with(RATELIMIT_ENABLED=True).test_client()
    assert attempts(direct, "203.0.113.9")[-1] == 200
    assert (
        direct.post(
            "/login",
            data={"username": "x", "password": "x"},
            headers={"X-Forwarded-For": "1.2.3.4"},
        ).status_code
        == 429
    )  # a forged header buys nothing


def test_the_number_of_trusted_proxies_is_checked() -> None:
    from workbench.config import ConfigError, trusted_proxies

    assert trusted_proxies("") == 0 and trusted_proxies("2") == 2
    for bad in ("-1", "x", "6", "1.5"):
        with pytest.raises(ConfigError):
            trusted_proxies(bad)


@pytest.mark.parametrize(
    "path", ["/s/no-such-survey-000000", "/x/no-such-link-000000", "/x/no-such-link-000000/sheet"]
)
def test_respondents_and_experts_get_error_pages_without_the_staff_bar(
    app: Any, world: World, path: str
) -> None:
    response = app.test_client().get(path)
    page = response.get_data(as_text=True)
    assert response.status_code in (404, 405, 410)
    assert 'data-error="' in page  # the public error page, with its message
    assert "navbar" not in page and "/login" not in page and "/engagements" not in page


def test_staff_error_pages_keep_the_staff_layout(app: Any, world: World) -> None:
    response = app.test_client().get("/no-such-page")
    page = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "navbar" in page and 'data-error="' not in page
