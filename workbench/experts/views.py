"""Expert registry, an engagement's panel, and the expert's own pages (personal link)."""

from __future__ import annotations

import io
import smtplib
from decimal import Decimal
from typing import Any

import pandas as pd
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
    send_file,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm import selectinload

from workbench import qr
from workbench.accounts.access import require_role
from workbench.accounts.models import Role
from workbench.core.agreement import TooFewRatings, icc, kendall_w
from workbench.core.evaluation import points
from workbench.core.panel import Aggregation, indicator_stats, outliers, wide
from workbench.core.workflow import FROZEN_STATES
from workbench.db import db
from workbench.engagements.access import (
    can_manage_engagement,
    get_engagement_or_404,
    visible_engagements_filter,
)
from workbench.engagements.forms import EmptyForm
from workbench.engagements.hub import hub
from workbench.engagements.models import Engagement, MemberRole
from workbench.experts import offline, services
from workbench.experts.forms import (
    NOT_A_NUMBER,
    DeclareForm,
    ExpertForm,
    ExpertInfoForm,
    InviteForm,
    OfflineUploadForm,
    PanelSettingsForm,
    ReopenForm,
    SheetFormBase,
    UndoRecusalForm,
    sheet_form,
)
from workbench.experts.models import Expert, PanelMember
from workbench.extensions import limiter
from workbench.labels import pairs
from workbench.links import external_url
from workbench.mail import mail_enabled, send_mail
from workbench.scoring import services as scoring
from workbench.web import Work, unit_of_work
from workbench.xlsx import XLSX_MIME, send_table

bp = Blueprint("experts", __name__, template_folder="templates")

PROBLEMS = {
    "missing": _l("a score is required"),
    "not_a_number": NOT_A_NUMBER,
    "out_of_range": _l("outside 0 to the maximum"),
    "off_step": _l("not on the score step"),
    "comment_required": _l("a comment is required when deducting or changing a score"),
    "new_reason_required": _l(
        "a changed score in the second round needs a new reason: the first-round reason "
        "does not count"
    ),
}


# --- registry ---------------------------------------------------------------------------------


@bp.get("/experts/")
@require_role(Role.ADMIN, Role.EVALUATOR, Role.REVIEWER)
def registry():  # type: ignore[no-untyped-def]
    """The firm's expert registry (专家库), searchable."""
    q = request.args.get("q", "").strip()[:100]
    stmt = sa.select(Expert).order_by(Expert.name).options(selectinload(Expert.seats))
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = f"%{escaped}%"
        stmt = stmt.where(
            sa.or_(
                Expert.name.ilike(like, escape="\\"),
                Expert.organisation.ilike(like, escape="\\"),
                Expert.field.ilike(like, escape="\\"),
                Expert.title.ilike(like, escape="\\"),
            )
        )
    experts = db.session.scalars(stmt).all()
    if request.args.get("format") == "xlsx":
        return send_table(
            _("Experts"),
            [
                _("Name"),
                _("Professional title"),
                _("Organisation"),
                _("Field of expertise"),
                _("Phone"),
                _("E-mail"),
                _("Engagements served"),
            ],
            [
                [e.name, e.title, e.organisation, e.field, e.phone, e.email, len(e.seats)]
                for e in experts
            ],
            "experts.xlsx",
        )
    return render_template("experts/registry.html", experts=experts, q=q)


@bp.route("/experts/new", methods=["GET", "POST"])
@require_role(Role.ADMIN, Role.EVALUATOR)
def expert_new():  # type: ignore[no-untyped-def]
    """Add an expert to the registry."""
    form = ExpertForm()
    if form.validate_on_submit():
        services.create_expert(
            db.session, current_user, **{f: getattr(form, f).data for f in services.EXPERT_FIELDS}
        )
        db.session.commit()
        flash(_("Expert added."), "success")
        namesakes = db.session.scalar(
            sa.select(sa.func.count()).select_from(Expert).where(Expert.name == form.name.data)
        )
        if namesakes and namesakes > 1:
            flash(
                _(
                    "Note: %(n)s experts are now called %(name)s; add the organisation or title "
                    "to tell them apart.",
                    n=namesakes,
                    name=form.name.data,
                ),
                "warning",
            )
        return redirect(url_for("experts.registry"))
    return render_template("experts/expert_form.html", form=form, expert=None)


@bp.route("/experts/<int:expert_id>", methods=["GET", "POST"])
@require_role(Role.ADMIN, Role.EVALUATOR, Role.REVIEWER)
def expert_edit(expert_id: int):  # type: ignore[no-untyped-def]
    """An expert's entry and the engagements they served on."""
    expert = db.get_or_404(Expert, expert_id)
    form = ExpertForm(obj=expert)
    if form.validate_on_submit():
        if current_user.role is Role.REVIEWER:
            abort(403)
        services.update_expert(
            db.session,
            current_user,
            expert,
            **{f: getattr(form, f).data for f in services.EXPERT_FIELDS},
        )
        db.session.commit()
        flash(_("Expert saved."), "success")
        return redirect(url_for("experts.registry"))
    seats, hidden = _visible_seats(expert)
    return render_template(
        "experts/expert_form.html", form=form, expert=expert, seats=seats, hidden_seats=hidden
    )


def _visible_seats(expert: Expert) -> tuple[list[PanelMember], int]:
    """The expert's seats on engagements the viewer may open, and how many others there are
    (their titles are not shown: the registry is open to all staff, engagements are not)."""
    engagement_ids = {seat.engagement_id for seat in expert.seats}
    visible = set(
        db.session.scalars(
            sa.select(Engagement.id).where(
                Engagement.id.in_(engagement_ids), visible_engagements_filter(current_user)
            )
        )
    )
    seats = [seat for seat in expert.seats if seat.engagement_id in visible]
    return seats, len(expert.seats) - len(seats)


# --- an engagement's panel --------------------------------------------------------------------


def _expert_leaf_choices(engagement) -> tuple[list[Any], Any]:  # type: ignore[no-untyped-def]
    system = scoring.system_of(db.session, engagement)
    if system is None:
        return [], None
    template = scoring.template_of(system)
    leaves = services.expert_leaves(template) or template.leaves()
    return [(leaf.code, f"{leaf.code} {leaf.name}") for leaf in leaves], template


@bp.get("/engagements/<int:engagement_id>/panel")
def panel(engagement_id: int):  # type: ignore[no-untyped-def]
    """The panel: seats, links, declarations, progress, and the statistics of the scores."""
    engagement = get_engagement_or_404(engagement_id, need="internal")
    settings = services.settings_of(db.session, engagement)
    db.session.commit()  # the settings row, created on first view
    # loaded after the commit, which would expire them (and reload each seat one by one)
    choices, template = _expert_leaf_choices(engagement)
    members = services.panel_members(db.session, engagement)
    invite_form = InviteForm()
    seated = {m.expert_id for m in members}
    invite_form.expert_id.choices = pairs(
        [
            (e.id, f"{e.name}（{e.organisation or e.title or e.field or f'#{e.id}'}）")
            for e in db.session.scalars(sa.select(Expert).order_by(Expert.name))
            if e.id not in seated
        ]
    )
    invite_form.codes.choices = pairs(choices)
    invite_form.codes.data = [c for c, _label in choices] if template else []
    expert_codes = {c for c, _label in choices}
    settings_form = PanelSettingsForm(obj=settings)
    settings_form.aggregation.data = settings.aggregation.value
    info_form = ExpertInfoForm(obj=settings)
    info_form.named_in_report.data = "named" if settings.named_in_report else "anonymous"
    return render_template(
        "experts/panel.html",
        engagement=engagement,
        members=members,
        template=template,
        invite_form=invite_form,
        mail_enabled=mail_enabled(),
        settings_form=settings_form,
        info_form=info_form,
        undo_form=UndoRecusalForm(),
        settings=settings,
        reopen_form=ReopenForm(),
        upload_form=OfflineUploadForm(),
        empty_form=EmptyForm(),
        can_manage=can_manage_engagement(current_user, engagement),
        link_state=services.link_state,
        stats=_statistics(engagement, expert_codes, members),
        names={leaf.code: leaf.name for leaf in (template.leaves() if template else [])},
        points=points,
    )


def _official_aggregates(engagement) -> dict[str, Decimal]:  # type: ignore[no-untyped-def]
    """Each expert leaf's aggregated panel score as the engagement's one evaluated result holds
    it (capped at the leaf's points, rounded half-up to 2 decimals)."""
    result = hub().result_of(db.session, engagement)
    if result is None or result.panel is None:
        return {}
    return {code: leaf.official for code, leaf in result.panel.leaves.items()}


def _statistics(engagement, codes: set[str], members) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    frame = services.panel_frame(db.session, engagement, members=members)
    frame = frame[frame["indicator_code"].isin(codes)] if codes else frame
    if frame.empty:
        return {"empty": True}
    out: dict[str, Any] = {
        "empty": False,
        "stats": indicator_stats(frame),
        "outliers": outliers(frame),
        "matrix": wide(frame),
        # the official aggregates: what the scoring of the expert leaves uses (the one result)
        "aggregate": _official_aggregates(engagement),
    }
    experts = {m.expert_id: m.expert.name for m in members}
    out["expert_names"] = experts
    # agreement on score rates (score ÷ maximum): indicators with different maxima compare
    template = scoring.template_of(scoring.system_of(db.session, engagement))
    maxima = pd.Series({code: float(template.find(code).weight) for code in out["matrix"].index})
    rates = out["matrix"].div(maxima, axis=0)
    try:
        out["kendall"] = kendall_w(rates)
    except TooFewRatings as exc:
        out["kendall_error"] = _too_few(exc)
    try:
        out["icc"] = icc(rates)
    except TooFewRatings as exc:
        out["icc_error"] = _too_few(exc)
    return out


def _too_few(exc: TooFewRatings) -> str:
    """Why an agreement statistic is missing, in the reader's language."""
    if exc.short_of == "raters":
        return _(
            "needs at least %(needed)s experts' scores; %(got)s so far.",
            needed=exc.needed,
            got=exc.got,
        )
    return _(
        "needs at least %(needed)s indicators scored by every expert; %(got)s so far "
        "(%(dropped)s left out for missing scores).",
        needed=exc.needed,
        got=exc.got,
        dropped=exc.dropped,
    )


def _seat_or_404(engagement, member_id: int) -> PanelMember:  # type: ignore[no-untyped-def]
    member = db.session.get(PanelMember, member_id)
    if member is None or member.engagement_id != engagement.id:
        abort(404)
    return member


@bp.post("/engagements/<int:engagement_id>/panel/invite")
def invite(engagement_id: int):  # type: ignore[no-untyped-def]
    """Seat an expert (or re-issue a link) and show the personal link once."""
    engagement = get_engagement_or_404(engagement_id, need="manage")
    choices, _template = _expert_leaf_choices(engagement)
    form = InviteForm()
    form.expert_id.choices = pairs([(e.id, e.name) for e in db.session.scalars(sa.select(Expert))])
    form.codes.choices = pairs(choices)
    if not form.validate_on_submit():
        flash(_("Choose an expert and the indicators to score."), "danger")
        return redirect(url_for("experts.panel", engagement_id=engagement.id))
    expert = db.session.get(Expert, form.expert_id.data) or abort(404)
    return _issue(
        engagement,
        expert,
        form.codes.data,
        form.days.data,
        form.weight.data,
        send=bool(form.send_mail.data),
    )


@bp.post("/engagements/<int:engagement_id>/panel/<int:member_id>/reissue")
def reissue(engagement_id: int, member_id: int):  # type: ignore[no-untyped-def]
    """A new personal link for a seat (the old one stops working)."""
    engagement = get_engagement_or_404(engagement_id, need="manage")
    member = _seat_or_404(engagement, member_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    return _issue(engagement, member.expert, member.indicator_codes, services.DEFAULT_LINK_DAYS)


def _issue(engagement, expert, codes, days, weight=None, send=False):  # type: ignore[no-untyped-def]
    with unit_of_work() as work:
        member, token = services.invite(
            db.session, current_user, engagement, expert, codes, days=days, weight=weight
        )
    if not work.ok:
        return redirect(url_for("experts.panel", engagement_id=engagement.id))
    url = external_url("experts.sheet", token=token)
    if send and mail_enabled() and expert.email:
        _mail_link(engagement, expert, member, url)
    # show the link on a page of its own (POST → redirect → GET), so that a reload does not
    # issue yet another link; the token travels once through the lead's own session
    session["issued_link"] = {"member_id": member.id, "token": token}
    return redirect(url_for("experts.issued", engagement_id=engagement.id, member_id=member.id))


def _mail_link(engagement, expert, member, url: str) -> None:  # type: ignore[no-untyped-def]
    try:
        send_mail(
            expert.email,
            f"{engagement.title}：专家评分邀请",
            f"{expert.name}：\n\n请通过以下专属链接完成利益冲突声明并评分"
            f"（有效期至 {member.token_expires_at:%Y-%m-%d}）：\n{url}\n",
        )
    except (OSError, smtplib.SMTPException) as exc:
        current_app.logger.warning("mail to %s failed: %s", expert.email, exc)
        flash(_("The e-mail could not be sent; copy the link below instead."), "warning")
    else:
        flash(_("The link was e-mailed to %(email)s.", email=expert.email), "success")


@bp.get("/engagements/<int:engagement_id>/panel/<int:member_id>/link")
def issued(engagement_id: int, member_id: int):  # type: ignore[no-untyped-def]
    """The personal link just issued, with its QR code; shown once."""
    engagement = get_engagement_or_404(engagement_id, need="manage")
    member = _seat_or_404(engagement, member_id)
    held = session.pop("issued_link", None)
    if not held or held.get("member_id") != member.id:
        flash(_("A link is shown only once. Issue a new link if it was not copied."), "info")
        return redirect(url_for("experts.panel", engagement_id=engagement.id))
    url = external_url("experts.sheet", token=held["token"])
    return render_template(
        "experts/link.html", engagement=engagement, member=member, url=url, qr=qr.data_uris(url)
    )


@bp.post("/engagements/<int:engagement_id>/panel/<int:member_id>/revoke")
def revoke(engagement_id: int, member_id: int):  # type: ignore[no-untyped-def]
    """Switch an expert's link off."""
    engagement = get_engagement_or_404(engagement_id, need="manage")
    member = _seat_or_404(engagement, member_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    services.revoke(db.session, current_user, member)
    db.session.commit()
    flash(_("The link of %(name)s no longer works.", name=member.expert.name), "success")
    return redirect(url_for("experts.panel", engagement_id=engagement.id))


@bp.post("/engagements/<int:engagement_id>/panel/<int:member_id>/reopen")
def reopen(engagement_id: int, member_id: int):  # type: ignore[no-untyped-def]
    """Unlock a submitted sheet, with a reason (lead only)."""
    engagement = get_engagement_or_404(engagement_id, need="manage")
    member = _seat_or_404(engagement, member_id)
    form = ReopenForm()
    if not form.validate_on_submit():
        flash(_("A reason is required."), "danger")
    else:
        with unit_of_work() as work:
            services.reopen(
                db.session, current_user, member, int(form.round.data), form.reason.data
            )
        if work.ok:
            flash(_("The sheet of %(name)s is open again.", name=member.expert.name), "success")
    return redirect(url_for("experts.panel", engagement_id=engagement.id))


@bp.post("/engagements/<int:engagement_id>/panel/settings")
def settings(engagement_id: int):  # type: ignore[no-untyped-def]
    """Aggregation rule and score step."""
    engagement = get_engagement_or_404(engagement_id, need="manage")
    form = PanelSettingsForm()
    if form.validate_on_submit() and form.step.data and form.step.data > 0:
        services.save_settings(
            db.session,
            current_user,
            engagement,
            aggregation=Aggregation(form.aggregation.data),
            trim_min_n=form.trim_min_n.data,
            step=form.step.data,
        )
        db.session.commit()
        flash(_("Panel settings saved."), "success")
    else:
        flash(_("Check the panel settings."), "danger")
    return redirect(url_for("experts.panel", engagement_id=engagement.id))


@bp.post("/engagements/<int:engagement_id>/panel/expert-info")
def expert_info(engagement_id: int):  # type: ignore[no-untyped-def]
    """Named or anonymised expert table, deadline and contact shown to the experts."""
    engagement = get_engagement_or_404(engagement_id, need="manage")
    form = ExpertInfoForm()
    if not form.validate_on_submit():
        flash(_("Check what the experts are told."), "danger")
        return redirect(url_for("experts.panel", engagement_id=engagement.id))
    with unit_of_work() as work:
        services.save_expert_info(
            db.session,
            current_user,
            engagement,
            named_in_report=form.named_in_report.data == "named",
            deadline=form.deadline.data,
            contact=form.contact.data or "",
        )
    if work.ok:
        flash(_("Panel settings saved."), "success")
    return redirect(url_for("experts.panel", engagement_id=engagement.id))


@bp.post("/engagements/<int:engagement_id>/panel/<int:member_id>/undo-recusal")
def undo_recusal(engagement_id: int, member_id: int):  # type: ignore[no-untyped-def]
    """Undo a recusal declared by mistake, with a reason (lead only; audited)."""
    engagement = get_engagement_or_404(engagement_id, need="manage")
    member = _seat_or_404(engagement, member_id)
    form = UndoRecusalForm()
    if not form.validate_on_submit():
        flash(_("A reason is required."), "danger")
    else:
        with unit_of_work() as work:
            services.undo_recusal(db.session, current_user, member, form.reason.data)
        if work.ok:
            flash(
                _("%(name)s is no longer recused and can score.", name=member.expert.name),
                "success",
            )
    return redirect(url_for("experts.panel", engagement_id=engagement.id))


@bp.post("/engagements/<int:engagement_id>/panel/round2")
def round2(engagement_id: int):  # type: ignore[no-untyped-def]
    """Open the Delphi revision round."""
    engagement = get_engagement_or_404(engagement_id, need="manage")
    if not EmptyForm().validate_on_submit():
        abort(400)
    with unit_of_work() as work:
        services.open_round2(db.session, current_user, engagement)
    if work.ok:
        flash(
            _("The revision round is open: experts now see the panel's median and range."),
            "success",
        )
    return redirect(url_for("experts.panel", engagement_id=engagement.id))


@bp.get("/engagements/<int:engagement_id>/panel.xlsx")
def panel_xlsx(engagement_id: int):  # type: ignore[no-untyped-def]
    """The 专家评分汇总表: every expert's effective score, the statistics and the result."""
    engagement = get_engagement_or_404(engagement_id, need="internal")
    choices, template = _expert_leaf_choices(engagement)
    members = services.panel_members(db.session, engagement)
    stats = _statistics(engagement, {c for c, _label in choices}, members)
    if stats["empty"]:
        flash(_("No sheet has been submitted yet."), "info")
        return redirect(url_for("experts.panel", engagement_id=engagement.id))
    names = stats["expert_names"]
    matrix = stats["matrix"]
    experts = list(matrix.columns)
    headers = [
        "指标",
        *[names.get(e, str(e)) for e in experts],
        "n",
        "均值",
        "标准差",
        "变异系数",
        "离散提示",
        "汇总得分",
    ]
    rows = []
    for code in matrix.index:
        s = stats["stats"].loc[code]
        rows.append(
            [
                f"{code} {template.find(code).name if template else ''}",
                *[matrix.loc[code, e] for e in experts],
                int(s["n"]),
                s["mean"],
                s["sd"],
                s["cv"],
                "是" if s["cv_flag"] else "",
                stats["aggregate"].get(code),
            ]
        )
    notes = _panel_notes(engagement, stats, names)
    numeric = dict.fromkeys(range(1, len(experts) + 6), "0.00")
    numeric[len(experts) + 4] = "0.000"  # CV
    numeric[len(experts) + 6] = "0.00"
    return send_table(
        "专家评分汇总表",
        headers,
        rows,
        f"engagement-{engagement.id}-panel.xlsx",
        formats=numeric,
        notes=notes,
    )


def _panel_notes(engagement, stats: dict[str, Any], names: dict[Any, str]) -> list[list[str]]:  # type: ignore[no-untyped-def]
    """The notes under the panel table: rule, round, dispersion, agreement, outliers."""
    settings = services.settings_of(db.session, engagement)
    rule = {
        "mean": "算术平均",
        "trimmed": f"去掉一个最高分和一个最低分后平均（{settings.trim_min_n} 人及以上）",
        "median": "中位数",
        "weighted": "按专家权重加权平均",
    }[settings.aggregation.value]
    notes = [
        [f"{engagement.title} 专家评分汇总表"],
        [f"汇总方法：{rule}"],
        [
            "轮次："
            + (
                "第二轮（修订轮）已开启，取各专家最新提交的评分"
                if settings.round2_open
                else "第一轮"
            )
        ],
        ["离散提示：变异系数大于 0.25"],
    ]
    if stats.get("kendall"):
        k = stats["kendall"]
        notes.append(
            [
                f"肯德尔和谐系数 W = {k.w:.3f}（χ² = {k.chi2:.2f}，df = {k.dof}，"
                f"p = {k.pvalue:.3f}；按得分率计算）"
            ]
        )
    if stats.get("icc") is not None:
        row = stats["icc"].loc["ICC2"]
        notes.append([f"ICC(2,1) = {row['icc']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]"])
    for item in stats["outliers"].itertuples():
        notes.append(
            [f"异常评分：{item.indicator_code} · {names.get(item.expert_id, '')}：{item.reason_zh}"]
        )
    return notes


# --- the expert's own pages -------------------------------------------------------------------


def _member_or_gone(token: str) -> PanelMember:
    member = services.member_for_token(db.session, token)
    if member is None:
        abort(404)
    if member.engagement.state in FROZEN_STATES:  # archiving closes every channel
        abort(
            410,
            description=_(
                "This evaluation has been archived: scoring is closed. Thank you for your work."
            ),
        )
    state = services.link_state(member)
    if state != "ok":
        abort(
            410,
            description=_(
                "This link has expired or been withdrawn. Please ask the "
                "evaluation team for a new one."
            )
            if state == "expired"
            else _("This link has been withdrawn. Please ask the evaluation team for a new one."),
        )
    return member


def _expert_limit() -> str:
    return str(current_app.config.get("EXPERT_RATE_LIMIT", "120 per minute"))


@bp.get("/x/<token>")
@limiter.limit(_expert_limit)
def sheet(token: str):  # type: ignore[no-untyped-def]
    """The expert's page: declaration first, then the scoring sheet."""
    member = _member_or_gone(token)
    if member.declared_at is None:
        return render_template(
            "experts/declare.html",
            member=member,
            token=token,
            form=DeclareForm(),
            settings=services.settings_of(db.session, member.engagement),
        )
    if member.recused:
        return render_template("experts/recused.html", member=member)
    return _render_sheet(member, token)


def _stored_values(member: PanelMember, round_no: int) -> dict[str, tuple[str, str]]:
    """Indicator code → (score text, comment) as saved for ``round_no``. The revision round
    starts from the round-1 scores, not their reasons: a changed score needs a new one."""
    values = {
        c: (format(s.score.normalize(), "f") if s.score is not None else "", s.comment)
        for c, s in services.scores_of(member, round_no).items()
    }
    if round_no == 2:
        for code, s in services.scores_of(member, 1).items():
            values.setdefault(
                code, (format(s.score.normalize(), "f") if s.score is not None else "", "")
            )
    return values


def _contact(engagement: Engagement, settings) -> str:  # type: ignore[no-untyped-def]
    """Whom the experts may ask: the panel's contact, else the engagement leads."""
    if settings.contact:
        return str(settings.contact)
    leads = [m.user for m in engagement.members if m.role is MemberRole.LEAD]
    return "；".join(f"{u.display_name} {u.email or ''}".strip() for u in leads)


def _render_sheet(
    member: PanelMember,
    token: str,
    problems: dict[str, str] | None = None,
    values: dict[str, tuple[str, str]] | None = None,
    status: int = 200,
):  # type: ignore[no-untyped-def]
    template = scoring.template_of(scoring.system_of(db.session, member.engagement))
    round_no = services.current_round(db.session, member)
    leaves = [leaf for leaf in template.leaves() if leaf.code in member.indicator_codes]
    if values is None:
        values = _stored_values(member, round_no)
    settings = services.settings_of(db.session, member.engagement)
    return render_template(
        "experts/sheet.html",
        member=member,
        token=token,
        leaves=leaves,
        values=values,
        problems=problems or {},
        round_no=round_no,
        done=sum(1 for leaf in leaves if values.get(leaf.code, ("", ""))[0]),
        locked=services.submitted_at(member, round_no) is not None,
        summary=services.round1_summary(db.session, member.engagement) if round_no == 2 else {},
        first=services.scores_of(member, 1) if round_no == 2 else {},
        step=settings.step,
        settings=settings,
        contact=_contact(member.engagement, settings),
        documents=hub().panel_documents(db.session, member.engagement),
    ), status


def _sheet_form(member: PanelMember) -> SheetFormBase:
    """The posted sheet of ``member``: one score and one comment per assigned indicator."""
    return sheet_form(member.indicator_codes)


@bp.post("/x/<token>/declare")
@limiter.limit(_expert_limit)
def declare(token: str):  # type: ignore[no-untyped-def]
    """Record the declaration; a declared relationship recuses the expert."""
    member = _member_or_gone(token)
    if member.declared_at is not None:
        return redirect(url_for("experts.sheet", token=token))
    form = DeclareForm()
    error = None
    if not form.validate_on_submit():
        error = (
            _("Please choose whether you have a conflict of interest.")
            if form.conflict.errors
            else _("Please answer the declaration.")
        )
    else:
        with unit_of_work() as work:
            services.declare(
                db.session,
                member,
                has_conflict=form.conflict.data == "declared",
                text=form.conflict_text.data or "",
                confidentiality=bool(form.confidentiality.data),
            )
        error = None if work.ok else work.message
    if error:  # show the page again with what the expert chose and wrote
        return render_template(
            "experts/declare.html",
            member=member,
            token=token,
            form=form,
            error=error,
            settings=services.settings_of(db.session, member.engagement),
        ), 422
    return redirect(url_for("experts.sheet", token=token))


def _save_sheet(member: PanelMember, form: SheetFormBase, *, submit: bool) -> None:
    """Save the posted sheet (the caller's unit of work commits or rolls back)."""
    template = scoring.template_of(scoring.system_of(db.session, member.engagement))
    services.save_sheet(
        db.session,
        member,
        template,
        form.values(),
        round_no=services.current_round(db.session, member),
        submit=submit,
        expected_version=form.expected_version(),
    )


def _sheet_problems(exc: BaseException | None) -> dict[str, str] | None:
    """Indicator code → message, when the service refused the sheet's values."""
    if isinstance(exc, services.SheetInvalid):
        return {p.code: str(PROBLEMS[p.problem]) for p in exc.problems}
    return None


def _save_page(token: str, *, submit: bool):  # type: ignore[no-untyped-def]
    """Save a draft or submit the sheet from the page: problems → the sheet again, marked."""
    member = _member_or_gone(token)
    form = _sheet_form(member)
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:  # the page expired: nothing to show again
            abort(400)
        return _render_sheet(member, token, form.problems(), form.values(), status=422)
    with unit_of_work(form) as work:  # the message goes to the form, not yet to the page
        _save_sheet(member, form, submit=submit)
    if not work.ok:
        problems = _sheet_problems(work.error)
        if problems is not None:  # the marked fields say what is wrong
            return _render_sheet(member, token, problems, form.values(), status=422)
        flash(work.message, "danger")
        return _render_sheet(member, token, status=409)  # the stored values, not the replay
    flash(_("Thank you: your scores are submitted.") if submit else _("Draft saved."), "success")
    return redirect(url_for("experts.sheet", token=token))


@bp.post("/x/<token>/sheet")
@limiter.limit(_expert_limit)
def save(token: str):  # type: ignore[no-untyped-def]
    """Save the sheet as a draft (it stays open)."""
    return _save_page(token, submit=False)


@bp.post("/x/<token>/sheet/submit")
@limiter.limit(_expert_limit)
def submit(token: str):  # type: ignore[no-untyped-def]
    """Submit the sheet: every indicator scored; submitting locks it."""
    return _save_page(token, submit=True)


@bp.post("/x/<token>/draft")
@limiter.limit(_expert_limit)
def draft(token: str):  # type: ignore[no-untyped-def]
    """Autosave (JSON): keeps a draft without submitting; invalid values are not saved."""
    member = _member_or_gone(token)
    form = _sheet_form(member)
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:  # the page expired: nothing to show again
            abort(400)
        return jsonify(ok=False, problems=form.problems()), 422
    with unit_of_work(form) as work:  # answered in the JSON, not flashed
        _save_sheet(member, form, submit=False)
    if not work.ok:
        problems = _sheet_problems(work.error)
        if problems is not None:
            return jsonify(ok=False, problems=problems), 422
        if isinstance(work.error, services.SheetStale):  # the page reloads the saved values
            return jsonify(ok=False, stale=True, error=work.message, **_saved(member)), 409
        return jsonify(ok=False, error=work.message), 409
    return jsonify(ok=True, version=member.version)  # the page saves with it from now on


def _saved(member: PanelMember) -> dict[str, Any]:
    """The seat's version and its saved values of the round being worked on."""
    db.session.refresh(member)  # another tab may have saved since this request began
    round_no = services.current_round(db.session, member)
    return {
        "version": member.version,
        "values": {code: list(v) for code, v in _stored_values(member, round_no).items()},
        "locked": services.submitted_at(member, round_no) is not None,
    }


@bp.get("/x/<token>/saved")
@limiter.limit(_expert_limit)
def saved(token: str):  # type: ignore[no-untyped-def]
    """What the sheet holds now (JSON): a tab shown again compares it with its own version."""
    member = _member_or_gone(token)
    if member.declared_at is None or member.recused:
        abort(404)
    return jsonify(ok=True, **_saved(member))


@bp.get("/x/<token>/documents/<int:evidence_id>")
@limiter.limit(_expert_limit)
def document(token: str, evidence_id: int):  # type: ignore[no-untyped-def]
    """A document the team shared with this expert's panel (any other id: 404)."""
    member = _member_or_gone(token)
    if member.declared_at is None or member.recused:
        abort(404)  # the documents are confidential: after the undertaking, not when recused
    found = hub().panel_document(db.session, member.engagement, evidence_id)
    if found is None:
        abort(404)
    filename, mimetype, data = found
    return send_file(
        io.BytesIO(data), mimetype=mimetype, as_attachment=True, download_name=filename
    )


# --- paper and Excel sheets -------------------------------------------------------------------

OFFLINE_PROBLEMS = {
    "not_xlsx": _l("The file is not an Excel (.xlsx) workbook."),
    "unsafe": _l("The file was refused before reading it"),
    "no_header": _l("No header row with the columns 编码 and 得分 was found."),
    "unknown_code": _l("this indicator is not on the expert's sheet"),
    "missing_row": _l("the row of this indicator is missing"),
}


def _leaves_of(member: PanelMember):  # type: ignore[no-untyped-def]
    template = scoring.template_of(scoring.system_of(db.session, member.engagement))
    return template, [leaf for leaf in template.leaves() if leaf.code in member.indicator_codes]


@bp.get("/engagements/<int:engagement_id>/panel/<int:member_id>/sheet.<any(xlsx, docx):fmt>")
def offline_sheet(engagement_id: int, member_id: int, fmt: str):  # type: ignore[no-untyped-def]
    """The expert's sheet as Excel (to fill in) or Word (to print)."""
    engagement = get_engagement_or_404(engagement_id, need="internal")
    member = _seat_or_404(engagement, member_id)
    _template, leaves = _leaves_of(member)
    name = f"expert-sheet-{member.id}"
    if fmt == "docx":
        data = offline.sheet_document(
            engagement.title, member.expert.name, engagement.client.name, leaves
        )
        return send_file(
            io.BytesIO(data),
            as_attachment=True,
            download_name=f"{name}.docx",
            mimetype="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        )
    round_no = services.current_round(db.session, member)
    values = {
        c: (format(s.score.normalize(), "f") if s.score is not None else "", s.comment)
        for c, s in services.scores_of(member, round_no).items()
    }
    step = services.settings_of(db.session, engagement).step
    data = offline.sheet_workbook(engagement.title, member.expert.name, leaves, values, step)
    return send_file(
        io.BytesIO(data), as_attachment=True, download_name=f"{name}.xlsx", mimetype=XLSX_MIME
    )


@bp.post("/engagements/<int:engagement_id>/panel/<int:member_id>/sheet-upload")
def offline_upload(engagement_id: int, member_id: int):  # type: ignore[no-untyped-def]
    """Record a filled Excel sheet on the expert's behalf: all rows or none."""
    engagement = get_engagement_or_404(engagement_id, need="manage")
    member = _seat_or_404(engagement, member_id)
    form = OfflineUploadForm()
    if not form.validate_on_submit():
        flash("; ".join(str(e) for e in form.file.errors) or _("Choose a file."), "danger")
        return redirect(url_for("experts.panel", engagement_id=engagement.id))
    template, _leaves = _leaves_of(member)
    where: dict[str, int] = {}
    with unit_of_work(form) as work:  # every problem is listed below: nothing flashed yet
        values, where = offline.read_sheet(form.file.data.read(), member.indicator_codes)
        _record_offline(member, template, values, paper_declaration=form.paper_declaration.data)
    if not work.ok:
        flash(
            _("Nothing was recorded:") + " " + "；".join(_offline_messages(work, where)), "danger"
        )
    else:
        flash(
            _(
                "The sheet of %(name)s was recorded on the expert's behalf.",
                name=member.expert.name,
            ),
            "success",
        )
    return redirect(url_for("experts.panel", engagement_id=engagement.id))


def _record_offline(member, template, values, *, paper_declaration: bool) -> None:  # type: ignore[no-untyped-def]
    """Declare (from the signed paper) if need be, then submit the sheet as keyed in."""
    if member.declared_at is None:
        if not paper_declaration:
            raise services.PanelError("not_declared")
        services.declare(
            db.session,
            member,
            has_conflict=False,
            text="",
            confidentiality=True,
            entered_by=current_user,
        )
    services.save_sheet(
        db.session,
        member,
        template,
        values,
        round_no=services.current_round(db.session, member),
        submit=True,
        entered_by=current_user,
    )


def _offline_messages(work: Work, where: dict[str, Any]) -> list[str]:
    """What was wrong with an uploaded sheet, row by row where the row is known."""
    exc = work.error
    if isinstance(exc, offline.OfflineSheetError):
        messages = []
        for row, code in exc.problems:
            key, _sep, indicator = code.partition(":")
            text = str(OFFLINE_PROBLEMS[key]) + (f" ({indicator})" if indicator else "")
            messages.append(_("Row %(row)s: %(message)s", row=row, message=text) if row else text)
        return messages
    if isinstance(exc, services.SheetInvalid):
        return [
            _(
                "Row %(row)s: %(message)s",
                row=where.get(p.code, "?"),
                message=f"{p.code} {PROBLEMS[p.problem]}",
            )
            for p in exc.problems
        ]
    return [work.message]
