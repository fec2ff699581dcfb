"""Demo data: a realistic county rural drinking-water engagement. Idempotent."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from workbench.accounts import services as accounts
from workbench.accounts.models import Organisation, OrganisationKind, Role, User
from workbench.core import reporting
from workbench.core.budget import FundSource
from workbench.core.goals import GoalNature, GoalRow
from workbench.core.scoring import Finding, LeafInput, QualitativeLevel
from workbench.core.workflow import EngagementState
from workbench.engagements import services as engagements
from workbench.engagements.models import CommissionScope, Engagement, EvaluationKind, MemberRole
from workbench.experts import services as panel
from workbench.reports import services as reports
from workbench.reports.models import Finding as ReportFinding
from workbench.reports.models import WorkPhase
from workbench.scoring import services as scoring
from workbench.surveys import builder, collect, jobs
from workbench.surveys import services as surveys
from workbench.surveys.models import ImportJob, Survey

FIRM = "青禾预算绩效评价咨询有限公司"
CLIENT = "临川县财政局"
OTHER_CLIENT = "安平县财政局"
UNIT = "临川县水利局"
DEMO_TITLE = "临川县2025年农村饮水安全巩固提升工程项目支出绩效评价"

#: (username, display name, role, organisation, password) — printed by ``make run``.
DEMO_USERS = [
    ("admin", "系统管理员", Role.ADMIN, FIRM, "demo-admin-2026"),
    ("zhang.wei", "张伟", Role.EVALUATOR, FIRM, "demo-evaluator-2026"),
    ("li.na", "李娜", Role.EVALUATOR, FIRM, "demo-evaluator-2026"),
    ("wang.fang", "王芳", Role.REVIEWER, FIRM, "demo-reviewer-2026"),
    ("czj.liu", "刘洋（临川县财政局）", Role.CLIENT, CLIENT, "demo-client-2026"),
]

BUDGET = {
    FundSource.FISCAL: ("1200", "1350", "1350", "1287.46"),
    FundSource.CARRYOVER: ("80", "80", "80", "80"),
    FundSource.OTHER: ("150", "150", "120", "96.5"),
}

GOALS = [
    ("产出指标", "数量指标", "新建及改造供水管网长度", GoalNature.GE, "120", "公里", "126.5", ""),
    ("产出指标", "数量指标", "新建净水厂（站）", GoalNature.EQ, "3", "座", "3", ""),
    ("产出指标", "质量指标", "水质检测达标率", GoalNature.GE, "95", "%", "97.2", ""),
    ("产出指标", "质量指标", "工程竣工验收合格率", GoalNature.EQ, "100", "%", "100", ""),
    (
        "产出指标",
        "时效指标",
        "工程按期完工率",
        GoalNature.GE,
        "90",
        "%",
        "83.3",
        "2个标段受汛期影响延期约45天完工",
    ),
    ("产出指标", "成本指标", "每公里管网建设成本", GoalNature.LE, "9.5", "万元/公里", "9.18", ""),
    ("效益指标", "社会效益指标", "受益农村人口", GoalNature.GE, "4.2", "万人", "4.36", ""),
    ("效益指标", "社会效益指标", "农村自来水普及率", GoalNature.GE, "92", "%", "93.1", ""),
    (
        "效益指标",
        "可持续影响指标",
        "工程长效运行管护机制",
        GoalNature.QUALITATIVE,
        "建立健全",
        "",
        "已出台管护办法，落实管护经费",
        "",
    ),
    ("满意度指标", "服务对象满意度指标", "受益群众满意度", GoalNature.GE, "90", "%", "", ""),
]


#: Scores recorded for the demo engagement on the bundled 2020 template (B11/B12 come from
#: the funds table). Every checklist, deduction and qualitative leaf records its result
#: explicitly: an unassessed leaf has no score (never full marks by default).
DEMO_SCORES: dict[str, LeafInput] = {
    "A11": LeafInput(
        met=(True, True, True, True, True),
        reason="项目列入省级农村供水保障规划和县级年度重点民生实事，与水利部门职责和"
        "县级财政支出范围相符，未发现与其他项目重复安排",
        evidence="县政府常务会议纪要、农村供水保障规划",
    ),
    "A12": LeafInput(met=(True, True, False), evidence="项目立项批复、可研报告"),
    "A21": LeafInput(
        met=(True, True, True, True),
        reason="绩效目标与农村供水保障规划和年度任务相符，产出、效益目标与预算规模相匹配",
        evidence="项目绩效目标申报表、实施方案",
    ),
    "A22": LeafInput(met=(True, True, False), evidence="绩效目标申报表"),
    "A31": LeafInput(met=(True, True, False, True), evidence="预算测算明细"),
    "A32": LeafInput(
        met=(True, True),
        reason="资金按各乡镇管网改造任务量和受益人口分配，分配结果与实施内容相适应",
        evidence="资金分配方案、乡镇任务清单",
    ),
    "B13": LeafInput(
        findings=(Finding("2个乡镇报账凭证附件不全", Decimal(1)),),
        reason="抽查12个乡镇的报账凭证，其余乡镇凭证附件齐全、审批手续完整",
        evidence="报账凭证抽查记录",
    ),
    "B21": LeafInput(
        met=(True, True),
        reason="县水利局制定了农村饮水工程建设管理办法和专项资金管理办法，内容涵盖招投标、"
        "合同、验收和资金支付",
        evidence="工程建设管理办法、专项资金管理办法",
    ),
    "B22": LeafInput(met=(True, True, False, True), evidence="工程合同、验收资料"),
    "C11": LeafInput(
        numerator=Decimal("126.5"),
        denominator=Decimal("120"),
        reason="新建及改造供水管网126.5公里，超过计划的120公里，新建净水厂（站）3座全部建成",
        evidence="工程竣工验收报告、工程量结算清单",
    ),
    "C21": LeafInput(numerator=Decimal("97.2"), denominator=Decimal("100")),
    "C31": LeafInput(numerator=Decimal("10"), denominator=Decimal("12")),
    "C41": LeafInput(
        level=QualitativeLevel.ACHIEVED,
        score=Decimal("6.5"),
        reason="每公里管网成本低于计划，但净水设备采购有小幅超支",
    ),
}


#: The demo panel: (name, title, organisation, field, scores for D11/D13/D14 or None when
#: the expert declares a conflict).
DEMO_EXPERTS = [
    (
        "周建国",
        "教授级高级工程师",
        "省水利水电勘测设计研究院",
        "农村供水工程",
        {
            "D11": ("9", "受益人口目标完成，但部分村供水保证率偏低"),
            "D13": ("3.5", "管护经费未全覆盖"),
            "D14": ("4.5", "减少取水时间，效益明显"),
        },
    ),
    (
        "陈慧",
        "副教授",
        "某大学公共管理学院",
        "公共财政与绩效管理",
        {
            "D11": ("8.5", "水质达标率提升，但个别水厂运行不稳定"),
            "D13": ("3", "长效管护机制尚未建立"),
            "D14": ("4", "经济效益测算依据不足"),
        },
    ),
    (
        "刘志远",
        "高级会计师",
        "某会计师事务所",
        "财务审计",
        {
            "D11": ("9.5", "目标基本实现"),
            "D13": ("3.5", "管护制度已出台，执行待检验"),
            "D14": ("4.5", "增收效益有待持续观察"),
        },
    ),
    ("孙立新", "高级工程师", "临川县水利工程建设中心", "水利工程管理", None),
]


def _score_demo(session: Session, lead: User, engagement: Engagement) -> None:
    template = scoring.bundled_templates()["project-2020"]
    system = scoring.instantiate(session, lead, engagement, template)
    # split 实施效益 into three expert-scored benefits, so the panel has several indicators
    scoring.add_leaf(session, lead, system, "D1", "D13", "可持续影响", Decimal(5), "D11")
    scoring.add_leaf(session, lead, system, "D1", "D14", "经济效益", Decimal(5), "D11")
    for code, name in (("D11", "社会效益"), ("D13", "可持续影响"), ("D14", "经济效益")):
        scoring.update_node(
            session,
            lead,
            system,
            code,
            {"name": name, "criteria": "由专家组对照绩效目标评分，扣分须说明理由。"},
            {"type": "expert"},
        )
    for code, data in DEMO_SCORES.items():
        scoring.save_input(session, lead, engagement, code, data)
    template = scoring.template_of(system)
    for name, title, organisation, field, scores in DEMO_EXPERTS:
        expert = panel.create_expert(
            session, lead, name=name, title=title, organisation=organisation, field=field
        )
        member, _token = panel.invite(session, lead, engagement, expert, ["D11", "D13", "D14"])
        if scores is None:
            panel.declare(
                session,
                member,
                has_conflict=True,
                confidentiality=True,
                text="本人所在单位为项目建设管理单位，需回避。",
            )
            continue
        panel.declare(session, member, has_conflict=False, text="", confidentiality=True)
        panel.save_sheet(session, member, template, scores, round_no=1, submit=True)


def _org(session: Session, name: str, kind: OrganisationKind, region: str) -> Organisation:
    org = session.scalar(sa.select(Organisation).where(Organisation.name == name))
    if org is None:
        org = accounts.create_organisation(session, None, name=name, kind=kind, region=region)
    return org


def load_demo(session: Session) -> list[tuple[str, str, str]]:
    """Create the demo organisations, users and engagement if they are missing.

    Returns the demo logins as ``(username, password, role)``. Running it again changes
    nothing.
    """
    orgs = {
        FIRM: _org(session, FIRM, OrganisationKind.FIRM, "某省某市"),
        CLIENT: _org(session, CLIENT, OrganisationKind.CLIENT, "某省临川县"),
        OTHER_CLIENT: _org(session, OTHER_CLIENT, OrganisationKind.CLIENT, "某省安平县"),
        UNIT: _org(session, UNIT, OrganisationKind.EVALUATED, "某省临川县"),
    }
    users: dict[str, User] = {}
    for username, name, role, org_name, password in DEMO_USERS:
        user = session.scalar(sa.select(User).where(User.username == username))
        if user is None:
            user = accounts.create_user(
                session,
                None,
                username=username,
                display_name=name,
                password=password,
                role=role,
                organisation=orgs[org_name],
            )
        users[username] = user

    if session.scalar(sa.select(Engagement.id).where(Engagement.title == DEMO_TITLE)) is None:
        lead = users["zhang.wei"]
        engagement = engagements.create_engagement(
            session,
            lead,
            title=DEMO_TITLE,
            client=orgs[CLIENT],
            evaluated_units=[orgs[UNIT]],
            project_name="2025年农村饮水安全巩固提升工程",
            kind=EvaluationKind.PROJECT,
            scope=CommissionScope.EVALUATION,
            fiscal_year=2025,
            planned_start=dt.date(2026, 3, 1),
            planned_end=dt.date(2026, 6, 30),
            contract_no="LCCZ-JX-2026-017",
            fee=Decimal("186000"),
            description=(
                "为巩固脱贫攻坚成果、提升农村供水保障水平，临川县2025年安排农村饮水安全巩固提升"
                "工程资金，用于新建及改造供水管网、建设净水厂（站）和配套水质检测能力建设，"
                "覆盖全县12个乡镇。"
            ),
            evaluation_period="2025年1月1日至2025年12月31日",
            data_provider=UNIT,
            basis_rules=[
                reporting.BASIS_RULES[0],
                reporting.BASIS_RULES[2],
                reporting.BASIS_RULES[4],
            ],
            basis_other="《临川县县级预算绩效管理办法》",
            commission_notice="《临川县财政局关于委托开展2025年度重点项目支出绩效评价的通知》"
            "（临财绩〔2026〕3号）",
        )
        engagements.add_member(session, lead, engagement, users["li.na"], MemberRole.MEMBER)
        engagements.add_member(session, lead, engagement, users["wang.fang"], MemberRole.REVIEWER)
        engagements.save_budget(
            session,
            lead,
            engagement,
            lines={
                s: dict(zip(engagements.BUDGET_FIELDS, (Decimal(v) for v in values), strict=True))
                for s, values in BUDGET.items()
            },
            funding_denominator=engagement.funding_denominator,
            execution_denominator=engagement.execution_denominator,
            expected_version=None,
        )
        engagements.save_goal_texts(
            session,
            lead,
            engagement,
            overall_goal="通过实施农村饮水安全巩固提升工程，提高农村集中供水率、自来水普及率、"
            "水质达标率和供水保证率，建立健全工程长效运行管护机制。",
            annual_goal="2025年新建及改造供水管网不少于120公里，新建净水厂（站）3座，受益农村"
            "人口不少于4.2万人，农村自来水普及率达到92%以上。",
            expected_version=None,
        )
        engagements.import_goals(
            session,
            lead,
            engagement,
            [GoalRow(*g) for g in GOALS],
            replace=True,
            filename="demo",
        )
        engagements.transition(
            session, lead, engagement, EngagementState.DESIGN, note="工作方案已通过内部评审"
        )
    _ensure_scored(session, users["zhang.wei"])
    _ensure_surveys(session, users["zhang.wei"])
    _ensure_findings(session, users["zhang.wei"])
    _ensure_phases(session, users["zhang.wei"])
    return [(u, p, r.value) for u, _n, r, _o, p in DEMO_USERS]


def _ensure_scored(session: Session, lead: User) -> None:
    """Score the demo engagement on the 2020 template unless it already has a system."""
    engagement = session.scalar(sa.select(Engagement).where(Engagement.title == DEMO_TITLE))
    if engagement is not None and scoring.system_of(session, engagement) is None:
        _score_demo(session, lead, engagement)


DEMO_TOWNS = ("临川镇", "青山乡", "河口镇", "石门乡")
DEMO_TOWN_POPULATION = {"临川镇": 16800, "青山乡": 9600, "河口镇": 10200, "石门乡": 5400}


def _ensure_surveys(session: Session, lead: User) -> None:
    """A published beneficiary questionnaire answered on the public page (with planted bad
    responses), an imported 问卷星 export of service users, screening rules, and the
    satisfaction indicator (D12) fed by both."""
    import random

    engagement = session.scalar(sa.select(Engagement).where(Engagement.title == DEMO_TITLE))
    if engagement is None or session.scalar(
        sa.select(Survey.id).where(Survey.engagement_id == engagement.id)
    ):
        return
    rng = random.Random(2025)
    start = builder.questionnaire_library()["beneficiary"]
    survey = builder.create_form(
        session,
        lead,
        engagement,
        title="临川县农村饮水安全工程受益群众满意度调查",
        group="受益群众",
        population=sum(DEMO_TOWN_POPULATION.values()),
        start_from=start,
    )
    questions = builder.questions_of(survey)
    town_index = next(i for i, q in enumerate(questions) if "乡镇" in q.text)
    questions[town_index] = questions[town_index].model_copy(update={"options": list(DEMO_TOWNS)})
    builder.set_questions(session, lead, survey, questions, "demo towns")
    town_column = survey.columns[
        next(i for i, c in enumerate(survey.columns) if c.startswith(f"{town_index + 1}、"))
    ]
    builder.publish(
        session,
        lead,
        survey,
        status="open",
        opens_at=None,
        closes_at=None,
        target_n=380,
        distributed=None,
        require_token=False,
        group_column=town_column,
        group_targets={
            t: {"population": n, "quota": None} for t, n in DEMO_TOWN_POPULATION.items()
        },
    )
    levels = ["非常满意", "满意", "一般", "不满意", "非常不满意"]
    now = dt.datetime.now(dt.UTC)

    def form(town: str, mood: int, attention: str = "满意") -> dict[str, list[str]]:
        data: dict[str, list[str]] = {}
        for i, q in enumerate(questions, start=1):
            if q.type == "matrix":
                for j in range(1, len(q.items) + 1):
                    level = min(4, max(0, mood + rng.choice((-1, 0, 0, 1))))
                    data[f"q{i}.{j}"] = [levels[level]]
            elif q.expected:
                data[f"q{i}"] = [attention]
            elif q.type == "likert":
                data[f"q{i}"] = [levels[min(4, max(0, mood + rng.choice((0, 0, 1))))]]
            elif i - 1 == town_index:
                data[f"q{i}"] = [town]
            elif q.type in ("single", "multiple"):
                data[f"q{i}"] = [rng.choice(q.options)]
        return data

    def answer(
        n: int, data: dict[str, list[str]], seconds: float, ip: str, at: dt.datetime | None = None
    ) -> None:
        response, errors = collect.submit(
            session,
            survey,
            data,
            started_at=now - dt.timedelta(minutes=3 * (120 - n), seconds=seconds),
            ip_hash=collect.salted("demo", survey.id, ip),
            ua_hash=collect.salted("demo", survey.id, "Mozilla/5.0 (iPhone) MicroMessenger"),
            device_hash=collect.salted("demo", survey.id, f"device-{n}"),
        )
        if response is None:
            raise RuntimeError(f"demo response rejected: {errors}")
        response.submitted_at = at or now - dt.timedelta(minutes=3 * (120 - n))
        response.duration_s = seconds

    n = 0
    for town, count in zip(DEMO_TOWNS, (40, 24, 26, 14), strict=True):
        for _ in range(count):
            n += 1
            mood = rng.choices((0, 1, 2, 3), weights=(40, 42, 13, 5))[0]
            answer(n, form(town, mood), rng.uniform(150, 420), f"10.1.{n // 250}.{n % 250}")
    # planted bad responses: clicked through in seconds, failed the attention check,
    # and a burst of five from one address within minutes, the last three copying the first
    # two's answers with near-identical durations (the burst rule's second signal: a shared
    # address alone flags nobody)
    for _ in range(3):
        n += 1
        answer(n, form(rng.choice(DEMO_TOWNS), 0), rng.uniform(9, 18), f"10.2.0.{n}")
    for _ in range(2):
        n += 1
        answer(n, form(rng.choice(DEMO_TOWNS), 1, attention="非常满意"), 200, f"10.3.0.{n}")
    copied: list[dict[str, list[str]]] = []
    for k in range(5):
        n += 1
        drawn = form("临川镇", 0)  # drawn for every one: the random sequence stays as it was
        copied.append(drawn if k < 2 else copied[k % 2])
        answer(n, copied[k], 160 + k, "10.9.9.9", now - dt.timedelta(minutes=30 - k))
    session.expire(survey, ["responses"])
    surveys.save_cleaning(
        session,
        lead,
        survey,
        {
            "min_seconds": 30,
            "burst_count": 2,
            "burst_minutes": 10,
            "attention": True,
            "duplicates": True,
        },
    )
    surveys.save_mapping(
        session,
        lead,
        survey,
        columns=survey.satisfaction_columns,
        level_map=survey.level_map,
        leaf_code="D12",
        leaf_measure="rate",
    )
    _import_demo_export(session, lead, engagement, rng)


def _import_demo_export(session: Session, lead: User, engagement: Engagement, rng) -> None:  # type: ignore[no-untyped-def]
    """A 问卷星 export (option-text flavour, GBK CSV) of the service-user survey."""
    header = ["序号", "提交答卷时间", "所用时间", "来源", "来源详情", "来自IP"]
    questions = [
        "1、您对供水水质的满意程度",
        "2、您对供水稳定性（停水、水压）的满意程度",
        "3、您对供水服务（报修、收费）的满意程度",
        "4、您所在的村（社区）",
    ]
    lines = [",".join(header + questions)]
    levels = ["非常满意", "满意", "一般", "不满意", "非常不满意", "不了解"]
    for i in range(1, 81):
        seconds = rng.randint(95, 400) if i not in (17, 52) else rng.randint(6, 12)
        answers = [rng.choices(levels, weights=(38, 44, 10, 4, 1, 3))[0] for _ in range(3)]
        lines.append(
            ",".join(
                [
                    str(i + 3),  # 问卷星 numbering after deleted test answers
                    f"2026/04/{10 + i % 12:02d} {9 + i % 10:02d}:{i % 60:02d}:{(i * 7) % 60:02d}",
                    f"{seconds}秒",
                    "手机提交",
                    "微信",
                    f"117.{i % 7}.{i % 200}.{i}(某省-临川)",
                    *answers,
                    rng.choice(["东村", "西村", "南桥社区"]),
                ]
            )
        )
    data = ("\n".join(lines) + "\n").encode("gb18030")
    job = jobs.create(
        session,
        lead,
        engagement,
        kind="wjx",
        data=data,
        filename="临川供水服务满意度_问卷星导出.csv",
        options={
            "title": "供水服务对象满意度调查（问卷星）",
            "group": "服务对象",
            "population": 3200,
        },
        survey=None,
    )
    job.status = "queued"
    session.flush()
    jobs.run(job.id)
    job = session.get(ImportJob, job.id)
    survey = session.get(Survey, job.survey_id) if job and job.survey_id else None
    if survey is None:
        raise RuntimeError(f"demo import failed: {job.errors if job else 'no job'}")
    surveys.save_cleaning(
        session,
        lead,
        survey,
        {"min_seconds": 30},
    )
    level_map = {level: level for level in levels[:5]} | {"不了解": "不了解"}
    surveys.save_mapping(
        session,
        lead,
        survey,
        columns=questions[:3],
        level_map=level_map,
        leaf_code="D12",
        leaf_measure="rate",
    )


#: The demo's findings: every indicator losing points (QA's threshold, 0.5) and the unmet goal
#: 工程按期完工率 are taken up by a problem naming the indicator codes, with its cause, in the
#: indicator order of the report; each problem has a recommendation.
DEMO_FINDINGS = [
    (
        "experience",
        "建立县级统筹、乡镇落实的工程建设管理机制",
        "县水利局牵头成立项目建设领导小组，乡镇明确专人负责征地协调和群众工作，"
        "工程开工、验收等关键节点均有会议纪要和现场记录。",
        "",
        ["B21"],
        "项目建设领导小组文件、会议纪要",
    ),
    (
        "experience",
        "水质检测能力同步建设",
        "新建净水厂同步配置水质检测设备，县级水质检测中心按月抽检，检测报告在县政府网站公开。",
        "",
        ["C21"],
        "水质检测报告（2025年1—12月）",
    ),
    (
        "problem",
        "项目事前论证和预算测算不够充分",
        "项目立项前未开展事前绩效评估，可行性研究报告未包含风险评估内容；"
        "部分单项工程的预算额度未按定额标准逐项测算，测算依据不够充分。",
        "项目申报时间紧，项目单位重申报、轻论证；县级事前绩效评估制度建立不久，"
        "尚未覆盖水利基础设施项目。",
        ["A12", "A31"],
        "项目立项批复、可研报告、预算测算明细",
    ),
    (
        "problem",
        "部分绩效指标未细化量化",
        "项目申报的绩效目标中，“群众满意度明显提高”等指标缺少可衡量的指标值，"
        "年度目标与任务数的对应关系不够清晰。",
        "项目单位对绩效目标编报要求理解不到位，主管部门审核时侧重资金规模，对指标质量把关不严。",
        ["A22"],
        "绩效目标申报表",
    ),
    (
        "problem",
        "资金支付进度滞后，预算执行率未达100%",
        "截至2025年末，实际执行1463.96万元，预算执行率92.66%，两个标段的质保金和部分工程尾款尚未支付。",
        "部分标段竣工结算审核周期较长；年初预算编制未充分考虑结算审计时间。",
        ["B12"],
        "财务支付凭证、结算审核报告",
    ),
    (
        "problem",
        "部分乡镇报账资料不全，工程资料归档不及时",
        "抽查12个乡镇的报账凭证，2个乡镇报账凭证附件不全；"
        "部分标段的设计变更签证、分部工程验收资料在评价时尚未归档。",
        "乡镇财务人员力量薄弱，对报账资料要求掌握不够；工程资料归档责任未落实到具体人员。",
        ["B13", "B22"],
        "报账凭证抽查记录、工程合同、验收资料",
    ),
    (
        "problem",
        "部分标段未按期完工",
        "12个计划完成节点中按期完成10个；2个标段受汛期影响延期约45天完工，"
        "工程按期完工率83.3%，低于90%的年度目标，且延期未及时办理审批手续。",
        "施工进度计划未充分考虑汛期影响；项目单位对延期审批程序重视不够。",
        ["C31"],
        "项目实施计划、进度报告、验收报告",
    ),
    (
        "problem",
        "净水设备采购成本超出预算测算",
        "每公里管网建设成本9.18万元，低于9.5万元的计划；"
        "但3座净水厂的净水设备采购价格高于预算测算，有小幅超支。",
        "净水设备选型在预算编制后调整，未重新测算成本。",
        ["C41"],
        "合同及结算资料、预算测算明细",
    ),
    (
        "problem",
        "部分村供水保证率偏低，经济效益缺少测算依据",
        "受益人口和自来水普及率目标均已完成，但部分村枯水期供水保证率偏低，个别水厂运行不稳定；"
        "项目减少群众取水时间、促进增收等经济效益缺少统计测算依据。",
        "部分水源工程规模偏小，枯水期水量不足；项目单位未建立效益监测统计制度。",
        ["D11", "D14"],
        "专家评分意见、现场核查记录",
    ),
    (
        "problem",
        "工程建成后管护机制尚不健全",
        "部分村级供水站未落实专职管护人员，管护经费来源不稳定，个别水表井和阀门井存在损坏。",
        "工程“重建轻管”，县级管护经费未纳入年度预算，村级管护责任未与绩效挂钩。",
        ["D13", "D12"],
        "现场核查记录、满意度调查结果",
    ),
    (
        "other",
        "评价范围的说明",
        "本次评价对2025年度实施的工程进行评价，2024年结转实施的石门乡管网延伸工程仅核查资金使用情况。",
        "",
        [],
        "",
    ),
]
#: (text, the indices of the problems in DEMO_FINDINGS's problem order it answers)
DEMO_RECOMMENDATIONS = [
    (
        "严格执行项目事前绩效评估和可行性研究制度，预算额度按定额标准逐项测算并留存测算依据。",
        [0],
    ),
    (
        "加强绩效目标编报审核，将满意度、水质达标率等效益指标细化为可量化的指标值，并与年度任务数相对应。",
        [1],
    ),
    (
        "加快竣工结算审核和尾款支付，在编制下年度预算时合理预留结算审计周期，提高预算执行的均衡性。",
        [2],
    ),
    (
        "加强乡镇报账人员培训，建立报账资料清单审核制度；明确工程资料归档责任人和时限。",
        [3],
    ),
    (
        "编制施工进度计划时充分考虑汛期影响，确需延期的及时履行审批手续。",
        [4],
    ),
    (
        "设备选型调整时重新测算成本，采购前对照预算和同类项目价格进行比价。",
        [5],
    ),
    (
        "对枯水期供水保证率偏低的村实施水源提升改造，建立受益人口、供水量、取水时间等效益监测台账。",
        [6],
    ),
    ("建立县级农村供水工程管护经费保障机制，将村级管护人员配备和管护成效纳入乡镇绩效考核。", [7]),
]


def _ensure_findings(session: Session, lead: User) -> None:
    """Findings, recommendations and evidence so that every report section has content."""
    engagement = session.scalar(sa.select(Engagement).where(Engagement.title == DEMO_TITLE))
    if engagement is None or session.scalar(
        sa.select(ReportFinding.id).where(ReportFinding.engagement_id == engagement.id)
    ):
        return
    problems = []
    for kind, title, text, cause, codes, evidence in DEMO_FINDINGS:
        finding = reports.save_finding(
            session,
            lead,
            engagement,
            None,
            kind=kind,
            title=title,
            text=text,
            cause=cause,
            indicator_codes=codes,
            evidence=evidence,
        )
        if kind == "problem":
            problems.append(finding)
    for text, which in DEMO_RECOMMENDATIONS:
        reports.save_recommendation(
            session, lead, engagement, None, text=text, problem_ids=[problems[i].id for i in which]
        )


#: the work process (工作过程) of the demo evaluation: (kind, start, end, place, participants, what)
DEMO_PHASES = (
    (
        "preparation",
        dt.date(2026, 3, 2),
        dt.date(2026, 3, 13),
        "评价机构会议室",
        "项目负责人张伟及评价组成员4人",
        "接受临川县财政局委托，成立评价工作组；收集项目立项批复、实施方案、资金文件等资料，"
        "研究制定评价指标体系和评价工作方案，方案经内部评审后报委托方确认。",
    ),
    (
        "fieldwork",
        dt.date(2026, 3, 23),
        dt.date(2026, 3, 27),
        "临川县水利局及临川镇、青山乡、河口镇、石门乡",
        "评价组成员5人，县水利局、乡镇财政所相关人员",
        "核查项目资金拨付、报账凭证、招投标及合同、工程验收资料，实地查看新建净水厂（站）3座、"
        "抽查供水管网12处，核对受益人口和工程量。",
    ),
    (
        "interview",
        dt.date(2026, 3, 25),
        dt.date(2026, 3, 26),
        "青山乡、石门乡受益村",
        "评价组成员3人，村干部、管水员及受益群众代表",
        "召开座谈会2场，访谈村级管护人员和受益群众，同步发放满意度调查问卷。",
    ),
    (
        "analysis",
        dt.date(2026, 4, 1),
        dt.date(2026, 4, 10),
        "评价机构",
        "评价组成员4人",
        "汇总核查底稿和问卷数据，测算预算执行率、成本节约率和各项产出、效益指标完成值，组织专家独立评分。",
    ),
    (
        "exchange",
        dt.date(2026, 4, 15),
        None,
        "临川县财政局会议室",
        "评价组、县财政局、县水利局",
        "通报初步评价结果和发现的问题，听取被评价单位的意见和补充说明。",
    ),
    (
        "expert_review",
        dt.date(2026, 4, 20),
        None,
        "临川县财政局会议室",
        "评审专家5人、评价组",
        "召开专家评审会，对评价指标得分和报告初稿进行评审，形成评审意见。",
    ),
    (
        "drafting",
        dt.date(2026, 4, 21),
        dt.date(2026, 4, 30),
        "评价机构",
        "项目负责人、质控复核人",
        "根据评审意见修改完善评价报告，经项目负责人复核和质控复核后形成报告征求意见稿。",
    ),
)


def _ensure_phases(session: Session, lead: User) -> None:
    """The recorded phases of the demo evaluation (the report's 工作过程)."""
    engagement = session.scalar(sa.select(Engagement).where(Engagement.title == DEMO_TITLE))
    if engagement is None or session.scalar(
        sa.select(WorkPhase.id).where(WorkPhase.engagement_id == engagement.id)
    ):
        return
    for kind, start, end, place, who, text in DEMO_PHASES:
        reports.save_phase(
            session,
            lead,
            engagement,
            None,
            kind=kind,
            start=start,
            end=end,
            place=place,
            participants=who,
            text=text,
        )
