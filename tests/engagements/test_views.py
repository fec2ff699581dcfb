import io
from decimal import Decimal as D

import pytest
import sqlalchemy as sa
from openpyxl import Workbook, load_workbook

from workbench.accounts.models import OrganisationKind, Role
from workbench.audit.models import AuditEntry
from workbench.core.workflow import EngagementState
from workbench.engagements.models import Engagement, GoalIndicator, MemberRole


@pytest.fixture
def world(session, make_org, make_user, make_engagement):
    """A bureau's engagement with a full team, plus outsiders."""
    bureau = make_org(OrganisationKind.CLIENT, name="临川县财政局")
    other_bureau = make_org(OrganisationKind.CLIENT, name="安平县财政局")
    lead = make_user(Role.EVALUATOR, "lead")
    engagement = make_engagement(lead=lead, client=bureau, title="饮水工程评价")
    from workbench.engagements import services

    member = make_user(Role.EVALUATOR, "member")
    reviewer = make_user(Role.REVIEWER, "reviewer")
    services.add_member(session, lead, engagement, member, MemberRole.MEMBER)
    services.add_member(session, lead, engagement, reviewer, MemberRole.REVIEWER)
    session.commit()
    return {
        "engagement": engagement,
        "lead": lead,
        "member": member,
        "reviewer": reviewer,
        "outsider": make_user(Role.EVALUATOR, "outsider"),
        "admin": make_user(Role.ADMIN, "admin"),
        "client": make_user(Role.CLIENT, "client", organisation=bureau),
        "other_client": make_user(Role.CLIENT, "other-client", organisation=other_bureau),
    }


PAGES = ["", "/edit", "/budget", "/goals", "/goals/new", "/audit", "/budget.xlsx", "/goals.xlsx"]

# actor -> expected status for each page above
EXPECTED = {
    "lead": [200, 200, 200, 200, 200, 200, 200, 200],
    "member": [200, 200, 200, 200, 200, 200, 200, 200],
    "admin": [200, 200, 200, 200, 200, 200, 200, 200],
    "client": [200, 403, 403, 200, 403, 404, 200, 200],
    "outsider": [404] * 8,
    "other_client": [404] * 8,
}


@pytest.mark.parametrize("actor", list(EXPECTED))
def test_engagement_pages_by_actor(world, auth, client, actor):
    auth.login(world[actor])
    base = f"/engagements/{world['engagement'].id}"
    codes = [client.get(base + page).status_code for page in PAGES]
    assert codes == EXPECTED[actor]


def test_unknown_engagement_is_404_like_a_forbidden_one(world, auth, client):
    auth.login(world["outsider"])
    assert client.get("/engagements/999999").status_code == 404


def test_anonymous_is_sent_to_login(world, client):
    response = client.get(f"/engagements/{world['engagement'].id}")
    assert response.status_code == 302
    assert "/login" in response.location


def test_list_shows_only_visible_engagements(world, auth, client, make_engagement):
    make_engagement(title="别人的项目")
    auth.login(world["other_client"])
    assert "饮水工程评价" not in client.get("/engagements/").get_data(as_text=True)
    auth.logout()
    auth.login(world["client"])
    page = client.get("/engagements/").get_data(as_text=True)
    assert "饮水工程评价" in page and "别人的项目" not in page
    auth.logout()
    auth.login(world["admin"])
    page = client.get("/engagements/").get_data(as_text=True)
    assert "饮水工程评价" in page and "别人的项目" in page


def test_list_search_and_filters(world, auth, client, make_engagement, session):
    make_engagement(lead=world["lead"], title="学前教育补助资金评价", fiscal_year=2023)
    auth.login(world["lead"])
    page = client.get("/engagements/?q=学前").get_data(as_text=True)
    assert "学前教育补助资金评价" in page and "饮水工程评价" not in page
    page = client.get("/engagements/?year=2025").get_data(as_text=True)
    assert "饮水工程评价" in page and "学前教育补助资金评价" not in page
    page = client.get("/engagements/?state=design").get_data(as_text=True)
    assert "No engagements match" in page


def test_client_cannot_post_changes(world, auth, client):
    auth.login(world["client"])
    eid = world["engagement"].id
    assert client.post(f"/engagements/{eid}/edit", data={"title": "x"}).status_code == 403
    assert (
        client.post(f"/engagements/{eid}/transition", data={"target": "design"}).status_code == 404
    )
    assert client.post(f"/engagements/{eid}/goals", data={}).status_code == 403


def test_member_cannot_manage_team_or_workflow(world, auth, client, session):
    auth.login(world["member"])
    eid = world["engagement"].id
    response = client.post(
        f"/engagements/{eid}/transition", data={"target": "design", "version": ""}
    )
    assert response.status_code == 403
    assert (
        client.post(
            f"/engagements/{eid}/members", data={"user_id": world["outsider"].id, "role": "member"}
        ).status_code
        == 403
    )


def engagement_form(**overrides):
    data = {
        "title": "学前教育资助项目绩效评价",
        "project_name": "学前教育资助",
        "client_id": "",
        "kind": "project",
        "scope": "evaluation",
        "fiscal_year": "2025",
        "planned_start": "2026-03-01",
        "planned_end": "2026-06-30",
        "contract_no": "HT-01",
        "fee": "120,000",
        "description": "概况",
    }
    data.update(overrides)
    return data


def test_create_then_edit_shows_in_audit_log(world, auth, client, session):
    auth.login(world["lead"])
    bureau_id = world["engagement"].client_id
    response = client.post("/engagements/new", data=engagement_form(client_id=bureau_id))
    assert response.status_code == 302
    created = session.scalar(sa.select(Engagement).where(Engagement.contract_no == "HT-01"))
    assert created.fee == D("120000")
    form = engagement_form(
        client_id=bureau_id, title="学前教育资助项目绩效评价（修订）", version=str(created.version)
    )
    assert client.post(f"/engagements/{created.id}/edit", data=form).status_code == 302
    log = client.get(f"/engagements/{created.id}/audit").get_data(as_text=True)
    assert "学前教育资助项目绩效评价（修订）" in log
    assert "Basic facts changed" in log and "Engagement title" in log
    assert "engagement.update" not in log  # people read labels, not internal codes


def test_edit_with_stale_version_keeps_the_other_change(world, auth, client, session):
    auth.login(world["lead"])
    engagement = world["engagement"]
    old_version = str(engagement.version)
    form = engagement_form(client_id=engagement.client_id, version=old_version, title="第一次保存")
    assert client.post(f"/engagements/{engagement.id}/edit", data=form).status_code == 302
    form["title"] = "第二次保存（基于旧版本）"
    response = client.post(f"/engagements/{engagement.id}/edit", data=form, follow_redirects=True)
    assert "Someone else changed this engagement" in response.get_data(as_text=True)
    session.expire_all()
    assert session.get(Engagement, engagement.id).title == "第一次保存"


def test_invalid_form_shows_errors_and_saves_nothing(world, auth, client, session):
    auth.login(world["lead"])
    before = session.scalar(sa.select(sa.func.count()).select_from(Engagement))
    data = engagement_form(
        client_id=world["engagement"].client_id,
        fiscal_year="1800",
        planned_end="2026-01-01",
        fee="abc",
        title="<script>x</script>",
    )
    response = client.post("/engagements/new", data=data)
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "The end date is before the start date." in text
    assert "Not a valid number." in text
    assert "<script>x</script>" not in text and "&lt;script&gt;" in text
    assert session.scalar(sa.select(sa.func.count()).select_from(Engagement)) == before


def test_self_commission_warning_is_shown(world, auth, client, session):
    auth.login(world["lead"])
    bureau_id = world["engagement"].client_id
    response = client.post(
        "/engagements/new",
        follow_redirects=True,
        data={**engagement_form(client_id=bureau_id), "evaluated_unit_ids": [str(bureau_id)]},
    )
    assert "may not commission an evaluation of itself" in response.get_data(as_text=True)


def test_workflow_buttons_move_the_state(world, auth, client, session):
    engagement = world["engagement"]
    auth.login(world["lead"])
    response = client.post(
        f"/engagements/{engagement.id}/transition",
        data={"target": "design", "version": str(engagement.version)},
    )
    assert response.status_code == 302
    response = client.post(
        f"/engagements/{engagement.id}/transition", data={"target": "issued"}, follow_redirects=True
    )
    assert "not allowed" in response.get_data(as_text=True)
    session.expire_all()
    assert session.get(Engagement, engagement.id).state.value == "design"


def test_budget_form_saves_and_shows_rates(world, auth, client, session):
    engagement = world["engagement"]
    auth.login(world["lead"])
    data = {
        "version": str(engagement.version),
        "funding_denominator": "adjusted",
        "execution_denominator": "adjusted",
        "lines-0-name": "财政拨款",
        "lines-0-initial": "1,200",
        "lines-0-adjusted": "1350",
        "lines-0-available": "1350",
        "lines-0-executed": "1287.46",
        "lines-1-name": "其他资金",
        "lines-1-adjusted": "150",
        "lines-1-available": "120",
        "lines-1-executed": "96.5",
    }
    assert client.post(f"/engagements/{engagement.id}/budget", data=data).status_code == 302
    page = client.get(f"/engagements/{engagement.id}").get_data(as_text=True)
    assert "1,500.00" in page  # adjusted total: 1350 + 150
    assert "95.37%" in page  # fiscal: 1287.46 / 1350 = 0.953674
    assert "92.26%" in page  # total: (1287.46 + 96.5) / 1500 = 0.922640


def test_negative_budget_is_refused(world, auth, client, session):
    engagement = world["engagement"]
    auth.login(world["lead"])
    data = {
        "version": str(engagement.version),
        "funding_denominator": "adjusted",
        "execution_denominator": "adjusted",
        "lines-0-name": "财政拨款",
        "lines-0-executed": "-5",
    }
    response = client.post(f"/engagements/{engagement.id}/budget", data=data)
    assert response.status_code == 200
    assert "Must not be negative." in response.get_data(as_text=True)
    session.expire_all()
    assert session.get(Engagement, engagement.id).budget_lines == []


def xlsx_upload(
    rows,
    headers=(
        "一级指标",
        "二级指标",
        "三级指标",
        "指标性质",
        "指标值",
        "计量单位",
        "实际完成值",
        "偏差原因",
    ),
):
    wb = Workbook()
    ws = wb.active
    ws.append(list(headers))
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    return out


def goal_count(session, engagement):
    return session.scalar(
        sa.select(sa.func.count())
        .select_from(GoalIndicator)
        .where(GoalIndicator.engagement_id == engagement.id)
    )


def test_goal_import_is_all_or_nothing(world, auth, client, session):
    engagement = world["engagement"]
    auth.login(world["lead"])
    bad = xlsx_upload(
        [
            ["产出指标", "数量指标", "管网长度", "≥", 120, "公里", 126.5, ""],
            ["产出指标", "", "", "大约", "很多", "", "", ""],
        ]
    )
    response = client.post(
        f"/engagements/{engagement.id}/goals/import",
        data={"file": (bad, "goals.xlsx")},
        content_type="multipart/form-data",
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Nothing was imported" in text and "Row 3" in text
    assert goal_count(session, engagement) == 0
    good = xlsx_upload(
        [
            ["产出指标", "数量指标", "管网长度", "≥", 120, "公里", 126.5, ""],
            ["满意度指标", "服务对象满意度指标", "群众满意度", "≥", "90%", "", "", ""],
        ]
    )
    response = client.post(
        f"/engagements/{engagement.id}/goals/import",
        data={"file": (good, "goals.xlsx")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    assert goal_count(session, engagement) == 2


def test_goal_import_reads_a_real_declaration_table(world, auth, client, session):
    """A 申报表 writes comparator, 万 and unit into 指标值 and has no 指标性质 column."""
    engagement = world["engagement"]
    auth.login(world["lead"])
    headers = ("一级指标", "二级指标", "三级指标", "指标值")
    bad = xlsx_upload(
        [
            ["产出指标", "数量指标", "高标准农田面积", "≥1.2万亩"],
            ["产出指标", "数量指标", "管网长度", "≥若干"],
        ],
        headers=headers,
    )
    response = client.post(
        f"/engagements/{engagement.id}/goals/import",
        data={"file": (bad, "goals.xlsx")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "Row 3" in response.get_data(as_text=True)
    assert goal_count(session, engagement) == 0
    good = xlsx_upload(
        [
            ["产出指标", "数量指标", "高标准农田面积", "≥1.2万亩"],
            ["成本指标", "经济成本指标", "项目总成本", "≤90万元"],
            ["产出指标", "时效指标", "完工时间", "≤2025年12月31日"],
            ["产出指标", "质量指标", "验收合格率", "100%"],
            ["效益指标", "生态效益指标", "农田生态环境", "明显改善"],
        ],
        headers=headers,
    )
    response = client.post(
        f"/engagements/{engagement.id}/goals/import",
        data={"file": (good, "goals.xlsx")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    goals = session.scalars(
        sa.select(GoalIndicator)
        .where(GoalIndicator.engagement_id == engagement.id)
        .order_by(GoalIndicator.position, GoalIndicator.id)
    ).all()
    assert [(g.nature.value, g.target_value, g.unit) for g in goals] == [
        ("ge", "1.2", "万亩"),
        ("le", "90", "万元"),
        ("le", "2025年12月31日", ""),
        ("eq", "100", "%"),
        ("qualitative", "明显改善", ""),
    ]


@pytest.mark.parametrize(
    ("payload", "name", "message"),
    [
        (b"", "goals.xlsx", "The file is empty."),
        (b"not a zip at all", "goals.xlsx", "not a valid Excel workbook"),
        (b"PK\x03\x04truncated", "goals.xlsx", "could not be read"),
        ("一级指标,三级指标\n产出,x\n".encode("gbk"), "goals.csv", "Missing column"),
        (b"\xff\xfe\x00\x00\x00binary", "goals.csv", "neither"),
        (b"a,b", "goals.exe", "Only .xlsx"),
    ],
)
def test_broken_uploads_get_a_clear_message(world, auth, client, session, payload, name, message):
    engagement = world["engagement"]
    auth.login(world["lead"])
    response = client.post(
        f"/engagements/{engagement.id}/goals/import",
        data={"file": (io.BytesIO(payload), name)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert goal_count(session, engagement) == 0


def test_goal_crud(world, auth, client, session):
    engagement = world["engagement"]
    auth.login(world["member"])
    data = {
        "level1": "产出指标",
        "level2": "数量指标",
        "name": "新建水厂",
        "nature": "eq",
        "target_value": "3",
        "unit": "座",
        "actual_value": "2",
        "deviation_reason": "延期",
    }
    assert client.post(f"/engagements/{engagement.id}/goals/new", data=data).status_code == 302
    goal = session.scalar(sa.select(GoalIndicator))
    page = client.get(f"/engagements/{engagement.id}/goals").get_data(as_text=True)
    assert "新建水厂" in page and "Not achieved" in page
    data["actual_value"] = "3"
    client.post(f"/engagements/{engagement.id}/goals/{goal.id}/edit", data=data)
    assert "Achieved" in client.get(f"/engagements/{engagement.id}/goals").get_data(as_text=True)
    data["target_value"] = "三座"
    response = client.post(f"/engagements/{engagement.id}/goals/{goal.id}/edit", data=data)
    assert "needs a number" in response.get_data(as_text=True)
    assert client.post(f"/engagements/{engagement.id}/goals/{goal.id}/delete").status_code == 302
    assert goal_count(session, engagement) == 0
    actions = session.scalars(sa.select(AuditEntry.action)).all()
    assert {"goal.create", "goal.update", "goal.delete"} <= set(actions)


def test_excel_exports_neutralise_formulas(world, auth, client, session):
    engagement = world["engagement"]
    engagement.title = '=HYPERLINK("http://evil.example","点击")'
    session.commit()
    auth.login(world["lead"])
    response = client.get("/engagements/?format=xlsx")
    assert response.mimetype.endswith("spreadsheetml.sheet")
    ws = load_workbook(io.BytesIO(response.data)).active
    titles = [row[0] for row in ws.iter_rows(min_row=2, values_only=True)]
    assert titles == ['\'=HYPERLINK("http://evil.example","点击")']
    assert ws["A2"].data_type == "s"


def test_pages_render_in_chinese_and_english(world, auth, client):
    auth.login(world["lead"])
    eid = world["engagement"].id
    client.post("/language", data={"lang": "zh_Hans_CN"})
    page = client.get(f"/engagements/{eid}").get_data(as_text=True)
    assert "资金" in page and "绩效目标" in page and 'lang="zh-CN"' in page
    client.post("/language", data={"lang": "en"})
    page = client.get(f"/engagements/{eid}").get_data(as_text=True)
    assert "Funds" in page and "Performance goals" in page and 'lang="en"' in page
    assert client.post("/language", data={"lang": "xx"}).status_code == 400


def test_overview_lists_the_goal_indicators(world, auth, client, session):
    from workbench.engagements import services

    engagement = world["engagement"]
    services.add_goal(
        session,
        world["lead"],
        engagement,
        level1="产出指标",
        name="新建水厂",
        nature="ge",
        target_value="3",
        unit="座",
        actual_value="3",
    )
    session.commit()
    auth.login(world["client"])
    page = client.get(f"/engagements/{engagement.id}").get_data(as_text=True)
    assert "新建水厂" in page and "No goal indicators yet." not in page


def test_exported_goal_table_imports_back_unchanged(world, auth, client, session):
    from workbench.engagements import services

    engagement = world["engagement"]
    for nature, target in (("eq", "3"), ("ge", "95"), ("le", "9.5"), ("qualitative", "健全")):
        services.add_goal(
            session,
            world["lead"],
            engagement,
            level1="产出指标",
            name=f"指标{nature}",
            nature=nature,
            target_value=target,
            unit="%" if nature == "ge" else "",
            actual_value="",
        )
    session.commit()
    auth.login(world["lead"])
    exported = client.get(f"/engagements/{engagement.id}/goals.xlsx").data
    ws = load_workbook(io.BytesIO(exported)).active
    assert ws["D2"].value == "＝" and ws["E2"].data_type == "n"
    before = [(g.name, g.nature, g.target_value, g.unit) for g in engagement.goals]
    response = client.post(
        f"/engagements/{engagement.id}/goals/import",
        data={"file": (io.BytesIO(exported), "back.xlsx"), "replace": "y"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    session.expire_all()
    after = [
        (g.name, g.nature, g.target_value, g.unit)
        for g in session.get(Engagement, engagement.id).goals
    ]
    assert after == before


def test_percent_values_are_not_shown_twice(world, auth, client, session):
    engagement = world["engagement"]
    auth.login(world["lead"])
    data = {
        "level1": "产出指标",
        "name": "达标率",
        "nature": "ge",
        "target_value": "95%",
        "unit": "%",
        "actual_value": "96.5%",
    }
    client.post(f"/engagements/{engagement.id}/goals/new", data=data)
    goal = session.scalar(sa.select(GoalIndicator))
    assert (goal.target_value, goal.actual_value, goal.unit) == ("95", "96.5", "%")


def test_percent_formatted_excel_cells_import_as_percentages(world, auth, client, session):
    engagement = world["engagement"]
    auth.login(world["lead"])
    upload = Workbook()
    ws = upload.active
    ws.append(["一级指标", "三级指标", "指标性质", "指标值", "实际完成值"])
    ws.append(["产出指标", "达标率", "≥", 0.95, 0.9])
    ws["D2"].number_format = ws["E2"].number_format = "0%"
    out = io.BytesIO()
    upload.save(out)
    out.seek(0)
    client.post(
        f"/engagements/{engagement.id}/goals/import",
        data={"file": (out, "p.xlsx")},
        content_type="multipart/form-data",
    )
    goal = session.scalar(sa.select(GoalIndicator))
    assert (goal.target_value, goal.actual_value, goal.unit) == ("95", "90", "%")


def test_archived_engagement_explains_why_it_cannot_be_edited(world, auth, client, session):
    engagement = world["engagement"]
    engagement.state = EngagementState.ARCHIVED
    session.commit()
    auth.login(world["lead"])
    response = client.get(f"/engagements/{engagement.id}/edit")
    assert response.status_code == 403
    assert "archived" in response.get_data(as_text=True)


def test_the_report_framing_is_edited_audited_and_moves_the_data_revision(
    world, auth, client, session
):
    """评价期间, 资料提供方, the 评价依据 picked from the list plus the firm's own rules and the
    commission notice: stored per engagement, in the audit log, and a data change."""
    from workbench.core.reporting import BASIS_RULES

    auth.login(world["lead"])
    engagement = world["engagement"]
    page = client.get(f"/engagements/{engagement.id}/edit").get_data(as_text=True)
    assert all(rule in page for rule in BASIS_RULES)
    revision = engagement.data_revision
    form = engagement_form(
        client_id=engagement.client_id,
        title=engagement.title,
        version=str(engagement.version),
        evaluation_period="2025年度",
        data_provider="某某局",
        basis_rules=[BASIS_RULES[4], BASIS_RULES[0]],
        basis_other="《某市预算绩效管理办法》",
        commission_notice="《委托通知》（某财〔2026〕1号）",
    )
    assert client.post(f"/engagements/{engagement.id}/edit", data=form).status_code == 302
    session.expire_all()
    saved = session.get(Engagement, engagement.id)
    assert saved.evaluation_period == "2025年度" and saved.data_provider == "某某局"
    assert sorted(saved.basis_rules) == sorted([BASIS_RULES[0], BASIS_RULES[4]])
    assert saved.commission_notice == "《委托通知》（某财〔2026〕1号）"
    assert saved.data_revision > revision
    entry = session.scalars(
        sa.select(AuditEntry)
        .where(AuditEntry.engagement_id == engagement.id, AuditEntry.action == "engagement.update")
        .order_by(AuditEntry.id.desc())
    ).first()
    assert {"basis_rules", "basis_other", "commission_notice", "evaluation_period"} <= set(
        entry.changes
    )
    log = client.get(f"/engagements/{engagement.id}/audit").get_data(as_text=True)
    assert "Basis of the evaluation" in log
    # a rule not on the list is refused, nothing saved
    form["basis_rules"] = ["《随便写的》"]
    form["version"] = str(saved.version)
    assert client.post(f"/engagements/{engagement.id}/edit", data=form).status_code == 200
    session.expire_all()
    assert "《随便写的》" not in session.get(Engagement, engagement.id).basis_rules
