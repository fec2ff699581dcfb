"""Links are built from WORKBENCH_BASE_URL, never from the Host header, and TRUSTED_HOSTS
refuses requests for other hosts (issue #13, "Links built from the Host header")."""

from __future__ import annotations

import io
from typing import Any

import openpyxl
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from tests.security.conftest import World
from workbench import create_app
from workbench.config import ConfigError
from workbench.db import db
from workbench.experts.models import Expert, PanelMember
from workbench.links import external_url

BASE = "https://pj.example.gov.cn"
EVIL = "http://evil.example"


def _lead_on_evil_host(app: Any, world: World) -> Any:
    """The lead, logged in through a request carrying ``Host: evil.example`` (the cookie is
    kept for that host, as a browser would)."""
    client = app.test_client()
    data = {"username": world.usernames["lead"], "password": world.passwords["lead"]}
    assert client.post("/login", data=data, base_url=EVIL).status_code == 302
    return client


def test_survey_links_qr_codes_and_code_sheets_ignore_the_host_header(
    app_with: Any, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = app_with(WORKBENCH_BASE_URL=BASE + "/")
    client = _lead_on_evil_host(app, world)
    survey = f"/engagements/{world.engagement_id}/surveys/{world.ids['survey']}"
    link = f"{BASE}/s/{world.tokens['public']}"

    publish = client.get(f"{survey}/publish", base_url=EVIL).get_data(as_text=True)
    assert link in publish
    assert "evil.example" not in publish

    encoded: list[str] = []
    monkeypatch.setattr("workbench.qr.svg", lambda url, **kw: encoded.append(url) or b"<svg/>")
    assert client.get(f"{survey}/qr.svg", base_url=EVIL).status_code == 200
    assert encoded == [link]

    sheet = client.get(f"{survey}/tokens.xlsx", base_url=EVIL)
    book = openpyxl.load_workbook(io.BytesIO(sheet.data))
    cells = [str(c.value) for row in book.active.iter_rows() for c in row if c.value]
    assert f"{link}?t={world.tokens['code']}" in cells
    assert not any("evil.example" in c for c in cells)

    printed = client.get(f"{survey}/tokens/print", base_url=EVIL).get_data(as_text=True)
    assert link in printed and "evil.example" not in printed


def test_expert_links_and_their_e_mails_ignore_the_host_header(
    app_with: Any, world: World, monkeypatch: pytest.MonkeyPatch, session: Any
) -> None:
    app = app_with(WORKBENCH_BASE_URL=BASE, MAIL_SERVER="smtp.invalid")
    sent: list[str] = []
    monkeypatch.setattr(
        "workbench.experts.views.send_mail", lambda to, subject, body: sent.append(body)
    )
    expert = session.get(Expert, world.ids["expert_a"])
    expert.email = "expert@example.cn"
    seat = session.get(PanelMember, world.ids["seat_a"])
    codes = list(seat.indicator_codes)
    session.commit()
    client = _lead_on_evil_host(app, world)
    panel = f"/engagements/{world.engagement_id}/panel"
    response = client.post(
        f"{panel}/invite",
        data={"expert_id": expert.id, "codes": codes, "days": "30", "send_mail": "1"},
        base_url=EVIL,
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    page = client.get(response.location, base_url=EVIL).get_data(as_text=True)
    assert f"{BASE}/x/" in page and "evil.example" not in page
    assert len(sent) == 1 and f"{BASE}/x/" in sent[0] and "evil.example" not in sent[0]


def test_untrusted_hosts_are_refused(app_with: Any, world: World) -> None:
    app = app_with(TRUSTED_HOSTS=["pj.example.gov.cn"])
    client = app.test_client()
    assert client.get("/login", base_url=EVIL).status_code == 400
    assert client.get(f"/s/{world.tokens['public']}", base_url=EVIL).status_code == 400
    assert client.get(f"/x/{world.tokens['expert_a']}", base_url=EVIL).status_code == 400
    assert client.get("/login", base_url=BASE).status_code == 200
    assert client.get("/login", base_url=BASE + ":8443").status_code == 200  # any port


def test_the_base_url_may_carry_a_path_prefix(app_with: Any) -> None:
    app = app_with(WORKBENCH_BASE_URL="https://gov.example.cn/pj/")
    with app.test_request_context("/", base_url=EVIL):
        url = external_url("public_survey.answer", public_token="abc", t="K7")
    assert url == "https://gov.example.cn/pj/s/abc?t=K7"


def test_without_a_base_url_development_uses_the_request_host(app_with: Any) -> None:
    app = app_with()
    with app.test_request_context("/", base_url="http://127.0.0.1:5000"):
        assert external_url("experts.sheet", token="t") == "http://127.0.0.1:5000/x/t"


def _production(tmp_path, monkeypatch, **env: str):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("WORKBENCH_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "9f8e7d6c5b4a39281706f5e4d3c2b1a0" * 2)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'p.db'}")
    for name in ("WORKBENCH_BASE_URL", "TRUSTED_HOSTS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    with app.app_context():
        db.engine.dispose()
    return app


def test_production_needs_a_base_url_or_trusted_hosts(tmp_path, monkeypatch) -> None:
    with pytest.raises(ConfigError, match="WORKBENCH_BASE_URL"):
        _production(tmp_path, monkeypatch)
    app = _production(tmp_path, monkeypatch, WORKBENCH_BASE_URL=BASE)
    assert app.config["TRUSTED_HOSTS"] == ["pj.example.gov.cn"]  # its host, by default
    app = _production(
        tmp_path, monkeypatch, WORKBENCH_BASE_URL=BASE, TRUSTED_HOSTS=" pj.example.gov.cn, .lan "
    )
    assert app.config["TRUSTED_HOSTS"] == ["pj.example.gov.cn", ".lan"]
    app = _production(tmp_path, monkeypatch, TRUSTED_HOSTS="pj.example.gov.cn")
    assert app.config["WORKBENCH_BASE_URL"] == ""


@pytest.mark.parametrize("value", ["pj.example.gov.cn", "ftp://pj.example.gov.cn", "https://"])
def test_a_malformed_base_url_is_refused(tmp_path, monkeypatch, value) -> None:
    monkeypatch.setenv("WORKBENCH_BASE_URL", value)
    with pytest.raises(ConfigError, match="WORKBENCH_BASE_URL"):
        create_app({"INSTANCE_PATH": str(tmp_path)})


def test_development_trusts_every_host_unless_told(app: Any) -> None:
    assert app.config["TRUSTED_HOSTS"] is None


# --- the payload class: any Host header ---------------------------------------------------------

HOSTS = st.from_regex(
    r"[a-z0-9]([a-z0-9-]{0,15}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?){0,3}(:[1-9][0-9]{0,3})?",
    fullmatch=True,
).filter(lambda h: h.split(":")[0] != "pj.example.gov.cn")


def test_no_host_header_reaches_a_link_or_passes_trusted_hosts(app_with: Any, world: World) -> None:
    strict = app_with(TRUSTED_HOSTS=["pj.example.gov.cn"]).test_client()
    app = app_with(WORKBENCH_BASE_URL=BASE)
    survey = f"/engagements/{world.engagement_id}/surveys/{world.ids['survey']}"
    login = {"username": world.usernames["lead"], "password": world.passwords["lead"]}

    @settings(
        max_examples=25, deadline=None, derandomize=True, phases=(Phase.explicit, Phase.generate)
    )
    @given(host=HOSTS)
    def check(host: str) -> None:
        base_url = f"http://{host}"
        assert strict.get("/login", base_url=base_url).status_code == 400
        assert strict.get(f"/s/{world.tokens['public']}", base_url=base_url).status_code == 400
        client = app.test_client()
        assert client.post("/login", data=login, base_url=base_url).status_code == 302
        page = client.get(f"{survey}/publish", base_url=base_url).get_data(as_text=True)
        assert f"{BASE}/s/{world.tokens['public']}" in page
        assert f"//{host}/" not in page

    check()
