"""#16 authoring: the work process from recorded phases, the per-indicator analysis, a
conclusion per dimension and the recommendations in the summary — in the demo's Word report,
and the page where the team records the phases."""

import io
import re

import sqlalchemy as sa
from docx import Document
from openpyxl import load_workbook

from workbench.audit.models import AuditEntry
from workbench.demo import DEMO_PHASES, DEMO_RECOMMENDATIONS, DEMO_USERS
from workbench.engagements import revision
from workbench.evaluation import result_of
from workbench.reports.context import build_context
from workbench.reports.models import WorkPhase
from workbench.reports.render import bundled_path, render

PASSWORDS = {u: p for u, _n, _r, _o, p in DEMO_USERS}


def login(client, user):
    client.post("/logout")
    response = client.post(
        "/login", data={"username": user.username, "password": PASSWORDS[user.username]}
    )
    assert response.status_code == 302


def _paragraphs(doc):
    return [p.text for p in doc.paragraphs]


def _between(texts, start, end):
    i = texts.index(start)
    j = next(k for k in range(i + 1, len(texts)) if texts[k] == end)
    return texts[i + 1 : j]


def test_the_demo_report_is_written_from_the_recorded_work_and_the_evaluated_result(demo, session):
    engagement = demo["engagement"]
    context = build_context(session, engagement)
    texts = _paragraphs(Document(io.BytesIO(render(context, bundled_path("project")))))
    body = "\n".join(texts)

    # 工作过程: the recorded phases, dates and places, in date order; no audit phrases
    process = [t for t in _between(texts, "（四）绩效评价工作过程", "（五）评价工作组及专家") if t]
    assert len(process) == len(DEMO_PHASES)
    for line, (_kind, start, _end, place, _who, _text) in zip(
        process, sorted(DEMO_PHASES, key=lambda p: p[1]), strict=True
    ):
        assert line.startswith(f"{start.year}年{start.month}月{start.day}日")
        assert f"在{place}开展" in line
    assert (
        "2026年3月23日至3月27日，在临川县水利局及临川镇、青山乡、河口镇、石门乡开展现场核查" in body
    )
    for audit_phrase in ("进入方案设计阶段", "接受委托，成立绩效评价工作组", "开展评价工作"):
        assert audit_phrase not in "\n".join(process)

    # per-indicator analysis: no slot sentences, deductions read as findings
    assert "该指标得满分。" not in body
    assert not re.search(r"未满足：", body)
    assert "“预算额度测算依据充分，按照标准编制”未满足，扣0.75分。" in body
    assert "评价组查阅了县政府常务会议纪要、农村供水保障规划等资料" in body
    # an expert-scored leaf says what the panel found (their comments, no names)
    assert "专家组意见：管护经费未全覆盖；长效管护机制尚未建立" in body

    # a conclusion per dimension with its score and rate, from the evaluated result
    result = result_of(session, engagement)
    analysis = _between(texts, "四、绩效评价指标分析", "五、主要经验及做法、存在的问题及原因分析")
    for d in result.dimensions:
        sentence = (
            f"{d.name}指标分值{d.printed_weight}分，得分{d.printed_score}分，得分率{d.printed_rate}"
        )
        assert any(t.startswith(sentence) and "主要扣分点：" in t for t in analysis), d.name
        assert sentence in next(t for t in texts if t.startswith("经综合评价"))
    # the overall conclusion names the main problems
    assert "评价发现的主要问题：（1）项目事前论证和预算测算不够充分" in body

    # the summary lists each recommendation itself
    summary = "\n".join(_between(texts, "摘  要", "一、基本情况"))
    for text, _problems in DEMO_RECOMMENDATIONS:
        assert text.rstrip("。") in summary
    assert "条建议" not in summary


def test_the_team_records_edits_and_deletes_phases_audited_and_bumping_the_revision(
    demo, client, session
):
    engagement = demo["engagement"]
    eid = engagement.id
    login(client, demo["users"]["zhang.wei"])
    page = client.get(f"/engagements/{eid}/report/phases")
    assert page.status_code == 200 and "现场核查" in page.get_data(as_text=True)

    before = revision.current(session, eid)
    added = client.post(
        f"/engagements/{eid}/report/phases/add",
        data={
            "kind": "interview",
            "start": "2026-05-06",
            "place": "河口镇政府",
            "participants": "评价组2人",
            "text": "补充访谈乡镇财政所",
        },
    )
    assert added.status_code == 302
    phase = session.scalar(sa.select(WorkPhase).where(WorkPhase.place == "河口镇政府"))
    assert phase is not None and phase.end is None
    phase_id = phase.id
    assert revision.current(session, eid) > before
    assert session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "phase.save"))
    lines = build_context(session, engagement).values["timeline"]
    assert lines[-1]["date"] == "2026年5月6日" and "在河口镇政府开展座谈访谈" in lines[-1]["text"]

    # an end before the start is refused with the message, nothing changes
    refused = client.post(
        f"/engagements/{eid}/report/phases/update",
        data={"id": phase.id, "kind": "interview", "start": "2026-05-06", "end": "2026-05-01"},
    )
    assert refused.status_code == 422 and "cannot end before it starts" in refused.get_data(
        as_text=True
    )
    edited = client.post(
        f"/engagements/{eid}/report/phases/update",
        data={
            "id": phase.id,
            "kind": "exchange",
            "start": "2026-05-06",
            "end": "2026-05-07",
            "place": "河口镇政府",
        },
    )
    assert edited.status_code == 302
    session.expire_all()
    assert session.get(WorkPhase, phase.id).kind == "exchange"

    sheet = client.get(f"/engagements/{eid}/report/phases.xlsx")
    assert sheet.status_code == 200
    rows = list(load_workbook(io.BytesIO(sheet.data)).active.iter_rows(values_only=True))
    assert any("河口镇政府" in [str(c) for c in r] for r in rows)

    revision_before_delete = revision.current(session, eid)
    assert (
        client.post(f"/engagements/{eid}/report/phases/delete", data={"id": phase_id}).status_code
        == 302
    )
    session.expire_all()
    assert session.get(WorkPhase, phase_id) is None
    assert revision.current(session, eid) > revision_before_delete
    assert session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "phase.delete"))


def test_without_recorded_phases_the_work_process_is_a_sentence(demo, session):
    engagement = demo["engagement"]
    session.execute(sa.delete(WorkPhase).where(WorkPhase.engagement_id == engagement.id))
    session.commit()
    (line,) = build_context(session, engagement).values["timeline"]
    assert line["text"] == "评价工作组尚未登记评价工作各阶段的时间、地点和工作内容。"
