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
from workbench.core.numbers import clean_text
from workbench.core.questionnaire import (
    DEFAULT_LIKERT,
    QUESTION_TYPES,
    Questionnaire,
    dump_questionnaire,
    sections,
    split_lines,
)
from workbench.core.questionnaire import (
    level_map as level_map_of,
)
from workbench.core.safefiles import UnsafeFile, load_yaml
from workbench.core.surveys import WjxFormatError
from workbench.db import db
from workbench.engagements.access import can_edit_engagement, get_engagement_or_404, owned_or_404
from workbench.engagements.forms import EmptyForm
from workbench.forms import query_int
from workbench.labels import pairs
from workbench.links import external_url
from workbench.scoring import services as scoring
from workbench.storage import StorageError
from workbench.surveys import builder, jobs, services
from workbench.surveys.collect import group_counts
from workbench.surveys.forms import (
    CleaningForm,
    ImportSurveyForm,
    NewSurveyForm,
    PublishForm,
    TokensForm,
)
from workbench.surveys.models import ImportJob, Survey, SurveyResponse
from workbench.xlsx import send_table

bp = Blueprint(
    "surveys",
    __name__,
    url_prefix="/engagements/<int:engagement_id>/surveys",
    template_folder="templates",
)

ERRORS = {
    "no_rows": _l("The export contains no responses."),
    "too_many_rows": _l("The export has more than 100,000 responses."),
    "choose_columns": _l("Choose at least one satisfaction question."),
    "bad_level": _l("Map every answer to one of the levels."),
    "not_a_form": _l("Only questionnaires built here can be edited or published."),
    "has_responses": _l(
        "The questionnaire already has responses: its questions can no longer change."
    ),
    "no_questions": _l("A questionnaire needs at least one question."),
    "bad_questionnaire": _l("The questionnaire file is not valid: %(detail)s"),
    "bad_question": _l("The question was not saved: %(detail)s"),
    "bad_question_n": _l("The question was not saved: %(detail)s"),
    "bad_status": _l("Unknown status."),
    "bad_dates": _l("The closing time must come after the opening time."),
    "bad_group": _l("Choose a question of this survey for the groups."),
    "token_count": _l("Between 1 and 5,000 codes per survey."),
    "bad_column": _l("Unknown question: %(detail)s"),
    "bad_override": _l("Unknown decision."),
    "override_note": _l("Give a reason for the decision."),
    "bad_measure": _l("Unknown measure."),
    "bad_number": _l("Populations and quotas are whole numbers above zero: %(detail)s"),
}
IMPORT_ERRORS = {
    "no_columns": _l("No question column was chosen."),
    "unknown_target": _l("Unknown question: %(column)s"),
    "same_target": _l("Two file columns go to the same question: %(column)s"),
    "no_target": _l("No file column is mapped to a question."),
    "no_rows": _l("The file contains no responses."),
    "too_many_rows": _l("The file has %(n)s rows; at most %(max)s are imported."),
    "huge_cell": _l("Row %(row)s, %(column)s: the cell has %(n)s characters (at most %(max)s)."),
    "bad_answer": _l(
        "Row %(row)s, %(column)s: “%(value)s” is not one of the question's answers (%(allowed)s)."
    ),
    "bad_date": _l("Row %(row)s: the submission time “%(value)s” is not a date."),
    "bad_duration": _l("Row %(row)s: the duration “%(value)s” is not understood."),
    "more": _l("… more errors not listed."),
    "unreadable": _l("The file could not be read: %(reason)s"),
    "unexpected": _l("Unexpected error (%(reason)s); the file was not imported."),
    "interrupted": _l(
        "The import was interrupted: the process running it stopped. Nothing was imported; "
        "discard it and import the file again."
    ),
}
RULE_LABELS = {
    "too_fast": _l("too fast"),
    "too_fast_median": _l("too fast for the median"),
    "straightline": _l("same answer throughout"),
    "burst": _l("burst from one IP/device"),
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


#: the questionnaire model's validation messages as people read them
QUESTION_ERRORS = {
    "a choice question needs at least 2 options": _l("a choice question needs at least 2 options"),
    "options must be different": _l("the options must be different"),
    "a Likert scale needs 5 different labels": _l("a satisfaction scale needs 5 different levels"),
    "a matrix question needs at least 2 items": _l("a matrix question needs at least 2 items"),
    "matrix items must be different": _l("the items of a matrix must be different"),
    "only Likert and matrix questions count as satisfaction items": _l(
        "only scale and matrix questions count towards the satisfaction rate"
    ),
    "the expected answer must be one of the question's choices": _l(
        "the expected answer of an attention check must be one of the question's answers"
    ),
    "the minimum is above the maximum": _l("the minimum is above the maximum"),
    "String should have at least 1 character": _l("a text is empty"),
}
ALPHA_ERRORS = {
    "Cronbach's alpha needs at least 2 complete rows": _l(
        "at least 2 respondents must answer every item"
    ),
    "every respondent gave the same total: alpha is undefined": _l(
        "every respondent gave the same total"
    ),
}


def _error(exc: services.SurveyError) -> str:
    message = str(ERRORS.get(exc.code, exc.code))
    detail = exc.detail
    if exc.code == "bad_question":
        detail = "; ".join(str(QUESTION_ERRORS.get(part, part)) for part in detail.split("; "))
    return message % {"detail": detail} if "%(detail)s" in message else message


def import_errors(job: ImportJob) -> list[str]:
    out = []
    for code, params in job.errors or []:
        message = IMPORT_ERRORS.get(code)
        out.append(str(message) % params if message else code)
    return out


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
    if job.status == "mapping":
        try:
            frame, _flavour = jobs.read_frame(job, nrows=5)
            headers = list(frame.columns)
        except WjxFormatError as exc:
            preview_error = str(exc)
    if request.method == "POST" and job.status == "mapping" and headers:
        if not EmptyForm().validate_on_submit():
            abort(400)
        allowed = {"", "new", *jobs.META_ROLES, *(survey.columns if survey else [])}
        mapping = {}
        for i, header in enumerate(headers):
            target = request.form.get(f"col-{i}", "")
            mapping[header] = target if target in allowed else ""
        claimed = jobs.claim(db.session, job, mapping)
        db.session.commit()
        if claimed:
            jobs.start(current_app._get_current_object(), job)  # type: ignore[attr-defined]
        else:  # a double submit: the first request runs the import, once
            flash(_("This import has already been started; its progress is shown below."), "info")
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


def _question_data(prefix: str) -> dict[str, Any]:
    """The builder's fields of one question as model data."""
    f = {k: clean_text(v) for k, v in request.form.items()}
    data: dict[str, Any] = {
        "type": f.get(f"{prefix}type", "single"),
        "text": f.get(f"{prefix}text", ""),
        "required": bool(f.get(f"{prefix}required")),
        "section": f.get(f"{prefix}section", ""),
        "help": f.get(f"{prefix}help", ""),
        "dont_know": bool(f.get(f"{prefix}dont_know")),
        "satisfaction": bool(f.get(f"{prefix}satisfaction")),
        "expected": f.get(f"{prefix}expected", ""),
    }
    if data["type"] in ("single", "multiple"):
        data["options"] = split_lines(f.get(f"{prefix}options", ""))
    if data["type"] in ("likert", "matrix"):
        data["labels"] = split_lines(f.get(f"{prefix}labels", "")) or list(DEFAULT_LIKERT)
    if data["type"] == "matrix":
        data["items"] = split_lines(f.get(f"{prefix}items", ""))
    if data["type"] == "number":
        for key in ("minimum", "maximum"):
            raw = f.get(f"{prefix}{key}", "").strip()
            if raw:
                try:
                    data[key] = float(raw)
                except ValueError:
                    raise services.SurveyError("bad_question", raw) from None
    return data


@bp.route("/<int:survey_id>/build", methods=["GET", "POST"])
def build(engagement_id: int, survey_id: int):  # type: ignore[no-untyped-def]
    """Edit the questions: add, change, move, remove; upload or download as YAML."""
    engagement = get_engagement_or_404(engagement_id, need="internal_edit")
    survey = _survey_or_404(engagement, survey_id)
    if survey.kind != "form":
        return redirect(
            url_for("surveys.mapping", engagement_id=engagement.id, survey_id=survey.id)
        )
    error = None
    if request.method == "POST":
        if not EmptyForm().validate_on_submit():
            abort(400)
        action = request.form.get("action", "")
        questions = builder.questions_of(survey)
        try:
            if action == "upload":
                upload = request.files.get("file")
                try:
                    data = load_yaml(upload.read() if upload else b"")
                except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as exc:
                    raise services.SurveyError("bad_questionnaire", str(exc)[:200]) from exc
                builder.replace_from_data(db.session, current_user, survey, data)
            elif action == "add":
                qtype = request.form.get("new_type", "single")
                if qtype not in QUESTION_TYPES:
                    abort(400)
                defaults: dict[str, Any] = {"type": qtype, "text": _("New question")}
                if qtype in ("single", "multiple"):
                    defaults["options"] = [_("Option 1"), _("Option 2")]
                if qtype == "matrix":
                    defaults["items"] = [_("Item 1"), _("Item 2"), _("Item 3")]
                    defaults["satisfaction"] = True
                if qtype == "likert":
                    defaults["satisfaction"] = True
                questions.append(builder.question_from_form(defaults))
                builder.set_questions(db.session, current_user, survey, questions, f"add {qtype}")
            else:
                verb, _sep, index = action.partition("-")
                i = int(index) if index.isdigit() else -1
                if not 0 <= i < len(questions):
                    abort(400)
                if verb == "save":
                    try:
                        questions[i] = builder.question_from_form(_question_data(f"q{i}-"))
                    except services.SurveyError as exc:
                        exc.detail = f"Q{i + 1}: " + "; ".join(
                            str(QUESTION_ERRORS.get(p, p)) for p in exc.detail.split("; ")
                        )
                        exc.code = "bad_question_n"
                        raise
                elif verb == "delete":
                    del questions[i]
                elif verb == "up" and i > 0:
                    questions[i - 1], questions[i] = questions[i], questions[i - 1]
                elif verb == "down" and i < len(questions) - 1:
                    questions[i + 1], questions[i] = questions[i], questions[i + 1]
                builder.set_questions(
                    db.session, current_user, survey, questions, f"{verb} Q{i + 1}"
                )
            db.session.commit()
        except services.SurveyError as exc:
            db.session.rollback()
            error = _error(exc)
        else:
            flash(_("Questionnaire saved."), "success")
            verb, _sep, anchor = request.form.get("action", "").partition("-")
            if anchor.isdigit() and verb in ("up", "down"):  # follow the moved question
                anchor = str(int(anchor) + (-1 if verb == "up" else 1))
            return redirect(
                url_for("surveys.build", engagement_id=engagement.id, survey_id=survey.id)
                + (f"#question-{anchor}" if anchor.isdigit() else "")
            )
    questions = builder.questions_of(survey)
    return render_template(
        "surveys/build.html",
        engagement=engagement,
        survey=survey,
        questions=questions,
        types=TYPE_LABELS,
        error=error,
        locked=bool(survey.responses),
        empty_form=EmptyForm(),
    ), (422 if error else 200)


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
    form = PublishForm(obj=survey)
    form.group_column.choices = pairs([("", _("(no groups)"))] + [(c, c) for c in survey.columns])
    error = None
    if request.method == "POST":
        engagement = get_engagement_or_404(engagement_id, need="internal_edit")
        if form.validate_on_submit():
            targets: dict[str, dict[str, int | None]] = {}
            bad: list[str] = []
            for i, group in enumerate(builder.group_choices(survey)):
                targets[group] = {}
                for key in ("population", "quota"):
                    raw = request.form.get(f"{key}-{i}", "")
                    targets[group][key] = _int(raw)
                    if raw.strip() and targets[group][key] is None:
                        bad.append(f"{group}: {raw.strip()[:20]}")
            try:
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
                db.session.commit()
            except services.SurveyError as exc:
                db.session.rollback()
                error = _error(exc)
            else:
                flash(_("Collection settings saved."), "success")
                return redirect(
                    url_for("surveys.publish", engagement_id=engagement.id, survey_id=survey.id)
                )
        else:
            error = "; ".join(str(e) for field in form for e in field.errors)
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
        groups=builder.group_choices(survey),
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
        try:
            batch = builder.issue_tokens(
                db.session,
                current_user,
                survey,
                count=form.count.data or 0,
                labels=split_lines(form.labels.data or ""),
            )
            db.session.commit()
        except services.SurveyError as exc:
            db.session.rollback()
            flash(_error(exc), "danger")
        else:
            flash(_("%(n)s codes generated.", n=len(batch)), "success")
    else:
        flash("; ".join(str(e) for field in form for e in field.errors), "danger")
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


@bp.route("/<int:survey_id>/mapping", methods=["GET", "POST"])
def mapping(engagement_id: int, survey_id: int):  # type: ignore[no-untyped-def]
    """Choose the satisfaction items, map the answers to levels, link the indicator."""
    engagement = get_engagement_or_404(engagement_id, need="internal_edit")
    survey = _survey_or_404(engagement, survey_id)
    chosen = (
        request.form.getlist("columns")
        if request.method == "POST"
        else (survey.satisfaction_columns or [c for c in survey.columns if "满意" in c])
    )
    answers = services.distinct_answers(survey, chosen or survey.columns[:1])[:60]
    error = None
    if request.method == "POST" and request.form.get("action") == "save":
        if not EmptyForm().validate_on_submit():
            abort(400)
        level_map = {a: request.form.get(f"level-{i}", "") for i, a in enumerate(answers)}
        if survey.kind == "form":  # the questionnaire's own scales are known
            level_map = {
                **level_map_of(builder.questions_of(survey)),
                **{k: v for k, v in level_map.items() if v},
            }
        try:
            services.save_mapping(
                db.session,
                current_user,
                survey,
                columns=chosen,
                level_map=level_map,
                leaf_code=request.form.get("leaf_code") or None,
                leaf_measure=request.form.get("leaf_measure", "rate"),
                leaf_group=request.form.get("leaf_group") or None,
            )
            db.session.commit()
        except services.SurveyError as exc:
            db.session.rollback()
            error = str(ERRORS[str(exc)])
        else:
            flash(_("Mapping saved."), "success")
            return redirect(url_for("surveys.index", engagement_id=engagement.id))
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
    return send_table(
        "满意度调查统计",
        headers,
        rows,
        f"survey-{survey.id}-results.xlsx",
        formats=formats,
        notes=notes,
    )


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


@bp.route("/<int:survey_id>/cleaning", methods=["GET", "POST"])
def cleaning(engagement_id: int, survey_id: int):  # type: ignore[no-untyped-def]
    """Screening rules, the exclusion log and the flagged responses with overrides."""
    engagement = get_engagement_or_404(engagement_id, need="internal")
    survey = _survey_or_404(engagement, survey_id)
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
    error = None
    if request.method == "POST":
        engagement = get_engagement_or_404(engagement_id, need="internal_edit")
        if form.validate_on_submit():
            new_rules: dict[str, Any] = {
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
            try:
                services.save_cleaning(db.session, current_user, survey, new_rules)
                db.session.commit()
            except services.SurveyError as exc:
                db.session.rollback()
                error = _error(exc)
            else:
                flash(_("Screening rules saved and applied."), "success")
                return redirect(
                    url_for("surveys.cleaning", engagement_id=engagement.id, survey_id=survey.id)
                )
        else:
            error = "; ".join(str(e) for field in form for e in field.errors)
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
    if response is None or response.survey_id != survey.id or not EmptyForm().validate_on_submit():
        abort(404 if response is None or response.survey_id != survey.id else 400)
    decision = request.form.get("decision") or None
    try:
        services.set_override(
            db.session, current_user, response, decision, clean_text(request.form.get("note", ""))
        )
        db.session.commit()
    except services.SurveyError as exc:
        db.session.rollback()
        flash(_error(exc), "danger")
    else:
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
            str(ALPHA_ERRORS.get(err, err)) if err else None,
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
