"""Survey pages for the evaluation team: build and publish questionnaires, import files,
map answers, screen responses, see and export the statistics."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
import yaml
from flask import (
    Blueprint,
    Response,
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
from flask_login import current_user

from workbench import qr
from workbench.audit.services import record
from workbench.core.cleaning import RULES
from workbench.core.indicators import SurveyMethod
from workbench.core.questionnaire import (
    DEFAULT_LIKERT,
    Questionnaire,
    dump_questionnaire,
    sections,
    split_lines,
)
from workbench.core.questionnaire import (
    level_map as level_map_of,
)
from workbench.core.safefiles import UnsafeFile, load_yaml
from workbench.core.surveys import WjxFormatError, group_columns
from workbench.db import db
from workbench.engagements.access import can_edit_engagement, get_engagement_or_404, owned_or_404
from workbench.engagements.forms import EmptyForm
from workbench.error_messages import CODES
from workbench.forms import query_int
from workbench.labels import pairs
from workbench.links import external_url
from workbench.scoring import services as scoring
from workbench.storage import StorageError
from workbench.surveys import builder, jobs, services
from workbench.surveys.collect import group_counts
from workbench.surveys.forms import (
    AddQuestionForm,
    CleaningForm,
    ImportSurveyForm,
    NewSurveyForm,
    OverrideForm,
    QuestionnaireUploadForm,
    TokensForm,
    column_mapping_form,
    mapping_form,
    publish_form,
    question_form,
)
from workbench.surveys.models import ImportJob, Survey, SurveyResponse
from workbench.web import Work, unit_of_work
from workbench.xlsx import send_table

bp = Blueprint(
    "surveys",
    __name__,
    url_prefix="/engagements/<int:engagement_id>/surveys",
    template_folder="templates",
)

RULE_LABELS = {
    "too_fast": _l("too fast"),
    "too_fast_median": _l("too fast for the median"),
    "straightline": _l("same answer throughout"),
    "burst": _l("burst from one device, or same answers from one address"),
    "attention": _l("failed attention check"),
    "missing_key": _l("key item missing"),
    "duplicate": _l("duplicate"),
}
TYPE_LABELS = {
    "single": _l("Single choice"),
    "multiple": _l("Multiple choice"),
    "likert": _l("5-point satisfaction scale"),
    "matrix": _l("Matrix of items on one scale"),
    "rating": _l("0–10 rating"),
    "number": _l("Number"),
    "text": _l("Short text"),
    "textarea": _l("Long text"),
}
MEASURES = {
    "rate": _l("satisfaction rate"),
    "index": _l("satisfaction index ÷ 100"),
    "stratified": _l("rate weighted by group population"),
}


@bp.before_request
def _login_first():  # type: ignore[no-untyped-def]
    """Every page here is for signed-in staff (respondents use /s/<token>)."""
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
    return None


def import_errors(job: ImportJob) -> list[str]:
    """The messages of an import's stored errors, ``(code, parameters)`` each."""
    out = []
    for code, params in job.errors or []:
        message = CODES.get(f"survey_import_{code}")
        # a reason is a core message template (N_) or a safety check's text: translated here
        params = {k: _(v) if isinstance(v, str) and v else v for k, v in params.items()}
        out.append(str(message) % params if message else code)
    return out


def _form_errors(form: Any) -> str:
    """A form's validation messages on one line (shown above the form)."""
    return "; ".join(str(e) for field in form for e in field.errors)


def _survey_or_404(engagement, survey_id: int) -> Survey:  # type: ignore[no-untyped-def]
    return owned_or_404(Survey, survey_id, engagement)


def _survey_leaves(engagement) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    system = scoring.system_of(db.session, engagement)
    if system is None:
        return []
    template = scoring.template_of(system)
    return [
        (leaf.code, f"{leaf.code} {leaf.name}")
        for leaf in template.leaves()
        if isinstance(leaf.method, SurveyMethod)
    ]


def _public_url(survey: Survey, code: str = "") -> str:
    return external_url(
        "public_survey.answer",
        public_token=survey.public_token,
        **({"t": code} if code else {}),
    )


def _new_form() -> NewSurveyForm:
    form = NewSurveyForm(prefix="new")
    form.start_from.choices = pairs(
        [("", _("Blank questionnaire"))]
        + [(key, q.title) for key, q in builder.questionnaire_library().items()]
    )
    return form


def _import_form(engagement) -> ImportSurveyForm:  # type: ignore[no-untyped-def]
    form = ImportSurveyForm(prefix="imp")
    surveys = db.session.scalars(
        sa.select(Survey).where(Survey.engagement_id == engagement.id).order_by(Survey.id)
    ).all()
    form.target.choices = pairs(
        [("", _("A new survey made of the file's columns"))]
        + [(str(s.id), s.title) for s in surveys]
    )
    return form


@bp.get("/")
def index(engagement_id: int):  # type: ignore[no-untyped-def]
    """The engagement's surveys with their headline numbers, and how to add one."""
    engagement = get_engagement_or_404(engagement_id, need="internal")
    surveys = db.session.scalars(
        sa.select(Survey).where(Survey.engagement_id == engagement.id).order_by(Survey.id)
    ).all()
    summaries = {}
    for s in surveys:
        rows = services.screened(s)
        summaries[s.id] = (
            services.results(s, rows=rows),
            services.survey_yield(db.session, s, rows),
        )
    return render_template(
        "surveys/index.html",
        engagement=engagement,
        surveys=surveys,
        new_form=_new_form(),
        form=_import_form(engagement),
        errors=[],
        editable=can_edit_engagement(current_user, engagement),
        summaries=summaries,
        jobs=_open_jobs(engagement),
    )


def _open_jobs(engagement) -> list[ImportJob]:  # type: ignore[no-untyped-def]
    """The engagement's latest unfinished imports; those whose worker is gone marked failed."""
    listed = db.session.scalars(
        sa.select(ImportJob)
        .where(ImportJob.engagement_id == engagement.id, ImportJob.status != "done")
        .order_by(ImportJob.id.desc())
        .limit(5)
    ).all()
    for job in listed:
        jobs.reap(db.session, job)
    return list(listed)


@bp.post("/new")
def new(engagement_id: int):  # type: ignore[no-untyped-def]
    """Create a questionnaire, blank or from the library."""
    engagement = get_engagement_or_404(engagement_id, need="internal_edit")
    form = _new_form()
    if not form.validate_on_submit():
        for field in form:
            for e in field.errors:
                flash(f"{field.label.text}: {e}", "danger")
        return redirect(url_for("surveys.index", engagement_id=engagement.id))
    start = builder.questionnaire_library().get(form.start_from.data or "")
    survey = builder.create_form(
        db.session,
        current_user,
        engagement,
        title=form.title.data,
        group=form.group.data or (start.group if start else ""),
        population=form.population.data,
        start_from=start,
    )
    db.session.commit()
    flash(_("Questionnaire created. Edit the questions, then publish it."), "success")
    return redirect(url_for("surveys.build", engagement_id=engagement.id, survey_id=survey.id))


@bp.post("/import")
def start_import(engagement_id: int):  # type: ignore[no-untyped-def]
    """Upload a 问卷星 export or any table; large files import in the background."""
    engagement = get_engagement_or_404(engagement_id, need="internal_edit")
    form = _import_form(engagement)
    if not form.validate_on_submit():
        for field in form:
            for e in field.errors:
                flash(f"{field.label.text}: {e}", "danger")
        return redirect(url_for("surveys.index", engagement_id=engagement.id))
    target = _survey_or_404(engagement, int(form.target.data)) if form.target.data else None
    if target is None and not form.title.data:
        flash(_("Give the new survey a title."), "danger")
        return redirect(url_for("surveys.index", engagement_id=engagement.id))
    upload = form.file.data
    try:
        job = jobs.create(
            db.session,
            current_user,
            engagement,
            kind=form.kind.data,
            data=upload.read(),
            filename=upload.filename or "upload",
            options={
                "title": form.title.data or "",
                "group": form.group.data or "",
                "population": form.population.data,
            },
            survey=target,
        )
    except UnsafeFile as exc:
        flash(_("The file was not imported:") + " " + exc.message.render(_), "danger")
        return redirect(url_for("surveys.index", engagement_id=engagement.id))
    except StorageError:
        db.session.rollback()
        flash(_("The file could not be stored (is the disk full?); nothing was saved."), "danger")
        return redirect(url_for("surveys.index", engagement_id=engagement.id))
    db.session.commit()
    if job.status == "queued":
        jobs.start(current_app._get_current_object(), job)  # type: ignore[attr-defined]
    return redirect(url_for("surveys.job", engagement_id=engagement.id, job_id=job.id))


def _job_or_404(engagement, job_id: int) -> ImportJob:  # type: ignore[no-untyped-def]
    return owned_or_404(ImportJob, job_id, engagement)


@bp.route("/imports/<int:job_id>", methods=["GET", "POST"])
def job(engagement_id: int, job_id: int):  # type: ignore[no-untyped-def]
    """One import: choose the column mapping, follow the progress, see the outcome."""
    engagement = get_engagement_or_404(engagement_id, need="internal_edit")
    job = _job_or_404(engagement, job_id)
    jobs.reap(db.session, job)  # a job whose worker is gone shows as failed, with the reason
    survey = db.session.get(Survey, job.survey_id) if job.survey_id else None
    preview_error = None
    headers: list[str] = []
    frame = None
    flavour = "text"
    if job.status == "mapping":
        try:
            frame, flavour = jobs.read_frame(job, nrows=5)
            headers = list(frame.columns)
        except WjxFormatError as exc:
            preview_error = _(str(exc))
    if request.method == "POST" and job.status == "mapping" and headers:
        _start_mapped(job, survey, headers, flavour)
        return redirect(url_for("surveys.job", engagement_id=engagement.id, job_id=job.id))
    mapping = job.options.get("mapping") or jobs.guess_mapping(survey, headers)
    preview = (
        [[str(frame[h].iloc[r]) for h in headers] for r in range(len(frame))]
        if frame is not None
        else []
    )
    return render_template(
        "surveys/job.html",
        engagement=engagement,
        job=job,
        survey=survey,
        headers=headers,
        mapping=mapping,
        preview=preview,
        preview_error=preview_error,
        flavour=flavour,
        groups=group_columns(headers),
        errors=import_errors(job),
        progress=jobs.progress(job),
        empty_form=EmptyForm(),
        meta_roles={
            "meta:row_no": _("Response number (序号)"),
            "meta:submitted": _("Submission time"),
            "meta:duration": _("Time taken"),
            "meta:channel": _("Channel (来源)"),
            "meta:ip": _("IP address (kept as a hash)"),
        },
    )


def _start_mapped(job: ImportJob, survey: Survey | None, headers: list[str], flavour: str) -> None:
    """Claim the job with the posted column mapping and start it (once: a double submit finds
    it claimed); a target the page did not offer maps the column to nothing. An
    option-number export starts only once the evaluator confirms how its numbers are read."""
    form = column_mapping_form(len(headers))
    if not form.validate_on_submit():
        abort(400)
    if flavour == "code" and not form.confirm_codes.data:
        flash(
            _(
                "Nothing was imported: confirm that the option numbers are stored as they are "
                "and that you will say what each number means in the next step."
            ),
            "danger",
        )
        return
    allowed = {"", "new", *jobs.META_ROLES, *(survey.columns if survey else [])}
    mapping = {}
    for i, header in enumerate(headers):
        target = form[f"col-{i}"].data or ""
        mapping[header] = target if target in allowed else ""
    claimed = jobs.claim(db.session, job, mapping)
    db.session.commit()
    if claimed:
        jobs.start(current_app._get_current_object(), job)  # type: ignore[attr-defined]
    else:  # a double submit: the first request runs the import, once
        flash(_("This import has already been started; its progress is shown below."), "info")


@bp.post("/imports/<int:job_id>/discard")
def discard_job(engagement_id: int, job_id: int):  # type: ignore[no-untyped-def]
    """Give up an import that waits for its mapping, failed, or lost its worker (its upload is
    deleted)."""
    engagement = get_engagement_or_404(engagement_id, need="internal_edit")
    job = _job_or_404(engagement, job_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    jobs.reap(db.session, job)
    if job.status in ("queued", "running"):
        flash(_("This import is still running; it can be discarded once it ends."), "warning")
        return redirect(url_for("surveys.job", engagement_id=engagement.id, job_id=job.id))
    record(
        db.session,
        current_user,
        "survey.import_discard",
        "survey",
        job.survey_id,
        engagement_id=engagement.id,
        changes={"status": {"before": job.status, "after": None}},
        summary=job.filename,
    )
    jobs.discard(job)
    db.session.delete(job)
    db.session.commit()
    flash(_("Import discarded."), "success")
    return redirect(url_for("surveys.index", engagement_id=engagement.id))


@bp.get("/imports/<int:job_id>.json")
def job_progress(engagement_id: int, job_id: int):  # type: ignore[no-untyped-def]
    engagement = get_engagement_or_404(engagement_id, need="internal")
    job = _job_or_404(engagement, job_id)
    jobs.reap(db.session, job)
    return jsonify(jobs.progress(job))


def _question_data(form: Any, prefix: str) -> dict[str, Any]:
    """The builder's fields of one question as model data."""

    def text(name: str) -> str:
        return str(form[f"{prefix}{name}"].data or "")

    def flag(name: str) -> bool:
        return bool(form[f"{prefix}{name}"].data)

    data: dict[str, Any] = {
        "type": text("type") or "single",
        "text": text("text"),
        "required": flag("required"),
        "section": text("section"),
        "help": text("help"),
        "dont_know": flag("dont_know"),
        "satisfaction": flag("satisfaction"),
        "expected": text("expected"),
    }
    if data["type"] in ("single", "multiple"):
        data["options"] = split_lines(text("options"))
    if data["type"] in ("likert", "matrix"):
        data["labels"] = split_lines(text("labels")) or list(DEFAULT_LIKERT)
    if data["type"] == "matrix":
        data["items"] = split_lines(text("items"))
    if data["type"] == "number":
        for key in ("minimum", "maximum"):
            raw = text(key).strip()
            if raw:
                try:
                    data[key] = float(raw)
                except ValueError:
                    raise services.SurveyError("bad_question", raw) from None
    return data


def _new_question(qtype: str) -> dict[str, Any]:
    """A new question of ``qtype`` with placeholder text, ready to edit."""
    defaults: dict[str, Any] = {"type": qtype, "text": _("New question")}
    if qtype in ("single", "multiple"):
        defaults["options"] = [_("Option 1"), _("Option 2")]
    if qtype == "matrix":
        defaults["items"] = [_("Item 1"), _("Item 2"), _("Item 3")]
        defaults["satisfaction"] = True
    if qtype == "likert":
        defaults["satisfaction"] = True
    return defaults


@bp.get("/<int:survey_id>/build")
def build(engagement_id: int, survey_id: int):  # type: ignore[no-untyped-def]
    """Edit the questions: add, change, move, remove; upload or download as YAML."""
    engagement = get_engagement_or_404(engagement_id, need="internal_edit")
    survey = _survey_or_404(engagement, survey_id)
    if survey.kind != "form":
        return redirect(
            url_for("surveys.mapping", engagement_id=engagement.id, survey_id=survey.id)
        )
    return _build_page(engagement, survey)


def _build_page(engagement, survey: Survey, error: str | None = None):  # type: ignore[no-untyped-def]
    return render_template(
        "surveys/build.html",
        engagement=engagement,
        survey=survey,
        questions=builder.questions_of(survey),
        types=TYPE_LABELS,
        error=error,
        locked=bool(survey.responses),
        empty_form=EmptyForm(),
    ), (422 if error else 200)


def _editable(engagement_id: int, survey_id: int) -> tuple[Any, Survey]:
    engagement = get_engagement_or_404(engagement_id, need="internal_edit")
    return engagement, _survey_or_404(engagement, survey_id)


def _question_at(survey: Survey, index: int) -> list[Any]:
    """The survey's questions, when ``index`` is one of them (else 400: a page out of date)."""
    questions = builder.questions_of(survey)
    if not 0 <= index < len(questions):
        abort(400)
    return questions


def _after_build(engagement, survey: Survey, work: Work, anchor: int | None = None):  # type: ignore[no-untyped-def]
    """Saved: back to the builder at the question; refused: the builder with the message."""
    if not work.ok:
        return _build_page(engagement, survey, work.message)
    flash(_("Questionnaire saved."), "success")
    return redirect(
        url_for("surveys.build", engagement_id=engagement.id, survey_id=survey.id)
        + (f"#question-{anchor}" if anchor is not None else "")
    )


@bp.post("/<int:survey_id>/build/upload")
def upload_questionnaire(engagement_id: int, survey_id: int):  # type: ignore[no-untyped-def]
    """Replace every question with a questionnaire file (YAML)."""
    engagement, survey = _editable(engagement_id, survey_id)
    form = QuestionnaireUploadForm()
    if not form.validate_on_submit():
        abort(400)
    upload = form.file.data
    with unit_of_work(form) as work:
        try:
            data = load_yaml(upload.read() if upload else b"")
        except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as exc:
            raise services.SurveyError("bad_questionnaire", str(exc)[:200]) from exc
        builder.replace_from_data(db.session, current_user, survey, data)
    return _after_build(engagement, survey, work)


@bp.post("/<int:survey_id>/build/add")
def add_question(engagement_id: int, survey_id: int):  # type: ignore[no-untyped-def]
    """Add a question of the chosen type at the end."""
    engagement, survey = _editable(engagement_id, survey_id)
    form = AddQuestionForm()
    if not form.validate_on_submit():
        abort(400)
    qtype = form.new_type.data
    questions = builder.questions_of(survey)
    with unit_of_work(form) as work:
        questions.append(builder.question_from_form(_new_question(qtype)))
        builder.set_questions(db.session, current_user, survey, questions, f"add {qtype}")
    return _after_build(engagement, survey, work, len(questions) - 1 if work.ok else None)


@bp.post("/<int:survey_id>/build/<int:index>/save")
def save_question(engagement_id: int, survey_id: int, index: int):  # type: ignore[no-untyped-def]
    """Save the fields of one question (the questionnaire model checks them)."""
    engagement, survey = _editable(engagement_id, survey_id)
    questions = _question_at(survey, index)
    form = question_form(index)
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:  # the page expired: nothing to show again
            abort(400)
        return _build_page(engagement, survey, _form_errors(form))
    with unit_of_work(form) as work:
        try:
            questions[index] = builder.question_from_form(_question_data(form, f"q{index}-"))
        except services.SurveyError as exc:
            exc.question = index + 1  # "Q2: …"
            raise
        builder.set_questions(db.session, current_user, survey, questions, f"save Q{index + 1}")
    return _after_build(engagement, survey, work, index)


def _reorder(engagement_id: int, survey_id: int, index: int, verb: str):  # type: ignore[no-untyped-def]
    """Delete question ``index`` or move it up or down by one."""
    engagement, survey = _editable(engagement_id, survey_id)
    questions = _question_at(survey, index)
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    anchor: int | None = index
    if verb == "delete":
        del questions[index]
        anchor = None
    elif verb == "up" and index > 0:
        questions[index - 1], questions[index] = questions[index], questions[index - 1]
        anchor = index - 1
    elif verb == "down" and index < len(questions) - 1:
        questions[index + 1], questions[index] = questions[index], questions[index + 1]
        anchor = index + 1
    with unit_of_work(form) as work:
        builder.set_questions(db.session, current_user, survey, questions, f"{verb} Q{index + 1}")
    return _after_build(engagement, survey, work, anchor)


@bp.post("/<int:survey_id>/build/<int:index>/delete")
def delete_question(engagement_id: int, survey_id: int, index: int):  # type: ignore[no-untyped-def]
    """Remove one question."""
    return _reorder(engagement_id, survey_id, index, "delete")


@bp.post("/<int:survey_id>/build/<int:index>/up")
def move_question_up(engagement_id: int, survey_id: int, index: int):  # type: ignore[no-untyped-def]
    """Move one question up by one place."""
    return _reorder(engagement_id, survey_id, index, "up")


@bp.post("/<int:survey_id>/build/<int:index>/down")
def move_question_down(engagement_id: int, survey_id: int, index: int):  # type: ignore[no-untyped-def]
    """Move one question down by one place."""
    return _reorder(engagement_id, survey_id, index, "down")


@bp.get("/<int:survey_id>/questionnaire.yaml")
def questionnaire_yaml(engagement_id: int, survey_id: int):  # type: ignore[no-untyped-def]
    engagement = get_engagement_or_404(engagement_id, need="internal")
    survey = _survey_or_404(engagement, survey_id)
    if survey.kind != "form":
        abort(404)
    text = dump_questionnaire(
        Questionnaire(
            title=survey.title,
            group=survey.respondent_group,
            description=survey.description,
            questions=builder.questions_of(survey),
        )
    )
    return Response(
        text,
        mimetype="application/x-yaml",
        headers={"Content-Disposition": f"attachment; filename=survey-{survey.id}.yaml"},
    )


@bp.get("/<int:survey_id>/preview")
def preview(engagement_id: int, survey_id: int):  # type: ignore[no-untyped-def]
    """The questionnaire as a respondent sees it (not answerable)."""
    engagement = get_engagement_or_404(engagement_id, need="internal")
    survey = _survey_or_404(engagement, survey_id)
    if survey.kind != "form":
        abort(404)
    questions = builder.questions_of(survey)
    return render_template(
        "surveys/preview.html",
        engagement=engagement,
        survey=survey,
        questions=questions,
        sections=sections(questions),
        errors={},
        values={},
        preview=True,
        full_groups=[],
    )


@bp.route("/<int:survey_id>/publish", methods=["GET", "POST"])
def publish(engagement_id: int, survey_id: int):  # type: ignore[no-untyped-def]
    """Open or close the public questionnaire; link, QR code, dates, targets, quotas."""
    engagement = get_engagement_or_404(engagement_id, need="internal")
    survey = _survey_or_404(engagement, survey_id)
    if survey.kind != "form":
        abort(404)
    groups = builder.group_choices(survey)
    form = publish_form(len(groups), obj=survey)
    form.group_column.choices = pairs([("", _("(no groups)"))] + [(c, c) for c in survey.columns])
    error = None
    if request.method == "POST":
        engagement = get_engagement_or_404(engagement_id, need="internal_edit")
        if form.validate_on_submit():
            with unit_of_work(form) as work:
                _save_publication(survey, form, groups)
            if work.ok:
                flash(_("Collection settings saved."), "success")
                return redirect(
                    url_for("surveys.publish", engagement_id=engagement.id, survey_id=survey.id)
                )
            error = work.message
        else:
            error = _form_errors(form)
    return _publish_page(engagement, survey, form, groups, error)


def _save_publication(survey: Survey, form: Any, groups: list[str]) -> None:
    """Status, dates, targets and the groups' populations and quotas (typed as people write
    numbers: "1,200"); a number that is not one refuses the whole form."""
    targets: dict[str, dict[str, int | None]] = {}
    bad: list[str] = []
    for i, group in enumerate(groups):
        targets[group] = {}
        for key in ("population", "quota"):
            raw = form[f"{key}-{i}"].data or ""
            targets[group][key] = _int(raw)
            if raw.strip() and targets[group][key] is None:
                bad.append(f"{group}: {raw.strip()[:20]}")
    if bad:
        raise services.SurveyError("bad_number", "; ".join(bad))
    builder.publish(
        db.session,
        current_user,
        survey,
        status=form.status.data,
        opens_at=_utc(form.opens_at.data),
        closes_at=_utc(form.closes_at.data),
        target_n=form.target_n.data,
        distributed=form.distributed.data,
        require_token=form.require_token.data,
        group_column=form.group_column.data or None,
        group_targets=targets if form.group_column.data == survey.group_column else {},
    )


def _publish_page(engagement, survey: Survey, form: Any, groups: list[str], error: str | None):  # type: ignore[no-untyped-def]
    rows = services.screened(survey)
    url = _public_url(survey) if survey.public_token else None
    return render_template(
        "surveys/publish.html",
        engagement=engagement,
        survey=survey,
        form=form,
        error=error,
        url=url,
        qr=qr.data_uris(url) if url else None,
        state=builder.collection_state(survey),
        groups=groups,
        group_counts=_group_counts(survey),
        tokens=builder.survey_tokens(db.session, survey),
        tokens_form=TokensForm(),
        yield_=services.survey_yield(db.session, survey, rows),
        editable=can_edit_engagement(current_user, engagement),
    ), (422 if error else 200)


def _group_counts(survey: Survey) -> dict[str, int]:
    return group_counts(db.session, survey)


def _int(raw: str | None) -> int | None:
    """A positive whole number as people type it ("1,200", "1 200", "1200"), else None."""
    text = (raw or "").strip().replace(",", "").replace("，", "").replace(" ", "")
    try:
        value = int(text)
    except ValueError:
        return None
    return value if value > 0 else None


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    """A local (Asia/Shanghai by default) time from the form as UTC."""
    if value is None:
        return None
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE", "Asia/Shanghai"))
    return value.replace(tzinfo=zone).astimezone(dt.UTC)


@bp.get("/<int:survey_id>/qr.<fmt>")
def qr_code(engagement_id: int, survey_id: int, fmt: str):  # type: ignore[no-untyped-def]
    """The public link as a QR code (PNG or SVG) to print on posters and letters."""
    engagement = get_engagement_or_404(engagement_id, need="internal")
    survey = _survey_or_404(engagement, survey_id)
    if not survey.public_token or fmt not in ("png", "svg"):
        abort(404)
    url = _public_url(survey)
    data = qr.png(url, box_size=12) if fmt == "png" else qr.svg(url)
    return Response(
        data,
        mimetype="image/png" if fmt == "png" else "image/svg+xml",
        headers={"Content-Disposition": f"attachment; filename=survey-{survey.id}-qr.{fmt}"},
    )


@bp.post("/<int:survey_id>/tokens")
def tokens(engagement_id: int, survey_id: int):  # type: ignore[no-untyped-def]
    """Generate a batch of one-time codes."""
    engagement = get_engagement_or_404(engagement_id, need="internal_edit")
    survey = _survey_or_404(engagement, survey_id)
    form = TokensForm()
    if form.validate_on_submit():
        with unit_of_work() as work:
            batch = builder.issue_tokens(
                db.session,
                current_user,
                survey,
                count=form.count.data or 0,
                labels=split_lines(form.labels.data or ""),
            )
        if work.ok:
            flash(_("%(n)s codes generated.", n=len(batch)), "success")
    else:
        flash(_form_errors(form), "danger")
    return redirect(url_for("surveys.publish", engagement_id=engagement.id, survey_id=survey.id))


@bp.get("/<int:survey_id>/tokens.xlsx")
def tokens_xlsx(engagement_id: int, survey_id: int):  # type: ignore[no-untyped-def]
    engagement = get_engagement_or_404(engagement_id, need="internal")
    survey = _survey_or_404(engagement, survey_id)
    if not survey.public_token:
        abort(404)
    rows = [
        [t.batch, t.label, t.code, _public_url(survey, t.code), t.used_at]
        for t in builder.survey_tokens(db.session, survey)
    ]
    return send_table(
        "一次性答题码",
        ["批次", "标注", "答题码", "链接", "使用时间"],
        rows,
        f"survey-{survey.id}-codes.xlsx",
    )


@bp.get("/<int:survey_id>/tokens/print")
def tokens_print(engagement_id: int, survey_id: int):  # type: ignore[no-untyped-def]
    """A printable sheet of QR codes, one per code (cut and hand out)."""
    engagement = get_engagement_or_404(engagement_id, need="internal")
    survey = _survey_or_404(engagement, survey_id)
    if not survey.public_token:
        abort(404)
    batch = query_int("batch")
    cards = [
        (t, qr.data_uris(_public_url(survey, t.code))["svg"])
        for t in builder.survey_tokens(db.session, survey, batch)
        if t.used_at is None
    ]
    return render_template(
        "surveys/tokens_print.html", survey=survey, cards=cards, base_url=_public_url(survey)
    )


#: distinct answers offered for mapping to levels (the rest keep their guessed level)
MAX_ANSWERS = 60


def _answers(survey: Survey, chosen: list[str]) -> list[str]:
    return services.distinct_answers(survey, chosen or survey.columns[:1])[:MAX_ANSWERS]


def _chosen(form: Any, survey: Survey) -> list[str]:
    """The satisfaction questions ticked, in the survey's order; unknown names left out."""
    ticked = set(form.columns.data or [])
    return [c for c in survey.columns if c in ticked]


@bp.route("/<int:survey_id>/mapping", methods=["GET", "POST"])
def mapping(engagement_id: int, survey_id: int):  # type: ignore[no-untyped-def]
    """Choose the satisfaction items, map the answers to levels, link the indicator; posting
    the ticked questions shows their answers (nothing is saved)."""
    engagement = get_engagement_or_404(engagement_id, need="internal_edit")
    survey = _survey_or_404(engagement, survey_id)
    chosen = survey.satisfaction_columns or [c for c in survey.columns if "满意" in c]
    if request.method == "POST":
        form = mapping_form(survey.columns, 0)
        if not form.validate_on_submit():
            abort(400)
        chosen = _chosen(form, survey)
    return _mapping_page(engagement, survey, chosen)


@bp.post("/<int:survey_id>/mapping/save")
def save_mapping(engagement_id: int, survey_id: int):  # type: ignore[no-untyped-def]
    """Save the satisfaction items, the level of each answer and the indicator fed."""
    engagement = get_engagement_or_404(engagement_id, need="internal_edit")
    survey = _survey_or_404(engagement, survey_id)
    form = mapping_form(survey.columns, MAX_ANSWERS)
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:  # the page expired: nothing to show again
            abort(400)
        return _mapping_page(engagement, survey, _chosen(form, survey), _form_errors(form))
    chosen = _chosen(form, survey)
    answers = _answers(survey, chosen)
    level_map = {a: form[f"level-{i}"].data or "" for i, a in enumerate(answers)}
    if survey.kind == "form":  # the questionnaire's own scales are known
        level_map = {
            **level_map_of(builder.questions_of(survey)),
            **{k: v for k, v in level_map.items() if v},
        }
    with unit_of_work(form) as work:
        services.save_mapping(
            db.session,
            current_user,
            survey,
            columns=chosen,
            level_map=level_map,
            leaf_code=form.leaf_code.data or None,
            leaf_measure=form.leaf_measure.data or "rate",
            leaf_group=form.leaf_group.data or None,
        )
    if not work.ok:
        return _mapping_page(engagement, survey, chosen, work.message)
    flash(_("Mapping saved."), "success")
    return redirect(url_for("surveys.index", engagement_id=engagement.id))


def _mapping_page(engagement, survey: Survey, chosen: list[str], error: str | None = None):  # type: ignore[no-untyped-def]
    answers = _answers(survey, chosen)
    current = {
        a: survey.level_map.get(a) or services.guess_level(a, survey.flavour) for a in answers
    }
    return render_template(
        "surveys/mapping.html",
        engagement=engagement,
        survey=survey,
        chosen=chosen,
        answers=answers,
        current=current,
        levels=services.LEVELS,
        leaves=_survey_leaves(engagement),
        measures=MEASURES,
        groups=builder.group_choices(survey),
        error=error,
        empty_form=EmptyForm(),
    )


@bp.get("/<int:survey_id>/results.xlsx")
def results_xlsx(engagement_id: int, survey_id: int):  # type: ignore[no-untyped-def]
    """The satisfaction summary table of one survey as Excel."""
    engagement = get_engagement_or_404(engagement_id, need="internal")
    survey = _survey_or_404(engagement, survey_id)
    cleaned = request.args.get("raw") != "1"
    rows_s = services.screened(survey)
    res = services.results(survey, rows=rows_s, cleaned=cleaned)
    yld = services.survey_yield(db.session, survey, rows_s)
    levels = list(services.LEVELS[:-1])
    rows = []
    groups = [(f"{survey.group_column}={g}", s) for g, s in res.groups.items()]
    for col, s in [*res.items.items(), *([("合计", res.overall)] if res.overall else []), *groups]:
        rows.append(
            [
                col,
                *[s.counts.get(level, 0) for level in levels],
                s.dont_know,
                s.valid,
                s.rate.rate if s.rate else None,
                s.rate.ci_low if s.rate else None,
                s.rate.ci_high if s.rate else None,
                s.index,
            ]
        )
    headers = ["题目", *levels, "不了解", "有效回答", "满意率", "95%下限", "95%上限", "满意度指数"]
    n = len(levels)
    formats = {n + 3: "0.00%", n + 4: "0.00%", n + 5: "0.00%", n + 6: "0.00"}
    notes = _results_notes(res, yld, rows_s, cleaned)
    return send_table(
        "满意度调查统计",
        headers,
        rows,
        f"survey-{survey.id}-results.xlsx",
        formats=formats,
        notes=notes,
    )


def _results_notes(res: Any, yld: Any, rows_s: Any, cleaned: bool) -> list[list[Any]]:
    """The notes under the results table: basis, yield, screening, reliability, weighting."""
    notes = [
        ["口径", "剔除无效问卷后" if cleaned else "全部回收问卷（未剔除）"],
        ["发放数", yld.distributed if yld.distributed is not None else "—"],
        ["回收数", yld.returned],
        ["有效数", yld.valid],
        ["有效率", f"{yld.valid_rate:.2%}" if yld.valid_rate is not None else "—"],
        ["所需样本量（±5%，95%）", res.required],
    ]
    zh_rules = {
        **services.ZH_RULES,
        "override_include": "人工保留（不按规则）",
        "override_exclude": "人工剔除",
        "excluded": "剔除合计",
    }
    notes += [[f"甄别：{zh_rules[k]}", v] for k, v in services.exclusion_log(rows_s).items()]
    for title, alpha, _err in res.alphas:
        if alpha:
            name = "单题满意度题目" if title == services.LIKERT_GROUP else title
            notes.append([f"Cronbach's α {name}".strip(), round(alpha.alpha, 3)])
            notes.append(
                [f"  95%区间（完整答卷 {alpha.n} 份）", f"{alpha.ci[0]:.3f} 至 {alpha.ci[1]:.3f}"]
            )
    if res.stratified:
        st = res.stratified
        notes.append(["按人口加权满意率", f"{st.rate:.2%} ({st.ci_low:.2%}–{st.ci_high:.2%})"])
    return notes


@bp.get("/<int:survey_id>/raw.xlsx")
def raw_xlsx(engagement_id: int, survey_id: int):  # type: ignore[no-untyped-def]
    """The imported responses as they were (no IP addresses: only their hashes are kept)."""
    engagement = get_engagement_or_404(engagement_id, need="internal")
    survey = _survey_or_404(engagement, survey_id)
    cleaned = request.args.get("cleaned") == "1"
    headers, rows = services.raw_table(
        survey, cleaned=cleaned, labels={k: str(v) for k, v in RULE_LABELS.items()}
    )
    name = "有效数据" if cleaned else "原始数据"
    return send_table(
        name, headers, rows, f"survey-{survey.id}-{'cleaned' if cleaned else 'raw'}.xlsx"
    )


def _cleaning_form(survey: Survey) -> CleaningForm:
    """The screening rules' form: the stored rules on a GET, the posted values on a POST."""
    rules = survey.cleaning or {}
    form = CleaningForm(
        data={
            "min_seconds": rules.get("min_seconds"),
            "min_median_fraction": rules.get("min_median_fraction"),
            "straightline": bool(rules.get("straightline")),
            "burst_count": rules.get("burst_count"),
            "burst_minutes": rules.get("burst_minutes", 10),
            "attention": bool(rules.get("attention")),
            "attention_column": next(iter(rules.get("attention_file", {})), ""),
            "attention_expected": next(iter(rules.get("attention_file", {}).values()), ""),
            "key_columns": rules.get("key_columns", []),
            "duplicates": bool(rules.get("duplicates")),
        }
        if request.method == "GET"
        else None
    )
    form.key_columns.choices = pairs([(c, c) for c in survey.columns])
    form.attention_column.choices = pairs([("", "—")] + [(c, c) for c in survey.columns])
    return form


def _rules_of(form: CleaningForm) -> dict[str, Any]:
    return {
        "min_seconds": float(form.min_seconds.data) if form.min_seconds.data else None,
        "min_median_fraction": (
            float(form.min_median_fraction.data) if form.min_median_fraction.data else None
        ),
        "straightline": form.straightline.data,
        "burst_count": form.burst_count.data,
        "burst_minutes": float(form.burst_minutes.data or 10),
        "attention": form.attention.data,
        "attention_file": (
            {form.attention_column.data: form.attention_expected.data}
            if form.attention_column.data and form.attention_expected.data
            else {}
        ),
        "key_columns": form.key_columns.data or [],
        "duplicates": form.duplicates.data,
    }


@bp.route("/<int:survey_id>/cleaning", methods=["GET", "POST"])
def cleaning(engagement_id: int, survey_id: int):  # type: ignore[no-untyped-def]
    """Screening rules, the exclusion log and the flagged responses with overrides."""
    engagement = get_engagement_or_404(engagement_id, need="internal")
    survey = _survey_or_404(engagement, survey_id)
    form = _cleaning_form(survey)
    error = None
    if request.method == "POST":
        engagement = get_engagement_or_404(engagement_id, need="internal_edit")
        if form.validate_on_submit():
            with unit_of_work(form) as work:
                services.save_cleaning(db.session, current_user, survey, _rules_of(form))
            if work.ok:
                flash(_("Screening rules saved and applied."), "success")
                return redirect(
                    url_for("surveys.cleaning", engagement_id=engagement.id, survey_id=survey.id)
                )
            error = work.message
        else:
            error = _form_errors(form)
    rows = services.screened(survey)
    flagged = [r for r in rows if r.reasons or r.response.override]
    return render_template(
        "surveys/cleaning.html",
        engagement=engagement,
        survey=survey,
        form=form,
        error=error,
        log=services.exclusion_log(rows),
        yield_=services.survey_yield(db.session, survey, rows),
        flagged=flagged[:500],
        more=max(0, len(flagged) - 500),
        rules=RULES,
        rule_labels=RULE_LABELS,
        editable=can_edit_engagement(current_user, engagement),
        empty_form=EmptyForm(),
    ), (422 if error else 200)


@bp.post("/<int:survey_id>/responses/<int:response_id>/override")
def override(engagement_id: int, survey_id: int, response_id: int):  # type: ignore[no-untyped-def]
    """Keep or drop one response against the rules (with a reason; audited)."""
    engagement = get_engagement_or_404(engagement_id, need="internal_edit")
    survey = _survey_or_404(engagement, survey_id)
    response = db.session.get(SurveyResponse, response_id)
    if response is None or response.survey_id != survey.id:
        abort(404)
    form = OverrideForm()
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:  # the page expired: nothing to show again
            abort(400)
        flash(_form_errors(form), "danger")
    else:
        with unit_of_work() as work:
            services.set_override(
                db.session, current_user, response, form.decision.data or None, form.note.data or ""
            )
        if work.ok:
            flash(_("Decision saved for response %(n)s.", n=response.row_no), "success")
    return redirect(
        url_for("surveys.cleaning", engagement_id=engagement.id, survey_id=survey.id)
        + f"#r{response.id}"
    )


@bp.get("/<int:survey_id>/results")
def results(engagement_id: int, survey_id: int):  # type: ignore[no-untyped-def]
    """Statistics with charts: per item, pooled, by group, with or without exclusions."""
    engagement = get_engagement_or_404(engagement_id, need="internal")
    survey = _survey_or_404(engagement, survey_id)
    cleaned = request.args.get("raw") != "1"
    rows = services.screened(survey)
    res = services.results(survey, rows=rows, cleaned=cleaned)
    other = services.results(survey, rows=rows, cleaned=not cleaned)
    res.alphas = [
        (
            str(_("Single satisfaction questions")) if title == services.LIKERT_GROUP else title,
            alpha,
            str(CODES.get(f"survey_alpha:{err}", err)) if err else None,
        )
        for title, alpha, err in res.alphas
    ]
    return render_template(
        "surveys/results.html",
        engagement=engagement,
        survey=survey,
        res=res,
        other=other,
        cleaned=cleaned,
        yield_=services.survey_yield(db.session, survey, rows),
        levels=list(services.LEVELS[:-1]),
    )
