"""Issue #15, "Finance bureau and workflow": the status follows the issued report, the
consultation record stays with the issued report, comment limits, local-date rectification
and the per-role 我的待办 page."""

import datetime as dt
import io

import openpyxl
import sqlalchemy as sa

from tests.portfolio.test_portfolio import login, out_for_comments
from workbench.audit.models import AuditEntry
from workbench.core.workflow import EngagementState
from workbench.engagements import services as engagements
from workbench.engagements.models import Engagement
from workbench.reports import services
from workbench.reports.models import RectificationItem, ReportComment, ReportVersion


def _answered(session, version, users):
    comment = services.add_comment(
        session, users["czj.liu"], version, party="client", author="刘洋", text="第一行\n第二行"
    )
    services.respond(session, users["zhang.wei"], comment, "已补充\n见问题3")
    return comment


def test_issuing_moves_the_engagement_and_the_bureau_keeps_the_consultation_record(
    demo, client, session, app, tmp_path
):
    app.instance_path = str(tmp_path)
    engagement, users, version, _choice, _levels = out_for_comments(session, tmp_path / "reports")
    _answered(session, version, users)
    session.commit()
    eid = engagement.id
    assert engagement.state is EngagementState.DESIGN  # the demo stands at 方案设计
    login(client, "wang.fang")
    response = client.post(
        f"/engagements/{eid}/report/versions/{version.id}/issue", data={"report_no": "第088号"}
    )
    assert response.status_code == 302
    session.expire_all()
    issued = session.scalar(sa.select(ReportVersion).where(ReportVersion.status == "issued"))
    assert issued is not None
    assert session.get(Engagement, eid).state is EngagementState.ISSUED
    moved = session.scalars(
        sa.select(AuditEntry).where(
            AuditEntry.engagement_id == eid, AuditEntry.action == "engagement.transition"
        )
    ).all()[-1]
    assert moved.changes == {"state": {"before": "design", "after": "issued"}}
    assert "第088号" in moved.summary
    # the bureau: 已出具 next to the report, its comments and the firm's answers, and who
    # signed at which level
    login(client, "czj.liu")
    page = client.get(f"/engagements/{eid}").get_data(as_text=True)
    assert 'id="engagement-state">Issued<' in page
    assert 'id="consultation"' not in page  # no draft out any more
    issued_part = page[page.index('id="issued-reports"') :]
    assert "第一行\n第二行" in issued_part and "已补充\n见问题3" in issued_part
    assert "项目负责人复核（张伟" in issued_part and "质控复核（王芳" in issued_part


def test_issued_cannot_be_chosen_by_hand_without_an_issued_report(demo, client, session):
    from workbench.accounts.models import User

    engagement = session.scalar(sa.select(Engagement))
    users = {u.username: u for u in session.scalars(sa.select(User))}
    for state in ("fieldwork", "expert_scoring", "drafting", "review"):
        engagements.transition(session, users["zhang.wei"], engagement, EngagementState(state))
    session.commit()
    version = engagement.version
    login(client, "wang.fang")
    page = client.get(f"/engagements/{engagement.id}").get_data(as_text=True)
    assert 'value="issued"' not in page and 'id="issue-hint"' in page  # no button, a pointer
    page = client.post(
        f"/engagements/{engagement.id}/transition",
        data={"target": "issued", "version": str(version)},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "can only be marked as issued by issuing its report" in page
    session.expire_all()
    again = session.get(Engagement, engagement.id)
    assert again.state is EngagementState.REVIEW and again.version == version


def test_comment_boxes_are_multi_line_with_a_limit_enforced_by_the_server(
    demo, client, session, tmp_path
):
    engagement, _users, version, _choice, _levels = out_for_comments(session, tmp_path)
    session.commit()
    login(client, "czj.liu")
    page = client.get(f"/engagements/{engagement.id}").get_data(as_text=True)
    assert (
        f'<textarea class="form-control form-control-sm" id="client-comment-{version.id}"' in page
    )
    assert 'maxlength="2000"' in page and "At most 2000 characters." in page
    url = f"/engagements/{engagement.id}/report/versions/{version.id}/client-comment"
    page = client.post(url, data={"text": "长" * 2001}, follow_redirects=True).get_data(
        as_text=True
    )
    assert "longer than 2000 characters" in page
    assert session.scalar(sa.select(sa.func.count(ReportComment.id))) == 0
    client.post(url, data={"text": "甲\n乙"})
    assert session.scalar(sa.select(ReportComment.text)) == "甲\n乙"
    # the consultation header names the sign-offs as they happened
    page = client.get(f"/engagements/{engagement.id}").get_data(as_text=True)
    assert "项目负责人复核（张伟" in page and "质控复核（王芳" in page
    login(client, "zhang.wei")
    page = client.get(f"/engagements/{engagement.id}/report/").get_data(as_text=True)
    assert 'name="response"' in page and "<textarea" in page


def test_overdue_uses_the_date_in_beijing_and_notes_are_multi_line(
    demo, client, session, tmp_path, monkeypatch
):
    engagement, users, version, choice, levels = out_for_comments(session, tmp_path)
    services.issue(
        session, users["wang.fang"], engagement, version, choice, tmp_path, levels, report_no="1号"
    )
    session.commit()
    item = session.scalars(sa.select(RectificationItem).order_by(RectificationItem.number)).first()
    # 2026-12-07 17:30 UTC is 2026-12-08 01:30 in Beijing: a deadline of the 7th is past there
    monkeypatch.setattr(services, "_now", lambda: dt.datetime(2026, 12, 7, 17, 30, tzinfo=dt.UTC))
    login(client, "czj.liu")
    url = f"/engagements/{engagement.id}/report/rectification"
    client.post(
        url,
        data={
            "id": item.id,
            "owner": "县水利局",
            "deadline": "2026-12-07",
            "status": "progress",
            "note": "一、已启动\n二、已拨付",
        },
    )
    page = client.get(url).get_data(as_text=True)
    assert page.count("data-overdue") == 1
    assert f'<textarea class="form-control form-control-sm" id="note-{item.id}"' in page
    session.expire_all()
    assert session.get(RectificationItem, item.id).note == "一、已启动\n二、已拨付"
    sheet = openpyxl.load_workbook(io.BytesIO(client.get(url + ".xlsx").data)).active
    assert next(r[6] for r in sheet.iter_rows(min_row=2, values_only=True)) == "是"
    # a note past the limit is refused, nothing changed
    client.post(url, data={"id": item.id, "status": "done", "note": "长" * 2001})
    session.expire_all()
    assert session.get(RectificationItem, item.id).status == "progress"


def test_my_work_lists_each_role_its_own_items(demo, client, session, tmp_path, make_user):
    engagement, users, version, choice, _levels = out_for_comments(session, tmp_path)
    services.add_comment(
        session, users["zhang.wei"], version, party="unit", author="县水利局", text="数据有误"
    )
    session.commit()
    eid = engagement.id
    login(client, "zhang.wei")  # the lead: a comment to answer
    page = client.get("/portfolio/work").get_data(as_text=True)
    assert 'id="nav-my-work"' in page and 'data-work="answer"' in page and "数据有误" in page
    assert f'href="/engagements/{eid}/report/#v{version.number}"' in page
    sheet = openpyxl.load_workbook(io.BytesIO(client.get("/portfolio/work.xlsx").data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "事项" and rows[1][0] == "待答复的意见"
    login(client, "czj.liu")  # the bureau: the 征求意见稿 waits for its comments
    page = client.get("/portfolio/work").get_data(as_text=True)
    assert 'data-work="comment"' in page and 'data-work="answer"' not in page
    assert "数据有误" not in page
    # another evaluator, not on the team, sees nothing of it
    outsider = make_user(username="outsider")
    session.commit()
    client.post("/logout")
    client.post("/login", data={"username": "outsider", "password": "correct-horse-42"})
    page = client.get("/portfolio/work").get_data(as_text=True)
    assert 'id="no-work"' in page and "数据有误" not in page
    assert outsider.id
    # a draft in review waits for the level's signer only
    draft = services.build(session, users["zhang.wei"], engagement, choice, tmp_path)
    services.submit_for_review(session, users["zhang.wei"], draft)
    session.commit()
    login(client, "wang.fang")
    assert 'data-work="review"' not in client.get("/portfolio/work").get_data(as_text=True)
    login(client, "zhang.wei")
    assert 'data-work="review"' in client.get("/portfolio/work").get_data(as_text=True)


def test_rectification_items_take_checked_attachments(
    demo, client, session, app, tmp_path, monkeypatch
):
    app.instance_path = str(tmp_path)
    engagement, users, version, choice, levels = out_for_comments(session, tmp_path / "reports")
    services.issue(
        session,
        users["wang.fang"],
        engagement,
        version,
        choice,
        tmp_path / "reports",
        levels,
        report_no="2号",
    )
    session.commit()
    item = session.scalars(sa.select(RectificationItem).order_by(RectificationItem.number)).first()
    login(client, "czj.liu")
    url = f"/engagements/{engagement.id}/report/rectification"

    def attach(data, name):
        return client.post(
            url + "/attach",
            data={"id": item.id, "file": (io.BytesIO(data), name)},
            content_type="multipart/form-data",
            follow_redirects=True,
        ).get_data(as_text=True)

    page = attach(b"%PDF-1.4 rectified", "../../整改报告.pdf")
    session.expire_all()
    stored = session.get(RectificationItem, item.id).files
    assert [f.filename for f in stored] == ["整改报告.pdf"]  # no path from the name
    assert (tmp_path / "rectification" / stored[0].sha256).exists()
    assert "整改报告.pdf" in page
    download = client.get(f"{url}/files/{stored[0].id}")
    assert download.status_code == 200 and download.data == b"%PDF-1.4 rectified"
    # not a document, a name that lies about the content, too large: refused, nothing kept
    assert "is not a PDF" in attach(b"MZ\x90\x00", "x.pdf")
    assert "does not match" in attach(b"%PDF-1.4", "x.png")
    from workbench.reports import views

    monkeypatch.setattr(services.workpapers, "MAX_EVIDENCE", 100)  # the request limit is 20 MB
    monkeypatch.setattr(views, "MAX_EVIDENCE", 100)
    assert "larger than 20 MB" in attach(b"%PDF-" + b"0" * 100, "big.pdf")
    session.expire_all()
    assert len(session.get(RectificationItem, item.id).files) == 1
    audited = session.scalars(
        sa.select(AuditEntry.action).where(AuditEntry.action == "rectification.attach")
    ).all()
    assert audited == ["rectification.attach"]


def test_the_consultation_draft_header_names_its_sign_offs(demo, client, session, app, tmp_path):
    from docx import Document

    from workbench.accounts.models import User

    app.instance_path = str(tmp_path)
    folder = tmp_path / "reports"
    engagement = session.scalar(sa.select(Engagement))
    users = {u.username: u for u in session.scalars(sa.select(User))}
    choice = services.template_choices(session, engagement, folder)[0]
    levels = services.review_levels(None)
    version = services.build(session, users["zhang.wei"], engagement, choice, folder)
    header = Document(io.BytesIO(services.file_of(version, folder))).sections[0].header
    assert header.paragraphs[0].text == "草稿 — 未经复核签发，不作正式结论使用"
    services.submit_for_review(session, users["zhang.wei"], version)
    for signer in ("zhang.wei", "wang.fang"):
        services.sign(session, users[signer], engagement, version, levels, approve=True, comment="")
    session.commit()
    content = version.content_hash
    login(client, "wang.fang")
    client.post(f"/engagements/{engagement.id}/report/versions/{version.id}/consult")
    session.expire_all()
    version = session.get(ReportVersion, version.id)
    assert version.status == "consultation" and version.content_hash == content
    login(client, "czj.liu")
    word = client.get(f"/engagements/{engagement.id}/report/versions/{version.id}.docx")
    text = Document(io.BytesIO(word.data)).sections[0].header.paragraphs[0].text
    assert text.startswith("征求意见稿 — 项目负责人复核：张伟（") and "质控复核：王芳（" in text
    assert "未经复核" not in text
