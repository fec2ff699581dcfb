"""Indicator system and scores pages."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy.orm.exc import StaleDataError

from workbench.accounts.models import Role
from workbench.core import weights as core_weights
from workbench.core.budget import Denominator, RateKind
from workbench.core.evaluation import EngagementResult, Source, points
from workbench.core.goals import GoalNature, split_value
from workbench.core.indicators import (
    ChecklistMethod,
    DeductionMethod,
    InvalidTemplate,
    RatioFormula,
    RatioMethod,
    Template,
    dump_yaml,
)
from workbench.core.messages import N_
from workbench.core.numbers import to_decimal
from workbench.core.scoring import (
    Finding,
    InvalidInput,
    LeafInput,
    LeafStatus,
    QualitativeLevel,
    score_leaf,
)
from workbench.core.weights import RI_CN, RI_SAATY
from workbench.db import db
from workbench.engagements.access import can_edit_engagement, get_engagement_or_404
from workbench.engagements.forms import EmptyForm
from workbench.engagements.hub import hub
from workbench.labels import choices, label, pairs
from workbench.scoring import frames, method_forms, services, spreadsheet, template_order
from workbench.scoring.forms import (
    AddLeafForm,
    InstantiateForm,
    LeafInputForm,
    NodeForm,
    RemoveNodeForm,
    UploadTemplateForm,
    ahp_weights_form,
    child_pairs,
    direct_weights_form,
    entropy_weights_form,
    group_ahp_weights_form,
)
from workbench.scoring.models import CustomTemplate
from workbench.web import unit_of_work

bp = Blueprint(
    "scoring", __name__, url_prefix="/engagements/<int:engagement_id>", template_folder="templates"
)
library = Blueprint("templates_library", __name__, url_prefix="/scoring-templates")

ERRORS = {
    "scores_exist": _l("Scores have already been recorded; tick “Replace” to start again."),
    "no_system": _l("Choose an indicator system first."),
    "not_a_leaf": _l("Only leaf indicators are scored."),
    "stale": _l(
        "Someone else saved this indicator after you opened it. Your values were not "
        "saved; the current ones are shown."
    ),
    "parent_is_leaf": _l("A leaf indicator cannot have children."),
    "donor_not_sibling": _l("The points must come from an indicator at the same level."),
    "donor_too_small": _l("That indicator has too few points to give."),
    "receiver_not_sibling": _l("The points must go to an indicator at the same level."),
    "code_is_bundled": _l("A bundled template already uses this code; change “code” in the file."),
    "code_taken": _l(
        "The library already has a template with this code; remove it first or "
        "change “code” in the file."
    ),
}
METHOD_LABELS = {
    "target": _l("Target vs actual"),
    "ratio": _l("Rate"),
    "qualitative": _l("Qualitative"),
    "deduction": _l("Deductions"),
    "checklist": _l("Checklist"),
    "expert": _l("Expert panel"),
    "survey": _l("Survey"),
    "manual": _l("Evaluator's score"),
}
#: a leaf's status as the scores page prints it (zh: core.evaluation.STATUS_ZH)
STATUS_LABELS = {
    LeafStatus.UNASSESSED: _l("Not yet assessed"),
    LeafStatus.NOT_APPLICABLE: _l("n/a"),
    LeafStatus.INVALID: _l("Value does not fit the scoring method"),
}
#: where a leaf's value came from (zh: core.evaluation.SOURCE_ZH)
SOURCE_LABELS = {
    Source.ENTERED: _l("Entered by the evaluation team"),
    Source.PANEL: _l("Expert panel's scores"),
    Source.SURVEY: _l("Satisfaction survey"),
    Source.BUDGET: _l("Funds table"),
    Source.GOAL: _l("Performance goal table"),
    Source.NONE: "—",
}
LEVEL_LABELS = {
    QualitativeLevel.ACHIEVED: _l("Achieved (80–100%)"),
    QualitativeLevel.PARTIAL: _l("Partly achieved (60–80%)"),
    QualitativeLevel.NOT_ACHIEVED: _l("Not achieved (0–60%)"),
}


def _message(exc: Exception) -> str:
    return str(ERRORS.get(str(exc), str(exc)))


def _system_or_redirect(engagement):  # type: ignore[no-untyped-def]
    system = services.system_of(db.session, engagement)
    if system is None:
        flash(str(ERRORS["no_system"]), "info")
    return system


# --- the indicator system ---------------------------------------------------------------------


@bp.get("/indicators")
@login_required
def system(engagement_id: int):  # type: ignore[no-untyped-def]
    """The engagement's indicator tree, or the choice of a template to start from."""
    engagement = get_engagement_or_404(engagement_id, need="internal")
    current = services.system_of(db.session, engagement)
    templates = services.all_templates(db.session)
    form = InstantiateForm()
    form.template.choices = pairs(
        [(c, t.name) for c, t in template_order.ordered(templates, engagement.kind)]
    )
    template = services.template_of(current) if current else None
    return render_template(
        "scoring/system.html",
        engagement=engagement,
        system=current,
        template=template,
        rows=_tree_rows(template) if template else [],
        form=form,
        upload_form=UploadTemplateForm(),
        editable=can_edit_engagement(current_user, engagement),
        method_labels=METHOD_LABELS,
    )


def _tree_rows(template: Template) -> list[dict[str, Any]]:
    rows = []
    for depth, node in template.walk():
        rows.append(
            {"depth": depth, "node": node, "method": node.method.type if node.method else None}
        )
    return rows


def _instantiate(engagement, template: Template, replace: bool):  # type: ignore[no-untyped-def]
    try:
        services.instantiate(db.session, current_user, engagement, template, replace=replace)
        db.session.commit()
    except services.ScoringError as exc:
        db.session.rollback()
        flash(_message(exc), "danger")
    else:
        flash(_("Indicator system “%(name)s” set up.", name=template.name), "success")


@bp.post("/indicators/instantiate")
@login_required
def instantiate(engagement_id: int):  # type: ignore[no-untyped-def]
    """Copy a bundled template into the engagement."""
    engagement = get_engagement_or_404(engagement_id, need="internal_edit")
    form = InstantiateForm()
    templates = services.all_templates(db.session)
    form.template.choices = pairs([(c, t.name) for c, t in templates.items()])
    if not form.validate_on_submit():
        abort(400)
    _instantiate(engagement, templates[form.template.data], form.replace.data)
    return redirect(url_for("scoring.system", engagement_id=engagement.id))


@bp.post("/indicators/upload")
@login_required
def upload(engagement_id: int):  # type: ignore[no-untyped-def]
    """Start from an uploaded YAML or Excel template (checked; every error listed)."""
    engagement = get_engagement_or_404(engagement_id, need="internal_edit")
    form = UploadTemplateForm()
    if not form.validate_on_submit():
        for error in form.file.errors:
            flash(str(error), "danger")
        return redirect(url_for("scoring.system", engagement_id=engagement.id))
    upload = form.file.data
    name = upload.filename or "template"
    try:
        template = spreadsheet.read_template(upload.read(), name)
    except InvalidTemplate as exc:
        flash(
            _("The template was not accepted:") + " " + "; ".join(str(e) for e in exc.errors[:20]),
            "danger",
        )
        return redirect(url_for("scoring.system", engagement_id=engagement.id))
    _instantiate(engagement, template, form.replace.data)
    return redirect(url_for("scoring.system", engagement_id=engagement.id))


@bp.get("/indicators.<any(yaml, xlsx):fmt>")
@login_required
def download_system(engagement_id: int, fmt: str):  # type: ignore[no-untyped-def]
    """The engagement's indicator system as YAML or Excel."""
    engagement = get_engagement_or_404(engagement_id, need="internal")
    current = services.system_of(db.session, engagement)
    if current is None:
        abort(404)
    return _send_template(
        services.template_of(current), fmt, f"engagement-{engagement.id}-indicators"
    )


def _send_template(template: Template, fmt: str, stem: str) -> Response:
    if fmt == "yaml":
        return Response(
            dump_yaml(template),
            mimetype="application/x-yaml",
            headers={"Content-Disposition": f'attachment; filename="{stem}.yaml"'},
        )
    return spreadsheet.send_template_xlsx(template, f"{stem}.xlsx")


@library.get("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    """The firm's template library: bundled and uploaded indicator systems."""
    if not current_user.is_staff:
        abort(404)
    custom = db.session.scalars(
        sa.select(CustomTemplate)
        .where(CustomTemplate.is_active.is_(True))
        .order_by(CustomTemplate.name)
    ).all()
    return render_template(
        "scoring/library.html",
        bundled=services.bundled_templates(),
        custom=custom,
        form=UploadTemplateForm(),
        empty_form=EmptyForm(),
        can_upload=current_user.role in (Role.ADMIN, Role.EVALUATOR),
        parsed={c.code: services.custom_templates(db.session).get(c.code) for c in custom},
    )


@library.post("/")
@login_required
def upload_library():  # type: ignore[no-untyped-def]
    """Add an uploaded template (YAML or Excel) to the firm's library."""
    if current_user.role not in (Role.ADMIN, Role.EVALUATOR):
        abort(404)
    form = UploadTemplateForm()
    if not form.validate_on_submit():
        for error in form.file.errors:
            flash(str(error), "danger")
        return redirect(url_for("templates_library.index"))
    upload = form.file.data
    try:
        template = spreadsheet.read_template(upload.read(), upload.filename or "template")
        services.add_custom_template(db.session, current_user, template)
        db.session.commit()
    except InvalidTemplate as exc:
        db.session.rollback()
        flash(
            _("The template was not accepted:") + " " + "; ".join(str(e) for e in exc.errors[:20]),
            "danger",
        )
    except services.ScoringError as exc:
        db.session.rollback()
        flash(_message(exc), "danger")
    else:
        flash(_("Template “%(name)s” added to the library.", name=template.name), "success")
    return redirect(url_for("templates_library.index"))


@library.post("/<code>/retire")
@login_required
def retire(code: str):  # type: ignore[no-untyped-def]
    """Remove an uploaded template from the library."""
    if current_user.role not in (Role.ADMIN, Role.EVALUATOR):
        abort(404)
    row = db.session.scalar(
        sa.select(CustomTemplate).where(
            CustomTemplate.code == code, CustomTemplate.is_active.is_(True)
        )
    )
    if row is None:
        abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400)
    services.retire_custom_template(db.session, current_user, row)
    db.session.commit()
    flash(_("Template removed from the library."), "success")
    return redirect(url_for("templates_library.index"))


@library.get("/<code>.<any(yaml, xlsx):fmt>")
@login_required
def download_bundled(code: str, fmt: str):  # type: ignore[no-untyped-def]
    """A bundled or uploaded template as YAML or Excel."""
    if not current_user.is_staff:
        abort(404)
    template = services.all_templates(db.session).get(code)
    if template is None:
        abort(404)
    return _send_template(template, fmt, code)


@bp.route("/indicators/<code>/edit", methods=["GET", "POST"])
@login_required
def edit_node(engagement_id: int, code: str):  # type: ignore[no-untyped-def]
    """Edit an indicator's texts and scoring method."""
    engagement = get_engagement_or_404(engagement_id, need="internal_edit")
    current = _system_or_redirect(engagement)
    if current is None:
        return redirect(url_for("scoring.system", engagement_id=engagement.id))
    template = services.template_of(current)
    try:
        node = template.find(code)
    except KeyError:
        abort(404)
    form = NodeForm(obj=node)
    mform = method_forms.build(node, engagement.goals, _posted()) if node.is_leaf else None
    siblings = _siblings(template, code)
    add_form, remove_form = AddLeafForm(prefix="add"), RemoveNodeForm(prefix="remove")
    remove_form.give_to.choices = pairs([(n.code, f"{n.code} {n.name}") for n in siblings])
    if node.children:
        add_form.take_from.choices = pairs(
            [(c.code, f"{c.code} {c.name} ({c.weight})") for c in node.children]
        )
    if form.validate_on_submit():
        method = method_forms.take(form, mform, node) if mform is not None else None
        if not form.errors:
            with unit_of_work(form) as work:
                services.update_node(
                    db.session,
                    current_user,
                    current,
                    code,
                    {k: getattr(form, k).data for k in services.NODE_TEXT_FIELDS},
                    method,
                )
            if work.ok:
                flash(_("Indicator saved."), "success")
                method_forms.announce(mform)
                _warn_about_dropped_scores(engagement)
                return redirect(
                    url_for("scoring.system", engagement_id=engagement.id) + f"#node-{code}"
                )
    return render_template(
        "scoring/node.html",
        engagement=engagement,
        node=node,
        form=form,
        mform=mform,
        add_form=add_form,
        remove_form=remove_form,
        siblings=siblings,
    )


def _posted() -> Any:
    return request.form if request.method == "POST" else None


def _siblings(template: Template, code: str) -> list[Any]:
    for _depth, node in template.walk():
        if any(c.code == code for c in node.children):
            return [c for c in node.children if c.code != code]
    return [n for n in template.indicators if n.code != code]


@bp.post("/indicators/<code>/children")
@login_required
def add_child(engagement_id: int, code: str):  # type: ignore[no-untyped-def]
    """Add an indicator under ``code``."""
    engagement = get_engagement_or_404(engagement_id, need="internal_edit")
    current = _system_or_redirect(engagement) or abort(404)
    template = services.template_of(current)
    try:
        node = template.find(code)
    except KeyError:
        abort(404)
    form = AddLeafForm(prefix="add")
    form.take_from.choices = pairs([(c.code, c.code) for c in node.children])
    if not form.validate_on_submit():
        flash(
            "; ".join(
                f"{getattr(form, k).label.text}: {', '.join(map(str, v))}"
                for k, v in form.errors.items()
            ),
            "danger",
        )
    else:
        try:
            services.add_leaf(
                db.session,
                current_user,
                current,
                code,
                form.code.data,
                form.name.data,
                form.weight.data,
                form.take_from.data,
            )
            db.session.commit()
        except services.ScoringError as exc:
            db.session.rollback()
            flash(_message(exc), "danger")
        else:
            flash(_("Indicator added."), "success")
            _warn_about_dropped_scores(engagement)
    return redirect(url_for("scoring.system", engagement_id=engagement.id))


@bp.post("/indicators/<code>/delete")
@login_required
def remove(engagement_id: int, code: str):  # type: ignore[no-untyped-def]
    """Remove an indicator; its points go to a sibling."""
    engagement = get_engagement_or_404(engagement_id, need="internal_edit")
    current = _system_or_redirect(engagement) or abort(404)
    template = services.template_of(current)
    form = RemoveNodeForm(prefix="remove")
    form.give_to.choices = pairs([(n.code, n.code) for n in _siblings(template, code)])
    if not form.validate_on_submit():
        flash(_("Choose the indicator that receives the points."), "danger")
        return redirect(url_for("scoring.edit_node", engagement_id=engagement.id, code=code))
    try:
        services.remove_node(db.session, current_user, current, code, form.give_to.data)
        db.session.commit()
    except (services.ScoringError, KeyError) as exc:
        db.session.rollback()
        flash(_message(exc), "danger")
    else:
        flash(_("Indicator removed."), "success")
    return redirect(url_for("scoring.system", engagement_id=engagement.id))


def _weights_target(engagement: Any, code: str | None) -> tuple[Any, list[Any], Decimal, str]:
    """Load the indicator system and the children whose points are set (404 if none)."""
    current = _system_or_redirect(engagement) or abort(404)
    template = services.template_of(current)
    if code is None:
        return current, template.indicators, template.total, template.name
    try:
        parent = template.find(code)
    except KeyError:
        abort(404)
    if not parent.children:
        abort(404)
    return current, parent.children, parent.weight, f"{code} {parent.name}"


def _weight_forms(
    children: list[Any], points: Decimal, note: dict[str, Any] | None, posted: Any = None
) -> dict[str, Any]:
    """The four forms of the points page; the posted one (``posted``: its mode) reads the
    request, the others show the stored state (AHP, group AHP: the applied judgments)."""
    applied = core_weights.applied_judgments(note, [c.code for c in children])
    factories = {
        "direct": lambda **kw: direct_weights_form(children, points, **kw),
        "ahp": lambda **kw: ahp_weights_form(children, applied, **kw),
        "group_ahp": lambda **kw: group_ahp_weights_form(
            children, core_weights.applied_group_judgments(note), **kw
        ),
        "entropy": lambda **kw: entropy_weights_form(children, **kw),
    }
    return {
        mode: make() if mode == posted else make(formdata=None) for mode, make in factories.items()
    }


def _weights_page(engagement, code, forms, derived=None, errors=()):  # type: ignore[no-untyped-def]
    """Render the points page (GET, a calculation, or a refusal with the values typed)."""
    current, children, points, title = _weights_target(engagement, code)
    return render_template(
        "scoring/weights.html",
        engagement=engagement,
        children=children,
        points=points,
        title=title,
        code=code,
        forms=forms,
        result=derived.ahp if derived else None,
        entropy=derived.entropy if derived else None,
        proposal=services.scale_to_points(derived.shares, points) if derived else None,
        errors=[*errors, *(e for f in forms.values() for e in f.form_errors)],
        pairs=child_pairs(children),
        note_labels={
            "direct": _("entered directly"),
            "ahp": "AHP",
            "group_ahp": _("group AHP"),
            "entropy": _("entropy weights"),
        },
        ri_saaty=",".join(str(x) for x in RI_SAATY),
        ri_cn=",".join(str(x) for x in RI_CN),
        note=(current.weight_notes or {}).get(code or "_top"),
    )


@bp.get("/indicators/weights", defaults={"code": None})
@bp.get("/indicators/<code>/weights")
@login_required
def weights(engagement_id: int, code: str | None):  # type: ignore[no-untyped-def]
    """The points of an indicator's children: entered directly or derived (AHP, entropy)."""
    engagement = get_engagement_or_404(engagement_id, need="internal_edit")
    if _system_or_redirect(engagement) is None:
        return redirect(url_for("scoring.system", engagement_id=engagement.id))
    current, children, points, _title = _weights_target(engagement, code)
    note = (current.weight_notes or {}).get(code or "_top")
    return _weights_page(engagement, code, _weight_forms(children, points, note))


def _posted_weights(engagement_id: int, code: str | None, mode: str):  # type: ignore[no-untyped-def]
    """Load, check and validate a POST of the points page: (engagement, system, children,
    points, forms, the posted form or None when it failed validation)."""
    engagement = get_engagement_or_404(engagement_id, need="internal_edit")
    current, children, points, _title = _weights_target(engagement, code)
    note = (current.weight_notes or {}).get(code or "_top")
    forms = _weight_forms(children, points, note, posted=mode)
    form = forms[mode]
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            abort(400)
        for name, messages in form.errors.items():
            # a field's last message is its own check, which names the indicator or pair
            if name is not None and messages and messages[-1] not in form.form_errors:
                form.form_errors.append(messages[-1])
        form = None
    return engagement, current, children, points, forms, form


def _apply_weights(engagement, current, code, points, forms, derived, form):  # type: ignore[no-untyped-def]
    """Save the points (audited, data revision bumped by the service); on a refusal show the
    page again with the reason and the values typed."""
    weights = derived if isinstance(derived, dict) else None
    if weights is None:
        weights = services.scale_to_points(derived.shares, points)
    note = {"method": "direct"} if isinstance(derived, dict) else derived.note
    with unit_of_work(form) as work:
        services.set_child_weights(db.session, current_user, current, code, weights, note)
    if not work.ok:
        return _weights_page(
            engagement, code, forms, None if isinstance(derived, dict) else derived
        )
    flash(_("Points saved."), "success")
    _warn_about_dropped_scores(engagement)
    return redirect(url_for("scoring.system", engagement_id=engagement.id))


@bp.post("/indicators/weights/direct", defaults={"code": None})
@bp.post("/indicators/<code>/weights/direct")
@login_required
def weights_direct(engagement_id: int, code: str | None):  # type: ignore[no-untyped-def]
    """Save points entered directly."""
    engagement, current, _children, points, forms, form = _posted_weights(
        engagement_id, code, "direct"
    )
    if form is None:
        return _weights_page(engagement, code, forms)
    return _apply_weights(engagement, current, code, points, forms, form.entered(), form)


def _derive(mode: str, codes: list[str], form: Any) -> core_weights.DerivedWeights:
    if mode == "ahp":
        return core_weights.weights_by_ahp(codes, form.upper(), form.ri.data)
    if mode == "group_ahp":
        return core_weights.weights_by_group_ahp(codes, form.judgments, form.ri.data)
    return core_weights.weights_by_entropy(codes, form.table, form.directions())


def _refusal(derived: core_weights.DerivedWeights, applying: bool) -> str | None:
    """Why derived weights cannot be used (entropy without information) or applied (CR)."""
    if derived.constant:
        return _(
            "%(codes)s: the same value in every row, so no information "
            "and no points; entropy weights cannot be used here.",
            codes="、".join(derived.constant),
        )
    if applying and derived.ahp is not None and not derived.ahp.consistent:
        return _(
            "CR = %(cr).3f is not below 0.10: revise the judgments before applying.",
            cr=derived.ahp.cr,
        )
    return None


def _derived_weights(engagement_id: int, code: str | None, mode: str):  # type: ignore[no-untyped-def]
    """Calculate (and with “Apply”, save) points derived by ``mode``."""
    engagement, current, children, points, forms, form = _posted_weights(engagement_id, code, mode)
    if form is None:
        return _weights_page(engagement, code, forms)
    try:
        derived = _derive(mode, [c.code for c in children], form)
    except (ValueError, ZeroDivisionError) as exc:  # InvalidMatrix is a ValueError
        return _weights_page(engagement, code, forms, errors=[str(exc)])
    refusal = _refusal(derived, form.applying)
    if refusal is not None:
        shown = None if derived.constant else derived
        return _weights_page(engagement, code, forms, shown, errors=[refusal])
    if not form.applying:
        return _weights_page(engagement, code, forms, derived)
    return _apply_weights(engagement, current, code, points, forms, derived, form)


@bp.post("/indicators/weights/ahp", defaults={"code": None})
@bp.post("/indicators/<code>/weights/ahp")
@login_required
def weights_ahp(engagement_id: int, code: str | None):  # type: ignore[no-untyped-def]
    """Points by AHP from one set of pairwise judgments."""
    return _derived_weights(engagement_id, code, "ahp")


@bp.post("/indicators/weights/group-ahp", defaults={"code": None})
@bp.post("/indicators/<code>/weights/group-ahp")
@login_required
def weights_group_ahp(engagement_id: int, code: str | None):  # type: ignore[no-untyped-def]
    """Points by group AHP from several experts' judgments."""
    return _derived_weights(engagement_id, code, "group_ahp")


@bp.post("/indicators/weights/entropy", defaults={"code": None})
@bp.post("/indicators/<code>/weights/entropy")
@login_required
def weights_entropy(engagement_id: int, code: str | None):  # type: ignore[no-untyped-def]
    """Points by the entropy weight method from a pasted table."""
    return _derived_weights(engagement_id, code, "entropy")


def _result(engagement) -> EngagementResult | None:  # type: ignore[no-untyped-def]
    """The engagement's one evaluated result (``workbench.evaluation.result_of``, handed in by
    the app factory: the scores pages sit below the evaluation layer)."""
    result: EngagementResult | None = hub().result_of(db.session, engagement)
    return result


def _warn_about_dropped_scores(engagement) -> None:  # type: ignore[no-untyped-def]
    """After a change to the tree, say which recorded scores no longer fit."""
    result = _result(engagement)
    if result is not None and result.invalid:
        flash(
            _(
                "Recorded values of %(codes)s no longer fit their (edited) scoring method and "
                "are left out; enter them again.",
                codes="、".join(result.invalid),
            ),
            "warning",
        )


# --- scores -----------------------------------------------------------------------------------


@bp.get("/scores")
@login_required
def scores(engagement_id: int):  # type: ignore[no-untyped-def]
    """Every leaf's status, source, score, 得分率, 评分标准 and reasons (the engine's and the
    evaluator's); subtotals; total (with its conversion); grade; robustness. Everything printed
    comes from the engagement's one evaluated result, with its formatters."""
    engagement = get_engagement_or_404(engagement_id, need="internal")
    result = _result(engagement)
    if result is None:
        flash(str(ERRORS["no_system"]), "info")
        return redirect(url_for("scoring.system", engagement_id=engagement.id))
    return render_template(
        "scoring/scores.html",
        engagement=engagement,
        r=result,
        criteria=spreadsheet.criteria_of(result),
        waiting=[result.node(c) for c in result.unassessed],
        robust=result.sensitivity,
        points=points,
        method_labels=METHOD_LABELS,
        status_labels=STATUS_LABELS,
        source_labels=SOURCE_LABELS,
        editable=can_edit_engagement(current_user, engagement),
    )


@bp.get("/scores.xlsx")
@login_required
def scores_xlsx(engagement_id: int):  # type: ignore[no-untyped-def]
    """The 指标体系评分表 as Excel, levels as merged cells."""
    engagement = get_engagement_or_404(engagement_id, need="internal")
    result = _result(engagement)
    if result is None:
        abort(404)
    return spreadsheet.send_scores_xlsx(
        engagement, result, f"engagement-{engagement.id}-scores.xlsx"
    )


def _decimal(text: str | None, scale: Decimal = Decimal(1)) -> Decimal | None:
    value = to_decimal(text)
    return None if value is None else value / scale


def _percent(text: str | None) -> Decimal | None:
    """ "87.4", "87.4%" or "87.4 %" → 0.874."""
    value, _unit = split_value(text) if text and text.strip() else (None, None)
    return None if value is None else value / 100


def _leaf_input_from_form(form: LeafInputForm, node: Any) -> LeafInput:
    findings = []
    for line in (form.findings.data or "").replace("｜", "|").splitlines():
        if not line.strip():
            continue
        text, sep, points = line.rpartition("|")
        default = getattr(node.method, "default_points", None)
        if not sep:
            if default is None:
                raise InvalidInput(
                    N_("Write each finding as “description | points”: {line}"), line=line
                )
            text, value = line, default  # the template's usual deduction per finding
        else:
            value = to_decimal(points.strip().removesuffix("分").strip()) or Decimal(0)
        findings.append(Finding(text.strip(), value))
    met = None
    if isinstance(node.method, ChecklistMethod):
        chosen = set(form.met.data or [])
        met = tuple(str(i) in chosen for i in range(len(node.method.elements)))
    actual = target = None
    if form.actual.data:
        actual, _unit = split_value(form.actual.data)
    if form.target.data:
        target, _unit = split_value(form.target.data)
    return LeafInput(
        actual=actual,
        target=target,
        nature=GoalNature(form.nature.data) if form.nature.data else None,
        numerator=form.numerator.data,
        denominator=form.denominator.data,
        level=QualitativeLevel(form.level.data) if form.level.data else None,
        score=form.score.data,
        rate=_percent(form.rate.data),
        findings=tuple(findings),
        met=met,
        reason=form.reason.data or "",
        evidence=form.evidence.data or "",
        no_deduction=isinstance(node.method, DeductionMethod) and bool(form.no_deduction.data),
    )


def _leaf_form(node: Any) -> LeafInputForm:
    """The input form of one leaf, with the choices its method offers."""
    form = LeafInputForm()
    form.nature.choices = pairs([("", "—"), *((c.value, c.label) for c in choices(GoalNature))])
    form.level.choices = pairs(
        [("", "—"), *((lvl.value, str(lbl)) for lvl, lbl in LEVEL_LABELS.items())]
    )
    if isinstance(node.method, ChecklistMethod):
        form.met.choices = pairs([(str(i), e) for i, e in enumerate(node.method.elements)])
    return form


def _checked_input(form: LeafInputForm, node: Any, derived: LeafInput | None) -> LeafInput:
    """What the form records for ``node``; InvalidInput unless it scores the leaf (or the leaf
    is marked not applicable)."""
    data = _leaf_input_from_form(form, node)
    merged = frames.merge_inputs({node.code: derived} if derived else {}, {node.code: data})
    if form.not_applicable.data or score_leaf(node, merged[node.code]).score is not None:
        return data
    if isinstance(node.method, DeductionMethod):
        raise InvalidInput(
            N_(
                "List the findings, or tick “No deduction” and write its basis; "
                "or mark the indicator not applicable."
            )
        )
    raise InvalidInput(
        N_("Enter the values needed to score this indicator, or mark it not applicable.")
    )


def _save_leaf(engagement, node, derived, form):  # type: ignore[no-untyped-def]
    """Save the leaf's inputs: a redirect when saved or stale, None (the reason on the form)
    when refused."""
    try:
        data = _checked_input(form, node, derived)
        services.save_input(
            db.session,
            current_user,
            engagement,
            node.code,
            data,
            not_applicable=form.not_applicable.data,
            expected_version=int(form.version.data) if form.version.data else None,
        )
        db.session.commit()
    except (services.ScoringError, StaleDataError, sa.exc.IntegrityError) as exc:
        db.session.rollback()  # (ScoringError is a ValueError: caught before ValueError)
        if str(exc) in ERRORS and str(exc) != "stale":
            form.form_errors.append(_message(exc))
            return None
        # saved by someone else since this form was opened: show their values
        flash(str(ERRORS["stale"]), "danger")
        return redirect(request.url)
    except InvalidInput as exc:
        db.session.rollback()
        form.form_errors.append(_("Not saved: %(detail)s", detail=exc.render(_)))
        return None
    except ValueError:
        db.session.rollback()
        form.form_errors.append(_("Not saved: %(detail)s", detail=_("Not a valid number.")))
        return None
    flash(_("Score saved: %(code)s %(name)s.", code=node.code, name=node.name), "success")
    return redirect(url_for("scoring.scores", engagement_id=engagement.id) + f"#leaf-{node.code}")


@bp.route("/scores/<code>", methods=["GET", "POST"])
@login_required
def score_input(engagement_id: int, code: str):  # type: ignore[no-untyped-def]
    """Record the inputs of one leaf indicator."""
    engagement = get_engagement_or_404(engagement_id, need="internal_edit")
    system = services.system_of(db.session, engagement)
    result = _result(engagement)
    if system is None or result is None:
        return redirect(url_for("scoring.system", engagement_id=engagement.id))
    template = services.template_of(system)
    try:
        node = template.find(code)
    except KeyError:
        abort(404)
    if not node.is_leaf:
        abort(404)
    row = services.stored_input(db.session, engagement, code)
    derived = _derived_input(result, code, row)
    form = _leaf_form(node)
    if request.method == "GET":
        # only what was entered: values derived from funds or goals stay live, not frozen
        _fill_form(form, frames.input_from_json(row.data) if row else None, row)
    elif form.validate_on_submit():
        done = _save_leaf(engagement, node, derived, form)
        if done is not None:
            return done
    node_score = result.get(code)
    return render_template(
        "scoring/input.html",
        engagement=engagement,
        node=node,
        form=form,
        node_score=node_score,
        printed=node_score.printed_score if node_score and node_score.score is not None else None,
        derived=derived,
        rate_labels=_rate_labels(engagement, node, template.declared_denominators()),
        method_labels=METHOD_LABELS,
        empty_form=EmptyForm(),
    )


def _derived_input(result: EngagementResult, code: str, row: Any) -> LeafInput | None:
    """What the engagement's own data (funds, goals, surveys, the panel) gives ``code``, unless
    the team's entry overrides it: shown on the input page, merged under a new entry."""
    entered = frames.input_from_json(row.data) if row is not None and row.data else None
    if entered is not None and not frames.overrides_nothing(entered):
        return None
    derived = result.figures.get("derived", {}).get(code)
    if derived is None and result.panel is not None and code in result.panel.leaves:
        derived = LeafInput(
            score=min(result.panel.leaves[code].exact, result.node(code).template_weight)
        )
    return derived


def _rate_labels(
    engagement: Any, node: Any, declared: dict[RateKind, Denominator]
) -> tuple[str, str] | None:
    """Numerator and denominator as this engagement computes the rate (the template's declared
    denominator wins over the engagement's setting)."""
    method = node.method
    if not isinstance(method, RatioMethod):
        return None
    if method.formula is RatioFormula.BUDGET_EXECUTION:
        used = declared.get(RateKind.EXECUTION, engagement.execution_denominator)
        return str(_l("Executed")), label(used)
    if method.formula is RatioFormula.FUNDING:
        used = declared.get(RateKind.FUNDING, engagement.funding_denominator)
        return str(_l("Funds actually received")), label(used)
    if method.formula is RatioFormula.SAVING:
        return str(_l("Planned cost")), str(_l("Actual cost"))
    if method.numerator_label:
        return method.numerator_label, method.denominator_label
    return None


def _fill_form(form: LeafInputForm, data: LeafInput | None, row: Any) -> None:
    form.version.data = str(row.version) if row is not None else "0"  # 0: no inputs yet
    if row is not None:
        form.not_applicable.data = row.not_applicable
    if data is None:
        return
    fmt = lambda v: None if v is None else format(v.normalize(), "f")  # noqa: E731
    form.actual.data = fmt(data.actual)
    form.target.data = fmt(data.target)
    form.nature.data = data.nature.value if data.nature else ""
    form.numerator.data = data.numerator
    form.denominator.data = data.denominator
    form.level.data = data.level.value if data.level else ""
    form.score.data = data.score
    form.rate.data = format((data.rate * 100).normalize(), "f") if data.rate is not None else None
    form.met.data = [str(i) for i, ok in enumerate(data.met or ()) if ok]
    form.findings.data = "\n".join(f"{f.text} | {fmt(f.points)}" for f in data.findings)
    form.no_deduction.data = data.no_deduction
    form.reason.data = data.reason
    form.evidence.data = data.evidence
