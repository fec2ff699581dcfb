"""Configurable fund sources (issue #15): rows added, renamed, removed; totals and rates from
the rows; audit and data revision; the Excel export; the migration of the three fixed rows."""

import io
from decimal import Decimal as D

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade
from openpyxl import load_workbook

from tests.engagements import test_views
from workbench.audit.models import AuditEntry
from workbench.core.budget import Denominator
from workbench.db import db
from workbench.engagements import revision, services
from workbench.engagements.models import BudgetLine, Engagement

world = test_views.world  # the shared fixture


def figures(initial=None, adjusted=None, available=None, executed=None):
    return {
        "initial": None if initial is None else D(initial),
        "adjusted": None if adjusted is None else D(adjusted),
        "available": None if available is None else D(available),
        "executed": None if executed is None else D(executed),
    }


def save(session, engagement, lines, execution=Denominator.ADJUSTED):
    lead = engagement.members[0].user
    table = services.save_budget(
        session,
        lead,
        engagement,
        lines=lines,
        funding_denominator=Denominator.ADJUSTED,
        execution_denominator=execution,
        expected_version=engagement.version,
    )
    session.commit()
    return table


def test_any_number_of_named_sources_with_totals_and_rates(session, make_engagement):
    engagement = make_engagement()
    table = save(
        session,
        engagement,
        [
            services.FundLine("中央财政资金", figures("500", "500", "500", "450")),
            services.FundLine("省级财政资金", figures("300", "300", "240", "200")),
            services.FundLine("县级财政资金", figures("100", "100", "100", "100")),
            services.FundLine("上年结转", figures("50", "50", "50", "50")),
            services.FundLine("单位自筹", figures("50", "50", "10", "0")),
        ],
        execution=Denominator.AVAILABLE,
    )
    assert [r.figures.source for r in table.rows] == [
        "中央财政资金",
        "省级财政资金",
        "县级财政资金",
        "上年结转",
        "单位自筹",
    ]
    assert table.total.figures.adjusted == D("1000")
    assert table.total.figures.available == D("900")
    assert table.total.funding_rate == D("0.9")
    assert table.total.execution_rate == D("800") / D("900")  # 实际到位资金 as denominator


def test_rename_keeps_the_row_remove_drops_it_and_both_are_audited(session, make_engagement):
    engagement = make_engagement()
    save(
        session,
        engagement,
        [
            services.FundLine("财政拨款", figures("100", "100", "100", "90")),
            services.FundLine("其他资金", figures("10", "10", "10", "10")),
        ],
    )
    fiscal = next(line for line in engagement.budget_lines if line.name == "财政拨款")
    fiscal_id = fiscal.id
    before = revision.current(session, engagement.id)
    table = save(
        session,
        engagement,
        [
            services.FundLine("单位自筹", figures("20", "20", "20", "5")),
            services.FundLine("县级财政资金", figures("100", "100", "100", "95"), fiscal_id),
        ],
    )
    assert revision.current(session, engagement.id) > before
    assert [r.figures.source for r in table.rows] == ["单位自筹", "县级财政资金"]
    session.expire_all()
    stored = session.scalars(sa.select(BudgetLine).where(BudgetLine.engagement_id == engagement.id))
    by_name = {line.name: line for line in stored}
    assert set(by_name) == {"单位自筹", "县级财政资金"}
    assert by_name["县级财政资金"].id == fiscal_id  # renamed, not replaced
    entry = session.scalars(
        sa.select(AuditEntry)
        .where(AuditEntry.action == "budget.update")
        .order_by(AuditEntry.id.desc())
    ).first()
    assert entry.changes["县级财政资金.source"] == {"before": "财政拨款", "after": "县级财政资金"}
    assert entry.changes["其他资金.source"] == {"before": "其他资金", "after": None}
    assert entry.changes["单位自筹.source"] == {"before": None, "after": "单位自筹"}
    assert entry.changes["县级财政资金.executed"] == {"before": "90", "after": "95"}


@pytest.mark.parametrize(
    ("lines", "code"),
    [
        ([("上年结转", "1"), (" 上年结转 ", "2")], "fund_source_repeated"),
        ([("", "1")], "fund_source_name_missing"),
        ([("x" * 61, "1")], "fund_source_name_too_long"),
    ],
)
def test_bad_source_rows_are_refused(session, make_engagement, lines, code):
    engagement = make_engagement()
    with pytest.raises(services.EngagementError, match=code):
        save(session, engagement, [services.FundLine(n, figures(v)) for n, v in lines])


def post_budget(client, engagement, rows, **extra):
    data = {
        "version": str(engagement.version),
        "funding_denominator": "adjusted",
        "execution_denominator": "adjusted",
        **extra,
    }
    for i, row in enumerate(rows):
        for key, value in row.items():
            data[f"lines-{i}-{key}"] = value
    return client.post(f"/engagements/{engagement.id}/budget", data=data)


def test_the_form_adds_renames_and_removes_sources(world, auth, client, session):
    engagement = world["engagement"]
    auth.login(world["lead"])
    page = client.get(f"/engagements/{engagement.id}/budget").get_data(as_text=True)
    assert 'list="fund-sources"' in page and "市级财政资金" in page  # pick from a list
    response = post_budget(
        client,
        engagement,
        [
            {"name": "中央财政资金", "adjusted": "600", "available": "600", "executed": "570"},
            {"name": "市级财政资金", "adjusted": "300", "available": "270", "executed": "270"},
            {"name": "项目单位自有资金", "adjusted": "100", "available": "100", "executed": "60"},
            {"name": "", "adjusted": ""},  # a spare row left empty
        ],
    )
    assert response.status_code == 302
    session.expire_all()
    lines = sorted(session.get(Engagement, engagement.id).budget_lines, key=lambda x: x.position)
    assert [line.name for line in lines] == ["中央财政资金", "市级财政资金", "项目单位自有资金"]
    page = client.get(f"/engagements/{engagement.id}").get_data(as_text=True)
    assert "项目单位自有资金" in page and "1,000.00" in page and "90.00%" in page
    # rename the second row, remove the third
    engagement = session.get(Engagement, engagement.id)
    response = post_budget(
        client,
        engagement,
        [
            {
                "line_id": str(lines[0].id),
                "name": "中央财政资金",
                "adjusted": "600",
                "available": "600",
                "executed": "570",
            },
            {
                "line_id": str(lines[1].id),
                "name": "省级财政资金",
                "adjusted": "300",
                "available": "270",
                "executed": "270",
            },
            {
                "line_id": str(lines[2].id),
                "name": "项目单位自有资金",
                "adjusted": "100",
                "remove": "y",
            },
        ],
    )
    assert response.status_code == 302
    session.expire_all()
    lines = session.get(Engagement, engagement.id).budget_lines
    assert sorted((line.name, line.id) for line in lines) == sorted(
        [("中央财政资金", lines[0].id), ("省级财政资金", lines[1].id)]
    )
    workbook = load_workbook(
        io.BytesIO(client.get(f"/engagements/{engagement.id}/budget.xlsx").data)
    )
    names = [row[0] for row in workbook.active.iter_rows(min_row=2, values_only=True)]
    assert names[:2] == ["中央财政资金", "省级财政资金"]


def test_the_form_refuses_figures_without_a_name_and_repeated_names(world, auth, client, session):
    engagement = world["engagement"]
    auth.login(world["lead"])
    response = post_budget(client, engagement, [{"name": "", "executed": "5"}])
    assert response.status_code == 200
    response = post_budget(
        client, engagement, [{"name": "上年结转", "executed": "5"}, {"name": "上年结转"}]
    )
    assert response.status_code == 200
    session.expire_all()
    assert session.get(Engagement, engagement.id).budget_lines == []


def test_migration_turns_the_three_fixed_rows_into_named_rows(app, session, make_engagement):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("run on the per-test SQLite copy; PostgreSQL shares one database")
    engagement_id = make_engagement().id
    session.commit()
    session.close()
    downgrade(revision="a14rev000001")
    with db.engine.begin() as conn:
        for source, executed in (("other", "7"), ("fiscal", "90"), ("carryover", "3")):
            conn.execute(
                sa.text(
                    "INSERT INTO budget_lines (engagement_id, source, adjusted, executed) "
                    "VALUES (:e, :s, 100, :x)"
                ),
                {"e": engagement_id, "s": source, "x": executed},
            )
    upgrade()
    rows = db.session.execute(
        sa.select(BudgetLine.name, BudgetLine.position, BudgetLine.executed)
        .where(BudgetLine.engagement_id == engagement_id)
        .order_by(BudgetLine.position)
    ).all()
    assert [(r.name, r.position, r.executed) for r in rows] == [
        ("财政拨款", 0, D("90")),
        ("上年结转", 1, D("3")),
        ("其他资金", 2, D("7")),
    ]
    # and back: configured rows fold into the nearest fixed source, amounts added
    db.session.add(
        BudgetLine(engagement_id=engagement_id, name="县级财政资金", position=3, executed=D("10"))
    )
    db.session.commit()
    db.session.close()
    downgrade(revision="a14rev000001")
    with db.engine.connect() as conn:
        back = dict(
            conn.execute(
                sa.text("SELECT source, executed FROM budget_lines WHERE engagement_id = :e"),
                {"e": engagement_id},
            ).all()
        )
    assert {k: D(str(v)) for k, v in back.items()} == {
        "fiscal": D("100"),
        "carryover": D("3"),
        "other": D("7"),
    }
    upgrade()
