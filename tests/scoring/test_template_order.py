"""Issue #15: the indicator-system page proposes the templates written for the engagement's kind
first (a 项目支出 engagement: the 项目支出 frameworks)."""

import re

import pytest

from workbench.accounts.models import Role
from workbench.core.kinds import EvaluationKind


def _offered(html: str) -> list[str]:
    select = re.search(r'<select[^>]*name="template"[^>]*>(.*?)</select>', html, re.S)
    assert select is not None
    return re.findall(r'<option[^>]*value="([^"]+)"', select.group(1))


@pytest.mark.parametrize(
    ("kind", "first"),
    [
        (EvaluationKind.PROJECT, {"project-2020", "self-evaluation"}),
        (EvaluationKind.DEPARTMENT, {"department-overall"}),
    ],
)
def test_templates_for_the_engagement_kind_come_first(
    auth, client, make_user, make_engagement, kind, first
):
    lead = make_user(Role.EVALUATOR)
    engagement = make_engagement(lead=lead, kind=kind)
    auth.login(lead)
    offered = _offered(
        client.get(f"/engagements/{engagement.id}/indicators").get_data(as_text=True)
    )
    assert set(offered[: len(first)]) == first, offered
    assert offered[0] == sorted(first, key=lambda c: c != "project-2020")[0]
