"""Working-paper pages: request list, evidence uploads, per-indicator working papers."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TypeVar

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import IntegerField

from workbench.accounts.models import Role
from workbench.core.indicators import Indicator
from workbench.db import db
from workbench.engagements.access import can_edit_engagement, get_engagement_or_404, owned_or_404
from workbench.engagements.forms import EmptyForm
from workbench.engagements.models import MemberRole
from workbench.forms import BaseForm
from workbench.scoring import services as scoring
from workbench.web import unit_of_work
from workbench.workpapers import services
from workbench.workpapers.forms import (
    PaperForm,
    ReceivedForm,
    RequestForm,
    ReviewForm,
    ShareForm,
    UploadForm,
)
from workbench.workpapers.models import EvidenceFile, RequestItem, WorkingPaper

bp = Blueprint(
    "workpapers",
    __name__,
    url_prefix="/engagements/<int:engagement_id>/workpapers",
    template_folder="templates",
)
MIME = services.MIME


def _folder() -> Path:
    return Path(current_app.instance_path) / "evidence"


def _leaves(engagement) -> list[Indicator]:  # type: ignore[no-untyped-def]
    system = scoring.system_of(db.session, engagement)
    return scoring.template_of(system).leaves() if system else []


def _id(field: IntegerField) -> int | None:
    """A posted id; one that is not a number names nothing (then owned_or_404 is a 404)."""
    return field.data if isinstance(field.data, int) else None


def _is_reviewer(engagement) -> bool:  # type: ignore[no-untyped-def]
    return (
        current_user.role is Role.ADMIN
        or engagement.member_role(current_user) is MemberRole.REVIEWER
    )


F = TypeVar("F", bound=BaseForm)


def _posted(engagement_id: int, form_class: type[F]):  # type: ignore[no-untyped-def]
    """The engagement (its working papers editable by this user) and the posted form: a bad
    CSRF token is a 400; ids are checked by owned_or_404, texts and files by the service."""
    engagement = get_engagement_or_404(engagement_id, need="internal_edit")
    form = form_class()
    if not form.validate_on_submit() and "csrf_token" in form.errors:
        abort(400)
    return engagement, form


def _back(engagement):  # type: ignore[no-untyped-def]
    return redirect(url_for("workpapers.index", engagement_id=engagement.id))


@bp.get("/")
def index(engagement_id: int):  # type: ignore[no-untyped-def]
    """The request list with received/missing, evidence files and the working papers."""
    engagement = get_engagement_or_404(engagement_id, need="internal")
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
        reviewer=_is_reviewer(engagement),
        missing=sum(1 for i in items if not i.received),
        empty_form=EmptyForm(),
    )


@bp.post("/standard-list")
def standard_list(engagement_id: int):  # type: ignore[no-untyped-def]
    """Add the standard request list of a project evaluation."""
    engagement, _form = _posted(engagement_id, EmptyForm)
    with unit_of_work() as work:
        n = services.load_standard_list(db.session, current_user, engagement, "project")
    if work.ok:
        flash(_("%(n)s documents added to the request list.", n=n), "success")
    return _back(engagement)


@bp.post("/requests")
def add_request(engagement_id: int):  # type: ignore[no-untyped-def]
    """Add one document to the request list."""
    engagement, form = _posted(engagement_id, RequestForm)
    with unit_of_work():
        services.add_request(
            db.session, current_user, engagement, form.title.data or "", form.code_list()
        )
    return _back(engagement)


@bp.post("/requests/received")
def received(engagement_id: int):  # type: ignore[no-untyped-def]
    """Mark a requested document received or missing."""
    engagement, form = _posted(engagement_id, ReceivedForm)
    item = owned_or_404(RequestItem, _id(form.id), engagement)
    with unit_of_work():
        services.set_received(db.session, current_user, item, form.received.data == "1")
    return _back(engagement)


@bp.post("/evidence")
def upload(engagement_id: int):  # type: ignore[no-untyped-def]
    """Store an evidence file (checked by its content), for an indicator or a request item."""
    engagement, form = _posted(engagement_id, UploadForm)
    item = None
    if form.request_id.data:
        item = owned_or_404(RequestItem, _id(form.request_id), engagement)
    file = form.file.data
    with unit_of_work() as work:
        services.upload_evidence(
            db.session,
            current_user,
            engagement,
            _folder(),
            file.read() if file else b"",
            (file.filename if file else "") or "",
            indicator_code=form.indicator_code.data or None,
            request_item=item,
        )
    if work.ok:
        flash(_("File stored."), "success")
    return _back(engagement)


@bp.post("/evidence/share")
def share(engagement_id: int):  # type: ignore[no-untyped-def]
    """Share an evidence file with the expert panel, or stop sharing it (audited)."""
    engagement, form = _posted(engagement_id, ShareForm)
    evidence = owned_or_404(EvidenceFile, _id(form.id), engagement)
    with unit_of_work() as work:
        services.set_shared(db.session, current_user, evidence, form.shared.data == "1")
    if work.ok:
        flash(
            _("Shared with the expert panel.")
            if evidence.shared_with_panel
            else _("No longer shared with the expert panel."),
            "success",
        )
    return _back(engagement)


@bp.post("/papers")
def save_paper(engagement_id: int):  # type: ignore[no-untyped-def]
    """Write the working paper of an indicator of the engagement's system."""
    engagement, form = _posted(engagement_id, PaperForm)
    code = form.code.data or ""
    if code not in {leaf.code for leaf in _leaves(engagement)}:
        abort(400)
    with unit_of_work():
        services.save_paper(
            db.session,
            current_user,
            engagement,
            code,
            checked_object=form.checked_object.data or "",
            data_source=form.data_source.data or "",
            problems=form.problems.data or "",
            scoring_note=form.scoring_note.data or "",
        )
    return _back(engagement)


@bp.post("/papers/review")
def review(engagement_id: int):  # type: ignore[no-untyped-def]
    """The engagement's reviewer (复核人) or an admin marks a working paper reviewed."""
    engagement, form = _posted(engagement_id, ReviewForm)
    paper = owned_or_404(WorkingPaper, _id(form.id), engagement)
    if not _is_reviewer(engagement):
        abort(403)
    with unit_of_work():
        services.review_paper(db.session, current_user, paper)
    return _back(engagement)


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
