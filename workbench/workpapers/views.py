"""Working-paper pages: request list, evidence uploads, per-indicator working papers."""

from __future__ import annotations

import io
from pathlib import Path

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

from workbench.accounts.models import Role
from workbench.core.indicators import Indicator
from workbench.db import db
from workbench.engagements.access import can_edit_engagement, get_engagement_or_404, owned_or_404
from workbench.engagements.forms import EmptyForm
from workbench.engagements.models import MemberRole
from workbench.scoring import services as scoring
from workbench.workpapers import services
from workbench.workpapers.models import EvidenceFile, RequestItem, WorkingPaper

bp = Blueprint(
    "workpapers",
    __name__,
    url_prefix="/engagements/<int:engagement_id>/workpapers",
    template_folder="templates",
)
ERRORS = {
    "no_list": _l("Unknown standard list."),
    "title_required": _l("Name the document."),
    "empty": _l("The file is empty."),
    "too_large": _l("The file is larger than 20 MB."),
    "bad_type": _l("%(detail)s is not a PDF, Word, Excel or image file (checked by its content)."),
    "type_mismatch": _l("The name %(detail)s does not match the file's content."),
    "storage": _l("The file could not be stored (is the disk full?); nothing was saved."),
}
MIME = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "png": "image/png",
    "jpeg": "image/jpeg",
}


def _folder() -> Path:
    return Path(current_app.instance_path) / "evidence"


def _leaves(engagement) -> list[Indicator]:  # type: ignore[no-untyped-def]
    system = scoring.system_of(db.session, engagement)
    return scoring.template_of(system).leaves() if system else []


def _owned(model, engagement):  # type: ignore[no-untyped-def]
    return owned_or_404(model, request.form.get("id", type=int), engagement)


@bp.route("/", methods=["GET", "POST"])
def index(engagement_id: int):  # type: ignore[no-untyped-def]
    """The request list with received/missing, evidence files and the working papers."""
    engagement = get_engagement_or_404(engagement_id, need="internal")
    if request.method == "POST":
        engagement = get_engagement_or_404(engagement_id, need="internal_edit")
        if not EmptyForm().validate_on_submit():
            abort(400)
        action = request.form.get("action", "")
        try:
            if action == "standard":
                n = services.load_standard_list(db.session, current_user, engagement, "project")
                flash(_("%(n)s documents added to the request list.", n=n), "success")
            elif action == "request":
                services.add_request(
                    db.session,
                    current_user,
                    engagement,
                    request.form.get("title", ""),
                    request.form.get("codes", "").replace("，", ",").split(","),
                )
            elif action == "received":
                item = _owned(RequestItem, engagement)
                services.set_received(
                    db.session, current_user, item, request.form.get("received") == "1"
                )
            elif action == "upload":
                upload = request.files.get("file")
                item = None
                if request.form.get("request_id", type=int):
                    item = owned_or_404(
                        RequestItem, request.form.get("request_id", type=int), engagement
                    )
                services.upload_evidence(
                    db.session,
                    current_user,
                    engagement,
                    _folder(),
                    upload.read() if upload else b"",
                    (upload.filename if upload else "") or "",
                    indicator_code=request.form.get("indicator_code") or None,
                    request_item=item,
                )
                flash(_("File stored."), "success")
            elif action == "paper":
                code = request.form.get("code", "")
                if code not in {leaf.code for leaf in _leaves(engagement)}:
                    abort(400)
                services.save_paper(
                    db.session,
                    current_user,
                    engagement,
                    code,
                    checked_object=request.form.get("checked_object", ""),
                    data_source=request.form.get("data_source", ""),
                    problems=request.form.get("problems", ""),
                    scoring_note=request.form.get("scoring_note", ""),
                )
            elif action == "review":
                paper = _owned(WorkingPaper, engagement)
                if not (
                    current_user.role is Role.ADMIN
                    or engagement.member_role(current_user) is MemberRole.REVIEWER
                ):
                    abort(403)
                services.review_paper(db.session, current_user, paper)
            else:
                abort(400)
            db.session.commit()
        except services.WorkpaperError as exc:
            db.session.rollback()
            message = str(ERRORS.get(exc.code, exc.code))
            flash(
                message % {"detail": exc.detail} if "%(detail)s" in message else message, "danger"
            )
        return redirect(url_for("workpapers.index", engagement_id=engagement.id))
    leaves = _leaves(engagement)
    evidence = services.evidence_of(db.session, engagement)
    items = services.request_list(db.session, engagement)
    return render_template(
        "workpapers/index.html",
        engagement=engagement,
        items=items,
        evidence=evidence,
        leaves=leaves,
        papers={
            p.indicator_code: p
            for p in db.session.query(WorkingPaper).filter_by(engagement_id=engagement.id)
        },
        editable=can_edit_engagement(current_user, engagement),
        reviewer=current_user.role is Role.ADMIN
        or engagement.member_role(current_user) is MemberRole.REVIEWER,
        missing=sum(1 for i in items if not i.received),
        empty_form=EmptyForm(),
    )


@bp.get("/evidence/<int:evidence_id>")
def download(engagement_id: int, evidence_id: int):  # type: ignore[no-untyped-def]
    engagement = get_engagement_or_404(engagement_id, need="internal")
    evidence = db.session.get(EvidenceFile, evidence_id)
    if evidence is None or evidence.engagement_id != engagement.id:
        abort(404)
    return send_file(
        io.BytesIO((_folder() / evidence.sha256).read_bytes()),
        mimetype=MIME[evidence.kind],
        as_attachment=True,
        download_name=evidence.filename,
    )
