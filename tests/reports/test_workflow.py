"""Build → review (two levels) → 征求意见稿 with comments → issue, through the pages."""

import hashlib
import io
import re
import shutil
import zipfile

import sqlalchemy as sa
from docx import Document

from tests.demo_figures import settle_demo_figures
from workbench.audit.models import AuditEntry
from workbench.core.reportqa import blocking
from workbench.demo import DEMO_USERS
from workbench.reports.models import ReportVersion

PASSWORDS = {username: password for username, _n, _r, _o, password in DEMO_USERS}


def login(client, user):
    client.post("/logout")
    response = client.post(
        "/login", data={"username": user.username, "password": PASSWORDS[user.username]}
    )
    assert response.status_code == 302


def test_build_review_consult_and_issue(demo, client, session, app):
    users = demo["users"]
    eid = demo["engagement"].id
    lead, member, reviewer, bureau = (
        users["zhang.wei"],
        users["li.na"],
        users["wang.fang"],
        users["czj.liu"],
    )
    login(client, member)
    page = client.get(f"/engagements/{eid}/report/").get_data(as_text=True)
    # one set of numbers (#14): D13 prints 3.33 everywhere, every deduction and the unmet goal
    # have their problem and the conclusion carries the survey sample: nothing to list
    assert 'data-severity="blocking"' not in page and 'data-severity="warning"' not in page
    assert (
        client.post(f"/engagements/{eid}/report/build", data={"template": "project"}).status_code
        == 302
    )
    draft = session.scalar(sa.select(ReportVersion))
    assert draft.status == "draft" and draft.total == "88.25"  # the sum of official leaf scores
    assert blocking(draft.qa) == [] and draft.qa == []
    word = client.get(f"/engagements/{eid}/report/versions/{draft.id}.docx")
    assert hashlib.sha256(word.data).hexdigest() == draft.sha256
    assert "草稿" in Document(io.BytesIO(word.data)).sections[0].header.paragraphs[0].text
    client.post(f"/engagements/{eid}/report/versions/{draft.id}/submit")
    session.expire_all()
    assert session.get(ReportVersion, draft.id).status == "review"
    # level 1 belongs to the lead: the member cannot sign it
    client.post(f"/engagements/{eid}/report/versions/{draft.id}/sign", data={"decision": "approve"})
    session.expire_all()
    assert session.get(ReportVersion, draft.id).reviews == []
    login(client, lead)
    client.post(
        f"/engagements/{eid}/report/versions/{draft.id}/sign",
        data={"decision": "approve", "comment": "结构完整"},
    )
    login(client, reviewer)
    client.post(
        f"/engagements/{eid}/report/versions/{draft.id}/sign",
        data={"decision": "approve", "comment": "数据核对无误"},
    )
    session.expire_all()
    assert [r.level_name for r in session.get(ReportVersion, draft.id).reviews] == [
        "项目负责人复核",
        "质控复核",
    ]
    # the client does not see drafts
    login(client, bureau)
    assert client.get(f"/engagements/{eid}/report/versions/{draft.id}.docx").status_code == 404
    assert client.get(f"/engagements/{eid}/report/").status_code == 404
    login(client, reviewer)
    client.post(f"/engagements/{eid}/report/versions/{draft.id}/consult")
    client.post(
        f"/engagements/{eid}/report/versions/{draft.id}/comments",
        data={"party": "client", "author": "县财政局绩效科", "text": "建议补充管护经费测算依据"},
    )
    # issuing waits for a response to every comment
    client.post(
        f"/engagements/{eid}/report/versions/{draft.id}/issue",
        data={"report_no": "青禾绩评字〔2026〕第017号"},
    )
    session.expire_all()
    assert session.scalar(sa.select(sa.func.count(ReportVersion.id))) == 1
    comment_id = session.get(ReportVersion, draft.id).comments[0].id
    client.post(
        f"/engagements/{eid}/report/comments/{comment_id}/respond",
        data={"response": "已在问题3中补充"},
    )
    client.post(
        f"/engagements/{eid}/report/versions/{draft.id}/issue",
        data={"report_no": "青禾绩评字〔2026〕第017号"},
    )
    session.expire_all()
    issued = session.scalar(sa.select(ReportVersion).where(ReportVersion.status == "issued"))
    assert (
        issued.number == 2 and issued.report_no == "青禾绩评字〔2026〕第017号" and issued.issued_at
    )
    assert session.get(ReportVersion, draft.id).status == "superseded"
    assert len(issued.reviews) == 2
    # the issued file: no draft mark, the number on the cover, the checksum it was stored with
    login(client, bureau)
    final = client.get(f"/engagements/{eid}/report/versions/{issued.id}.docx")
    assert final.status_code == 200 and hashlib.sha256(final.data).hexdigest() == issued.sha256
    doc = Document(io.BytesIO(final.data))
    assert doc.sections[0].header.paragraphs[0].text == ""
    assert any("青禾绩评字〔2026〕第017号" in p.text for p in doc.paragraphs)
    actions = session.scalars(
        sa.select(AuditEntry.action).where(AuditEntry.engagement_id == eid)
    ).all()
    for action in (
        "report.build",
        "report.submit",
        "report.review",
        "report.consult",
        "report.comment",
        "report.respond",
        "report.issue",
    ):
        assert action in actions, action
    if shutil.which("soffice"):  # the PDF was made at issuing, stored and hashed (#16)
        assert issued.pdf_sha256 and issued.pdf_stored_as == f"{issued.pdf_sha256}.pdf"
        for _ in range(2):
            pdf = client.get(f"/engagements/{eid}/report/versions/{issued.id}.pdf")
            assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
            assert hashlib.sha256(pdf.data).hexdigest() == issued.pdf_sha256


def _issued_version(demo, session, tmp_path, pdf):
    """The demo report signed, consulted and issued through the services with ``pdf``."""
    from workbench.reports import services

    users, engagement = demo["users"], demo["engagement"]
    settle_demo_figures(session)
    lead, reviewer = users["zhang.wei"], users["wang.fang"]
    choice = services.template_choices(session, engagement, tmp_path)[0]
    levels = services.review_levels(None)
    version = services.build(session, lead, engagement, choice, tmp_path)
    services.submit_for_review(session, lead, version)
    services.sign(session, lead, engagement, version, levels, approve=True, comment="")
    services.sign(session, reviewer, engagement, version, levels, approve=True, comment="")
    services.send_for_comments(session, reviewer, version, levels)
    issued = services.issue(
        session,
        reviewer,
        engagement,
        version,
        choice,
        tmp_path,
        levels,
        report_no="第018号",
        pdf=pdf,
    )
    session.commit()
    return issued


def test_the_issued_pdf_is_made_once_and_every_download_is_the_stored_file(
    demo, client, session, app, tmp_path, monkeypatch
):
    from workbench.reports import services

    calls = []

    def converter(docx: bytes) -> bytes:  # a new file on every call, as LibreOffice makes
        calls.append(docx)
        return b"%%PDF-1.7 conversion %d" % len(calls)

    monkeypatch.setattr("workbench.reports.views._folder", lambda *a: tmp_path)
    issued = _issued_version(demo, session, tmp_path, converter)
    assert len(calls) == 1 and calls[0] == (tmp_path / issued.stored_as).read_bytes()
    stored = (tmp_path / issued.pdf_stored_as).read_bytes()
    assert issued.pdf_sha256 == hashlib.sha256(stored).hexdigest()
    entry = session.scalar(
        sa.select(AuditEntry).where(
            AuditEntry.action == "report.issue", AuditEntry.object_id == issued.id
        )
    )
    assert entry.changes["pdf_sha256"]["after"] == issued.pdf_sha256
    monkeypatch.setattr(services, "to_pdf", converter)  # what a download would convert with
    login(client, demo["users"]["czj.liu"])
    url = f"/engagements/{demo['engagement'].id}/report/versions/{issued.id}.pdf"
    for _ in range(2):
        response = client.get(url)
        assert response.status_code == 200 and response.data == stored
        assert hashlib.sha256(response.data).hexdigest() == issued.pdf_sha256
    assert len(calls) == 1  # served as stored, never converted again
    (tmp_path / issued.pdf_stored_as).write_bytes(b"%PDF-1.7 swapped")
    assert client.get(url).status_code == 302  # a changed file is refused, not served


def test_an_issued_version_without_a_stored_pdf_keeps_the_first_one_made(
    demo, client, session, tmp_path, monkeypatch
):
    from workbench.reports import services

    calls = []

    def converter(docx: bytes) -> bytes:
        calls.append(docx)
        return b"%%PDF-1.7 conversion %d" % len(calls)

    monkeypatch.setattr("workbench.reports.views._folder", lambda *a: tmp_path)
    issued = _issued_version(demo, session, tmp_path, None)  # LibreOffice missing at issuing
    assert issued.pdf_sha256 is None
    monkeypatch.setattr(services, "to_pdf", converter)
    login(client, demo["users"]["czj.liu"])
    url = f"/engagements/{demo['engagement'].id}/report/versions/{issued.id}.pdf"
    first, second = client.get(url).data, client.get(url).data
    assert first == second == b"%PDF-1.7 conversion 1" and len(calls) == 1
    session.expire_all()
    assert session.get(ReportVersion, issued.id).pdf_sha256 == hashlib.sha256(first).hexdigest()


def test_a_draft_failing_qa_cannot_go_to_review(demo, client, session):
    from workbench.reports.models import Recommendation

    users = demo["users"]
    for rec in session.scalars(sa.select(Recommendation)):
        session.delete(rec)
    session.commit()
    login(client, users["zhang.wei"])
    eid = demo["engagement"].id
    page = client.get(f"/engagements/{eid}/report/").get_data(as_text=True)
    assert 'id="qa-problems"' in page and "has no recommendation" in page
    client.post(f"/engagements/{eid}/report/build", data={"template": "project"})
    draft = session.scalar(sa.select(ReportVersion))
    assert {p["check"] for p in draft.qa} >= {"recommend", "section"}
    response = client.post(
        f"/engagements/{eid}/report/versions/{draft.id}/submit", follow_redirects=True
    )
    assert "quality checks fail" in response.get_data(as_text=True)
    session.expire_all()
    assert session.get(ReportVersion, draft.id).status == "draft"


def test_findings_editor_requires_causes_and_links(demo, client, session):
    users = demo["users"]
    login(client, users["zhang.wei"])
    eid = demo["engagement"].id
    url = f"/engagements/{eid}/report/findings"
    bad = client.post(url + "/add", data={"kind": "problem", "title": "无原因的问题"})
    assert bad.status_code == 422 and "cause" in bad.get_data(as_text=True)
    assert 'value="无原因的问题"' in bad.get_data(as_text=True)  # what was typed is kept
    ok = client.post(
        url + "/add",
        data={
            "kind": "problem",
            "title": "新问题",
            "cause": "原因",
            "codes": "B12，B21",
        },
    )
    assert ok.status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert "新问题" in page and "no recommendation yet" in page
    no_link = client.post(
        f"/engagements/{eid}/report/recommendations/add", data={"text": "一条建议"}
    )
    assert no_link.status_code == 422


def test_uploaded_templates_are_checked(demo, client, session):
    from workbench.reports.render import bundled_path

    users = demo["users"]
    login(client, users["zhang.wei"])
    eid = demo["engagement"].id
    url = f"/engagements/{eid}/report/templates"

    def upload(data, name="t.docx"):
        return client.post(
            url,
            content_type="multipart/form-data",
            data={"name": "本所模板", "scope": "engagement", "file": (io.BytesIO(data), name)},
        )

    assert "not a Word" in upload(b"plain text").get_data(as_text=True)
    good = bundled_path("project").read_bytes()

    def edited(replace):
        out = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(good)) as src, zipfile.ZipFile(out, "w") as dst:
            for item in src.infolist():
                data = src.read(item.filename)
                if item.filename == "word/document.xml":
                    data = replace(data.decode()).encode()
                dst.writestr(item, data)
        return out.getvalue()

    unknown = upload(edited(lambda x: x.replace("{{ overview }}", "{{ overveiw }}", 1)))
    assert unknown.status_code == 422 and "overveiw" in unknown.get_data(as_text=True)
    split = upload(
        edited(
            lambda x: x.replace(
                "{{ overview }}", "{</w:t></w:r><w:r><w:rPr><w:b/></w:rPr><w:t>{ overview }}", 1
            )
        )
    )
    assert split.status_code == 422 and "split across Word runs" in split.get_data(as_text=True)
    broken = upload(edited(lambda x: x.replace("{{ overview }}", "{{ overview ", 1)))
    assert broken.status_code == 422
    assert upload(good).status_code == 302
    page = client.get(f"/engagements/{eid}/report/").get_data(as_text=True)
    assert re.search(r'<option value="file:\d+">本所模板</option>', page)


def test_template_problems_are_listed_in_chinese_naming_the_tag_and_paragraph(
    demo, client, session
):
    from workbench.reports.render import bundled_path

    login(client, demo["users"]["zhang.wei"])
    with client.session_transaction() as browser:
        browser["lang"] = "zh_Hans_CN"
    eid = demo["engagement"].id
    good = bundled_path("project").read_bytes()

    def upload(replace):
        out = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(good)) as src, zipfile.ZipFile(out, "w") as dst:
            for item in src.infolist():
                data = src.read(item)
                if item.filename == "word/document.xml":
                    changed = replace(data.decode())
                    assert changed != data.decode()
                    data = changed.encode()
                dst.writestr(item, data)
        response = client.post(
            f"/engagements/{eid}/report/templates",
            content_type="multipart/form-data",
            data={
                "name": "本所模板",
                "scope": "engagement",
                "file": (io.BytesIO(out.getvalue()), "t.docx"),
            },
        )
        assert response.status_code == 422
        page = response.get_data(as_text=True)
        errors = re.findall(r"<li[^>]*>(.*?)</li>", page, re.S)
        shown = " ".join(e for e in errors if "标签" in e)
        assert shown, page
        for english in ("Jinja", "unexpected", "expected", "Unknown", "split across", "w:t"):
            assert english not in shown, shown
        assert "&lt;w:" not in shown and "<w:" not in shown
        return shown

    # a misspelt field of the loop variable inside the loop over the problems
    shown = upload(lambda x: x.replace("{{ x.cause }}", "{{ x.caus }}", 1))
    assert "{{ x.caus }}" in shown and "原因分析：{{ x.caus }}" in shown  # tag and paragraph
    assert "“caus”" in shown and "“problems”" in shown and "cause" in shown  # the right one
    # a tag that is never closed
    shown = upload(lambda x: x.replace("{{ overview }}", "{{ overview ", 1))
    assert "标签“{{ overview”有误" in shown and "未闭合" in shown
    # a tag whose braces Word split into runs with different formatting
    shown = upload(
        lambda x: x.replace(
            "{{ overview }}", "{</w:t></w:r><w:r><w:rPr><w:b/></w:rPr><w:t>{ overview }}", 1
        )
    )
    assert "标签“{{ overview }}”被 Word 拆分" in shown


def test_typed_control_characters_are_removed_before_storing(demo, client, session):
    from workbench.reports.models import Finding

    login(client, demo["users"]["zhang.wei"])
    eid = demo["engagement"].id
    response = client.post(
        f"/engagements/{eid}/report/findings/add",
        data={
            "kind": "other",
            "title": "含\x00空字符\x07的标题",
            "text": "正文\x1b",
        },
    )
    assert response.status_code == 302  # no 500, on PostgreSQL too
    stored = session.scalar(sa.select(Finding).where(Finding.title.like("含%")))
    assert stored.title == "含空字符的标题" and stored.text == "正文"


def test_issue_prints_what_was_signed_and_numbers_are_used_once(demo, session, app, tmp_path):
    import pytest

    from workbench.reports import services
    from workbench.reports.models import Finding

    users, engagement = demo["users"], demo["engagement"]
    settle_demo_figures(session)
    lead, reviewer = users["zhang.wei"], users["wang.fang"]
    choice = services.template_choices(session, engagement, tmp_path)[0]
    levels = services.review_levels(None)

    def signed_version():
        version = services.build(session, lead, engagement, choice, tmp_path)
        services.submit_for_review(session, lead, version)
        services.sign(session, lead, engagement, version, levels, approve=True, comment="")
        services.sign(session, reviewer, engagement, version, levels, approve=True, comment="")
        services.send_for_comments(session, reviewer, version, levels)
        return version

    version = signed_version()
    services.add_comment(
        session, lead, version, party="unit", author="县水利局", text="请核实管网长度"
    )
    services.respond(session, lead, version.comments[0], "已核实，报告数据无误")
    session.commit()
    problem = session.scalar(sa.select(Finding).where(Finding.kind == "problem"))
    problem.title = "签批后才改的标题"  # edited after the sign-offs
    session.flush()
    with pytest.raises(services.ReportError) as refused:
        services.issue(
            session, reviewer, engagement, version, choice, tmp_path, levels, report_no="第017号"
        )
    assert refused.value.code == "changed_since_review"
    session.rollback()
    version = session.get(ReportVersion, version.id)
    issued = services.issue(
        session, reviewer, engagement, version, choice, tmp_path, levels, report_no="第017号"
    )
    assert issued.status == "issued" and [c.response for c in issued.comments] == [
        "已核实，报告数据无误"
    ]
    session.commit()
    other = signed_version()
    with pytest.raises(services.ReportError) as reused:
        services.issue(
            session, reviewer, engagement, other, choice, tmp_path, levels, report_no="第017号"
        )
    assert reused.value.code == "report_no_used"


def test_a_template_that_cannot_be_stored_is_a_message_and_nothing_is_kept(
    demo, client, session, monkeypatch
):
    from workbench.reports.models import ReportTemplateFile
    from workbench.reports.render import bundled_path
    from workbench.storage import StorageError

    def full_disk(*args, **kwargs):
        raise StorageError(28, "No space left on device")

    monkeypatch.setattr("workbench.reports.views.store_template", full_disk)
    login(client, demo["users"]["zhang.wei"])
    eid = demo["engagement"].id
    before = session.scalar(sa.select(sa.func.count()).select_from(ReportTemplateFile))
    response = client.post(
        f"/engagements/{eid}/report/templates",
        content_type="multipart/form-data",
        data={
            "name": "本所模板",
            "file": (io.BytesIO(bundled_path("project").read_bytes()), "t.docx"),
        },
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "could not be stored" in response.get_data(as_text=True)
    assert session.scalar(sa.select(sa.func.count()).select_from(ReportTemplateFile)) == before


def test_a_finding_and_a_recommendation_are_deleted_only_in_their_engagement(
    demo, client, session, make_engagement
):
    from workbench.reports.models import Finding, Recommendation

    login(client, demo["users"]["zhang.wei"])
    eid = demo["engagement"].id
    url = f"/engagements/{eid}/report"
    client.post(url + "/findings/add", data={"kind": "other", "title": "待删除的发现"})
    finding = session.scalar(sa.select(Finding).where(Finding.title == "待删除的发现"))
    rec = session.scalar(sa.select(Recommendation).where(Recommendation.engagement_id == eid))
    assert finding is not None and rec is not None
    other = make_engagement(lead=demo["users"]["zhang.wei"])
    session.commit()
    # another engagement's URL does not reach these items
    for kind, item in (("findings", finding), ("recommendations", rec)):
        wrong = client.post(f"/engagements/{other.id}/report/{kind}/delete", data={"id": item.id})
        assert wrong.status_code == 404
    ids = finding.id, rec.id
    for kind, item_id in zip(("findings", "recommendations"), ids, strict=True):
        assert client.post(url + f"/{kind}/delete", data={"id": item_id}).status_code == 302
    session.expire_all()
    assert session.get(Finding, ids[0]) is None
    assert session.get(Recommendation, ids[1]) is None
