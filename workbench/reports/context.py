"""The report context: the engagement's plain data gathered, the sections written from it.

Every figure comes from the evaluated result (:func:`workbench.evaluation.result_of`); this
module only queries the engagement's own facts (cover data, goals, findings, recommendations,
survey results, the recorded events) into the plain dataclasses of
:mod:`workbench.core.reporting`, whose pure functions write each section. No Flask: a session
and an engagement in, a :class:`ReportContext` out (strings formatted for print, tables as
:class:`~workbench.core.reportqa.TableSpec`, chart data as numbers), so the same context feeds
every template, the QA checks and a notebook. Variables are documented in
``docs/report-templates.md``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from workbench.accounts.models import User
from workbench.core import reporting
from workbench.core.evaluation import EngagementResult
from workbench.core.kinds import MemberRole
from workbench.core.reporting import Chart, ReportContext
from workbench.core.reportqa import TableSpec
from workbench.core.results import rules_from
from workbench.core.scoring import grade
from workbench.engagements.models import Engagement
from workbench.evaluation import result_of
from workbench.experts.models import PanelMember, SheetScore
from workbench.reports.models import Finding, Recommendation, WorkPhase
from workbench.scoring import services as scoring
from workbench.scoring.services import budget_for
from workbench.surveys import services as survey_services
from workbench.surveys.models import Survey
from workbench.workpapers.models import EvidenceFile, RequestItem, WorkingPaper

__all__ = ["Chart", "ReportContext", "build_context", "grade_of", "pct", "report_tables"]


def pct(value: Decimal | float | None) -> str:
    """A ratio printed as the report prints it (``0.9445`` → ``94.45%``)."""
    return reporting.rate_text(value)


def local_date(value: dt.datetime | dt.date, zone: str = "Asia/Shanghai") -> str:
    if isinstance(value, dt.datetime):
        value = value.astimezone(ZoneInfo(zone)).date() if value.tzinfo else value.date()
    return reporting.local_date(value)


def _local_day(value: dt.datetime, zone: str) -> dt.date:
    return value.astimezone(ZoneInfo(zone)).date() if value.tzinfo else value.date()


def _facts(
    session: Session,
    engagement: Engagement,
    report_no: str,
    when: dt.date,
    draft: bool,
    signoffs: tuple[tuple[str, str, dt.datetime], ...] = (),
    zone: str = "Asia/Shanghai",
) -> reporting.EngagementFacts:
    creator = session.get(User, engagement.created_by_id) if engagement.created_by_id else None
    firm = creator.organisation.name if creator and creator.organisation else "评价机构"
    return reporting.EngagementFacts(
        title=engagement.title or "",
        project_name=engagement.project_name or "",
        client=engagement.client.name,
        firm=firm,
        evaluated_units=tuple(u.name for u in engagement.evaluated_units),
        fiscal_year=engagement.fiscal_year,
        department=engagement.kind.value == "department",
        description=engagement.description or "",
        overall_goal=engagement.overall_goal or "",
        annual_goal=engagement.annual_goal or "",
        report_no=report_no,
        report_date=when,
        draft=draft,
        signoffs=tuple((level, who, _local_day(at, zone)) for level, who, at in signoffs),
        evaluation_period=engagement.evaluation_period or "",
        data_provider=engagement.data_provider or "",
        basis=basis_of(engagement),
        commission_notice=engagement.commission_notice or "",
        lead=_team(engagement, MemberRole.LEAD),
        members=_team(engagement, MemberRole.MEMBER),
        reviewers=_team(engagement, MemberRole.REVIEWER),
        result_rules=rules_from(engagement.client.result_rules),
    )


def basis_of(engagement: Engagement) -> tuple[str, ...]:
    """The 评价依据 selected (in the list's order, then unknown stored ones), then the firm's
    further rules, one a line."""
    chosen = list(engagement.basis_rules or ())
    listed = [r for r in reporting.BASIS_RULES if r in chosen]
    listed += [r for r in chosen if r not in reporting.BASIS_RULES]
    other = [line.strip() for line in (engagement.basis_other or "").splitlines() if line.strip()]
    return tuple(listed + other)


def _team(engagement: Engagement, role: MemberRole) -> tuple[str, ...]:
    members = sorted(
        (m for m in engagement.members if m.role is role), key=lambda m: (m.added_at, m.id)
    )
    return tuple(m.user.display_name or m.user.username for m in members)


def _goals(engagement: Engagement) -> list[reporting.GoalFacts]:
    return [
        reporting.GoalFacts(
            level1=g.level1 or "",
            level2=g.level2 or "",
            name=g.name or "",
            nature=g.nature,
            target_value=g.target_value or "",
            actual_value=g.actual_value or "",
            unit=g.unit or "",
            deviation_reason=g.deviation_reason or "",
        )
        for g in sorted(engagement.goals, key=lambda g: g.position)
    ]


def _findings(
    session: Session, engagement: Engagement
) -> tuple[list[reporting.FindingFacts], list[reporting.RecommendationFacts]]:
    findings = session.scalars(
        sa.select(Finding)
        .where(Finding.engagement_id == engagement.id)
        .order_by(Finding.position, Finding.id)
    ).all()
    recs = session.scalars(
        sa.select(Recommendation)
        .where(Recommendation.engagement_id == engagement.id)
        .order_by(Recommendation.position, Recommendation.id)
    ).all()
    return (
        [
            reporting.FindingFacts(
                id=f.id,
                kind=f.kind,
                title=f.title or "",
                text=f.text or "",
                cause=f.cause or "",
                evidence=f.evidence or "",
                indicator_codes=tuple(f.indicator_codes or ()),
            )
            for f in findings
        ],
        [
            reporting.RecommendationFacts(
                text=r.text or "", problem_ids=tuple(q.id for q in r.problems)
            )
            for r in recs
        ],
    )


def _surveys(session: Session, engagement: Engagement) -> list[reporting.SurveyFacts]:
    """Each survey's screened results as the survey module computes them (with results)."""

    out = []
    surveys = session.scalars(
        sa.select(Survey).where(Survey.engagement_id == engagement.id).order_by(Survey.id)
    ).all()
    for s in surveys:
        rows = survey_services.screened(s)
        res = survey_services.results(s, rows=rows)
        yld = survey_services.survey_yield(session, s, rows)
        if res.overall is None or res.overall.rate is None:
            continue
        rate = res.overall.rate
        # the measure the survey's leaf is scored on (the same function feeds the score)
        measure = survey_services.measure_of(s, res)
        out.append(
            reporting.SurveyFacts(
                id=s.id,
                title=s.title or "",
                respondent_group=s.respondent_group or "",
                leaf_code=s.leaf_code,
                distributed=yld.distributed,
                returned=yld.returned,
                valid=yld.valid,
                valid_rate=yld.valid_rate,
                rate=rate.rate,
                ci_low=rate.ci_low,
                ci_high=rate.ci_high,
                index=float(res.overall.index),
                required=res.required,
                respondents=rate.respondents or 0,
                measure=reporting.MeasureFacts(
                    label=measure.label,
                    rate=measure.rate,
                    ci_low=measure.ci_low,
                    ci_high=measure.ci_high,
                    respondents=measure.respondents,
                    kind=measure.kind.value,
                ),
                levels=tuple(survey_services.LEVELS[:-1]),
                items=tuple(
                    reporting.SurveyItemFacts(
                        label=str(col),
                        counts=dict(item.counts),
                        valid=item.valid,
                        rate=item.rate.rate if item.rate else None,
                    )
                    for col, item in res.items.items()
                ),
            )
        )
    return out


def _weighting(session: Session, engagement: Engagement) -> reporting.WeightingFacts | None:

    system = scoring.system_of(session, engagement)
    if system is None:
        return None
    notes = system.weight_notes or {}
    ahp = [
        n for n in notes.values() if isinstance(n, dict) and n.get("method") in ("ahp", "group_ahp")
    ]
    crs = [float(n["cr"]) for n in ahp if n.get("cr") is not None]
    return reporting.WeightingFacts(ahp=bool(ahp), max_cr=max(crs) if crs else None)


def _phases(session: Session, engagement: Engagement) -> list[reporting.PhaseFacts]:
    phases = session.scalars(
        sa.select(WorkPhase)
        .where(WorkPhase.engagement_id == engagement.id)
        .order_by(WorkPhase.start, WorkPhase.id)
    ).all()
    return [
        reporting.PhaseFacts(
            kind=p.kind,
            start=p.start,
            end=p.end,
            place=p.place or "",
            participants=p.participants or "",
            text=p.text or "",
        )
        for p in phases
    ]


def _panel_comments(
    session: Session, engagement: Engagement, result: EngagementResult
) -> dict[str, list[str]]:
    """The comments of the experts whose scores the panel's figures count, per leaf (their
    last round), without names."""
    if result.panel is None:
        return {}
    latest: dict[tuple[int, str], tuple[int, str]] = {}
    rows = session.execute(
        sa.select(
            PanelMember.expert_id, SheetScore.indicator_code, SheetScore.round, SheetScore.comment
        )
        .join(SheetScore, SheetScore.member_id == PanelMember.id)
        .where(PanelMember.engagement_id == engagement.id)
        .order_by(PanelMember.id, SheetScore.round)
    )
    for expert_id, code, round_, comment in rows:
        leaf = result.panel.leaves.get(code)
        if leaf is not None and expert_id in leaf.by_expert:
            latest[(expert_id, code)] = (round_, (comment or "").strip())
    out: dict[str, list[str]] = {}
    for (_expert, code), (_round, comment) in latest.items():
        if comment and comment.rstrip("。") not in out.setdefault(code, []):
            out[code].append(comment.rstrip("。"))
    return {code: comments for code, comments in out.items() if comments}


def _leaf_facts(
    session: Session, engagement: Engagement, result: EngagementResult | None
) -> dict[str, reporting.LeafFacts]:
    """Per leaf: its 评分标准, the evidence documents linked to it (by name, directly or
    through a request-list item naming it) and its working papers' 核查对象 and 发现问题."""
    if result is None:
        return {}
    # the written 评分标准 (not a method's generated rule) and 评价要点
    template = result.figures.get("template")
    leaves = template.leaves() if template is not None else []
    criteria = {leaf.code: leaf.criteria for leaf in leaves}
    key_points = {leaf.code: leaf.key_points for leaf in leaves}
    items = {
        i.id: tuple(i.indicator_codes or ())
        for i in session.scalars(
            sa.select(RequestItem).where(RequestItem.engagement_id == engagement.id)
        )
    }
    documents: dict[str, list[str]] = {}
    for f in session.scalars(
        sa.select(EvidenceFile)
        .where(EvidenceFile.engagement_id == engagement.id)
        .order_by(EvidenceFile.filename, EvidenceFile.version)
    ):
        codes = {f.indicator_code} if f.indicator_code else set()
        codes.update(items.get(f.request_item_id or 0, ()))
        for code in codes:
            if f.filename not in documents.setdefault(code, []):
                documents[code].append(f.filename)
    checked: dict[str, list[str]] = {}
    found: dict[str, list[str]] = {}
    for w in session.scalars(
        sa.select(WorkingPaper)
        .where(WorkingPaper.engagement_id == engagement.id)
        .order_by(WorkingPaper.id)
    ):
        if (w.checked_object or "").strip():
            checked.setdefault(w.indicator_code, []).append(w.checked_object.strip())
        if (w.problems or "").strip():
            found.setdefault(w.indicator_code, []).append(w.problems.strip())
    for code, comments in _panel_comments(session, engagement, result).items():
        found.setdefault(code, []).append("专家组意见：" + "；".join(comments))
    return {
        leaf.code: reporting.LeafFacts(
            criteria=criteria.get(leaf.code, ""),
            documents=tuple(documents.get(leaf.code, ())),
            checked="、".join(checked.get(leaf.code, ())),
            found="；".join(found.get(leaf.code, ())),
            key_points=key_points.get(leaf.code, ""),
        )
        for leaf in result.leaves
    }


def build_context(
    session: Session,
    engagement: Engagement,
    *,
    report_no: str = "",
    when: dt.date | None = None,
    draft: bool = True,
    zone: str = "Asia/Shanghai",
    signoffs: tuple[tuple[str, str, dt.datetime], ...] = (),
) -> ReportContext:
    """Gather the report of ``engagement`` as it stands now (``signoffs``: the 征求意见稿's
    sign-offs as (level, reviewer, when), printed in its header)."""

    if when is None:
        when = dt.datetime.now(ZoneInfo(zone)).date()  # the date people read in Beijing
    result = result_of(session, engagement)
    budget = result.figures.get("budget") if result is not None else None
    findings, recommendations = _findings(session, engagement)
    return reporting.report(
        result,
        _facts(session, engagement, report_no, when, draft, signoffs, zone),
        # the denominators the scores use: the indicator system's declared ones win
        budget=budget if budget is not None else budget_for(session, engagement),
        goals=_goals(engagement),
        findings_=findings,
        recommendations=recommendations,
        surveys=_surveys(session, engagement),
        phases=_phases(session, engagement),
        weighting=_weighting(session, engagement),
        leaf_facts=_leaf_facts(session, engagement, result),
    )


def report_tables(context: ReportContext) -> list[TableSpec]:
    return list(context.tables.values())


def grade_of(total: Decimal) -> str:
    return grade(total)
