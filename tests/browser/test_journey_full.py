"""The whole engagement, end to end, in a real browser.

An evaluator creates an engagement, enters the funds and goals, sets up the 2020 indicator
system, invites three experts who declare and score on their phones, twenty respondents answer
the questionnaire on their phones, a 问卷星 export is imported and screened, the evaluator scores
the remaining indicators, writes the findings and builds the report; the lead and the reviewer
sign it off, it goes out for comments and is issued; the client logs in, downloads the Word
file, and the file states the total and the grade the scores page showed.

Screenshots of every step go to tests/artifacts/journey-NN-*.png.

Only the accounts (firm staff and the client's login) are made in Python, as an administrator
would have made them; everything else is done through the pages. Fifteen of the twenty
respondents answer through plain HTTP requests to the live server (GET the form, POST it with
its CSRF token, each in a fresh context) to keep the test fast; five answer in phone-sized
browser pages.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from workbench.accounts.models import OrganisationKind, Role
from workbench.db import db
from workbench.surveys import builder
from workbench.surveys.models import Survey

pytestmark = pytest.mark.browser

PASSWORD = "correct-horse-42"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "locale": "zh-CN"}
TITLE = "临川县2025年农村饮水安全巩固提升工程项目支出绩效评价"
#: twenty respondents; the first five in phone browsers, the others over HTTP. All twenty in
#: browsers also works (about 32 s instead of 8 s for this step on a 2-core machine).
RESPONDENTS, BROWSER_RESPONDENTS = 20, 5
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')

#: what the evaluator records on the scores page (B11/B12 follow the funds, D11 the panel,
#: D12 the surveys)
CHECKLISTS = {  # code → points met (indices); the others are left unticked
    "A11": [0, 1, 2, 3, 4],
    "A12": [0, 1, 2],
    "A21": [0, 1, 2, 3],
    "A22": [0, 1],
    "A31": [0, 1, 2, 3],
    "A32": [0, 1],
    "B21": [0, 1],
    "B22": [0, 1, 2, 3],
}
RATIOS = {"C11": ("126.5", "120"), "C21": ("97.2", "100"), "C31": ("10", "12")}


class Shots:
    """Numbered full-page screenshots."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.n = folder, 0

    def __call__(self, page, name: str) -> None:  # type: ignore[no-untyped-def]
        self.n += 1
        page.screenshot(path=str(self.folder / f"journey-{self.n:02d}-{name}.png"), full_page=True)


def _login(browser, base: str, username: str, **context):  # type: ignore[no-untyped-def]
    ctx = browser.new_context(**({"viewport": DESKTOP, "locale": "zh-CN"} | context))
    page = ctx.new_page()
    page.on("dialog", lambda d: d.accept())
    page.goto(f"{base}/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.locator("form button.w-100").click()
    page.wait_for_url("**/engagements/")
    return ctx, page


def _flash_ok(page) -> None:  # type: ignore[no-untyped-def]
    """No red message on the page."""
    danger = page.locator(".alert-danger")
    assert danger.count() == 0, danger.all_inner_texts()


def _fill_questionnaire(page, questions) -> None:  # type: ignore[no-untyped-def]
    """Answer every required question the way test_survey_phone does."""
    for i, q in enumerate(questions, start=1):
        if q.type == "matrix":
            for j in range(1, len(q.items) + 1):
                page.locator(f'[id="q{i}.{j}"] label').filter(has_text="满意").nth(1).click()
        elif q.expected:
            page.locator(f"#q{i} label").filter(has_text=q.expected).nth(1).click()
        elif q.type == "likert":
            page.locator(f"#q{i} label").filter(has_text="非常满意").first.click()
        elif q.type in ("single", "multiple"):
            page.locator(f"#q{i} label").first.click()


def _answers(questions, n: int) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Form data of respondent ``n`` (varied a little, always passing the attention check)."""
    data: dict[str, str] = {}
    for i, q in enumerate(questions, start=1):
        if q.type == "matrix":
            for j in range(1, len(q.items) + 1):
                data[f"q{i}.{j}"] = ("非常满意", "满意", "满意", "一般")[(n + j) % 4]
        elif q.expected:
            data[f"q{i}"] = q.expected
        elif q.type == "likert":
            data[f"q{i}"] = ("非常满意", "满意", "满意")[n % 3]
        elif q.type in ("single", "multiple"):
            data[f"q{i}"] = q.options[n % len(q.options)]
    return data


def _wjx_csv(path: Path) -> Path:
    """A 问卷星 export, answers as text (the “按选项文本” flavour), GBK like 问卷星 writes it."""
    header = ["序号", "提交答卷时间", "所用时间", "来源", "来源详情", "来自IP"]
    questions = [
        "1、您对供水水质的满意程度",
        "2、您对供水稳定性（停水、水压）的满意程度",
        "3、您对供水服务（报修、收费）的满意程度",
        "4、您所在的村（社区）",
    ]
    levels = ["非常满意", "满意", "满意", "一般", "非常满意", "不了解"]
    lines = [",".join(header + questions)]
    for i in range(1, 21):
        seconds = 180 + 7 * i if i != 13 else 8  # one clicked through in 8 seconds
        lines.append(
            ",".join(
                [
                    str(i),
                    f"2026/04/{10 + i % 12:02d} {9 + i % 10:02d}:{i:02d}:{(i * 7) % 60:02d}",
                    f"{seconds}秒",
                    "手机提交",
                    "微信",
                    f"117.{i % 7}.{i % 200}.{i}(某省-临川)",
                    *(levels[(i + k) % len(levels)] for k in range(3)),
                    ("东村", "西村", "南桥社区")[i % 3],
                ]
            )
        )
    path.write_bytes(("\n".join(lines) + "\n").encode("gb18030"))
    return path


def _docx_text(path: Path) -> str:
    from docx import Document

    document = Document(str(path))
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.extend(cell.text for cell in row.cells)
    return "\n".join(parts)


def test_full_engagement_journey(live_server, browser, artifacts, make_user, make_org, tmp_path):
    started = time.monotonic()
    base = live_server
    shot = Shots(artifacts)
    # --- accounts (an administrator's job, not part of the journey) ---------------------------
    bureau = make_org(OrganisationKind.CLIENT, name="临川县财政局")
    make_org(OrganisationKind.EVALUATED, name="临川县水利局")
    lead = make_user(Role.EVALUATOR, "zhang.wei")
    reviewer = make_user(Role.REVIEWER, "wang.fang")
    make_user(Role.CLIENT, "czj.liu", organisation=bureau)
    db.session.commit()

    errors: list[str] = []
    lead_ctx, page = _login(browser, base, lead.username)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    # --- 1. the engagement --------------------------------------------------------------------
    page.goto(f"{base}/engagements/new")
    page.locator("#title").fill(TITLE)
    page.locator("#project_name").fill("2025年农村饮水安全巩固提升工程")
    page.locator("#fiscal_year").fill("2025")
    page.locator("#client_id").select_option(label="临川县财政局")
    page.locator("#evaluated_unit_ids").select_option(label="临川县水利局")
    page.locator("#contract_no").fill("LCCZ-JX-2026-017")
    page.locator("#fee").fill("186,000")
    page.locator("#description").fill(
        "临川县2025年安排农村饮水安全巩固提升工程资金，用于新建及改造供水管网、建设净水厂（站）。"
    )
    shot(page, "new-engagement")
    page.get_by_role("button", name="保存").click()
    page.wait_for_selector("#engagement-title")
    engagement_id = int(re.search(r"/engagements/(\d+)", page.url).group(1))
    eng = f"{base}/engagements/{engagement_id}"
    assert page.inner_text("#engagement-title") == TITLE

    # the reviewer joins the team as 复核人
    page.locator("#team select[name=user_id]").select_option(str(reviewer.id))
    page.locator("#team select[name=role]").select_option("reviewer")
    page.locator("#team form").last.locator("button[type=submit]").click()
    page.wait_for_selector("#team")
    _flash_ok(page)
    assert "复核" in page.inner_text("#team")
    shot(page, "engagement-team")

    # --- 2. funds and goals -------------------------------------------------------------------
    page.goto(f"{eng}/budget")
    for row, (source, values) in enumerate(
        {
            "财政拨款": ("1200", "1350", "1350", "1350"),
            "上年结转": ("80", "80", "80", "80"),
        }.items()
    ):
        page.locator(f"#lines-{row}-name").fill(source)
        for key, value in zip(
            ("initial", "adjusted", "available", "executed"), values, strict=True
        ):
            page.locator(f"#lines-{row}-{key}").fill(value)
    shot(page, "budget")
    page.get_by_role("button", name="保存").click()
    page.wait_for_selector("#engagement-title")
    _flash_ok(page)

    page.goto(f"{eng}/goals")
    page.locator("#overall_goal").fill("提高农村集中供水率、自来水普及率和水质达标率。")
    page.locator("#annual_goal").fill(
        "2025年新建及改造供水管网不少于120公里，受益人口不少于4.2万人。"
    )
    page.get_by_role("button", name="保存").click()
    page.wait_for_load_state()
    for level1, level2, name, nature, target, unit, actual in (
        ("产出指标", "数量指标", "新建及改造供水管网长度", "ge", "120", "公里", "126.5"),
        ("效益指标", "社会效益指标", "受益农村人口", "ge", "4.2", "万人", "4.36"),
    ):
        page.goto(f"{eng}/goals/new")
        page.locator("#level1").fill(level1)
        page.locator("#level2").fill(level2)
        page.locator("#name").fill(name)
        page.locator("#nature").select_option(nature)
        page.locator("#target_value").fill(target)
        page.locator("#unit").fill(unit)
        page.locator("#actual_value").fill(actual)
        page.get_by_role("button", name="保存").click()
        page.wait_for_url(f"{eng}/goals")
        _flash_ok(page)
    assert "受益农村人口" in page.inner_text("main")
    shot(page, "goals")

    # --- 3. the indicator system from the 2020 template ---------------------------------------
    page.goto(f"{eng}/indicators")
    page.locator("form[action$='/indicators/instantiate'] select[name=template]").select_option(
        "project-2020"
    )
    page.locator("form[action$='/indicators/instantiate'] button[type=submit]").click()
    page.wait_for_selector("#indicator-tree")
    _flash_ok(page)
    assert page.locator("#node-D12").count() == 1
    shot(page, "indicator-system")

    # --- 4. three experts: registry, invitation, links ----------------------------------------
    experts = [
        ("周建国", "教授级高级工程师", "省水利水电勘测设计研究院", "18", "个别村供水保证率偏低"),
        ("陈慧", "副教授", "某大学公共管理学院", "17", "水质达标率提升，但个别水厂运行不稳定"),
        ("刘志远", "高级会计师", "某会计师事务所", "19", "目标基本实现，长效管护有待观察"),
    ]
    for name, title, organisation, _score, _comment in experts:
        page.goto(f"{base}/experts/new")
        page.locator("#name").fill(name)
        page.locator("#title").fill(title)
        page.locator("#organisation").fill(organisation)
        page.get_by_role("button", name="保存").click()
        page.wait_for_url(f"{base}/experts/")
    shot(page, "expert-registry")
    links = []
    for name, *_rest in experts:
        page.goto(f"{eng}/panel")
        option = page.locator("#expert_id option", has_text=name)
        page.locator("#expert_id").select_option(option.get_attribute("value"))
        assert page.locator("#code-D11").is_checked()
        page.locator("form[action$='/panel/invite'] button[type=submit]").click()
        page.wait_for_selector("#expert-link")
        links.append(page.locator("#expert-link").input_value())
        if len(links) == 1:
            shot(page, "expert-link")
    assert all("/x/" in link for link in links)

    for (name, _t, _o, score, comment), link in zip(experts, links, strict=True):
        ctx = browser.new_context(**PHONE)
        phone = ctx.new_page()
        phone.on("dialog", lambda d: d.accept())
        phone.goto(link)
        phone.locator("#conflict-none").check()
        phone.locator("#confidentiality").check()
        if name == experts[0][0]:
            shot(phone, "expert-declaration-phone")
        phone.get_by_role("button", name="确认").click()
        phone.wait_for_selector("#sheet-form")
        phone.fill("#score-D11", score)
        phone.fill("#comment-D11", comment)
        phone.get_by_role("button", name="提交").click()
        phone.wait_for_selector("text=已提交")
        assert phone.locator("#score-D11").is_disabled()
        if name == experts[0][0]:
            shot(phone, "expert-submitted-phone")
        ctx.close()
    page.goto(f"{eng}/panel")
    page.wait_for_selector("#panel-matrix")
    shot(page, "expert-panel")

    # --- 5. the questionnaire: from the library, published, answered on phones -----------------
    page.goto(f"{eng}/surveys/")
    page.locator("#new-start_from").select_option("beneficiary")
    page.locator("#new-title").fill("临川县农村饮水安全工程受益群众满意度调查")
    page.locator("#new-group").fill("受益群众")
    page.locator("form[action$='/surveys/new'] button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/surveys/\d+/build$"))
    survey_id = int(re.search(r"/surveys/(\d+)/build", page.url).group(1))
    shot(page, "questionnaire-build")
    page.goto(f"{eng}/surveys/{survey_id}/publish")
    page.locator("#status").select_option("open")
    page.locator("form:has(#status) button[type=submit]").click()
    page.wait_for_selector("#public-url")
    public_url = page.locator("#public-url").get_attribute("href")
    assert public_url and "/s/" in public_url
    shot(page, "questionnaire-published")

    questions = builder.questions_of(db.session.get(Survey, survey_id))
    phone_started = time.monotonic()
    for n in range(BROWSER_RESPONDENTS):  # on phone-sized browser pages
        ctx = browser.new_context(**PHONE)
        phone = ctx.new_page()
        phone.goto(public_url)
        _fill_questionnaire(phone, questions)
        if n == 0:
            shot(phone, "survey-phone-filled")
        phone.locator("#submit").click()
        phone.wait_for_selector("#thanks")
        if n == 0:
            shot(phone, "survey-phone-thanks")
        ctx.close()
    for n in range(RESPONDENTS - BROWSER_RESPONDENTS):  # over plain HTTP, own cookie jar each
        ctx = browser.new_context(**PHONE)
        form = ctx.request.get(public_url)
        assert form.ok, form.status
        token = CSRF.search(form.text()).group(1)
        answered = ctx.request.post(
            public_url, form={"csrf_token": token, **_answers(questions, n)}
        )
        assert answered.ok and "thanks" in answered.url, (answered.status, answered.url)
        ctx.close()
    phone_seconds = time.monotonic() - phone_started
    page.goto(f"{eng}/surveys/{survey_id}/publish")
    assert page.inner_text("#returned") == str(RESPONDENTS)

    # --- 6. a 问卷星 export imported as a new survey; screening; mapping -----------------------
    page.goto(f"{eng}/surveys/")
    page.locator("#imp-kind").select_option("wjx")
    page.locator("#imp-target").select_option("")
    page.locator("#imp-title").fill("供水服务对象满意度调查（问卷星）")
    page.locator("#imp-group").fill("服务对象")
    page.locator("#imp-file").set_input_files(str(_wjx_csv(tmp_path / "供水服务满意度_问卷星.csv")))
    page.locator("form[action$='/surveys/import'] button[type=submit]").click()
    page.wait_for_selector("#import-done")
    assert "20" in page.inner_text("#import-done")
    shot(page, "wjx-imported")
    wjx_id = db.session.scalar(
        sa.select(Survey.id).where(Survey.engagement_id == engagement_id, Survey.id != survey_id)
    )
    # screening: responses under 30 seconds are excluded (row 13 took 8 s)
    page.goto(f"{eng}/surveys/{wjx_id}/cleaning")
    page.locator("#min_seconds").fill("30")
    page.locator("form:has(#min_seconds) button[type=submit]").click()
    page.wait_for_selector("#exclusion-log")
    _flash_ok(page)
    assert page.inner_text("#excluded") == "1"
    assert page.inner_text("#valid") == "19"
    shot(page, "wjx-screening")

    for sid in (survey_id, wjx_id):
        page.goto(f"{eng}/surveys/{sid}/mapping")
        page.locator("select[name=leaf_code]").select_option("D12")
        if sid == survey_id:
            shot(page, "questionnaire-mapping")
        page.locator("form[action$='/mapping/save'] button[type=submit]:not([formaction])").click()
        page.wait_for_url(f"{eng}/surveys/")
        _flash_ok(page)
    assert page.locator(f"#rate-{survey_id}").count() == 1
    shot(page, "surveys")

    # --- 7. the remaining scores, entered on the scores page -----------------------------------
    def score(code: str, fill) -> None:  # type: ignore[no-untyped-def]
        page.goto(f"{eng}/scores/{code}")
        fill()
        page.locator("#reason").fill(f"{code}：依据核查资料评分")
        page.get_by_role("button", name="保存").click()
        page.wait_for_selector("#score-table")
        _flash_ok(page)

    for code, met in CHECKLISTS.items():
        score(code, lambda met=met: [page.locator(f"#met-{i}").check() for i in met])
    score("B13", lambda: page.locator("#findings").fill("2个乡镇报账凭证附件不全 | 1"))
    for code, (numerator, denominator) in RATIOS.items():

        def ratio(numerator=numerator, denominator=denominator) -> None:  # type: ignore[no-untyped-def]
            page.locator("#numerator").fill(numerator)
            page.locator("#denominator").fill(denominator)

        score(code, ratio)

    def qualitative() -> None:
        page.locator("#level").select_option("achieved")
        page.locator("#score").fill("6.5")

    score("C41", qualitative)
    page.goto(f"{eng}/scores")
    page.wait_for_selector("#score-table")
    total = page.inner_text("#total-score").strip()
    grade = page.inner_text("#grade").strip()
    assert re.fullmatch(r"\d+(\.\d+)?", total), total
    assert grade in {"优", "良", "中", "差"}
    shot(page, "scores")

    # --- 8. findings and a recommendation ------------------------------------------------------
    page.goto(f"{eng}/report/findings")
    for kind, title, text, cause, codes in (
        (
            "experience",
            "建立县级统筹、乡镇落实的工程建设管理机制",
            "县水利局牵头成立项目建设领导小组，乡镇明确专人负责征地协调。",
            "",
            "B21",
        ),
        (
            "problem",
            "工程建成后管护机制尚不健全",
            "部分村级供水站未落实专职管护人员，管护经费来源不稳定。",
            "重建轻管，管护经费未纳入年度预算。",
            "D11",
        ),
        (
            "other",
            "部分资料以复印件提供",
            "个别标段的验收资料为复印件，评价组已现场核对原件。",
            "",
            "",
        ),
    ):
        form = page.locator("#add-finding")
        form.locator("select[name=kind]").select_option(kind)
        form.locator("input[name=title]").fill(title)
        form.locator("textarea[name=text]").fill(text)
        form.locator("textarea[name=cause]").fill(cause)
        form.locator("input[name=codes]").fill(codes)
        form.locator("button[type=submit]").click()
        page.wait_for_selector("#add-finding")
        _flash_ok(page)
    rec = page.locator("#add-recommendation")
    rec.locator("textarea[name=text]").fill("建立工程长效管护机制，将管护经费纳入县级财政预算。")
    rec.locator("input[name=problems]").first.check()
    rec.locator("button[type=submit]").click()
    page.wait_for_selector("#add-finding")
    _flash_ok(page)
    shot(page, "findings")

    # --- 9. the report: build, review, comments, issue -----------------------------------------
    page.goto(f"{eng}/report/")
    shot(page, "report-qa")
    # no blocking problem; warnings (deductions without a finding …) are for the reviewers
    blocking = page.locator("#qa-problems [data-severity=blocking]")
    assert blocking.count() == 0, blocking.all_inner_texts()
    assert page.inner_text("#total") == total and page.inner_text("#grade") == grade
    page.locator("#build").click()
    page.wait_for_selector("#v1")
    page.locator("#v1 form[action$='/submit'] button").click()
    page.wait_for_selector("#v1 [data-status=review]")
    page.locator("#v1 button[name=decision][value=approve]").click()  # 项目负责人复核
    page.wait_for_selector("#v1 [data-status=review]")
    _flash_ok(page)
    shot(page, "report-lead-signed")

    review_ctx, review = _login(browser, base, reviewer.username)
    review.goto(f"{eng}/report/")
    review.locator("#v1 input[name=comment]").fill("数据与底稿核对一致，同意。")
    review.locator("#v1 button[name=decision][value=approve]").click()  # 质控复核
    review.wait_for_selector("#v1")
    _flash_ok(review)
    shot(review, "report-reviewer-signed")
    review_ctx.close()

    page.goto(f"{eng}/report/")
    page.locator("#v1 form[action$='/consult'] button").click()
    page.wait_for_selector("#v1 [data-status=consultation]")
    page.locator("#v1 input[name=report_no]").fill("青禾绩评字〔2026〕第017号")
    page.locator("#v1 form[action$='/issue'] button").click()  # confirm() accepted
    page.wait_for_selector("[data-status=issued]")
    _flash_ok(page)
    shot(page, "report-issued")
    lead_ctx.close()

    # --- 10. the client downloads the issued report -------------------------------------------
    client_ctx, client = _login(browser, base, "czj.liu")
    client.goto(eng)
    client.wait_for_selector("#issued-reports")
    assert "青禾绩评字〔2026〕第017号" in client.inner_text("#issued-reports")
    shot(client, "client-issued-report")
    with client.expect_download() as download:
        client.locator("#issued-reports a", has_text="Word").first.click()
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    client_ctx.close()
    assert path.suffix == ".docx"
    text = _docx_text(path)
    assert f"综合得分{total}分，评价等级为“{grade}”" in text, text[:2000]
    assert "青禾绩评字〔2026〕第017号" in text

    assert [e for e in errors if "422" not in e] == []
    print(
        f"journey: {time.monotonic() - started:.1f} s "
        f"(20 respondents {phone_seconds:.1f} s); total {total}, grade {grade}"
    )
