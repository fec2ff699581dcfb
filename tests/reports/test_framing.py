"""The framing of the bundled project report (issue #16, "Professional framing"): read back
from the demo report with python-docx."""

import io
import re

import pytest
from docx import Document

from workbench.core.reporting import BASIS_RULES, band_texts, item_label
from workbench.evaluation import result_of
from workbench.experts import services as experts
from workbench.reports.context import build_context
from workbench.reports.render import bundled_path, render


def _doc(session, engagement):
    context = build_context(session, engagement)
    return context, Document(io.BytesIO(render(context, bundled_path("project"))))


def _texts(doc):
    return [p.text.strip() for p in doc.paragraphs]


def _after(texts, heading, stop):
    start = texts.index(heading)
    end = next(k for k in range(start + 1, len(texts)) if texts[k].startswith(stop))
    return [t for t in texts[start + 1 : end] if t]


@pytest.fixture
def built(demo, session):
    return _doc(session, demo["engagement"])


def test_the_cover_names_every_party_the_period_the_number_and_the_date(built):
    context, doc = built
    texts = _texts(doc)
    toc = texts.index("目  录")
    cover = texts[:toc]
    for line in (
        "委 托 方：临川县财政局",
        "被评价单位：临川县水利局",
        "评价机构：青禾预算绩效评价咨询有限公司",
        "评价期间：2025年1月1日至2025年12月31日",
        "报告编号：（出具时编号）",
        context.values["report_date"],
    ):
        assert line in cover, line
    assert any(t.endswith("项目支出绩效评价报告") for t in cover)


def test_the_basis_lists_the_selected_rules_the_firms_own_and_the_commission_notice(built):
    _context, doc = built
    basis = _after(_texts(doc), "（二）绩效评价依据", "（三）")
    assert basis == [
        f"1. {BASIS_RULES[0]}",
        f"2. {BASIS_RULES[2]}",
        f"3. {BASIS_RULES[4]}",
        "4. 《临川县县级预算绩效管理办法》",
        "5. 《临川县财政局关于委托开展2025年度重点项目支出绩效评价的通知》（临财绩〔2026〕3号）",
    ]
    assert "项目支出绩效评价管理办法" in basis[2]


def test_the_statement_says_who_provided_the_data_and_answers_for_it(built):
    _context, doc = built
    texts = _texts(doc)
    statement = texts[texts.index("报告声明") + 1]
    assert "由临川县水利局提供" in statement
    assert "临川县水利局对所提供资料的真实性、准确性和完整性负责" in statement
    assert texts.index("报告声明") < texts.index("目  录")


def test_team_and_named_experts(built, demo, session):
    _context, doc = built
    team = _after(_texts(doc), "（五）评价工作组及专家", "三、")
    assert team[:3] == ["项目负责人：张伟", "项目组成员：李娜", "复核人：王芳"]
    panel = result_of(session, demo["engagement"]).panel
    names = [panel.names[e] for e in panel.experts]
    assert team[4:] == [f"{k}. {n}" for k, n in enumerate(names, 1)]
    assert not any("专家A" in t for t in team)


def test_an_anonymised_panel_prints_expert_letters_in_the_list(demo, session):
    engagement = demo["engagement"]
    lead = demo["users"]["zhang.wei"]
    experts.save_expert_info(
        session, lead, engagement, named_in_report=False, deadline=None, contact=""
    )
    session.commit()
    _context, doc = _doc(session, engagement)
    team = _after(_texts(doc), "（五）评价工作组及专家", "三、")
    assert team[4:] == ["1. 专家A", "2. 专家B", "3. 专家C"]
    body = "\n".join(_texts(doc))
    panel = result_of(session, engagement).panel
    assert not any(name in body for name in panel.names.values())


def test_the_signature_page_follows_the_main_text(built):
    _context, doc = built
    texts = _texts(doc)
    page = texts.index("签 字 页")
    assert texts.index("七、其他需要说明的问题") < page < texts.index("附件")
    signed = texts[page : texts.index("附件")]
    assert "评价机构：青禾预算绩效评价咨询有限公司（盖章）" in signed
    assert any(t.startswith("项目负责人（签字）") for t in signed)
    assert any(t.startswith("复核人（签字）") for t in signed)


def test_result_application_follows_the_grade_and_the_bureaus_rules(demo, session):
    engagement = demo["engagement"]
    context, doc = _doc(session, engagement)
    grade = context.values["grade"]
    assert grade == "良"
    texts = _texts(doc)
    sentence = texts[texts.index("评价结果应用") + 1]
    assert sentence.startswith("根据委托方的评价结果应用规则，评价等级为“良”的项目")
    assert "下一年度预算建议“保持”，按当年预算的100%安排" in sentence
    # the bureau's own rule for the grade wins
    engagement.client.result_rules = {"良": {"action": "核减", "share": "0.95"}}
    session.commit()
    _context, doc = _doc(session, engagement)
    texts = _texts(doc)
    sentence = texts[texts.index("评价结果应用") + 1]
    assert "下一年度预算建议“核减”，按当年预算的95%安排" in sentence


def test_grade_bands_are_written_as_the_field_writes_them(built):
    _context, doc = built
    body = "\n".join(_texts(doc))
    assert "优：90分（含）以上；良：80（含）–90分；中：60（含）–80分；差：60分以下" in body
    assert "分及以上" not in body
    assert band_texts()[1] == "良：80（含）–90分"


def test_charts_are_numbered_and_captioned_in_order(built):
    context, doc = built
    captions = [p.text for p in doc.paragraphs if p.style.name == "图题" and p.text.strip()]
    assert captions[0] == "图1 各一级指标得分率"
    assert [int(re.match(r"图(\d+) ", c).group(1)) for c in captions] == list(
        range(1, len(captions) + 1)
    )
    assert len(captions) == len(context.charts) >= 2
    assert all(c.endswith("各题满意度分布") for c in captions[1:])


def test_survey_item_labels_carry_no_export_number(built):
    context, doc = built
    labels = []
    for name, spec in context.tables.items():
        if name.startswith("survey_"):
            labels += [row[0] for row in spec.rows]
    assert labels
    assert not [x for x in labels if re.match(r"^\s*\d+\s*[、.．]", x) or "—" in x]
    cells = [c.text for t in doc.tables for r in t.rows for c in r.cells]
    assert not [c for c in cells if re.match(r"^\s*\d+、", c)]
    for chart in context.charts.values():
        assert not [x for x in chart.labels if re.match(r"^\s*\d+\s*[、.．]", x)]
    assert item_label("5、您对以下方面的满意程度—水质") == "水质"
    assert item_label("2025年度供水情况") == "2025年度供水情况"


def test_a_team_without_members_or_reviewers_prints_a_sentence_not_a_dash(demo, session):
    # the browser journey's engagement has only its lead: "项目组成员：—" was a placeholder
    # that report QA blocks, so issuing failed
    from workbench.core.kinds import MemberRole

    engagement = demo["engagement"]
    for member in list(engagement.members):
        if member.role in (MemberRole.MEMBER, MemberRole.REVIEWER):
            session.delete(member)
    session.commit()
    session.expire_all()
    _context, doc = _doc(session, engagement)
    team = _after(_texts(doc), "（五）评价工作组及专家", "三、")
    assert team[:3] == [
        "项目负责人：张伟",
        "项目组成员：无（项目负责人以外未设项目组成员）",
        "复核人：尚未指定",
    ]
