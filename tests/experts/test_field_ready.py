"""Issue #15, experts: the Delphi reason, what the sheet shows, autosave and stale tabs, the
conflict declaration, and named or anonymised expert tables."""

from decimal import Decimal as D
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.experts.test_panel import declare, submit
from workbench.accounts.models import Role
from workbench.audit.models import AuditEntry
from workbench.core.reporting import expert_table
from workbench.engagements import services as engagements
from workbench.engagements.models import Engagement, MemberRole
from workbench.evaluation import result_of
from workbench.experts import services
from workbench.experts.models import Conflict
from workbench.workpapers import services as workpapers


def _revision(session, engagement) -> int:
    session.expire_all()
    return session.get(Engagement, engagement.id).data_revision


def _round_two(panel, client, auth):
    for name, d11 in (("甲专家", "10"), ("乙专家", "13"), ("丙专家", "14")):
        token = panel["links"][name][1]
        declare(client, token)
        submit(client, token, d11=d11, comment="第一轮理由")
    auth.login(panel["lead"])
    client.post(f"/engagements/{panel['engagement'].id}/panel/round2")
    auth.logout()
    return panel["links"]["甲专家"]


# --- 1. Delphi: a changed score needs a new reason ----------------------------------------------


def test_a_changed_second_round_score_needs_a_new_reason(panel, client, session, auth):
    member, token = _round_two(panel, client, auth)
    page = client.get(f"/x/{token}").get_data(as_text=True)
    assert "a changed score in the second round needs a new reason" in page  # the label
    assert "Your first-round reason: 第一轮理由" in page
    assert '<textarea class="form-control" rows="2" id="comment-D11" name="comment-D11" >' in page
    # the round-1 comment sent again does not count as the reason for the change
    refused = submit(client, token, d11="12", comment="第一轮理由")
    text = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "the first-round reason does not count" in text
    session.expire_all()
    assert not [s for s in member.scores if s.round == 2]  # nothing saved
    assert services.submitted_at(member, 2) is None
    # spacing aside, the same text is the same reason
    assert submit(client, token, d11="12", comment=" 第一轮 理由 ").status_code == 422
    assert submit(client, token, d11="12", comment="参考专家组意见，调低").status_code == 302
    session.expire_all()
    assert services.scores_of(member, 2)["D11"].comment == "参考专家组意见，调低"


def test_the_service_refuses_a_round_one_reason_for_a_changed_score(panel, session):
    member, _token = panel["links"]["甲专家"]
    services.declare(session, member, has_conflict=False, text="", confidentiality=True)
    template = panel["template"]
    values = {"D11": ("10", "理由"), "D13": ("4", "理由")}
    services.save_sheet(session, member, template, values, round_no=1, submit=True)
    services.settings_of(session, panel["engagement"]).round2_open = True
    with pytest.raises(services.SheetInvalid) as refused:
        services.save_sheet(session, member, template, {**values, "D11": ("12", "理由")},
                            round_no=2, submit=True)  # fmt: skip
    assert [(p.code, p.problem) for p in refused.value.problems] == [("D11", "new_reason_required")]


# --- 2. what the sheet shows ------------------------------------------------------------------


@pytest.fixture
def shared(panel, session, app):
    """A shared and an unshared document of the panel's engagement, and a shared one of
    another engagement."""
    folder = Path(app.instance_path) / "evidence"
    lead, engagement = panel["lead"], panel["engagement"]
    doc = workpapers.upload_evidence(session, lead, engagement, folder, b"%PDF-1.4 a", "申报表.pdf")
    internal = workpapers.upload_evidence(
        session, lead, engagement, folder, b"%PDF-1.4 b", "内部底稿.pdf"
    )
    other = engagements.create_engagement(
        session, lead, title="另一项评价", project_name="另一项目", client=engagement.client,
        kind=engagement.kind, scope=engagement.scope, fiscal_year=2025,
    )  # fmt: skip
    foreign = workpapers.upload_evidence(session, lead, other, folder, b"%PDF-1.4 c", "别家.pdf")
    workpapers.set_shared(session, lead, foreign, True)
    session.commit()
    return {"doc": doc, "internal": internal, "foreign": foreign}


def test_the_team_shares_a_document_and_only_it_reaches_the_expert(
    panel, shared, client, session, auth
):
    engagement = panel["engagement"]
    _member, token = panel["links"]["甲专家"]
    declare(client, token)
    auth.login(panel["lead"])
    response = client.post(
        f"/engagements/{engagement.id}/workpapers/evidence/share",
        data={"id": shared["doc"].id, "shared": "1"},
    )
    assert response.status_code == 302
    auth.logout()
    entry = session.scalar(
        sa.select(AuditEntry).where(
            AuditEntry.action == "workpapers.share", AuditEntry.object_id == shared["doc"].id
        )
    )
    assert entry is not None and entry.changes["shared_with_panel"]["after"] is True
    page = client.get(f"/x/{token}").get_data(as_text=True)
    assert "申报表.pdf" in page and "内部底稿.pdf" not in page and "别家.pdf" not in page
    download = client.get(f"/x/{token}/documents/{shared['doc'].id}")
    assert download.status_code == 200 and download.data == b"%PDF-1.4 a"
    assert client.get(f"/x/{token}/documents/{shared['internal'].id}").status_code == 404
    assert client.get(f"/x/{token}/documents/{shared['foreign'].id}").status_code == 404
    assert client.get(f"/x/not-a-token/documents/{shared['doc'].id}").status_code == 404
    assert client.get(f"/x/{token}/documents/{2**63}").status_code == 404  # no driver overflow


def test_an_undeclared_expert_cannot_download_yet(panel, shared, client, session):
    workpapers.set_shared(session, panel["lead"], shared["doc"], True)
    session.commit()
    token = panel["links"]["乙专家"][1]
    assert client.get(f"/x/{token}/documents/{shared['doc'].id}").status_code == 404


def test_the_sheet_shows_key_points_criteria_sources_goals_deadline_and_contact(
    panel, client, session, auth
):
    engagement = panel["engagement"]
    engagement.overall_goal = "保障农村居民饮水安全的总体目标"
    session.commit()
    auth.login(panel["lead"])
    client.post(
        f"/engagements/{engagement.id}/panel/expert-info",
        data={"named_in_report": "named", "deadline": "2026-12-20", "contact": "李明 13800000000"},
    )
    auth.logout()
    token = panel["links"]["甲专家"][1]
    declare(client, token)
    page = client.get(f"/x/{token}").get_data(as_text=True)
    leaf = panel["template"].find("D11")
    for text in (leaf.key_points, leaf.criteria, leaf.data_source):
        assert text.splitlines()[0] in page
    assert "Key points of the evaluation" in page and "Data sources" in page
    assert "保障农村居民饮水安全的总体目标" in page
    assert "2026-12-20" in page and "李明 13800000000" in page


def test_without_a_contact_the_engagement_leads_are_shown(panel, client, session):
    # the engagement's creator leads it
    assert panel["engagement"].member_role(panel["lead"]) is MemberRole.LEAD
    token = panel["links"]["甲专家"][1]
    declare(client, token)
    page = client.get(f"/x/{token}").get_data(as_text=True)
    assert 'id="sheet-contact"' in page and panel["lead"].display_name in page


# --- 3. autosave answers and stale tabs ---------------------------------------------------------


def test_a_stale_autosave_answers_with_the_saved_values(panel, client, session):
    member, token = panel["links"]["甲专家"]
    declare(client, token)
    session.expire_all()
    opened = member.version
    first = client.post(f"/x/{token}/draft", data={"version": opened, "score-D11": "9",
                                                  "comment-D11": "另一窗口"})  # fmt: skip
    assert first.status_code == 200
    stale = client.post(f"/x/{token}/draft", data={"version": opened, "score-D11": "3"})
    body = stale.get_json()
    assert stale.status_code == 409 and body["stale"] is True
    assert body["values"]["D11"] == ["9", "另一窗口"]
    assert body["version"] == first.get_json()["version"]
    session.expire_all()
    assert services.scores_of(member, 1)["D11"].score == D(9)  # the stale save changed nothing


def test_a_tab_asks_what_is_saved(panel, client, session):
    member, token = panel["links"]["甲专家"]
    assert client.get(f"/x/{token}/saved").status_code == 404  # not declared yet
    declare(client, token)
    client.post(f"/x/{token}/draft", data={"score-D11": "8.5", "comment-D11": "草稿"})
    body = client.get(f"/x/{token}/saved").get_json()
    session.expire_all()
    assert body["version"] == member.version
    assert body["values"] == {"D11": ["8.5", "草稿"], "D13": ["", ""]}
    assert body["locked"] is False


def test_the_sheet_carries_the_autosave_messages_and_progress_ids(panel, client, app):
    app.config["BABEL_DEFAULT_LOCALE"] = "zh_Hans_CN"
    token = panel["links"]["甲专家"][1]
    declare(client, token)
    page = client.get(f"/x/{token}", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert 'data-network="网络中断，草稿未保存"' in page
    assert "data-expired=" in page and "data-reloaded=" in page and "data-saved-url=" in page
    assert 'id="sheet-progress-count"' in page
    script = Path(app.static_folder, "js", "sheet.js").read_text(encoding="utf-8")
    assert "visibilitychange" in script and "dataset.network" in script


# --- 4. the conflict declaration --------------------------------------------------------------


def test_nothing_is_pre_selected_and_a_missing_choice_is_refused(panel, client, session):
    member, token = panel["links"]["甲专家"]
    page = client.get(f"/x/{token}").get_data(as_text=True)
    radios = [line for line in page.splitlines() if 'name="conflict"' in line]
    assert len(radios) == 2 and not any("checked" in line for line in radios)
    refused = client.post(f"/x/{token}/declare", data={"confidentiality": "y"})
    assert refused.status_code == 422
    assert "choose whether you have a conflict of interest" in refused.get_data(as_text=True)
    session.expire_all()
    assert member.declared_at is None


def test_the_lead_undoes_a_mistaken_recusal_with_a_reason_and_the_expert_scores(
    panel, client, session, auth, make_user
):
    member, token = panel["links"]["丙专家"]
    declare(client, token, conflict="declared", text="误选：与被评价单位无关系")
    engagement = panel["engagement"]
    url = f"/engagements/{engagement.id}/panel/{member.id}/undo-recusal"
    colleague = make_user(Role.EVALUATOR)
    engagements.add_member(session, panel["lead"], engagement, colleague, MemberRole.MEMBER)
    session.commit()
    auth.login(colleague)
    assert client.post(url, data={"reason": "x"}).status_code == 403
    auth.logout()
    auth.login(panel["lead"])
    client.post(url, data={"reason": ""})  # no reason: nothing changes
    session.expire_all()
    assert member.recused
    before = _revision(session, engagement)
    assert (
        client.post(url, data={"reason": "专家勾选有误，经电话核实无利益冲突"}).status_code == 302
    )
    auth.logout()
    session.expire_all()
    assert member.conflict is Conflict.NONE and not member.recused
    assert _revision(session, engagement) > before
    entry = session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "panel.undo_recusal"))
    assert "经电话核实无利益冲突" in entry.summary and "误选" in entry.summary
    assert 'id="sheet-form"' in client.get(f"/x/{token}").get_data(as_text=True)
    assert submit(client, token).status_code == 302


# --- 5. named or anonymised expert tables -------------------------------------------------------


def test_the_engagement_chooses_an_anonymised_expert_table(panel, client, session, auth):
    engagement = panel["engagement"]
    for name, d11 in (("甲专家", "12"), ("乙专家", "13")):
        token = panel["links"][name][1]
        declare(client, token)
        submit(client, token, d11=d11)
    table = expert_table(result_of(session, engagement))
    assert "甲专家" in table.headers[0] and "专家A" not in table.headers[0]
    token = panel["links"]["丙专家"][1]
    assert "your name appears next to your scores" in client.get(f"/x/{token}").get_data(
        as_text=True
    )
    before = _revision(session, engagement)
    auth.login(panel["lead"])
    client.post(
        f"/engagements/{engagement.id}/panel/expert-info", data={"named_in_report": "anonymous"}
    )
    assert _revision(session, engagement) > before
    entry = session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "panel.expert_info"))
    assert entry.changes["named_in_report"] == {"before": True, "after": False}
    table = expert_table(result_of(session, session.get(Engagement, engagement.id)))
    assert table.headers[0][2:4] == ["专家A", "专家B"]
    assert not any("甲专家" in h or "乙专家" in h for h in table.headers[0])
    # the team's panel page still names them
    panel_page = client.get(f"/engagements/{engagement.id}/panel").get_data(as_text=True)
    assert "甲专家" in panel_page and "乙专家" in panel_page
    auth.logout()
    # the expert who has not declared yet is told before scoring
    declare_page = client.get(f"/x/{token}").get_data(as_text=True)
    assert "does not show your name" in declare_page


def test_the_expert_info_is_for_the_lead_only(panel, client, session, auth, make_user):
    colleague = make_user(Role.EVALUATOR)
    engagement = panel["engagement"]
    engagements.add_member(session, panel["lead"], engagement, colleague, MemberRole.MEMBER)
    session.commit()
    auth.login(colleague)
    response = client.post(
        f"/engagements/{engagement.id}/panel/expert-info", data={"named_in_report": "anonymous"}
    )
    assert response.status_code == 403
    assert services.settings_of(session, engagement).named_in_report is True
