"""#14 A: the template's declared budget denominator is what the demo (project-2020) scores
with, what its report states and what the engagement pages show."""

from decimal import Decimal

import sqlalchemy as sa

from tests.reports.test_workflow import login
from workbench.core.budget import Denominator
from workbench.core.evaluation import Source
from workbench.core.numbers import round_half_up
from workbench.engagements.models import Engagement
from workbench.evaluation import result_of
from workbench.reports.context import build_context, pct

EXECUTED = Decimal("1287.46") + Decimal("80") + Decimal("96.5")  # the demo's funds
AVAILABLE = Decimal("1350") + Decimal("80") + Decimal("120")
ADJUSTED = Decimal("1350") + Decimal("80") + Decimal("150")


def test_demo_scores_and_reports_the_execution_rate_over_funds_received(demo, session):
    engagement = demo["engagement"]
    # the engagement keeps the default setting; project-2020's B12 declares 实际到位资金
    assert engagement.execution_denominator is Denominator.ADJUSTED
    result = result_of(session, engagement)
    assert result.figures["template"].find("B12").method.denominator is Denominator.AVAILABLE
    b12 = result.figures["derived"]["B12"]
    assert (b12.numerator, b12.denominator) == (EXECUTED, AVAILABLE)
    node = result.node("B12")
    assert node.exact == EXECUTED / AVAILABLE * 5  # 94.45 % of 5 points, not 92.66 %
    assert node.score == round_half_up(EXECUTED / AVAILABLE * 5) and node.source is Source.BUDGET

    context = build_context(session, engagement)
    text = context.values["funds_text"]
    assert "预算执行率 = 实际支出 ÷ 实际到位资金 × 100%" in text
    assert "分母按评价指标体系的规定取实际到位资金" in text
    assert pct(EXECUTED / AVAILABLE) == "94.45%"
    assert f"预算执行率{pct(EXECUTED / AVAILABLE)}" in text
    assert pct(EXECUTED / ADJUSTED) not in text
    assert context.tables["funds_table"].rows[-1][-1] == "94.45%"  # the table's total row
    # the funding rate is not declared by project-2020: the engagement's setting, stated too
    assert "资金到位率 = 实际到位资金 ÷ 调整后预算数 × 100%" in text


def test_engagement_pages_show_the_fixed_denominator_and_keep_it(demo, client, session):
    engagement = demo["engagement"]
    eid = engagement.id
    login(client, demo["users"]["zhang.wei"])
    page = client.get(f"/engagements/{eid}").get_data(as_text=True)
    assert "denominator-fixed" in page and "alert-warning py-1 small denominator-fixed" in page
    assert "94.45%" in page  # the table divides by the funds received, as the score does
    form = client.get(f"/engagements/{eid}/budget").get_data(as_text=True)

    def select_tag(name):
        return next(t for t in form.split("<select")[1:] if f'id="{name}"' in t.split(">")[0])

    assert "disabled" in select_tag("execution_denominator").split(">")[0]
    assert "disabled" not in select_tag("funding_denominator").split(">")[0]
    assert '<option selected value="available">' in select_tag("execution_denominator")
    # a posted value for the fixed rate is ignored; the free one is saved
    data = {
        "version": str(engagement.version),
        "funding_denominator": "initial",
        "execution_denominator": "initial",
        "lines-0-name": "财政拨款",
        "lines-0-initial": "1200",
        "lines-0-adjusted": "1350",
        "lines-0-available": "1350",
        "lines-0-executed": "1287.46",
        "lines-1-name": "上年结转",
        "lines-1-initial": "80",
        "lines-1-adjusted": "80",
        "lines-1-available": "80",
        "lines-1-executed": "80",
        "lines-2-name": "其他资金",
        "lines-2-initial": "150",
        "lines-2-adjusted": "150",
        "lines-2-available": "120",
        "lines-2-executed": "96.5",
    }
    assert client.post(f"/engagements/{eid}/budget", data=data).status_code == 302
    session.expire_all()
    saved = session.scalar(sa.select(Engagement).where(Engagement.id == eid))
    assert saved.execution_denominator is Denominator.ADJUSTED
    assert saved.funding_denominator is Denominator.INITIAL
