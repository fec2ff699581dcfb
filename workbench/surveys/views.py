"""Survey pages: import a 问卷星 export, map its satisfaction items, see the statistics."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from workbench.auth import can_edit_engagement, get_engagement_or_404
from workbench.core.indicators import SurveyMethod
from workbench.core.surveys import WjxFormatError, read_wjx
from workbench.db import db
from workbench.engagements.forms import EmptyForm
from workbench.scoring import services as scoring
from workbench.surveys import services
from workbench.surveys.forms import ImportSurveyForm
from workbench.surveys.models import Survey
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
}


def _survey_or_404(engagement, survey_id: int) -> Survey:  # type: ignore[no-untyped-def]
    survey = db.session.get(Survey, survey_id)
    if survey is None or survey.engagement_id != engagement.id:
        abort(404)
    return survey


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


@bp.route("/", methods=["GET", "POST"])
def index(engagement_id: int):  # type: ignore[no-untyped-def]
    """The engagement's surveys, and the import of a 问卷星 export."""
    engagement = get_engagement_or_404(engagement_id, need="internal")
    form = ImportSurveyForm()
    errors: list[str] = []
    if request.method == "POST":
        engagement = get_engagement_or_404(engagement_id, need="internal_edit")
        if form.validate_on_submit():
            upload = form.file.data
            try:
                data = read_wjx(upload.read(), upload.filename or "export")
                survey = services.import_wjx(
                    db.session,
                    current_user,
                    engagement,
                    data,
                    title=form.title.data,
                    group=form.group.data or "",
                    population=form.population.data,
                    source_name=upload.filename or "",
                    salt=current_app.config["SECRET_KEY"],
                )
                db.session.commit()
            except WjxFormatError as exc:
                db.session.rollback()
                errors.append(_("The file was not imported: %(reason)s", reason=str(exc)))
            except services.SurveyError as exc:
                db.session.rollback()
                errors.append(str(ERRORS[str(exc)]))
            else:
                flash(
                    _(
                        "%(n)s responses imported. Now choose the satisfaction questions.",
                        n=len(survey.responses),
                    ),
                    "success",
                )
                return redirect(
                    url_for("surveys.mapping", engagement_id=engagement.id, survey_id=survey.id)
                )
        else:
            errors += [str(e) for field in form for e in field.errors]
    surveys = db.session.scalars(
        sa.select(Survey).where(Survey.engagement_id == engagement.id).order_by(Survey.id)
    ).all()
    return render_template(
        "surveys/index.html",
        engagement=engagement,
        surveys=surveys,
        form=form,
        errors=errors,
        editable=can_edit_engagement(current_user, engagement),
        results={s.id: services.results(s) for s in surveys},
    ), (422 if errors else 200)


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
        try:
            services.save_mapping(
                db.session,
                current_user,
                survey,
                columns=chosen,
                level_map=level_map,
                leaf_code=request.form.get("leaf_code") or None,
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
        error=error,
        empty_form=EmptyForm(),
    )


@bp.get("/<int:survey_id>/results.xlsx")
def results_xlsx(engagement_id: int, survey_id: int):  # type: ignore[no-untyped-def]
    """The satisfaction summary table of one survey as Excel."""
    engagement = get_engagement_or_404(engagement_id, need="internal")
    survey = _survey_or_404(engagement, survey_id)
    res = services.results(survey)
    levels = list(services.LEVELS[:-1])
    rows = []
    for col, s in [*res.items.items(), *([("合计", res.overall)] if res.overall else [])]:
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
    return send_table(
        "满意度调查统计", headers, rows, f"survey-{survey.id}-results.xlsx", formats=formats
    )


@bp.get("/<int:survey_id>/raw.xlsx")
def raw_xlsx(engagement_id: int, survey_id: int):  # type: ignore[no-untyped-def]
    """The imported responses as they were (no IP addresses: only their hashes are kept)."""
    engagement = get_engagement_or_404(engagement_id, need="internal")
    survey = _survey_or_404(engagement, survey_id)
    headers = ["序号", "提交答卷时间", "所用时间（秒）", "来源", *survey.columns]
    rows = [
        [
            r.row_no,
            r.submitted_at,
            r.duration_s,
            r.channel,
            *[r.answers.get(c, "") for c in survey.columns],
        ]
        for r in survey.responses
    ]
    return send_table("原始数据", headers, rows, f"survey-{survey.id}-raw.xlsx")
