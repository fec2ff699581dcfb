"""Report pages: findings editor, build with QA, review, consultation, issue, downloads."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm import selectinload

from workbench.accounts.models import Role
from workbench.core.reportqa import DEFAULT_LOSS_THRESHOLD
from workbench.core.workflow import FROZEN_STATES
from workbench.db import db
from workbench.engagements.access import (
    can_edit_engagement,
    can_manage_engagement,
    get_engagement_or_404,
    owned_or_404,
)
from workbench.engagements.forms import EmptyForm
from workbench.reports import services
from workbench.reports.context import build_context
from workbench.reports.models import (
    Finding,
    Recommendation,
    RectificationItem,
    ReportComment,
    ReportVersion,
)
from workbench.reports.templates_check import check_template, store_template
from workbench.storage import StorageError
from workbench.xlsx import send_table

bp = Blueprint(
    "reports",
    __name__,
    url_prefix="/engagements/<int:engagement_id>/report",
    template_folder="templates",
)
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

ERRORS = {
    "bad_kind": _l("Unknown kind of finding."),
    "title_required": _l("Give the finding a title."),
    "cause_required": _l("A problem needs its cause (原因分析)."),
    "unknown_codes": _l("These indicator codes are not in the indicator system: %(detail)s"),
    "text_required": _l("Write the recommendation."),
    "problem_required": _l("Link the recommendation to at least one problem."),
    "not_draft": _l("Only a draft can be sent for review."),
    "qa_failed": _l("The quality checks fail: fix the listed problems and build again."),
    "not_in_review": _l("This version is not under review."),
    "all_signed": _l("Every level has signed already."),
    "not_your_level": _l("The %(detail)s is signed by another member of the team."),
    "comment_required": _l("A rejection needs a comment."),
    "not_signed": _l("Every review level must sign first."),
    "not_consultation": _l("This version is not out for comments."),
    "already_signed": _l("The %(detail)s has just been signed by someone else."),
    "already_issued": _l(
        "This report has just been issued by someone else; the issued version is listed below."
    ),
    "response_required": _l("Write the response."),
    "unanswered": _l("Respond to every comment before issuing."),
    "report_no_required": _l("Give the report number (报告编号)."),
    "not_allowed": _l("Only the lead, the reviewer or an admin issues reports."),
    "tampered": _l("The stored file does not match its checksum."),
    "report_no_used": _l("The report number %(detail)s is already used by an issued report."),
    "changed_since_review": _l(
        "The report data changed after the sign-offs (findings, scores or surveys): build a new "
        "draft and have it reviewed again."
    ),
    "comment_text_required": _l("Write the comment received."),
    "bad_status": _l("Unknown status."),
    "conflict": _l("Someone else changed this at the same moment; look at it again."),
    "no_soffice": _l("PDF needs LibreOffice on the server (see docs/report-templates.md)."),
    "pdf_failed": _l("LibreOffice could not convert the report."),
    "template_refused": _l(
        "The chosen Word template is refused by the report sandbox (%(detail)s): choose another "
        "template or upload a corrected one."
    ),
}
QA_LABELS = {
    "sum": _l("Totals"),
    "grade": _l("Grade"),
    "reason": _l("Deduction reasons"),
    "section": _l("Outline"),
    "recommend": _l("Recommendations"),
    "scored": _l("Scoring"),
    "same": _l("Same figure everywhere"),
    "text_total": _l("Text total"),
    "addressed": _l("Findings cover deductions"),
    "placeholder": _l("Placeholders and empty sections"),
    "sample": _l("Survey sample"),
    "render": _l("Rendering"),
}
#: QA problems as people read them, by check (an empty item means "not completely scored")
QA_TEXT = {
    "sum": _l(
        "%(where)s: the printed total %(total)s is not the sum of its printed parts (%(parts)s)."
    ),
    "grade": _l("The total %(total)s is graded %(expected)s, but %(printed)s is printed."),
    "scored": _l("%(item)s has no score."),
    "scored_all": _l("The indicator system is not completely scored."),
    "scored_n": _l("%(n)s indicators are not assessed yet: %(items)s."),
    "reason": _l("%(item)s is below full marks without a deduction reason."),
    "section": _l("The section “%(section)s” has no content."),
    "recommend": _l("Problem %(number)s “%(title)s” has no recommendation."),
    "same": _l("%(item)s differs between places: %(places)s."),
    "text_total": _l(
        "%(where)s: the total in the text (%(said)s) is neither the table total (%(total)s) "
        "nor a stated conversion to 100 points (适用指标分值…分，得分…分，折算为百分制得分…分)."
    ),
    "addressed": _l(
        "%(item)s: no problem names it among its related indicators and no note explains it."
    ),
    "placeholder": _l("%(where)s: %(what)s."),
    "render": _l("The report cannot be rendered (%(detail)s)."),
    "sample": _l(
        "%(where)s states that the survey sample is insufficient, but the conclusion "
        "(%(conclusion)s) does not say so."
    ),
}


def _threshold():  # type: ignore[no-untyped-def]
    """Points a leaf may lose without a finding (``REPORT_QA_LOSS_THRESHOLD``)."""
    return current_app.config.get("REPORT_QA_LOSS_THRESHOLD") or DEFAULT_LOSS_THRESHOLD


def qa_text(check: str, params) -> str:  # type: ignore[no-untyped-def]
    """One QA problem in the user's language (stored builds keep the params as lists)."""
    values = {str(k): v for k, v in (params or ())}
    if check == "scored" and values.get("items"):
        return str(QA_TEXT["scored_n"]) % values
    if check == "scored" and not values.get("item"):
        return str(QA_TEXT["scored_all"])
    template = QA_TEXT.get(check)
    try:
        return str(template) % values if template else check
    except (KeyError, TypeError):
        return check


KIND_LABELS = {
    "experience": _l("Experience (经验做法)"),
    "problem": _l("Problem (问题)"),
    "other": _l("Other matter (其他需要说明的问题)"),
}
TEMPLATE_ERRORS = {
    "empty": _l("The file is empty."),
    "too_large": _l("The file is larger than 20 MB."),
    "not_docx": _l("This is not a Word .docx file."),
    "unsafe_file": _l("The file was refused before reading it: %(reason)s"),
    "split_tag": _l(
        "A tag is split across Word runs (its braces have different formatting): select it and "
        "retype it in one go — near “%(near)s”."
    ),
    "broken_tag": _l("Broken tag on line %(line)s: %(reason)s"),
    "unreadable": _l("The template cannot be read: %(reason)s"),
    "unknown_variable": _l(
        "Unknown variable “%(name)s” in the %(part)s (see docs/report-templates.md)."
    ),
    "no_render": _l("The template does not render with this engagement's data: %(reason)s"),
    # refused by the report sandbox (workbench.reports.sandbox): nothing of it ran
    "refused_syntax": _l(
        "The %(part)s uses “%(detail)s”, which report templates may not use: they only print "
        "variables, repeat paragraphs with for and choose with if."
    ),
    "refused_name": _l(
        "The %(part)s uses the name “%(detail)s”, which report templates may not use."
    ),
    "refused_attribute": _l(
        "The %(part)s reaches for “%(detail)s”: report templates may not use names starting with "
        "an underscore, or methods."
    ),
    "refused_filter": _l(
        "The %(part)s uses the filter “%(detail)s”, which report templates may not use "
        "(allowed: %(allowed)s)."
    ),
    "refused_test": _l(
        "The %(part)s uses the test “%(detail)s”, which report templates may not use."
    ),
    "refused_call": _l(
        "The %(part)s calls a function or method: report templates may not call anything."
    ),
    "refused_operations": _l(
        "The template does too much work (more than %(detail)s loop steps and lookups): "
        "simplify its loops."
    ),
    "refused_output": _l("The template produces too much text (more than %(detail)s characters)."),
    "too_deep": _l("The %(part)s nests brackets or tags too deeply."),
    "refused_property": _l(
        "The %(part)s holds a tag, but tags are filled in only in the body, headers, footers, "
        "footnotes and the properties title, subject, author, comments, identifier and language."
    ),
    "refused_time": _l("The template takes too long to render (more than %(detail)s seconds)."),
    "refused_tags": _l(
        "The template holds too many tags (more than %(detail)s {{ … }} and {%% … %%} in all): "
        "use loops instead of repeating tags."
    ),
    "refused_size": _l("A part of the template is too long (more than %(detail)s characters)."),
}
#: where in the document a template problem is (``part`` of a check error)
TEMPLATE_PARTS = {
    "body": _l("body"),
    "header": _l("header"),
    "footer": _l("footer"),
    "footnotes": _l("footnotes"),
    "template": _l("template"),
}


def template_error(code: str, params: dict[str, str]) -> str:
    """One problem of an uploaded template in the user's language."""
    values = dict(params)
    if values.get("part") == "property":
        values["part"] = _("document property “%(name)s”", name=values.get("property", ""))
    elif "part" in values:
        values["part"] = str(TEMPLATE_PARTS.get(values["part"], values["part"]))
    message = TEMPLATE_ERRORS.get(code)
    try:
        return str(message) % values if message else code
    except (KeyError, TypeError):
        return str(message)


STATUS_LABELS = {
    "draft": _l("draft"),
    "review": _l("in review"),
    "consultation": _l("out for comments (征求意见稿)"),
    "issued": _l("issued (正式稿)"),
    "withdrawn": _l("rejected"),
    "superseded": _l("superseded"),
}


def _error(exc: services.ReportError) -> str:
    message = str(ERRORS.get(exc.code, exc.code))
    return message % {"detail": exc.detail} if "%(detail)s" in message else message


def _folder(name: str = "reports") -> Path:
    return Path(current_app.instance_path) / name


def _levels() -> list[str]:
    return services.review_levels(current_app.config.get("REPORT_REVIEW_LEVELS"))


def _version_or_404(engagement, version_id: int) -> ReportVersion:  # type: ignore[no-untyped-def]
    return owned_or_404(ReportVersion, version_id, engagement)


def _template_choice(engagement, key: str):  # type: ignore[no-untyped-def]
    for choice in services.template_choices(db.session, engagement, _folder("report-templates")):
        if choice.key == key:
            return choice
    abort(400)


def _back(engagement, anchor: str = ""):  # type: ignore[no-untyped-def]
    return redirect(url_for("reports.index", engagement_id=engagement.id) + anchor)


def _commit_or_flash(action, conflict: str = "conflict") -> bool:  # type: ignore[no-untyped-def]
    """Run a service call; commit, or roll back and show its message. A unique constraint
    that refuses the write (a simultaneous request did the same first) is the ``conflict``
    message, never a 500."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        action()
        db.session.commit()
    except services.ReportError as exc:
        db.session.rollback()
        flash(_error(exc), "danger")
        return False
    except sa.exc.IntegrityError:
        db.session.rollback()
        flash(_error(services.ReportError(conflict)), "danger")
        return False
    except StorageError:
        db.session.rollback()
        flash(_("The file could not be stored (is the disk full?); nothing was saved."), "danger")
        return False
    return True


@bp.get("/")
def index(engagement_id: int):  # type: ignore[no-untyped-def]
    """The report: live QA of the current data, builds, review, comments, issuing."""
    engagement = get_engagement_or_404(engagement_id, need="internal")
    context = build_context(db.session, engagement)
    problems = services.qa(
        context, template=services.qa_template(engagement), threshold=_threshold()
    )
    versions = (
        db.session.query(ReportVersion)
        .filter(ReportVersion.engagement_id == engagement.id)
        .order_by(ReportVersion.number.desc())
        .options(selectinload(ReportVersion.reviews), selectinload(ReportVersion.comments))
        .all()
    )
    levels = _levels()
    return render_template(
        "reports/index.html",
        engagement=engagement,
        context=context.values,
        problems=problems,
        qa_labels=QA_LABELS,
        versions=versions,
        levels=levels,
        next_level={v.id: services.next_level(v, levels) for v in versions},
        can_sign={
            v.id: services.next_level(v, levels) is not None
            and services.may_sign(engagement, current_user, services.next_level(v, levels) or 0)
            for v in versions
        },
        template_labels={
            t.key: t.label
            for t in services.template_choices(db.session, engagement, _folder("report-templates"))
        },
        templates=services.template_choices(db.session, engagement, _folder("report-templates")),
        status_labels=STATUS_LABELS,
        qa_text=qa_text,
        blocking=services.blocking,
        editable=can_edit_engagement(current_user, engagement),
        pdf=services.soffice() is not None,
        empty_form=EmptyForm(),
    )


@bp.post("/build")
def build(engagement_id: int):  # type: ignore[no-untyped-def]
    engagement = get_engagement_or_404(engagement_id, need="internal_edit")
    choice = _template_choice(engagement, request.form.get("template", "project"))
    version: list[ReportVersion] = []
    if _commit_or_flash(
        lambda: version.append(
            services.build(
                db.session, current_user, engagement, choice, _folder(), threshold=_threshold()
            )
        )
    ):
        v = version[0]
        failing = len(services.blocking(v.qa))
        if failing:
            flash(
                _("Draft v%(n)s built; %(k)s quality checks fail.", n=v.number, k=failing),
                "warning",
            )
        elif v.qa:
            flash(
                _(
                    "Draft v%(n)s built; no check blocks the review, %(k)s warnings for the "
                    "reviewers.",
                    n=v.number,
                    k=len(v.qa),
                ),
                "success",
            )
        else:
            flash(_("Draft v%(n)s built; all quality checks pass.", n=v.number), "success")
    return _back(engagement, "#versions")


@bp.get("/versions/<int:version_id>.<fmt>")
def download(engagement_id: int, version_id: int, fmt: str):  # type: ignore[no-untyped-def]
    """The .docx (or a PDF made by LibreOffice). Clients get issued versions only."""
    engagement = get_engagement_or_404(engagement_id, need="view")
    version = _version_or_404(engagement, version_id)
    if current_user.role is Role.CLIENT and version.status not in ("issued", "consultation"):
        abort(404)  # drafts and reviews stay inside the firm
    if fmt not in ("docx", "pdf"):
        abort(404)
    try:
        data = services.file_of(version, _folder())
        if fmt == "pdf":
            data = services.to_pdf(data)
    except services.ReportError as exc:
        flash(_error(exc), "danger")
        return _back(engagement)
    kind = {"department": "-部门整体", "summary-en": "-summary"}.get(version.template, "")
    name = f"{engagement.project_name}绩效评价报告{kind}-v{version.number}"
    if version.status == "issued":
        name += f"-{version.report_no}"
    else:
        name += "-草稿"
    return send_file(
        io.BytesIO(data),
        mimetype=DOCX_MIME if fmt == "docx" else "application/pdf",
        as_attachment=True,
        download_name=f"{name}.{fmt}",
    )


@bp.post("/versions/<int:version_id>/submit")
def submit(engagement_id: int, version_id: int):  # type: ignore[no-untyped-def]
    engagement = get_engagement_or_404(engagement_id, need="internal_edit")
    version = _version_or_404(engagement, version_id)
    if _commit_or_flash(lambda: services.submit_for_review(db.session, current_user, version)):
        flash(_("Sent for review."), "success")
    return _back(engagement, "#versions")


@bp.post("/versions/<int:version_id>/sign")
def sign(engagement_id: int, version_id: int):  # type: ignore[no-untyped-def]
    engagement = get_engagement_or_404(engagement_id, need="internal")
    version = _version_or_404(engagement, version_id)
    approve = request.form.get("decision") == "approve"
    if _commit_or_flash(
        lambda: services.sign(
            db.session,
            current_user,
            engagement,
            version,
            _levels(),
            approve=approve,
            comment=request.form.get("comment", ""),
        )
    ):
        flash(_("Signed off.") if approve else _("Rejected; build a new draft."), "success")
    return _back(engagement, "#versions")


@bp.post("/versions/<int:version_id>/consult")
def consult(engagement_id: int, version_id: int):  # type: ignore[no-untyped-def]
    engagement = get_engagement_or_404(engagement_id, need="internal_edit")
    version = _version_or_404(engagement, version_id)
    if _commit_or_flash(
        lambda: services.send_for_comments(db.session, current_user, version, _levels())
    ):
        flash(_("The 征求意见稿 is out for comments."), "success")
    return _back(engagement, "#versions")


@bp.post("/versions/<int:version_id>/comments")
def comment(engagement_id: int, version_id: int):  # type: ignore[no-untyped-def]
    engagement = get_engagement_or_404(engagement_id, need="internal_edit")
    version = _version_or_404(engagement, version_id)
    if _commit_or_flash(
        lambda: services.add_comment(
            db.session,
            current_user,
            version,
            party=request.form.get("party", ""),
            author=request.form.get("author", ""),
            text=request.form.get("text", ""),
        )
    ):
        flash(_("Comment recorded."), "success")
    return _back(engagement, "#versions")


@bp.post("/versions/<int:version_id>/client-comment")
def client_comment(engagement_id: int, version_id: int):  # type: ignore[no-untyped-def]
    """The commissioning bureau comments on the 征求意见稿 itself."""
    engagement = get_engagement_or_404(engagement_id, need="view")
    if current_user.role is not Role.CLIENT:
        abort(404)
    version = _version_or_404(engagement, version_id)
    if _commit_or_flash(
        lambda: services.add_comment(
            db.session,
            current_user,
            version,
            party="client",
            author=current_user.display_name,
            text=request.form.get("text", ""),
        )
    ):
        flash(_("Comment recorded."), "success")
    return redirect(url_for("engagements.detail", engagement_id=engagement.id) + "#consultation")


@bp.post("/comments/<int:comment_id>/respond")
def respond(engagement_id: int, comment_id: int):  # type: ignore[no-untyped-def]
    engagement = get_engagement_or_404(engagement_id, need="internal_edit")
    item = db.session.get(ReportComment, comment_id)
    if item is None or item.version.engagement_id != engagement.id:
        abort(404)
    if _commit_or_flash(
        lambda: services.respond(db.session, current_user, item, request.form.get("response", ""))
    ):
        flash(_("Response recorded."), "success")
    return _back(engagement, "#versions")


@bp.post("/versions/<int:version_id>/issue")
def issue(engagement_id: int, version_id: int):  # type: ignore[no-untyped-def]
    engagement = get_engagement_or_404(engagement_id, need="internal_edit")
    version = _version_or_404(engagement, version_id)
    choice = _template_choice(engagement, version.template)
    issued: list[ReportVersion] = []
    if _commit_or_flash(
        lambda: issued.append(
            services.issue(
                db.session,
                current_user,
                engagement,
                version,
                choice,
                _folder(),
                _levels(),
                report_no=request.form.get("report_no", ""),
                threshold=_threshold(),
            )
        ),
        conflict="already_issued",
    ):
        flash(
            _("Report %(no)s issued (v%(n)s).", no=issued[0].report_no, n=issued[0].number),
            "success",
        )
    return _back(engagement, "#versions")


# --- findings -------------------------------------------------------------------------------


def _owned(model, engagement):  # type: ignore[no-untyped-def]
    """The finding or recommendation named by the form's ``id``, of this engagement."""
    return owned_or_404(model, request.form.get("id", type=int), engagement)


@bp.route("/findings", methods=["GET", "POST"])
def findings(engagement_id: int):  # type: ignore[no-untyped-def]
    """Experiences, problems (with causes, indicators, evidence), other matters and the
    recommendations answering the problems."""
    engagement = get_engagement_or_404(engagement_id, need="internal")
    error = None
    if request.method == "POST":
        engagement = get_engagement_or_404(engagement_id, need="internal_edit")
        if not EmptyForm().validate_on_submit():
            abort(400)
        action = request.form.get("action", "")
        try:
            if action in ("finding", "finding-update"):
                finding = _owned(Finding, engagement) if action == "finding-update" else None
                services.save_finding(
                    db.session,
                    current_user,
                    engagement,
                    finding,
                    kind=request.form.get("kind", ""),
                    title=request.form.get("title", ""),
                    text=request.form.get("text", ""),
                    cause=request.form.get("cause", ""),
                    indicator_codes=request.form.get("codes", "").replace("，", ",").split(","),
                    evidence=request.form.get("evidence", ""),
                )
            elif action == "finding-delete":
                services.delete_finding(db.session, current_user, _owned(Finding, engagement))
            elif action in ("recommendation", "recommendation-update"):
                rec = (
                    _owned(Recommendation, engagement)
                    if action == "recommendation-update"
                    else None
                )
                services.save_recommendation(
                    db.session,
                    current_user,
                    engagement,
                    rec,
                    text=request.form.get("text", ""),
                    problem_ids=[int(x) for x in request.form.getlist("problems") if x.isdigit()],
                )
            elif action == "recommendation-delete":
                services.delete_recommendation(
                    db.session, current_user, _owned(Recommendation, engagement)
                )
            else:
                abort(400)
            db.session.commit()
        except services.ReportError as exc:
            db.session.rollback()
            error = _error(exc)
        else:
            flash(_("Deleted.") if action.endswith("-delete") else _("Saved."), "success")
            return redirect(url_for("reports.findings", engagement_id=engagement.id))
    items = services.findings_of(db.session, engagement)
    return render_template(
        "reports/findings.html",
        engagement=engagement,
        findings=items,
        recommendations=services.recommendations_of(db.session, engagement),
        problems=[f for f in items if f.kind == "problem"],
        kinds=KIND_LABELS,
        error=error,
        draft=request.form if error else {},
        editable=can_edit_engagement(current_user, engagement),
        empty_form=EmptyForm(),
    ), (422 if error else 200)


RECTIFICATION_LABELS = {
    "open": _l("not started"),
    "progress": _l("in progress"),
    "done": _l("done"),
}


@bp.route("/rectification", methods=["GET", "POST"])
def rectification(engagement_id: int):  # type: ignore[no-untyped-def]
    """整改: the problems of the issued report, followed up by the bureau and the team."""
    engagement = get_engagement_or_404(engagement_id, need="view")
    # archiving closes every channel, the bureau's rectification entries included
    may_update = can_edit_engagement(current_user, engagement) or (
        current_user.role is Role.CLIENT and engagement.state not in FROZEN_STATES
    )
    if request.method == "POST":
        if not may_update and engagement.state in FROZEN_STATES:
            abort(403, description=_("This engagement is archived and can no longer be changed."))
        if not may_update or not EmptyForm().validate_on_submit():
            abort(403 if not may_update else 400)
        item = owned_or_404(RectificationItem, request.form.get("id", type=int), engagement)
        raw = request.form.get("deadline", "").strip()
        try:
            deadline = dt.date.fromisoformat(raw) if raw else None
        except ValueError:
            flash(_("The deadline is not a date."), "danger")
            return redirect(url_for("reports.rectification", engagement_id=engagement.id))
        if _commit_or_flash(
            lambda: services.update_rectification(
                db.session,
                current_user,
                item,
                owner=request.form.get("owner", ""),
                deadline=deadline,
                status=request.form.get("status", ""),
                note=request.form.get("note", ""),
            )
        ):
            flash(_("Saved."), "success")
        return redirect(
            url_for("reports.rectification", engagement_id=engagement.id) + f"#item-{item.id}"
        )
    items = services.rectification_items(db.session, engagement)
    today = dt.datetime.now(dt.UTC).date()
    return render_template(
        "reports/rectification.html",
        engagement=engagement,
        items=items,
        overdue={i.id for i in items if services.overdue(i, today)},
        labels=RECTIFICATION_LABELS,
        may_update=may_update,
        empty_form=EmptyForm(),
    )


@bp.get("/rectification.xlsx")
def rectification_xlsx(engagement_id: int):  # type: ignore[no-untyped-def]
    engagement = get_engagement_or_404(engagement_id, need="view")
    today = dt.datetime.now(dt.UTC).date()
    zh = {"open": "未开始", "progress": "整改中", "done": "已完成"}
    rows = [
        [
            i.number,
            i.title,
            i.recommendation,
            i.owner,
            i.deadline,
            zh.get(i.status, i.status),
            "是" if services.overdue(i, today) else "",
            i.note,
        ]
        for i in services.rectification_items(db.session, engagement)
    ]
    return send_table(
        "整改跟踪",
        ["序号", "问题", "建议", "责任单位/人", "整改期限", "状态", "逾期", "整改情况"],
        rows,
        f"rectification-{engagement.id}.xlsx",
    )


@bp.get("/templates/<name>.docx")
def bundled(engagement_id: int, name: str):  # type: ignore[no-untyped-def]
    """A bundled template, to restyle in Word."""
    get_engagement_or_404(engagement_id, need="internal")
    try:
        path = services.bundled_path(name)
    except KeyError:
        abort(404)
    return send_file(
        io.BytesIO(path.read_bytes()),
        mimetype=DOCX_MIME,
        as_attachment=True,
        download_name=f"{name}.docx",
    )


@bp.route("/templates", methods=["GET", "POST"])
def templates(engagement_id: int):  # type: ignore[no-untyped-def]
    """Upload the firm's own Word template (checked first: the sandbox's syntax, unknown
    variables, broken tags, a trial render). The lead (and admins) upload for the engagement,
    admins only for every engagement of the firm."""
    engagement = get_engagement_or_404(engagement_id, need="internal")
    report = None
    if request.method == "POST":
        engagement = get_engagement_or_404(engagement_id, need="manage")
        if not EmptyForm().validate_on_submit():
            abort(400)
        scope = request.form.get("scope", "engagement")
        if scope not in ("engagement", "organisation"):
            abort(400)
        if scope == "organisation" and current_user.role is not Role.ADMIN:
            abort(403, description=_("Only an administrator uploads templates for the whole firm."))
        upload = request.files.get("file")
        data = upload.read() if upload else b""
        context = build_context(db.session, engagement)
        report = check_template(data, context)
        if report.ok:
            try:
                store_template(
                    db.session,
                    current_user,
                    engagement,
                    data,
                    filename=(upload.filename if upload else "") or "template.docx",
                    name=request.form.get("name", "").strip()
                    or (upload.filename if upload else ""),
                    scope=scope,
                    folder=_folder("report-templates"),
                )
            except StorageError:
                db.session.rollback()
                flash(
                    _("The file could not be stored (is the disk full?); nothing was saved."),
                    "danger",
                )
                return _back(engagement)
            db.session.commit()
            flash(_("Template checked and saved; choose it when you build the report."), "success")
            return _back(engagement)
    return render_template(
        "reports/templates.html",
        engagement=engagement,
        report=report,
        errors=[template_error(code, params) for code, params in (report.errors if report else [])],
        may_upload=can_manage_engagement(current_user, engagement)
        and can_edit_engagement(current_user, engagement),
        may_upload_firm=current_user.role is Role.ADMIN,
        empty_form=EmptyForm(),
    ), (422 if report and not report.ok else 200)
