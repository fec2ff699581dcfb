"""The public questionnaire: no login, phone first, one response per person."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from workbench.core.questionnaire import Question, sections
from workbench.core.workflow import FROZEN_STATES
from workbench.db import db, utcnow
from workbench.engagements.models import Engagement
from workbench.error_messages import message_for
from workbench.extensions import limiter
from workbench.surveys import collect, throttle
from workbench.surveys.forms import AnswerForm, answer_form
from workbench.surveys.models import Survey
from workbench.surveys.services import SurveyError, questions_of
from workbench.web import unit_of_work

bp = Blueprint("public_survey", __name__, url_prefix="/s", template_folder="templates")


def _read_key() -> str:
    """Views are counted per browser (its id in the session); before it has one, per address."""
    device = session.get("device")
    return f"survey-read:device:{device}" if device else f"survey-read:{request.remote_addr}"


def _read_limit() -> str:
    per_browser = bool(session.get("device"))
    setting = "SURVEY_READ_RATE_LIMIT" if per_browser else "SURVEY_ADDRESS_READ_RATE_LIMIT"
    return str(current_app.config.get(setting) or "120 per minute")


def _survey(public_token: str) -> Survey:
    survey = collect.survey_for_link(db.session, public_token)
    if survey is None:
        abort(404)
    return survey


def _archived(survey: Survey) -> bool:
    """Whether the survey's engagement is archived (frozen)."""
    state = db.session.scalar(
        sa.select(Engagement.state)
        .join(Survey, Survey.engagement_id == Engagement.id)
        .where(Survey.id == survey.id)
    )
    return state in FROZEN_STATES


def _device_hash(survey: Survey) -> tuple[str, bool]:
    """A random id kept in this browser's (signed) session, hashed per survey; and whether it
    was made just now (then no response can carry it yet)."""
    device = session.get("device")
    new = not device
    if new:
        device = session["device"] = secrets.token_urlsafe(16)
    return collect.salted(current_app.config["SECRET_KEY"], survey.id, device), new


def _started_key(survey: Survey) -> str:
    return f"sv{survey.id}"


def _message(survey: Survey, code: str, status: int = 200):  # type: ignore[no-untyped-def]
    """Why the visitor cannot answer, instead of the form (``code``: the gate's refusal)."""
    message = message_for(SurveyError(code))
    return render_template(
        "surveys/public/message.html", survey=survey, message=message, code=code
    ), status


@bp.route("/<public_token>", methods=["GET", "POST"])
# submissions: surveys/throttle.py, per browser and per survey, counted once stored
@limiter.limit(_read_limit, key_func=_read_key, methods=["GET"], per_method=True)
def answer(public_token: str):  # type: ignore[no-untyped-def]
    """Show the questionnaire, or store the answers and thank the respondent."""
    survey = _survey(public_token)
    if _archived(survey):  # archiving closes every channel: shown closed, nothing stored
        return _message(survey, "closed", 410)
    code = (request.values.get("t") or "").strip()
    device_hash, new_device = _device_hash(survey)
    started_key = _started_key(survey)  # before the commit: survey.id would reload the row
    try:
        # a browser id minted in this request has no response yet: no query for it; nor on a
        # POST, where the unique index on the browser id refuses a second response (submit)
        check = device_hash if not new_device and request.method != "POST" else ""
        token = collect.gate(db.session, survey, device_hash=check, code=code)
    except SurveyError as exc:
        return _message(survey, exc.code, 403 if request.method == "POST" else 200)
    errors: dict[str, str] = {}
    values: dict[str, list[str]] = {}
    questions = questions_of(survey)
    form = answer_form(questions)
    if request.method == "POST":
        # CSRFProtect has checked the token before the view (g.csrf_valid): not twice
        if not g.get("csrf_valid") and not form.validate_on_submit():
            abort(400)
        values = form.answers()
        salt = current_app.config["SECRET_KEY"]
        ip_hash = collect.salted(salt, survey.id, request.remote_addr or "")
        quota = {"device": device_hash, "address": ip_hash}
        survey_id = survey.id
        with unit_of_work(form, commit=False) as work:
            response, errors = collect.submit(
                db.session,
                survey,
                values,
                started_at=_started_at(started_key),
                ip_hash=ip_hash,
                ua_hash=collect.salted(salt, survey.id, request.user_agent.string[:500]),
                device_hash=device_hash,
                code=code,
                gated=(token,),  # just checked above: not twice per answer
                questions=questions,
                admit=lambda: throttle.allows(survey_id, **quota),
            )
        if not work.ok:
            refused = str(work.error)
            if refused == "busy":  # throttled: the answers come back, filled in
                return _form_page(survey, questions, form, {}, values, code, notice=work.message)
            # a second response from this browser is refused as by the gate above
            return _message(survey, refused, 403 if refused == "duplicate" else 409)
        if response is not None:
            # only then: a commit would expire the survey the form below is rendered from
            db.session.commit()
            throttle.count(survey_id, **quota)  # only a stored response counts
            if token is not None:  # this phone may open the next household's code
                session.pop(started_key, None)
            return redirect(url_for("public_survey.thanks", public_token=public_token), 303)
    elif started_key not in session:
        session[started_key] = utcnow().isoformat()
    return _form_page(survey, questions, form, errors, values, code)


def _started_at(started_key: str) -> dt.datetime | None:
    """When this browser opened the questionnaire (kept in its session), if it did."""
    started = session.get(started_key)
    try:
        return dt.datetime.fromisoformat(started) if started else None
    except ValueError:
        return None


def _form_page(  # type: ignore[no-untyped-def]
    survey: Survey,
    questions: Sequence[Question],
    form: AnswerForm,
    errors: dict[str, str],
    values: dict[str, list[str]],
    code: str,
    notice: str = "",
):
    """The questionnaire; ``notice``: throttled, the answers were not stored (429)."""
    return render_template(
        "surveys/public/form.html",
        survey=survey,
        questions=questions,
        sections=sections(questions),
        errors=form.messages(errors),
        values=values,
        code=code,
        preview=False,
        full_groups=_full_groups(survey),
        notice=notice,
    ), (429 if notice else 422 if errors else 200)


def _full_groups(survey: Survey) -> list[str]:
    """Groups whose quota is reached (their option is shown as full): one aggregate query,
    and none when no group has a quota."""
    quotas = {
        group: target["quota"]
        for group, target in (survey.group_targets or {}).items()
        if isinstance(target, dict) and target.get("quota")
    }
    if not survey.group_column or not quotas:
        return []
    counts = collect.group_counts(db.session, survey)
    return [group for group, quota in quotas.items() if counts.get(group, 0) >= quota]


@bp.get("/<public_token>/thanks")
def thanks(public_token: str):  # type: ignore[no-untyped-def]
    title = collect.title_for_link(db.session, public_token)
    if title is None:
        abort(404)
    return render_template("surveys/public/thanks.html", survey={"title": title})
