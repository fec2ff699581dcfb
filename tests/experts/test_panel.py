import datetime as dt
import re
from decimal import Decimal as D

import pytest
import sqlalchemy as sa

from workbench.accounts.models import Role
from workbench.audit.models import AuditEntry
from workbench.core.evaluation import Source
from workbench.db import utcnow
from workbench.evaluation import result_of
from workbench.experts import services
from workbench.experts.models import SheetScore


def declare(client, token, conflict="none", text=""):
    return client.post(
        f"/x/{token}/declare",
        data={"conflict": conflict, "conflict_text": text, "confidentiality": "y"},
    )


def submit(client, token, d11="12", d13="4", comment="理由"):
    return client.post(
        f"/x/{token}/sheet/submit",
        data={
            "score-D11": d11,
            "comment-D11": comment,
            "score-D13": d13,
            "comment-D13": comment,
        },
    )


def test_expert_declares_scores_and_the_panel_feeds_the_expert_leaves(panel, client, session):
    for name, d11 in (("甲专家", "12"), ("乙专家", "13"), ("丙专家", "14")):
        token = panel["links"][name][1]
        assert "Conflict of interest" in client.get(f"/x/{token}").get_data(as_text=True)
        assert declare(client, token).status_code == 302
        assert submit(client, token, d11=d11).status_code == 302
    result = result_of(session, panel["engagement"])
    d11 = result.node("D11")
    assert d11.score == D(13)  # mean of 12, 13, 14
    assert d11.source is Source.PANEL and result.panel.leaves["D11"].n == 3


def test_a_link_opens_only_its_own_sheet_and_stays_blind(panel, client):
    token_a = panel["links"]["甲专家"][1]
    token_b = panel["links"]["乙专家"][1]
    declare(client, token_b)
    submit(client, token_b, d11="7", comment="乙的理由")
    declare(client, token_a)
    page = client.get(f"/x/{token_a}").get_data(as_text=True)
    assert "甲专家" in page and "乙专家" not in page and "乙的理由" not in page
    assert client.get("/x/not-a-real-token").status_code == 404


def test_withdrawn_and_expired_links_get_a_clear_page(panel, client, session):
    member, token = panel["links"]["甲专家"]
    services.revoke(session, panel["lead"], member)
    session.commit()
    response = client.get(f"/x/{token}")
    assert response.status_code == 410 and b"withdrawn" in response.data
    other, token2 = panel["links"]["乙专家"]
    other.token_expires_at = utcnow() - dt.timedelta(days=1)
    session.commit()
    response = client.get(f"/x/{token2}")
    assert response.status_code == 410 and b"expired" in response.data


def test_a_submitted_sheet_cannot_be_changed_by_replaying_the_form(panel, client, session):
    _member, token = panel["links"]["甲专家"]
    declare(client, token)
    assert submit(client, token, d11="12").status_code == 302
    replay = submit(client, token, d11="20")
    assert replay.status_code == 409
    assert b"already been submitted" in replay.data
    score = session.scalar(sa.select(SheetScore).where(SheetScore.indicator_code == "D11"))
    assert score.score == D(12)


def test_invalid_sheet_saves_nothing_and_names_the_problems(panel, client, session):
    _member, token = panel["links"]["甲专家"]
    declare(client, token)
    response = submit(client, token, d11="99", d13="3.3", comment="")
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "outside 0 to the maximum" in text and "not on the score step" in text
    assert session.scalar(sa.select(sa.func.count()).select_from(SheetScore)) == 0


def test_a_declared_conflict_recuses_the_expert(panel, client, session):
    _member, token = panel["links"]["丙专家"]
    declare(client, token, conflict="declared", text="曾为被评价单位提供咨询")
    page = client.get(f"/x/{token}").get_data(as_text=True)
    assert "recused" in page
    assert submit(client, token).status_code == 409
    entry = session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "panel.declare"))
    assert "曾为被评价单位提供咨询" in entry.summary


def test_only_the_lead_reopens_with_a_reason_and_it_is_audited(
    panel, client, session, auth, make_user
):
    member, token = panel["links"]["甲专家"]
    declare(client, token)
    submit(client, token)
    member_user = make_user(Role.EVALUATOR)
    from workbench.engagements import services as engagements
    from workbench.engagements.models import MemberRole

    engagements.add_member(
        session, panel["lead"], panel["engagement"], member_user, MemberRole.MEMBER
    )
    session.commit()
    eid = panel["engagement"].id
    auth.login(member_user)
    assert (
        client.post(
            f"/engagements/{eid}/panel/{member.id}/reopen", data={"round": "1", "reason": "x"}
        ).status_code
        == 403
    )
    auth.logout()
    auth.login(panel["lead"])
    client.post(
        f"/engagements/{eid}/panel/{member.id}/reopen",
        data={"round": "1", "reason": "D11 评分理由与分值不符"},
    )
    session.expire_all()
    assert services.submitted_at(member, 1) is None
    entry = session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "panel.reopen"))
    assert "D11 评分理由与分值不符" in entry.summary


def test_second_round_shows_the_panel_median_and_keeps_both_rounds(panel, client, session, auth):
    for name, d11 in (("甲专家", "10"), ("乙专家", "13"), ("丙专家", "14")):
        token = panel["links"][name][1]
        declare(client, token)
        submit(client, token, d11=d11)
    auth.login(panel["lead"])
    eid = panel["engagement"].id
    client.post(f"/engagements/{eid}/panel/round2")
    auth.logout()
    token = panel["links"]["甲专家"][1]
    page = client.get(f"/x/{token}").get_data(as_text=True)
    assert "panel median 13.00" in page
    unchanged_reason = submit(client, token, d11="12", comment="")
    assert unchanged_reason.status_code == 422  # a changed score needs a reason
    assert submit(client, token, d11="12", comment="参考专家组意见调整").status_code == 302
    member = panel["links"]["甲专家"][0]
    session.expire_all()
    rounds = sorted((s.round, s.score) for s in member.scores if s.indicator_code == "D11")
    assert rounds == [(1, D(10)), (2, D(12))]
    assert result_of(session, panel["engagement"]).node("D11").score == D(13)  # 12,13,14


def test_panel_page_shows_statistics_to_the_team_only(panel, client, auth):
    for name, (d11, d13) in {
        "甲专家": ("12", "4"),
        "乙专家": ("13", "4.5"),
        "丙专家": ("6", "2"),
    }.items():
        token = panel["links"][name][1]
        declare(client, token)
        submit(client, token, d11=d11, d13=d13)
    eid = panel["engagement"].id
    auth.login(panel["lead"])
    page = client.get(f"/engagements/{eid}/panel").get_data(as_text=True)
    assert "Kendall" in page and "ICC(2,1)" in page and "甲专家" in page
    xlsx = client.get(f"/engagements/{eid}/panel.xlsx")
    assert xlsx.mimetype.endswith("spreadsheetml.sheet")
    auth.logout()
    auth.login(panel["client"])
    assert client.get(f"/engagements/{eid}/panel").status_code == 404


def test_invite_shows_the_link_once_with_a_qr_code(panel, client, auth, session):
    auth.login(panel["lead"])
    eid = panel["engagement"].id
    expert = services.create_expert(session, panel["lead"], name="丁专家")
    session.commit()
    page = client.post(
        f"/engagements/{eid}/panel/invite",
        data={"expert_id": expert.id, "codes": ["D11"], "days": "10"},
        follow_redirects=True,
    )
    text = page.get_data(as_text=True)
    assert "/x/" in text and "data:image/png;base64," in text
    token = text.split("/x/")[1].split('"')[0]
    assert "丁专家" in client.get(f"/x/{token}").get_data(as_text=True)
    again = client.get(
        f"/engagements/{eid}/panel/{page.request.path.split('/')[-2]}/link", follow_redirects=True
    ).get_data(as_text=True)
    assert "shown only once" in again  # a reload does not issue another link


def test_excel_sheet_round_trip_on_the_experts_behalf(panel, client, auth, session):
    import io

    from openpyxl import load_workbook

    member, _token = panel["links"]["甲专家"]
    eid = panel["engagement"].id
    auth.login(panel["lead"])
    blank = client.get(f"/engagements/{eid}/panel/{member.id}/sheet.xlsx")
    wb = load_workbook(io.BytesIO(blank.data))
    ws = wb.active
    assert [ws.cell(row=r, column=1).value for r in (5, 6)] == ["D11", "D13"]
    ws["D5"], ws["E5"] = 30, ""  # over the maximum: nothing may be recorded
    ws["D6"] = 5
    bad = io.BytesIO()
    wb.save(bad)
    bad.seek(0)
    response = client.post(
        f"/engagements/{eid}/panel/{member.id}/sheet-upload",
        data={"file": (bad, "s.xlsx"), "paper_declaration": "y"},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "Row 5" in response.get_data(as_text=True)
    session.expire_all()
    assert member.submitted_round1_at is None and member.declared_at is None
    ws["D5"], ws["E5"] = 12, "纸质评分表"
    good = io.BytesIO()
    wb.save(good)
    good.seek(0)
    client.post(
        f"/engagements/{eid}/panel/{member.id}/sheet-upload",
        data={"file": (good, "s.xlsx"), "paper_declaration": "y"},
        content_type="multipart/form-data",
    )
    session.expire_all()
    assert member.submitted_round1_at is not None
    entry = session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "panel.submit"))
    assert entry.user_id == panel["lead"].id and "代为录入" in entry.summary
    printable = client.get(f"/engagements/{eid}/panel/{member.id}/sheet.docx")
    assert printable.mimetype.endswith("wordprocessingml.document")


def test_weighted_mean_uses_the_weight_given_at_invitation(panel, client, session, auth):
    lead = panel["lead"]
    engagement = panel["engagement"]
    services.save_settings(
        session,
        lead,
        engagement,
        aggregation=services.Aggregation.WEIGHTED,
        trim_min_n=5,
        step=D("0.5"),
    )
    heavy = services.create_expert(session, lead, name="戊专家")
    _member, token = services.invite(session, lead, engagement, heavy, ["D11", "D13"], weight=D(3))
    session.commit()
    declare(client, token)
    submit(client, token, d11="14")
    first = panel["links"]["甲专家"][1]
    declare(client, first)
    submit(client, first, d11="10")
    result = result_of(session, engagement)
    assert result.panel.leaves["D11"].exact == D(13)  # (14·3 + 10·1) / 4
    assert result.node("D11").score == D(13) and result.node("D11").source is Source.PANEL


def test_the_link_is_e_mailed_when_mail_is_configured(
    panel, app, client, auth, session, monkeypatch
):
    sent = []

    class FakeSMTP:
        def __init__(self, host, port, timeout):
            sent.append(("connect", host, port))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def send_message(self, message):
            sent.append(("send", message["To"], message.get_content()))

    import workbench.mail

    monkeypatch.setattr(workbench.mail.smtplib, "SMTP", FakeSMTP)
    app.config["MAIL_SERVER"] = "127.0.0.1"
    expert = services.create_expert(session, panel["lead"], name="己专家", email="ji@example.org")
    session.commit()
    auth.login(panel["lead"])
    eid = panel["engagement"].id
    page = client.post(
        f"/engagements/{eid}/panel/invite",
        data={"expert_id": expert.id, "codes": ["D11"], "days": "10", "send_mail": "y"},
        follow_redirects=True,
    )
    assert ("connect", "127.0.0.1", 25) in sent
    to, body = next((s[1], s[2]) for s in sent if s[0] == "send")
    assert to == "ji@example.org" and "/x/" in body
    assert "e-mailed to ji@example.org" in page.get_data(as_text=True)


def test_an_expert_without_a_first_round_score_stays_in_round_one(panel, client, auth):
    first = panel["links"]["甲专家"][1]
    declare(client, first)
    submit(client, first, d11="10")
    auth.login(panel["lead"])
    client.post(f"/engagements/{panel['engagement'].id}/panel/round2")
    auth.logout()
    late = panel["links"]["乙专家"][1]
    declare(client, late)
    page = client.get(f"/x/{late}").get_data(as_text=True)
    assert "panel median" not in page and "Revision round" not in page


def test_round_one_cannot_be_reopened_once_the_revision_round_is_open(panel, client, auth, session):
    member, token = panel["links"]["甲专家"]
    declare(client, token)
    submit(client, token)
    services.open_round2(session, panel["lead"], panel["engagement"])
    session.commit()
    with pytest.raises(services.PanelError, match="round1_closed"):
        services.reopen(session, panel["lead"], member, 1, "x")


def test_a_failed_declaration_keeps_what_the_expert_wrote(panel, client):
    token = panel["links"]["甲专家"][1]
    page = client.post(
        f"/x/{token}/declare", data={"conflict": "declared", "conflict_text": "曾任顾问"}
    )
    text = page.get_data(as_text=True)
    assert page.status_code == 422 and "曾任顾问" in text
    assert 'value="declared" checked' in text


def test_the_team_is_told_of_a_recusal_on_the_engagement_page(panel, client, auth):
    token = panel["links"]["丙专家"][1]
    declare(client, token, conflict="declared", text="曾为被评价单位提供咨询")
    auth.login(panel["lead"])
    page = client.get(f"/engagements/{panel['engagement'].id}").get_data(as_text=True)
    assert "丙专家" in page and "recused" in page
    auth.logout()
    auth.login(panel["client"])
    page = client.get(f"/engagements/{panel['engagement'].id}").get_data(as_text=True)
    assert "丙专家" not in page


# --- the sheet's form, built from the seat's indicators; drafts and submissions apart --------


def sheet_version(client, token) -> str:
    page = client.get(f"/x/{token}").get_data(as_text=True)
    return re.search(r'name="version" id="sheet-version" value="(\d+)"', page).group(1)


def test_the_sheet_form_has_a_score_and_a_comment_per_indicator_of_the_seat(app):
    from workbench.experts.forms import sheet_form

    with app.test_request_context(
        method="POST", data={"score-D11": " 7.5 ", "comment-D11": "理由\x00", "version": "3"}
    ):
        form = sheet_form(["D11", "D13"])
        assert {f.name for f in form} >= {"score-D11", "comment-D11", "score-D13", "comment-D13"}
        assert "score-A11" not in {f.name for f in form}  # nothing beyond the seat's indicators
        form.meta.csrf = False
        assert form.validate()
        assert form.values() == {"D11": ("7.5", "理由"), "D13": ("", "")}
        assert form.expected_version() == 3


def test_a_score_that_is_not_a_number_is_named_and_nothing_is_saved(panel, client, session):
    member, token = panel["links"]["甲专家"]
    declare(client, token)
    version = sheet_version(client, token)
    for score in ("sieben", "NaN", "-Infinity", "12,5", "9" * 60):
        response = client.post(
            f"/x/{token}/sheet",
            data={"version": version, "score-D11": score, "comment-D11": "理由", "score-D13": "4"},
        )
        page = response.get_data(as_text=True)
        assert response.status_code == 422, score
        assert "not a number" in page and "Nothing was saved" in page
        assert f'value="{score}"' in page  # what was typed stays on the page to correct
    assert session.scalar(sa.select(sa.func.count()).select_from(SheetScore)) == 0
    session.expire_all()
    assert str(session.get(type(member), member.id).version) == version  # not bumped


def test_the_autosave_refuses_a_bad_value_field_by_field_and_saves_nothing(panel, client, session):
    _member, token = panel["links"]["甲专家"]
    declare(client, token)
    response = client.post(
        f"/x/{token}/draft",
        data={"score-D11": "zwölf", "comment-D11": "x" * 6000, "score-D13": "4"},
    )
    assert response.status_code == 422
    assert response.json["ok"] is False
    assert response.json["problems"] == {"D11": "not a number"}
    too_long = client.post(f"/x/{token}/draft", data={"score-D11": "8", "comment-D11": "x" * 6000})
    assert too_long.status_code == 422
    assert too_long.json["problems"] == {"D11": "at most 5000 characters"}
    assert session.scalar(sa.select(sa.func.count()).select_from(SheetScore)) == 0


def test_saving_a_draft_and_submitting_are_two_endpoints(panel, client, session):
    member, token = panel["links"]["甲专家"]
    declare(client, token)
    page = client.get(f"/x/{token}").get_data(as_text=True)
    assert f'formaction="/x/{token}/sheet/submit"' in page
    assert 'name="action"' not in page
    data = {"score-D11": "12", "comment-D11": "", "score-D13": "4", "comment-D13": "理由"}
    # a stray "action" (a page opened before the split) never submits through the draft URL
    draft = client.post(f"/x/{token}/sheet", data={**data, "action": "submit"})
    assert draft.status_code == 302
    session.expire_all()
    assert session.get(type(member), member.id).submitted_round1_at is None
    # submitting checks the comment a deduction needs: nothing changes
    refused = client.post(f"/x/{token}/sheet/submit", data={**data, "score-D11": "11"})
    assert refused.status_code == 422 and "a comment is required" in refused.get_data(as_text=True)
    session.expire_all()
    stored = session.scalar(sa.select(SheetScore).where(SheetScore.indicator_code == "D11"))
    assert stored.score == D(12)
    assert session.get(type(member), member.id).submitted_round1_at is None
    done = client.post(f"/x/{token}/sheet/submit", data={**data, "comment-D11": "理由"})
    assert done.status_code == 302
    session.expire_all()
    assert session.get(type(member), member.id).submitted_round1_at is not None


def test_panel_errors_are_told_from_the_one_registry(app):
    from workbench.error_messages import message_for

    with app.test_request_context():
        assert "revision round is already open" in message_for(services.PanelError("round2_open"))
        assert "another window" in message_for(services.SheetStale())
        assert str(services.SheetStale()) == "stale"  # the code the services' callers compare
