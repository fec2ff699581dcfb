"""Engagement pages: list, create, overview, edit, funds, goals, team, workflow, audit log."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy.orm.exc import StaleDataError

from workbench.accounts.access import require_role
from workbench.accounts.models import Organisation, OrganisationKind, Role, User
from workbench.audit.models import AuditEntry
from workbench.core.budget import STANDARD_SOURCES, Denominator, RateKind, source_name
from workbench.core.goals import (
    GOAL_COLUMNS,
    export_nature,
    export_value,
    goal_status,
    parse_goal_table,
)
from workbench.core.workflow import REVIEW_DECISIONS, EngagementState, allowed_transitions
from workbench.db import db
from workbench.engagements import services
from workbench.engagements.access import (
    can_edit_engagement,
    can_manage_engagement,
    can_review_engagement,
    can_see_internal,
    get_engagement_or_404,
    visible_engagements_filter,
)
from workbench.engagements.forms import (
    BUDGET_COLUMNS,
    SPARE_FUND_ROWS,
    BudgetForm,
    EmptyForm,
    EngagementForm,
    GoalForm,
    GoalImportForm,
    GoalTextForm,
    MemberForm,
    TransitionForm,
)
from workbench.engagements.hub import AlreadyBuilding, hub
from workbench.engagements.imports import UnreadableTable, read_table
from workbench.engagements.models import Engagement, EngagementMember, GoalIndicator, MemberRole
from workbench.error_messages import CODES, message_for
from workbench.forms import query_int
from workbench.labels import action_label, field_label, field_value, label
from workbench.templating import local_datetime
from workbench.web import Work, unit_of_work
from workbench.xlsx import send_table

bp = Blueprint("engagements", __name__, url_prefix="/engagements", template_folder="templates")

PAGE_SIZE = 25
MAX_PAGE = 1_000_000  # a page number past this reads as page 1 (OFFSET would overflow)


def _stale(work: Work) -> bool:
    """Whether the block was refused because someone else saved first (then the form is
    reloaded with the current values)."""
    return isinstance(work.error, (services.StaleEdit, StaleDataError))


def _org_choices(*kinds: OrganisationKind) -> list[tuple[int, str]]:
    orgs = db.session.scalars(
        sa.select(Organisation).where(Organisation.kind.in_(kinds)).order_by(Organisation.name)
    )
    return [(o.id, o.name) for o in orgs]


def _engagement_form(engagement: Engagement | None = None) -> EngagementForm:
    form = EngagementForm(
        obj=engagement,
        clients=_org_choices(OrganisationKind.CLIENT),
        units=_org_choices(OrganisationKind.EVALUATED, OrganisationKind.CLIENT),
    )
    if engagement is not None and request.method == "GET":
        form.evaluated_unit_ids.data = [o.id for o in engagement.evaluated_units]
        form.kind.data = engagement.kind.value
        form.scope.data = engagement.scope.value
        form.version.data = str(engagement.version)
        form.basis_rules.data = list(engagement.basis_rules or [])
    return form


def _form_values(form: EngagementForm) -> dict[str, object]:
    return {
        "title": form.title.data,
        "project_name": form.project_name.data,
        "kind": services.EvaluationKind(form.kind.data),
        "scope": services.CommissionScope(form.scope.data),
        "fiscal_year": form.fiscal_year.data,
        "planned_start": form.planned_start.data,
        "planned_end": form.planned_end.data,
        "contract_no": form.contract_no.data or None,
        "fee": form.fee.data,
        "description": form.description.data or None,
        "evaluation_period": form.evaluation_period.data or None,
        "data_provider": form.data_provider.data or None,
        "basis_rules": list(form.basis_rules.data or []),
        "basis_other": form.basis_other.data or None,
        "commission_notice": form.commission_notice.data or None,
    }


def _units(ids: list[int]) -> list[Organisation]:
    if not ids:
        return []
    return list(db.session.scalars(sa.select(Organisation).where(Organisation.id.in_(ids))))


def _warn_self_commissioned(engagement: Engagement) -> None:
    if services.self_commissioned(engagement):
        flash(
            _(
                "Warning: the client is also an evaluated unit. A body may not commission an "
                "evaluation of itself."
            ),
            "warning",
        )


# --- list and create --------------------------------------------------------------------------


@bp.get("/", endpoint="list")
@login_required
def engagement_list():  # type: ignore[no-untyped-def]
    """Engagements the user may see, with search and filters."""
    q = request.args.get("q", "").strip()[:100]
    year = query_int("year", 1900, 2200)
    client_id = query_int("client")
    state_value = request.args.get("state", "")
    state = (
        EngagementState(state_value) if state_value in {s.value for s in EngagementState} else None
    )
    stmt = services.list_engagements_query(
        visible_engagements_filter(current_user), q=q, year=year, client_id=client_id, state=state
    )
    if request.args.get("format") == "xlsx":
        return _engagements_xlsx(db.session.scalars(stmt).all())
    page = db.paginate(
        stmt, page=query_int("page", high=MAX_PAGE) or 1, per_page=PAGE_SIZE, error_out=False
    )
    visible = visible_engagements_filter(current_user)
    years = db.session.scalars(
        sa.select(Engagement.fiscal_year)
        .where(visible)
        .distinct()
        .order_by(Engagement.fiscal_year.desc())
    ).all()
    clients = db.session.execute(
        sa.select(Organisation.id, Organisation.name)
        .join(Engagement, Engagement.client_id == Organisation.id)
        .where(visible)
        .distinct()
        .order_by(Organisation.name)
    ).all()
    return render_template(
        "engagements/list.html",
        page=page,
        q=q,
        year=year,
        client_id=client_id,
        state=state,
        years=years,
        clients=clients,
        states=[*EngagementState],
    )


def _engagements_xlsx(rows: list[Engagement]):  # type: ignore[no-untyped-def]
    return send_table(
        _("Engagements"),
        [
            _("Title"),
            _("Client"),
            _("Project under evaluation"),
            _("Fiscal year"),
            _("Evaluation kind"),
            _("Status"),
            _("Planned start"),
            _("Planned end"),
            _("Contract number"),
        ],
        [
            [
                e.title,
                e.client.name,
                e.project_name,
                e.fiscal_year,
                label(e.kind),
                label(e.state),
                e.planned_start,
                e.planned_end,
                e.contract_no or "",
            ]
            for e in rows
        ],
        "engagements.xlsx",
    )


@bp.route("/new", methods=["GET", "POST"])
@require_role(Role.ADMIN, Role.EVALUATOR)
def new():  # type: ignore[no-untyped-def]
    """Create an engagement; the creator becomes its lead."""
    form = _engagement_form()
    if request.method == "GET":
        # the usual case: last year's spending, evaluated by commission of the finance bureau
        form.fiscal_year.data = dt.date.today().year - 1
        form.scope.data = services.CommissionScope.EVALUATION.value
    if form.validate_on_submit():
        client = db.session.get(Organisation, form.client_id.data)
        with unit_of_work(form) as work:
            engagement = services.create_engagement(
                db.session,
                current_user,
                client=client,
                evaluated_units=_units(form.evaluated_unit_ids.data),
                **_form_values(form),
            )
        if work.ok:
            flash(_("Engagement created."), "success")
            _warn_self_commissioned(engagement)
            return redirect(url_for("engagements.detail", engagement_id=engagement.id))
    return render_template("engagements/form.html", form=form, engagement=None)


# --- one engagement ---------------------------------------------------------------------------


@bp.get("/<int:engagement_id>")
@login_required
def detail(engagement_id: int):  # type: ignore[no-untyped-def]
    """Engagement overview: facts, funds, goals, team, workflow and recent activity."""
    engagement = get_engagement_or_404(engagement_id)
    internal = can_see_internal(current_user, engagement)
    recent, recused = [], []
    if internal:
        recused = hub().recused(db.session, engagement)
        recent = db.session.scalars(
            sa.select(AuditEntry)
            .where(AuditEntry.engagement_id == engagement.id)
            .order_by(AuditEntry.id.desc())
            .limit(8)
        ).all()
    staff = db.session.scalars(
        sa.select(User)
        .where(
            User.role.in_([Role.ADMIN, Role.EVALUATOR, Role.REVIEWER]), User.is_enabled.is_(True)
        )
        .order_by(User.display_name)
    ).all()
    transition_form = TransitionForm()
    transition_form.version.data = str(engagement.version)
    return render_template(
        "engagements/detail.html",
        engagement=engagement,
        issued_reports=_issued_reports(engagement),
        consultation_reports=_issued_reports(engagement, "consultation"),
        archive_info=_archive_info(engagement) if internal else None,
        report_pdf=hub().pdf_converter() is not None,
        internal=internal,
        can_edit=can_edit_engagement(current_user, engagement),
        can_manage=can_manage_engagement(current_user, engagement)
        and can_edit_engagement(current_user, engagement),
        budget=_budget(engagement),
        rows=_goal_rows(engagement),
        self_commissioned=services.self_commissioned(engagement),
        transitions=_transitions(engagement),
        transition_form=transition_form,
        recent=recent,
        recused=recused,
        member_form=MemberForm(
            users=[(0, "—"), *((u.id, f"{u.display_name} ({label(u.role)})") for u in staff)]
        ),
        empty_form=EmptyForm(),
        workflow=[*EngagementState],
    )


def _transitions(engagement: Engagement) -> list[EngagementState]:
    """The workflow steps this user may take from the engagement's state."""
    manage = can_manage_engagement(current_user, engagement)
    review = can_review_engagement(current_user, engagement)
    return [
        target
        for target in allowed_transitions(engagement.state)
        if (review if (engagement.state, target) in REVIEW_DECISIONS else manage)
        # 已出具 follows the issued report (issuing it moves the engagement)
        and (target is not EngagementState.ISSUED or _issued_reports(engagement))
    ]


@bp.route("/<int:engagement_id>/edit", methods=["GET", "POST"])
@login_required
def edit(engagement_id: int):  # type: ignore[no-untyped-def]
    """Edit the engagement's basic facts."""
    engagement = get_engagement_or_404(engagement_id, need="edit")
    form = _engagement_form(engagement)
    report_out = _report_out(engagement)
    parties_note = _parties_note(engagement, report_out)
    if parties_note:  # shown read-only; a crafted change is refused by the service
        for field in (form.client_id, form.evaluated_unit_ids):
            field.render_kw = {"disabled": True}
        if request.method == "POST" and not form.client_id.raw_data:
            form.client_id.data = engagement.client_id
        if request.method == "POST" and not form.evaluated_unit_ids.raw_data:
            form.evaluated_unit_ids.data = [o.id for o in engagement.evaluated_units]
    if form.validate_on_submit():
        with unit_of_work(form) as work:
            services.update_engagement(
                db.session,
                current_user,
                engagement,
                expected_version=form.expected_version(),
                client_id=form.client_id.data,
                evaluated_units=_units(form.evaluated_unit_ids.data),
                report_out=report_out,
                **_form_values(form),
            )
        if _stale(work):
            flash(work.message, "danger")
            return redirect(url_for("engagements.edit", engagement_id=engagement_id))
        if work.ok:
            flash(_("Engagement saved."), "success")
            _warn_self_commissioned(engagement)
            return redirect(url_for("engagements.detail", engagement_id=engagement.id))
    return render_template(
        "engagements/form.html", form=form, engagement=engagement, parties_note=parties_note
    )


def _report_out(engagement: Engagement) -> bool:
    """Whether a report has gone to the bureau (a 征求意见稿 or an issued report)."""
    return bool(hub().report_versions(db.session, engagement, ("consultation", "issued")))


def _parties_note(engagement: Engagement, report_out: bool) -> str | None:
    """Why this user cannot change the client bureau and the evaluated units, or None."""
    if report_out or engagement.state in services.PARTIES_FROZEN_STATES:
        return message_for(services.EngagementError("parties_after_issue"))
    if not can_manage_engagement(current_user, engagement):
        return message_for(services.EngagementError("parties_lead_only"))
    return None


@bp.post("/<int:engagement_id>/transition")
@login_required
def transition(engagement_id: int):  # type: ignore[no-untyped-def]
    """Move the engagement through the workflow."""
    engagement = get_engagement_or_404(engagement_id, need="internal")
    form = TransitionForm()
    if not form.validate_on_submit():
        abort(400)
    target = EngagementState(form.target.data)
    decision = (engagement.state, target) in REVIEW_DECISIONS
    allowed = (can_review_engagement if decision else can_manage_engagement)(
        current_user, engagement
    )
    if not allowed or not can_edit_engagement(current_user, engagement):
        abort(403)
    if target is EngagementState.ARCHIVED:
        return _start_archive(engagement, form)
    with unit_of_work() as work:
        services.transition(
            db.session,
            current_user,
            engagement,
            target,
            note=form.note.data or None,
            expected_version=form.expected_version(),
            issued_report=bool(_issued_reports(engagement)),
        )
    if work.ok:
        flash(_("Status changed to “%(state)s”.", state=label(target)), "success")
    return redirect(url_for("engagements.detail", engagement_id=engagement.id))


def _start_archive(engagement: Engagement, form: TransitionForm):  # type: ignore[no-untyped-def]
    """Archiving: the transition is only a dry run here; the package is built in the background
    and the engagement is archived when it is complete (workbench.archiving)."""
    detail_url = url_for("engagements.detail", engagement_id=engagement.id)
    with unit_of_work(commit=False) as work:
        services.transition(
            db.session,
            current_user,
            engagement,
            EngagementState.ARCHIVED,
            note=form.note.data or None,
            expected_version=form.expected_version(),
        )
    db.session.rollback()
    if not work.ok:
        return redirect(detail_url)
    try:
        hub().start_archiving(
            current_app._get_current_object(),  # type: ignore[attr-defined]
            engagement,
            current_user,
            form.expected_version() or engagement.version,
        )
    except AlreadyBuilding:
        flash(_("The archive package is already being built."), "warning")
        return redirect(detail_url)
    flash(
        _("The archive package is being built; the engagement is archived when it is complete."),
        "info",
    )
    return redirect(detail_url + "#archive")


# --- team -------------------------------------------------------------------------------------


@bp.post("/<int:engagement_id>/members")
@login_required
def add_member(engagement_id: int):  # type: ignore[no-untyped-def]
    """Add a staff member to the team or change their role."""
    engagement = get_engagement_or_404(engagement_id, need="manage")
    staff = db.session.scalars(sa.select(User).where(User.role != Role.CLIENT)).all()
    form = MemberForm(users=[(0, "—"), *((u.id, u.display_name) for u in staff)])
    user = db.session.get(User, form.user_id.data or 0) if form.validate_on_submit() else None
    if user is None:
        flash(_("Choose a staff member and a role."), "danger")
    else:
        with unit_of_work() as work:
            services.add_member(
                db.session, current_user, engagement, user, MemberRole(form.role.data)
            )
        if work.ok:
            flash(_("Team updated."), "success")
    return redirect(url_for("engagements.detail", engagement_id=engagement.id) + "#team")


@bp.post("/<int:engagement_id>/members/<int:member_id>/remove")
@login_required
def remove_member(engagement_id: int, member_id: int):  # type: ignore[no-untyped-def]
    """Take a member off the team."""
    engagement = get_engagement_or_404(engagement_id, need="manage")
    member = db.session.get(EngagementMember, member_id)
    if member is None or member.engagement_id != engagement.id:
        abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400)
    with unit_of_work() as work:
        services.remove_member(db.session, current_user, engagement, member)
    if work.ok:
        flash(_("Team updated."), "success")
    return redirect(url_for("engagements.detail", engagement_id=engagement.id) + "#team")


# --- funds ------------------------------------------------------------------------------------


@bp.route("/<int:engagement_id>/budget", methods=["GET", "POST"])
@login_required
def budget(engagement_id: int):  # type: ignore[no-untyped-def]
    """Edit the funds table (万元): its sources (add, rename, remove) and the denominators."""
    engagement = get_engagement_or_404(engagement_id, need="edit")
    form = BudgetForm() if request.method == "POST" else _budget_form(engagement)
    # a denominator the indicator system's template declares wins: its setting is read-only
    # here (kept as stored, and used again if the system is replaced by one that declares none)
    declared = hub().declared_denominators(db.session, engagement)
    locked = {
        RateKind.FUNDING: form.funding_denominator,
        RateKind.EXECUTION: form.execution_denominator,
    }
    for kind, field in locked.items():
        if kind in declared:
            field.render_kw = {"disabled": True}
            field.data = getattr(engagement, f"{kind.value}_denominator").value
    if form.validate_on_submit():
        with unit_of_work(form) as work:
            table = services.save_budget(
                db.session,
                current_user,
                engagement,
                lines=[
                    services.FundLine(
                        line.name.data or "",
                        line.figures(),  # type: ignore[arg-type]
                        int(line.line_id.data) if (line.line_id.data or "").isdigit() else None,
                    )
                    for line in form.kept_lines()
                ],
                funding_denominator=Denominator(form.funding_denominator.data),
                execution_denominator=Denominator(form.execution_denominator.data),
                expected_version=form.expected_version(),
            )
        if _stale(work):
            flash(work.message, "danger")
            return redirect(url_for("engagements.budget", engagement_id=engagement_id))
        if work.ok:
            flash(_("Funds saved."), "success")
            if "executed_exceeds_available" in table.warnings:
                flash(_("Note: the amount executed exceeds the funds received."), "warning")
            return redirect(url_for("engagements.detail", engagement_id=engagement.id) + "#budget")
    for kind, field in locked.items():
        if kind in declared:  # the select shows the denominator in use
            field.data = declared[kind].value
    return render_template(
        "engagements/budget.html",
        engagement=engagement,
        form=form,
        columns=BUDGET_COLUMNS,
        suggestions=STANDARD_SOURCES,
        table=services.budget_of(engagement, declared),
    )


def _budget_form(engagement: Engagement) -> BudgetForm:
    """The funds form filled with the configured sources and a few empty rows to add."""
    rows = [
        {"line_id": str(line.id), "name": line.name}
        | {key: getattr(line, key) for key, _title in BUDGET_COLUMNS}
        for line in sorted(engagement.budget_lines, key=lambda line: (line.position, line.id))
    ]
    form = BudgetForm(
        formdata=None,
        data={
            "lines": rows + [{}] * SPARE_FUND_ROWS,
            "version": str(engagement.version),
            "funding_denominator": engagement.funding_denominator.value,
            "execution_denominator": engagement.execution_denominator.value,
        },
    )
    return form


def _budget(engagement: Engagement):  # type: ignore[no-untyped-def]
    """The funds table with the indicator system's declared denominators."""
    declared = hub().declared_denominators(db.session, engagement)
    return services.budget_of(engagement, declared)


@bp.get("/<int:engagement_id>/budget.xlsx")
@login_required
def budget_xlsx(engagement_id: int):  # type: ignore[no-untyped-def]
    """The funds table as Excel."""
    engagement = get_engagement_or_404(engagement_id)
    table = _budget(engagement)
    rows = [*table.rows, table.total]
    return send_table(
        _("Funds"),
        [
            _("Source"),
            _("Initial budget (10k yuan)"),
            _("Adjusted budget (10k yuan)"),
            _("Funds received (10k yuan)"),
            _("Executed (10k yuan)"),
            _("Funding rate"),
            _("Execution rate"),
        ],
        [
            [
                source_name(r.figures.source) if r.figures.source else _("Total"),
                r.figures.initial,
                r.figures.adjusted,
                r.figures.available,
                r.figures.executed,
                r.funding_rate,
                r.execution_rate,
            ]
            for r in rows
        ],
        f"engagement-{engagement.id}-funds.xlsx",
        formats={
            1: "#,##0.00",
            2: "#,##0.00",
            3: "#,##0.00",
            4: "#,##0.00",
            5: "0.00%",
            6: "0.00%",
        },
    )


# --- goals ------------------------------------------------------------------------------------


def _goal_rows(engagement: Engagement) -> list[dict[str, object]]:
    return [
        {"goal": g, "status": goal_status(g.nature, g.target_value, g.actual_value)}
        for g in engagement.goals
    ]


def _goal_form_values(form: GoalForm) -> dict[str, object]:
    return {f: getattr(form, f).data for f in services.GOAL_FIELDS}


@bp.route("/<int:engagement_id>/goals", methods=["GET", "POST"])
@login_required
def goals(engagement_id: int):  # type: ignore[no-untyped-def]
    """Performance goals: texts, indicator table, import and export."""
    engagement = get_engagement_or_404(engagement_id)
    editable = can_edit_engagement(current_user, engagement)
    text_form = GoalTextForm(obj=engagement)
    if request.method == "GET":
        text_form.version.data = str(engagement.version)
    if request.method == "POST":
        if not editable:
            abort(403)
        if text_form.validate_on_submit():
            with unit_of_work() as work:
                services.save_goal_texts(
                    db.session,
                    current_user,
                    engagement,
                    overall_goal=text_form.overall_goal.data,
                    annual_goal=text_form.annual_goal.data,
                    expected_version=text_form.expected_version(),
                )
            if work.ok:
                flash(_("Goals saved."), "success")
            return redirect(url_for("engagements.goals", engagement_id=engagement.id))
    return render_template(
        "engagements/goals.html",
        engagement=engagement,
        editable=editable,
        text_form=text_form,
        rows=_goal_rows(engagement),
        goal_form=GoalForm(formdata=None),
        import_form=GoalImportForm(),
        empty_form=EmptyForm(),
        import_errors=None,
    )


@bp.route("/<int:engagement_id>/goals/new", methods=["GET", "POST"])
@login_required
def goal_new(engagement_id: int):  # type: ignore[no-untyped-def]
    """Add a goal indicator."""
    engagement = get_engagement_or_404(engagement_id, need="edit")
    form = GoalForm()
    if form.validate_on_submit():
        services.add_goal(db.session, current_user, engagement, **_goal_form_values(form))
        db.session.commit()
        flash(_("Goal indicator added."), "success")
        return redirect(url_for("engagements.goals", engagement_id=engagement.id))
    return render_template(
        "engagements/goal_form.html", engagement=engagement, form=form, goal=None
    )


def _goal_or_404(engagement: Engagement, goal_id: int) -> GoalIndicator:
    goal = db.session.get(GoalIndicator, goal_id)
    if goal is None or goal.engagement_id != engagement.id:
        abort(404)
    return goal


@bp.route("/<int:engagement_id>/goals/<int:goal_id>/edit", methods=["GET", "POST"])
@login_required
def goal_edit(engagement_id: int, goal_id: int):  # type: ignore[no-untyped-def]
    """Edit a goal indicator."""
    engagement = get_engagement_or_404(engagement_id, need="edit")
    goal = _goal_or_404(engagement, goal_id)
    form = GoalForm(obj=goal)
    if request.method == "GET":
        form.nature.data = goal.nature.value
    if form.validate_on_submit():
        services.update_goal(db.session, current_user, goal, **_goal_form_values(form))
        db.session.commit()
        flash(_("Goal indicator saved."), "success")
        return redirect(url_for("engagements.goals", engagement_id=engagement.id))
    return render_template(
        "engagements/goal_form.html", engagement=engagement, form=form, goal=goal
    )


@bp.post("/<int:engagement_id>/goals/<int:goal_id>/delete")
@login_required
def goal_delete(engagement_id: int, goal_id: int):  # type: ignore[no-untyped-def]
    """Delete a goal indicator."""
    engagement = get_engagement_or_404(engagement_id, need="edit")
    goal = _goal_or_404(engagement, goal_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    services.delete_goal(db.session, current_user, goal)
    db.session.commit()
    flash(_("Goal indicator deleted."), "success")
    return redirect(url_for("engagements.goals", engagement_id=engagement.id))


@bp.post("/<int:engagement_id>/goals/import")
@login_required
def goal_import(engagement_id: int):  # type: ignore[no-untyped-def]
    """Import a 绩效目标表: all rows or none, with a row-level error list."""
    engagement = get_engagement_or_404(engagement_id, need="edit")
    form = GoalImportForm()
    rows, errors = _read_goal_import(form)
    if not errors:
        removed = len(engagement.goals) if form.replace.data else 0
        count = services.import_goals(
            db.session,
            current_user,
            engagement,
            rows,
            replace=form.replace.data,
            filename=form.file.data.filename or "",
        )
        db.session.commit()
        if removed:
            flash(
                _(
                    "%(removed)s goal indicators replaced by %(count)s imported ones.",
                    removed=removed,
                    count=count,
                ),
                "success",
            )
        else:
            flash(_("%(count)s goal indicators imported.", count=count), "success")
        return redirect(url_for("engagements.goals", engagement_id=engagement.id))
    text_form = GoalTextForm(obj=engagement, formdata=None)
    text_form.version.data = str(engagement.version)
    return render_template(
        "engagements/goals.html",
        engagement=engagement,
        editable=True,
        text_form=text_form,
        rows=_goal_rows(engagement),
        goal_form=GoalForm(formdata=None),
        import_form=form,
        empty_form=EmptyForm(),
        import_errors=errors,
    ), 422


def _read_goal_import(form: GoalImportForm) -> tuple[list, list[str]]:  # type: ignore[type-arg]
    """The goal rows of the uploaded table, and the errors that refuse the whole file."""
    if not form.validate_on_submit():
        return [], [str(e) for e in form.file.errors] or [_("Choose a file to import.")]
    upload = form.file.data
    try:
        frame = read_table(upload.read(), upload.filename or "")
    except UnreadableTable as exc:
        return [], [exc.message.render(_)]
    rows, row_errors = parse_goal_table(frame)
    if row_errors:
        return [], [
            _("Row %(row)s: %(message)s", row=e.row, message=e.render(_)) for e in row_errors
        ]
    if not rows:
        return [], [_("The file contains no goal indicators.")]
    return rows, []


@bp.get("/goals-template.xlsx")
@login_required
def goal_template():  # type: ignore[no-untyped-def]
    """An empty 绩效目标表 with the expected headers and one example row."""
    headers = [names[0] for names in GOAL_COLUMNS.values()]
    return send_table(
        "绩效目标表", headers, [], "goal-table-template.xlsx", notes=GOAL_TEMPLATE_NOTES
    )


@bp.get("/<int:engagement_id>/goals.xlsx")
@login_required
def goals_xlsx(engagement_id: int):  # type: ignore[no-untyped-def]
    """The goal indicators as Excel (same layout as the import template, plus status)."""
    engagement = get_engagement_or_404(engagement_id)
    headers = [names[0] for names in GOAL_COLUMNS.values()] + ["完成情况"]
    rows = [
        [
            g.level1,
            g.level2,
            g.name,
            export_nature(g.nature),
            export_value(g.target_value),
            g.unit,
            export_value(g.actual_value),
            g.deviation_reason,
            label(r["status"]),
        ]
        for r in _goal_rows(engagement)
        for g in [r["goal"]]
    ]
    return send_table("绩效目标表", headers, rows, f"engagement-{engagement.id}-goals.xlsx")


GOAL_TEMPLATE_NOTES = [
    ["填写说明"],
    [
        "每行一个绩效指标，表头不可改动（也可使用英文表头 level1, level2, name, nature, target, "
        "unit, actual, deviation reason）。"
    ],
    [
        "一级指标、三级指标、指标值为必填；指标性质填 ≥、≤、＝、>、< 或 定性，"
        "也可省略而把比较符号写在指标值里（如 ≥1.2万亩、≤90万元、≤2025年12月31日、≥95%），"
        "文字指标值（如 明显改善）按定性处理。"
    ],
    [
        "定量指标的指标值与实际完成值须为数字（可带单位，如 95%、1.2万亩）或日期；"
        "单位须与计量单位一致。"
    ],
    ["示例：产出指标 | 数量指标 | 新建供水管网长度 | ≥ | 120 | 公里 | 126.5 |"],
]


# --- audit log --------------------------------------------------------------------------------


@bp.get("/<int:engagement_id>/audit")
@login_required
def audit(engagement_id: int):  # type: ignore[no-untyped-def]
    """The engagement's audit log (team and admins only)."""
    engagement = get_engagement_or_404(engagement_id, need="internal")
    stmt = (
        sa.select(AuditEntry)
        .where(AuditEntry.engagement_id == engagement.id)
        .order_by(AuditEntry.id.desc())
    )
    if request.args.get("format") == "xlsx":
        entries = db.session.scalars(stmt).all()
        return send_table(
            _("Audit log"),
            [_("Time"), _("Who"), _("Action"), _("Field"), _("Before"), _("After"), _("Note")],
            [
                [
                    local_datetime(e.at),
                    e.actor,
                    action_label(e.action),
                    field_label(field) if field else "",
                    _audit_value(field, change.get("before")) if field else "",
                    _audit_value(field, change.get("after")) if field else "",
                    e.summary or "",
                ]
                for e in entries
                for field, change in (e.changes or {"": {}}).items()
            ],
            f"engagement-{engagement.id}-audit.xlsx",
        )
    page = db.paginate(
        stmt, page=query_int("page", high=MAX_PAGE) or 1, per_page=50, error_out=False
    )
    return render_template(
        "engagements/audit.html",
        engagement=engagement,
        page=page,
        value=_audit_value,
        field_label=field_label,
        action_label=action_label,
    )


def _organisation_names() -> dict[int, str]:
    rows = db.session.execute(sa.select(Organisation.id, Organisation.name)).all()
    return dict(rows)


def _audit_value(field: str, value: object) -> str:
    return field_value(field, value, _organisation_names() if field.endswith("_id") else None)


def _issued_reports(engagement, status: str = "issued"):  # type: ignore[no-untyped-def]
    return hub().report_versions(db.session, engagement, (status,))


@bp.get("/<int:engagement_id>/archive.zip")
@login_required
def archive_package(engagement_id: int):  # type: ignore[no-untyped-def]
    """The archive package of an archived engagement (the team's copy), streamed from disk."""
    engagement = get_engagement_or_404(engagement_id, need="internal")
    path = hub().archive_path(engagement)
    if engagement.state is not EngagementState.ARCHIVED or path is None or not path.exists():
        abort(404)

    def chunks():  # type: ignore[no-untyped-def]
        with open(path, "rb") as fh:  # closed even when the client goes away
            while block := fh.read(1024 * 1024):
                yield block

    name = quote(f"归档包-{engagement.id}.zip")
    return current_app.response_class(
        chunks(),
        mimetype="application/zip",
        headers={
            "Content-Length": str(path.stat().st_size),
            "Content-Disposition": (
                f"attachment; filename=archive-{engagement.id}.zip; filename*=UTF-8''{name}"
            ),
        },
    )


@bp.get("/<int:engagement_id>/archive/progress")
@login_required
def archive_progress(engagement_id: int):  # type: ignore[no-untyped-def]
    """The archive package build's progress (JSON, polled by the overview page)."""
    engagement = get_engagement_or_404(engagement_id, need="internal")
    state = hub().archive_status(engagement) or {"status": "none", "done": 0, "total": 0}
    state["phase"] = str(ARCHIVE_PHASES.get(state["status"], state["status"]))
    return jsonify(state)


ARCHIVE_PHASES = {
    "queued": _l("waiting"),
    "running": _l("writing files"),
    "done": _l("complete"),
    "failed": _l("failed"),
    "interrupted": _l("interrupted"),
}


def _archive_info(engagement):  # type: ignore[no-untyped-def]
    """The package's manifest facts (retention), or None when there is no package."""
    path = hub().archive_path(engagement)
    if engagement.state is EngagementState.ARCHIVED and path is not None and path.exists():
        return hub().archive_facts(path)
    state = hub().archive_status(engagement)
    if state is None or state["status"] == "done":
        return None
    state["phase"] = str(ARCHIVE_PHASES.get(state["status"], state["status"]))
    error = state.get("error") or ""
    state["message"] = (
        str(CODES[error]) if error in CODES else _("The archive package could not be built.")
    )
    return {"job": state}
