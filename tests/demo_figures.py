"""The demo's one printed figure that differs between places, settled for the tests that take a
report through review and issue.

Today the demo prints 可持续影响 (D13) as 3.33 in the expert table (the panel mean 3.333…) and as
3.34 in the score table, the indicator paragraph and the sums (the printed parts are apportioned
to add up to the printed dimension score). The report QA blocks that (check ``same``), so the
demo cannot go to review; ``tests/reports/test_report.py`` asserts exactly that problem. Until
the numbers are unified (issue #14), the workflow tests move one expert's half point from D14
to D13 (陈慧: D13 3 → 3.5, D14 4 → 3.5): D13 becomes 3.50 everywhere, D14 4.17 everywhere, and
the total stays 88.17 良.
"""

from decimal import Decimal

import sqlalchemy as sa


def settle_demo_figures(session, *, commit: bool = True) -> None:  # type: ignore[no-untyped-def]
    from workbench.experts.models import Expert, PanelMember

    member = session.scalar(
        sa.select(PanelMember)
        .join(Expert, PanelMember.expert_id == Expert.id)
        .where(Expert.name == "陈慧")
    )
    assert member is not None, "the demo panel has 陈慧"
    scores = {s.indicator_code: s for s in member.scores if s.round == 1}
    assert scores["D13"].score == Decimal(3) and scores["D14"].score == Decimal(4)
    scores["D13"].score = Decimal("3.5")
    scores["D14"].score = Decimal("3.5")
    if commit:
        session.commit()
    else:
        session.flush()
