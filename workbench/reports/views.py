"""Report pages: findings editor, build with QA, review, consultation, issue, downloads."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

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
from wtforms import IntegerField

from workbench.accounts.models import Role
from workbench.core import reporting
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
from workbench.error_messages import message_for
from workbench.forms import BaseForm
from workbench.reports import services
from workbench.reports.context import build_context
from workbench.reports.forms import (
    AttachForm,
    BuildForm,
    ClientCommentForm,
    CommentForm,
    FindingForm,
    IssueForm,
    ItemForm,
    PhaseForm,
    RecommendationForm,
    RectificationForm,
    RespondForm,
    SignForm,
    TemplateForm,
)
from workbench.reports.models import (
    Finding,
    Recommendation,
    RectificationFile,
    RectificationItem,
    ReportComment,
    ReportVersion,
    WorkPhase,
)
from workbench.reports.templates_check import check_template, store_template
from workbench.storage import StorageError
from workbench.web import Work, unit_of_work
from workbench.workpapers.services import MAX_EVIDENCE
from workbench.xlsx import send_table

bp = Blueprint(
    "reports",
    __name__,
    url_prefix="/engagements/<int:engagement_id>/report",
    template_folder="templates",
)
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
#: the attachment kinds :func:`workbench.workpapers.services.sniff` recognises
MIME = {
    "pdf": "application/pdf",
    "docx": DOCX_MIME,
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "png": "image/png",
    "jpeg": "image/jpeg",
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


def _pdf_at_issue() -> bool:
    """Make the issued PDF at issuing (``REPORT_PDF_AT_ISSUE``, on) where LibreOffice is."""
    return (
        bool(current_app.config.get("REPORT_PDF_AT_ISSUE", True)) and services.soffice() is not None
    )


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
#: where in the document a template problem is (``part`` of a check error)
TEMPLATE_PARTS = {
    "body": _l("body"),
    "header": _l("header"),
    "footer": _l("footer"),
    "footnotes": _l("footnotes"),
    "template": _l("template"),
}


#: why a tag is broken (``broken_tag``'s ``problem``)
TAG_PROBLEMS = {
    "unclosed": _l("it is not closed (}} or %} missing)."),
    "expression": _l("what is between its braces is not a valid expression."),
    "stray_end": _l("it has no matching beginning (for or if)."),
    "unended": _l("it is never ended (endfor or endif missing)."),
    "unknown_tag": _l("this kind of tag is not known (use for, if, else, endfor, endif)."),
}


class TemplateProblem(ValueError):
    """One problem of an uploaded template, for the registry (``report_template_<code>``)."""

    def __init__(self, code: str, params: dict[str, str]) -> None:
        super().__init__(f"report_template_{code}")
        self.params = params


def template_error(code: str, params: dict[str, str]) -> str:
    """One problem of an uploaded template in the user's language."""
    values = dict(params)
    if values.get("part") == "property":
        values["part"] = _("document property “%(name)s”", name=values.get("property", ""))
    elif "part" in values:
        values["part"] = str(TEMPLATE_PARTS.get(values["part"], values["part"]))
    if "problem" in values:
        values["problem"] = str(TAG_PROBLEMS.get(values["problem"], values["problem"]))
    if values.get("tag") and code in ("split_tag", "broken_tag", "unknown_variable"):
        code += "_at"  # the message naming the tag and its paragraph
    message = message_for(TemplateProblem(code, values))
    return code if message == f"report_template_{code}" else message


STATUS_LABELS = {
    "draft": _l("draft"),
    "review": _l("in review"),
    "consultation": _l("out for comments (征求意见稿)"),
    "issued": _l("issued (正式稿)"),
    "withdrawn": _l("rejected"),
    "superseded": _l("superseded"),
}


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


def _id(field: IntegerField) -> int | None:
    """A posted id; one that is not a number names nothing (then owned_or_404 is a 404)."""
    return field.data if isinstance(field.data, int) else None


F = TypeVar("F", bound=BaseForm)


def _form(form_class: type[F]) -> F:
    """The posted form: a bad CSRF token is a 400; texts are checked by the service, ids by
    owned_or_404."""
    form = form_class()
    if not form.validate_on_submit() and "csrf_token" in form.errors:
        abort(400)
    return form


def _posted(engagement_id: int, form_class: type[F], need: str = "internal_edit"):  # type: ignore[no-untyped-def]
    """The engagement (``need``) and the posted form."""
    return get_engagement_or_404(engagement_id, need=need), _form(form_class)


@contextmanager
def _refused(conflict: str = "conflict") -> Iterator[None]:
    """Inside a :func:`unit_of_work`: a write the database refuses (a simultaneous request did
    the same first) is the ``conflict`` message and a file that cannot be stored is
    ``report_storage``, never a 500. Flushes, so that the database answers here."""
    try:
        yield
        db.session.flush()
    except sa.exc.IntegrityError as exc:
        raise services.ReportError(conflict) from exc
    except StorageError as exc:
        raise services.ReportError("report_storage") from exc


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
    choices = services.template_choices(db.session, engagement, _folder("report-templates"))
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
        template_labels={t.key: t.label for t in choices},
        templates=choices,
        status_labels=STATUS_LABELS,
        qa_text=qa_text,
        blocking=services.blocking,
        editable=can_edit_engagement(current_user, engagement),
        pdf=services.soffice() is not None,
        empty_form=EmptyForm(),
    )


@bp.post("/build")
def build(engagement_id: int):  # type: ignore[no-untyped-def]
    engagement, form = _posted(engagement_id, BuildForm, need="internal_edit")
    choice = _template_choice(engagement, form.template.data or "project")
    with unit_of_work() as work, _refused():
        v = services.build(
            db.session, current_user, engagement, choice, _folder(), threshold=_threshold()
        )
    if work.ok:
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
    with unit_of_work() as work:  # an issued version without a stored PDF keeps the one made
        if fmt == "pdf":
            data = services.pdf_of(db.session, version, _folder())
        else:
            data = services.file_of(version, _folder())
    if not work.ok:
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
    engagement, _form = _posted(engagement_id, EmptyForm)
    version = _version_or_404(engagement, version_id)
    with unit_of_work() as work, _refused():
        services.submit_for_review(db.session, current_user, version)
    if work.ok:
        flash(_("Sent for review."), "success")
    return _back(engagement, "#versions")


@bp.post("/versions/<int:version_id>/sign")
def sign(engagement_id: int, version_id: int):  # type: ignore[no-untyped-def]
    engagement, form = _posted(engagement_id, SignForm, need="internal")
    version = _version_or_404(engagement, version_id)
    approve = form.decision.data == "approve"
    with unit_of_work() as work, _refused():
        services.sign(
            db.session,
            current_user,
            engagement,
            version,
            _levels(),
            approve=approve,
            comment=form.comment.data or "",
        )
    if work.ok:
        flash(_("Signed off.") if approve else _("Rejected; build a new draft."), "success")
    return _back(engagement, "#versions")


@bp.post("/versions/<int:version_id>/consult")
def consult(engagement_id: int, version_id: int):  # type: ignore[no-untyped-def]
    engagement, _form = _posted(engagement_id, EmptyForm)
    version = _version_or_404(engagement, version_id)
    with unit_of_work() as work, _refused():
        services.send_for_comments(
            db.session,
            current_user,
            version,
            _levels(),
            template=_template_choice(engagement, version.template),
            folder=_folder(),
        )
    if work.ok:
        flash(_("The 征求意见稿 is out for comments."), "success")
    return _back(engagement, "#versions")


@bp.post("/versions/<int:version_id>/comments")
def comment(engagement_id: int, version_id: int):  # type: ignore[no-untyped-def]
    engagement, form = _posted(engagement_id, CommentForm)
    version = _version_or_404(engagement, version_id)
    with unit_of_work() as work, _refused():
        services.add_comment(
            db.session,
            current_user,
            version,
            party=form.party.data or "",
            author=form.author.data or "",
            text=form.text.data or "",
        )
    if work.ok:
        flash(_("Comment recorded."), "success")
    return _back(engagement, "#versions")


@bp.post("/versions/<int:version_id>/client-comment")
def client_comment(engagement_id: int, version_id: int):  # type: ignore[no-untyped-def]
    """The commissioning bureau comments on the 征求意见稿 itself."""
    engagement = get_engagement_or_404(engagement_id, need="view")
    if current_user.role is not Role.CLIENT:
        abort(404)
    form = _form(ClientCommentForm)
    version = _version_or_404(engagement, version_id)
    with unit_of_work() as work, _refused():
        services.add_comment(
            db.session,
            current_user,
            version,
            party="client",
            author=current_user.display_name,
            text=form.text.data or "",
        )
    if work.ok:
        flash(_("Comment recorded."), "success")
    return redirect(url_for("engagements.detail", engagement_id=engagement.id) + "#consultation")


@bp.post("/comments/<int:comment_id>/respond")
def respond(engagement_id: int, comment_id: int):  # type: ignore[no-untyped-def]
    engagement, form = _posted(engagement_id, RespondForm)
    item = db.session.get(ReportComment, comment_id)
    if item is None or item.version.engagement_id != engagement.id:
        abort(404)
    with unit_of_work() as work, _refused():
        services.respond(db.session, current_user, item, form.response.data or "")
    if work.ok:
        flash(_("Response recorded."), "success")
    return _back(engagement, "#versions")


@bp.post("/versions/<int:version_id>/issue")
def issue(engagement_id: int, version_id: int):  # type: ignore[no-untyped-def]
    engagement, form = _posted(engagement_id, IssueForm)
    version = _version_or_404(engagement, version_id)
    choice = _template_choice(engagement, version.template)
    with unit_of_work() as work, _refused(conflict="already_issued"):
        issued = services.issue(
            db.session,
            current_user,
            engagement,
            version,
            choice,
            _folder(),
            _levels(),
            report_no=form.report_no.data or "",
            threshold=_threshold(),
            pdf=services.to_pdf if _pdf_at_issue() else None,
        )
    if work.ok:
        flash(
            _("Report %(no)s issued (v%(n)s).", no=issued.report_no, n=issued.number),
            "success",
        )
    return _back(engagement, "#versions")


# --- findings -------------------------------------------------------------------------------


def _findings_page(engagement, error: str = "", draft: dict | None = None):  # type: ignore[no-untyped-def]
    """The findings page; after a refused write with its message (422) and, when a new
    finding was refused, what was typed into it (``draft``)."""
    items = services.findings_of(db.session, engagement)
    return render_template(
        "reports/findings.html",
        engagement=engagement,
        findings=items,
        recommendations=services.recommendations_of(db.session, engagement),
        problems=[f for f in items if f.kind == "problem"],
        kinds=KIND_LABELS,
        error=error,
        draft=draft or {},
        editable=can_edit_engagement(current_user, engagement),
        empty_form=EmptyForm(),
    ), (422 if error else 200)


def _findings_done(engagement, work: Work, message: str, draft: dict | None = None):  # type: ignore[no-untyped-def]
    """After a findings write: back to the page, or the page again with the refusal."""
    if not work.ok:
        return _findings_page(engagement, work.message, draft)
    flash(message, "success")
    return redirect(url_for("reports.findings", engagement_id=engagement.id))


@bp.get("/findings")
def findings(engagement_id: int):  # type: ignore[no-untyped-def]
    """Experiences, problems (with causes, indicators, evidence), other matters and the
    recommendations answering the problems."""
    return _findings_page(get_engagement_or_404(engagement_id, need="internal"))


def _save_finding(engagement, form: FindingForm, finding: Finding | None):  # type: ignore[no-untyped-def]
    with unit_of_work(form) as work, _refused():
        services.save_finding(
            db.session,
            current_user,
            engagement,
            finding,
            kind=form.kind.data or "",
            title=form.title.data or "",
            text=form.text.data or "",
            cause=form.cause.data or "",
            indicator_codes=form.code_list(),
            evidence=form.evidence.data or "",
        )
    return work


@bp.post("/findings/add")
def add_finding(engagement_id: int):  # type: ignore[no-untyped-def]
    engagement, form = _posted(engagement_id, FindingForm)
    work = _save_finding(engagement, form, None)
    return _findings_done(engagement, work, _("Saved."), draft=form.data)


@bp.post("/findings/update")
def update_finding(engagement_id: int):  # type: ignore[no-untyped-def]
    engagement, form = _posted(engagement_id, FindingForm)
    work = _save_finding(engagement, form, owned_or_404(Finding, _id(form.id), engagement))
    return _findings_done(engagement, work, _("Saved."))


def _delete_item(engagement_id: int, model: Any, delete: Any):  # type: ignore[no-untyped-def]
    """Delete the engagement's finding or recommendation named by the posted ``id`` (404 if it
    is another engagement's) through ``delete(session, actor, item)``."""
    engagement, form = _posted(engagement_id, ItemForm)
    item = owned_or_404(model, _id(form.id), engagement)
    with unit_of_work(form) as work, _refused():
        delete(db.session, current_user, item)
    return _findings_done(engagement, work, _("Deleted."))


@bp.post("/findings/delete")
def delete_finding(engagement_id: int):  # type: ignore[no-untyped-def]
    return _delete_item(engagement_id, Finding, services.delete_finding)


def _save_recommendation(engagement, form: RecommendationForm, rec: Recommendation | None):  # type: ignore[no-untyped-def]
    with unit_of_work(form) as work, _refused():
        services.save_recommendation(
            db.session,
            current_user,
            engagement,
            rec,
            text=form.text.data or "",
            problem_ids=form.problem_ids(),
        )
    return _findings_done(engagement, work, _("Saved."))


@bp.post("/recommendations/add")
def add_recommendation(engagement_id: int):  # type: ignore[no-untyped-def]
    engagement, form = _posted(engagement_id, RecommendationForm)
    return _save_recommendation(engagement, form, None)


@bp.post("/recommendations/update")
def update_recommendation(engagement_id: int):  # type: ignore[no-untyped-def]
    engagement, form = _posted(engagement_id, RecommendationForm)
    rec = owned_or_404(Recommendation, _id(form.id), engagement)
    return _save_recommendation(engagement, form, rec)


@bp.post("/recommendations/delete")
def delete_recommendation(engagement_id: int):  # type: ignore[no-untyped-def]
    return _delete_item(engagement_id, Recommendation, services.delete_recommendation)


RECTIFICATION_LABELS = {
    "open": _l("not started"),
    "progress": _l("in progress"),
    "done": _l("done"),
}


def _may_update_rectification(engagement) -> bool:  # type: ignore[no-untyped-def]
    # archiving closes every channel, the bureau's rectification entries included
    return can_edit_engagement(current_user, engagement) or (
        current_user.role is Role.CLIENT and engagement.state not in FROZEN_STATES
    )


@bp.route("/rectification", methods=["GET", "POST"])
def rectification(engagement_id: int):  # type: ignore[no-untyped-def]
    """整改: the problems of the issued report, followed up by the bureau and the team."""
    engagement = get_engagement_or_404(engagement_id, need="view")
    if request.method == "POST":
        return _update_rectification(engagement)
    items = services.rectification_items(db.session, engagement)
    today = services.local_today(
        current_app.config.get("BABEL_DEFAULT_TIMEZONE") or "Asia/Shanghai"
    )
    return render_template(
        "reports/rectification.html",
        engagement=engagement,
        items=items,
        overdue={i.id for i in items if services.overdue(i, today)},
        labels=RECTIFICATION_LABELS,
        may_update=_may_update_rectification(engagement),
        empty_form=EmptyForm(),
    )


def _update_rectification(engagement):  # type: ignore[no-untyped-def]
    """The bureau or the team records how a problem is being rectified."""
    may_update = _may_update_rectification(engagement)
    if not may_update and engagement.state in FROZEN_STATES:
        abort(403, description=_("This engagement is archived and can no longer be changed."))
    if not may_update:
        abort(403)
    form = _form(RectificationForm)
    item = owned_or_404(RectificationItem, _id(form.id), engagement)
    back = url_for("reports.rectification", engagement_id=engagement.id)
    raw = form.deadline.data or ""
    try:
        deadline = dt.date.fromisoformat(raw) if raw else None
    except ValueError:
        flash(_("The deadline is not a date."), "danger")
        return redirect(back)
    with unit_of_work() as work, _refused():
        services.update_rectification(
            db.session,
            current_user,
            item,
            owner=form.owner.data or "",
            deadline=deadline,
            status=form.status.data or "",
            note=form.note.data or "",
        )
    if work.ok:
        flash(_("Saved."), "success")
    return redirect(back + f"#item-{item.id}")


@bp.post("/rectification/attach")
def rectification_attach(engagement_id: int):  # type: ignore[no-untyped-def]
    """The bureau or the team attaches a file to a rectification item (size checked first,
    then the content; stored under its checksum)."""
    engagement = get_engagement_or_404(engagement_id, need="view")
    if not _may_update_rectification(engagement):
        abort(403)
    form = _form(AttachForm)
    item = owned_or_404(RectificationItem, _id(form.id), engagement)
    file = form.file.data
    # never more than one byte past the limit is read: a larger file is refused unread
    data = file.stream.read(MAX_EVIDENCE + 1) if file else b""
    with unit_of_work() as work, _refused():
        services.attach_rectification(
            db.session,
            current_user,
            item,
            _folder("rectification"),
            data,
            (file.filename if file else "") or "",
        )
    if work.ok:
        flash(_("File stored."), "success")
    return redirect(
        url_for("reports.rectification", engagement_id=engagement.id) + f"#item-{item.id}"
    )


@bp.get("/rectification/files/<int:file_id>")
def rectification_file(engagement_id: int, file_id: int):  # type: ignore[no-untyped-def]
    engagement = get_engagement_or_404(engagement_id, need="view")
    attached = owned_or_404(RectificationFile, file_id, engagement)
    return send_file(
        io.BytesIO((_folder("rectification") / attached.sha256).read_bytes()),
        mimetype=MIME[attached.kind],
        as_attachment=True,
        download_name=attached.filename,
    )


@bp.get("/rectification.xlsx")
def rectification_xlsx(engagement_id: int):  # type: ignore[no-untyped-def]
    engagement = get_engagement_or_404(engagement_id, need="view")
    today = services.local_today(
        current_app.config.get("BABEL_DEFAULT_TIMEZONE") or "Asia/Shanghai"
    )
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


def _templates_page(engagement, report=None):  # type: ignore[no-untyped-def]
    """The upload page; after a refused upload with the checker's problems (422)."""
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


@bp.route("/templates", methods=["GET", "POST"])
def templates(engagement_id: int):  # type: ignore[no-untyped-def]
    """Upload the firm's own Word template (checked first: the sandbox's syntax, unknown
    variables, broken tags, a trial render). The lead (and admins) upload for the engagement,
    admins only for every engagement of the firm."""
    engagement = get_engagement_or_404(engagement_id, need="internal")
    if request.method == "POST":
        return _upload_template(engagement_id)
    return _templates_page(engagement)


def _upload_template(engagement_id: int):  # type: ignore[no-untyped-def]
    """Check an uploaded template; store it when it passes, else show its problems."""
    engagement, form = _posted(engagement_id, TemplateForm, need="manage")
    scope = form.scope.data or "engagement"
    if scope not in ("engagement", "organisation"):
        abort(400)
    if scope == "organisation" and current_user.role is not Role.ADMIN:
        abort(403, description=_("Only an administrator uploads templates for the whole firm."))
    upload = form.file.data
    data = upload.read() if upload else b""
    filename = (upload.filename if upload else "") or ""
    report = check_template(data, build_context(db.session, engagement))
    if not report.ok:
        return _templates_page(engagement, report)
    with unit_of_work() as work, _refused():
        store_template(
            db.session,
            current_user,
            engagement,
            data,
            filename=filename or "template.docx",
            name=form.name.data or filename,
            scope=scope,
            folder=_folder("report-templates"),
        )
    if work.ok:
        flash(_("Template checked and saved; choose it when you build the report."), "success")
    return _back(engagement)


# --- work phases (工作过程) --------------------------------------------------------------------

PHASE_LABELS = {
    "preparation": _l("Preparation and evaluation plan (准备/方案设计)"),
    "fieldwork": _l("On-site verification (现场核查)"),
    "interview": _l("Interviews and meetings (座谈访谈)"),
    "analysis": _l("Data analysis (数据分析)"),
    "exchange": _l("Exchange of views with the evaluated unit (交换意见)"),
    "expert_review": _l("Expert review meeting (专家评审会)"),
    "drafting": _l("Report writing and review (报告撰写与复核)"),
}


def _phases_page(engagement, error: str = "", draft: dict | None = None):  # type: ignore[no-untyped-def]
    """The phases page; after a refused write with its message (422)."""
    return render_template(
        "reports/phases.html",
        engagement=engagement,
        phases=services.phases_of(db.session, engagement),
        kinds=PHASE_LABELS,
        error=error,
        draft=draft or {},
        editable=can_edit_engagement(current_user, engagement),
        empty_form=EmptyForm(),
    ), (422 if error else 200)


@bp.get("/phases")
def phases(engagement_id: int):  # type: ignore[no-untyped-def]
    """The phases of the work the team records; the report's 工作过程 is written from them."""
    return _phases_page(get_engagement_or_404(engagement_id, need="internal"))


def _save_phase(engagement_id: int, new: bool):  # type: ignore[no-untyped-def]
    engagement, form = _posted(engagement_id, PhaseForm)
    phase = None if new else owned_or_404(WorkPhase, _id(form.id), engagement)
    with unit_of_work(form) as work, _refused():
        services.save_phase(
            db.session,
            current_user,
            engagement,
            phase,
            kind=form.kind.data or "",
            start=form.start.data,
            end=form.end.data,
            place=form.place.data or "",
            participants=form.participants.data or "",
            text=form.text.data or "",
        )
    if not work.ok:
        return _phases_page(engagement, work.message, form.data if new else None)
    flash(_("Saved."), "success")
    return redirect(url_for("reports.phases", engagement_id=engagement.id))


@bp.post("/phases/add")
def add_phase(engagement_id: int):  # type: ignore[no-untyped-def]
    return _save_phase(engagement_id, new=True)


@bp.post("/phases/update")
def update_phase(engagement_id: int):  # type: ignore[no-untyped-def]
    return _save_phase(engagement_id, new=False)


@bp.post("/phases/delete")
def delete_phase(engagement_id: int):  # type: ignore[no-untyped-def]
    engagement, form = _posted(engagement_id, ItemForm)
    phase = owned_or_404(WorkPhase, _id(form.id), engagement)
    with unit_of_work(form) as work, _refused():
        services.delete_phase(db.session, current_user, phase)
    if not work.ok:
        return _phases_page(engagement, work.message)
    flash(_("Deleted."), "success")
    return redirect(url_for("reports.phases", engagement_id=engagement.id))


@bp.get("/phases.xlsx")
def phases_xlsx(engagement_id: int):  # type: ignore[no-untyped-def]
    engagement = get_engagement_or_404(engagement_id, need="internal")
    names = reporting.PHASE_KINDS
    rows = [
        [
            p.start.isoformat(),
            p.end.isoformat() if p.end else "",
            names.get(p.kind, p.kind),
            p.place,
            p.participants,
            p.text,
        ]
        for p in services.phases_of(db.session, engagement)
    ]
    return send_table(
        "工作过程",
        ["开始日期", "结束日期", "阶段", "地点", "参加人员", "工作内容"],
        rows,
        f"phases-{engagement.id}.xlsx",
    )
