"""Portfolio, result application and what a finance bureau can reach."""

import io
import re
from decimal import Decimal

import openpyxl
import pytest
import sqlalchemy as sa

from workbench.accounts.models import OrganisationKind, Role
from workbench.core.results import DEFAULT_RULES, recommend, rules_from
from workbench.demo import DEMO_USERS

PASSWORDS = {u: p for u, _n, _r, _o, p in DEMO_USERS}


def login(client, username):
    client.post("/logout")
    assert (
        client.post(
            "/login", data={"username": username, "password": PASSWORDS[username]}
        ).status_code
        == 302
    )


def out_for_comments(session, folder):
    """The demo report built, signed at both levels and sent to the bureau for comments."""
    from workbench.accounts.models import User
    from workbench.engagements.models import Engagement
    from workbench.reports import services

    engagement = session.scalar(sa.select(Engagement))
    users = {u.username: u for u in session.scalars(sa.select(User))}
    choice = services.template_choices(session, engagement, folder)[0]
    levels = services.review_levels(None)
    version = services.build(session, users["zhang.wei"], engagement, choice, folder)
    services.submit_for_review(session, users["zhang.wei"], version)
    for signer in ("zhang.wei", "wang.fang"):
        services.sign(session, users[signer], engagement, version, levels, approve=True, comment="")
    services.send_for_comments(session, users["wang.fang"], version, levels)
    return engagement, users, version, choice, levels


def test_rules_and_recommendations():
    assert recommend("差", Decimal(500)).recommended == 0
    assert recommend("良", Decimal(500)).action == "保持"
    custom = rules_from({"中": {"action": "核减", "share": "0.8"}, "优": {"share": "9"}})
    assert (
        custom["中"].share == Decimal("0.8") and custom["优"] == DEFAULT_RULES["优"]
    )  # 900 % refused
    assert recommend("中", Decimal("1580"), custom).printed == "1,264.00"


def test_portfolio_shows_the_demo_engagement_with_grade_and_action(demo, client):
    login(client, "zhang.wei")
    page = client.get("/portfolio/").get_data(as_text=True)
    assert "临川县2025年农村饮水安全巩固提升工程项目支出绩效评价" in page
    assert re.search(r'data-grade="良"', page) and "保持" in page
    assert "1,580.00" in page  # next year = the adjusted budget for 良
    assert "not issued yet" in page
    sheet = openpyxl.load_workbook(io.BytesIO(client.get("/portfolio/portfolio.xlsx").data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "评价项目" and rows[1][6] == "良" and rows[1][-2] == "保持"


def test_a_bureau_sees_issued_results_only_and_sets_its_rules(demo, client, session):
    login(client, "czj.liu")
    page = client.get("/portfolio/").get_data(as_text=True)
    assert "临川县" in page and 'data-grade="良"' not in page  # not issued: no score for clients
    assert client.get("/portfolio/rules").status_code == 200
    client.post(
        "/portfolio/rules",
        data={
            "action-中": "核减",
            "share-中": "80",
            "action-良": "保持",
            "share-良": "100",
            "action-优": "优先保障",
            "share-优": "110",
            "action-差": "取消",
            "share-差": "0",
        },
    )
    from workbench.accounts.models import Organisation

    org = session.scalar(
        sa.select(Organisation).where(
            Organisation.kind == OrganisationKind.CLIENT, Organisation.name == "临川县财政局"
        )
    )
    session.refresh(org)
    assert (
        org.result_rules["中"] == {"action": "核减", "share": "0.8"}
        and org.result_rules["差"]["action"] == "取消"
    )
    login(client, "zhang.wei")
    assert client.get("/portfolio/rules").status_code == 404  # rules belong to the bureau


def test_a_bureau_reaches_nothing_of_another_bureau(demo, client, session, make_org, make_user):
    from workbench.engagements.models import Engagement

    other_bureau = make_org(OrganisationKind.CLIENT)
    stranger = make_user(Role.CLIENT, organisation=other_bureau)
    session.commit()
    eid = session.scalar(sa.select(Engagement.id))
    login(client, "czj.liu")
    assert client.get(f"/engagements/{eid}").status_code == 200  # the bureau that commissioned it
    client.post("/logout")
    client.post("/login", data={"username": stranger.username, "password": "correct-horse-42"})
    for path in (
        f"/engagements/{eid}",
        f"/engagements/{eid}/report/",
        f"/engagements/{eid}/report/versions/1.docx",
        f"/engagements/{eid}/surveys/",
        f"/engagements/{eid}/surveys/1/results",
        f"/engagements/{eid}/scores",
        f"/engagements/{eid}/panel",
    ):
        assert client.get(path).status_code == 404, path
    assert (
        client.post(
            f"/engagements/{eid}/report/versions/1/client-comment", data={"text": "x"}
        ).status_code
        == 404
    )
    page = client.get("/portfolio/").get_data(as_text=True)
    assert "临川县2025年" not in page
    assert "临川县2025年" not in client.get("/engagements/").get_data(as_text=True)


def test_the_bureau_comments_on_the_consultation_draft(demo, client, session, tmp_path):
    engagement, _users, version, _choice, _levels = out_for_comments(session, tmp_path)
    session.commit()
    login(client, "czj.liu")
    page = client.get(f"/engagements/{engagement.id}").get_data(as_text=True)
    assert 'id="consultation"' in page
    sent = client.post(
        f"/engagements/{engagement.id}/report/versions/{version.id}/client-comment",
        data={"text": "请补充管护经费测算"},
    )
    assert sent.status_code == 302
    session.expire_all()
    comment = session.get(type(version), version.id).comments[0]
    assert comment.party == "client" and comment.text == "请补充管护经费测算"


def test_problems_of_the_issued_report_are_followed_up(demo, client, session, tmp_path):
    import datetime as dt

    from workbench.reports import services
    from workbench.reports.models import RectificationItem

    engagement, users, version, choice, levels = out_for_comments(session, tmp_path)
    services.issue(
        session,
        users["wang.fang"],
        engagement,
        version,
        choice,
        tmp_path,
        levels,
        report_no="第001号",
    )
    session.commit()
    items = session.scalars(sa.select(RectificationItem).order_by(RectificationItem.number)).all()
    from workbench.reports.models import Finding

    problems = session.scalars(
        sa.select(Finding).where(Finding.engagement_id == engagement.id, Finding.kind == "problem")
    ).all()
    # one item per problem of the report, numbered as printed, carrying its recommendation
    assert len(problems) >= 3 and [i.number for i in items] == list(range(1, len(problems) + 1))
    upkeep = [i for i in items if "管护" in i.title]
    assert upkeep and "管护经费保障机制" in upkeep[0].recommendation
    login(client, "czj.liu")
    url = f"/engagements/{engagement.id}/report/rectification"
    yesterday = (dt.date.today() - dt.timedelta(days=2)).isoformat()
    client.post(
        url,
        data={
            "id": items[0].id,
            "owner": "县水利局",
            "deadline": yesterday,
            "status": "progress",
            "note": "已启动",
        },
    )
    client.post(
        url,
        data={
            "id": items[1].id,
            "owner": "县水利局",
            "deadline": yesterday,
            "status": "done",
            "note": "已支付尾款",
        },
    )
    page = client.get(url).get_data(as_text=True)
    assert page.count("data-overdue") == 1  # the finished item is not overdue
    session.expire_all()
    assert session.get(RectificationItem, items[0].id).owner == "县水利局"
    assert (
        client.post(url, data={"id": items[0].id, "deadline": "明天", "status": "done"}).status_code
        == 302
    )
    session.expire_all()
    assert session.get(RectificationItem, items[0].id).status == "progress"  # nothing changed


@pytest.mark.parametrize("share", ["NaN", "nan", "inf", "-Infinity", "1e400", "-5", "250", "8O"])
def test_a_share_that_is_not_a_percentage_is_refused_and_nothing_saved(
    demo, client, session, share
):
    # a share of NaN was a 500 on PostgreSQL (issue #13): Decimal("nan") cannot be compared
    login(client, "czj.liu")
    from workbench.accounts.models import Organisation

    org = session.scalar(sa.select(Organisation).where(Organisation.name == "临川县财政局"))
    before = dict(org.result_rules or {})
    response = client.post(
        "/portfolio/rules",
        data={"action-中": "核减", "share-中": share, "action-良": "保持", "share-良": "100"},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "between 0 and 200" in response.get_data(as_text=True)
    session.expire_all()
    assert (session.get(Organisation, org.id).result_rules or {}) == before


def test_stored_rules_with_a_non_finite_share_keep_the_default():
    for bad in ("NaN", "sNaN", "Infinity", "-inf"):
        assert rules_from({"中": {"action": "核减", "share": bad}})["中"] == DEFAULT_RULES["中"]
