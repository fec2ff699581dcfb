"""Portfolio (项目绩效一览) and result application (结果应用)."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from workbench.accounts.models import Organisation, OrganisationKind, Role
from workbench.core.numbers import to_decimal
from workbench.core.results import DEFAULT_RULES
from workbench.db import db
from workbench.engagements.access import visible_engagements_filter
from workbench.engagements.forms import EmptyForm
from workbench.engagements.models import Engagement
from workbench.forms import query_int
from workbench.portfolio import services, work
from workbench.portfolio.forms import RulesForm, rules_form
from workbench.reports import services as reports
from workbench.web import unit_of_work
from workbench.xlsx import send_table

bp = Blueprint("portfolio", __name__, url_prefix="/portfolio", template_folder="templates")
GRADES = ("优", "良", "中", "差")


def _filters() -> tuple[int | None, str | None]:
    year = query_int("year", 1900, 2200)
    grade = request.args.get("grade") or None
    return year, grade if grade in GRADES else None


@bp.get("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    """Every visible engagement with its score, grade, 得分率 by dimension and budget action."""
    year, grade = _filters()
    rows = services.portfolio(db.session, current_user, year=year, grade=grade)
    dimensions = services.dimension_names(rows)
    years = db.session.scalars(
        sa.select(Engagement.fiscal_year)
        .where(visible_engagements_filter(current_user))
        .distinct()
        .order_by(Engagement.fiscal_year.desc())
    ).all()
    return render_template(
        "portfolio/index.html",
        rows=rows,
        dimensions=dimensions,
        years=years,
        grades=GRADES,
        year=year,
        grade=grade,
        rules=services.rules_for(
            current_user.organisation if current_user.role is Role.CLIENT else None
        ),
        can_set_rules=_rules_org() is not None,
    )


@bp.get("/portfolio.xlsx")
@login_required
def export():  # type: ignore[no-untyped-def]
    year, grade = _filters()
    rows = services.portfolio(db.session, current_user, year=year, grade=grade)
    dims = services.dimension_names(rows)
    headers = [
        "评价项目",
        "年度",
        "委托方",
        "被评价单位",
        "报告编号",
        "总分",
        "等级",
        *[f"{d}得分率" for d in dims],
        "调整后预算（万元）",
        "结果应用",
        "建议下年预算（万元）",
    ]
    data = [
        [
            r.engagement.title,
            r.engagement.fiscal_year,
            r.engagement.client.name,
            "、".join(u.name for u in r.engagement.evaluated_units),
            r.issued.report_no if r.issued else "未出具",
            r.total,
            r.grade,
            *[r.dimensions.get(d, "") for d in dims],
            r.current,
            r.action,
            r.recommended,
        ]
        for r in rows
    ]
    return send_table("项目绩效一览", headers, data, "portfolio.xlsx")


def _rules_org() -> Organisation | None:
    """The bureau whose rules the current user sets: their own (a client), else none."""
    if current_user.role is Role.CLIENT and current_user.organisation is not None:
        org = current_user.organisation
        return org if org.kind is OrganisationKind.CLIENT else None
    return None


def _rules_data(form: RulesForm) -> dict[str, dict[str, str]] | None:
    """The rules as :func:`services.save_rules` takes them, or None when a share is not a
    percentage between 0 and 200 (an empty share keeps the default)."""
    data = {}
    for grade in GRADES:
        action, share = form.rule(grade)
        try:
            percent = to_decimal(share)
        except (ValueError, ArithmeticError):
            return None  # not a plain finite number (NaN, inf, 1e400, text)
        if percent is not None and not Decimal(0) <= percent <= Decimal(200):
            return None
        data[grade] = {"action": action, "share": "" if percent is None else str(percent / 100)}
    return data


@bp.route("/rules", methods=["GET", "POST"])
@login_required
def rules():  # type: ignore[no-untyped-def]
    """A finance bureau sets its grade → action and budget-share rules."""
    org = _rules_org()
    if org is None:
        abort(404)
    if request.method == "POST":
        form = rules_form(GRADES)
        if not form.validate_on_submit():
            abort(400)
        data = _rules_data(form)
        if data is None:
            flash(_("Shares are percentages between 0 and 200."), "danger")
            return redirect(url_for("portfolio.rules"))
        with unit_of_work() as work:
            services.save_rules(db.session, current_user, org, data)
        if work.ok:
            flash(_("Result application rules saved."), "success")
        return redirect(url_for("portfolio.index"))
    return render_template(
        "portfolio/rules.html",
        org=org,
        rules=services.rules_for(org),
        defaults=DEFAULT_RULES,
        grades=GRADES,
        empty_form=EmptyForm(),
    )


# --- 我的待办 ---------------------------------------------------------------------------------

WORK_KINDS = ("review", "answer", "sheets", "comment", "issued", "rectification")
WORK_ZH = {
    "review": "待复核的报告",
    "answer": "待答复的意见",
    "sheets": "未提交的专家评分表",
    "comment": "待提意见的征求意见稿",
    "issued": "已出具的报告",
    "rectification": "到期的整改事项",
}


def _my_work() -> list[work.WorkItem]:
    zone = current_app.config.get("BABEL_DEFAULT_TIMEZONE") or "Asia/Shanghai"
    levels = reports.review_levels(current_app.config.get("REPORT_REVIEW_LEVELS"))
    return work.work_of(db.session, current_user, levels, reports.local_today(zone))


def work_url(item: work.WorkItem) -> str:
    return url_for(item.endpoint, **dict(item.params)) + item.anchor


@bp.get("/work")
@login_required
def my_work():  # type: ignore[no-untyped-def]
    """我的待办: what waits for the signed-in user, each item linked to where it is done."""
    items = _my_work()
    groups = [(k, [i for i in items if i.kind == k]) for k in WORK_KINDS]
    return render_template(
        "portfolio/work.html", groups=[g for g in groups if g[1]], work_url=work_url
    )


@bp.get("/work.xlsx")
@login_required
def my_work_xlsx():  # type: ignore[no-untyped-def]
    rows = [
        [
            WORK_ZH[i.kind],
            i.engagement.title,
            i.title,
            i.due,
            "是" if i.overdue else "",
            work_url(i),
        ]
        for i in _my_work()
    ]
    return send_table(
        "我的待办", ["事项", "评价项目", "内容", "期限", "逾期", "链接"], rows, "my-work.xlsx"
    )
