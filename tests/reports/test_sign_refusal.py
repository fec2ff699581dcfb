"""Issue #15: the 复核 refusal names the role that signs the waiting level."""

import pytest

from tests.demo_figures import settle_demo_figures
from workbench.error_messages import message_for
from workbench.reports import services


@pytest.mark.parametrize(
    ("signer", "code", "role_zh"),
    [("wang.fang", "lead_signs", "项目负责人"), ("li.na", "lead_signs", "项目负责人")],
)
def test_a_reviewer_refused_at_the_lead_level_is_told_the_lead_signs(
    demo, session, app, tmp_path, signer, code, role_zh
):
    users, engagement = demo["users"], demo["engagement"]
    settle_demo_figures(session)
    lead = users["zhang.wei"]
    choice = services.template_choices(session, engagement, tmp_path)[0]
    levels = services.review_levels(None)
    version = services.build(session, lead, engagement, choice, tmp_path)
    services.submit_for_review(session, lead, version)
    with pytest.raises(services.ReportError) as caught:
        services.sign(session, users[signer], engagement, version, levels, approve=True, comment="")
    assert str(caught.value) == code
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        from flask import session as web_session

        web_session["lang"] = "zh_Hans_CN"
        text = message_for(caught.value)
    assert levels[0] in text and role_zh in text and "其他成员" not in text


def test_the_lead_refused_at_the_reviewer_level_is_told_the_reviewer_signs(
    demo, session, app, tmp_path
):
    users, engagement = demo["users"], demo["engagement"]
    settle_demo_figures(session)
    lead = users["zhang.wei"]
    choice = services.template_choices(session, engagement, tmp_path)[0]
    levels = services.review_levels(None)
    version = services.build(session, lead, engagement, choice, tmp_path)
    services.submit_for_review(session, lead, version)
    services.sign(session, lead, engagement, version, levels, approve=True, comment="")
    with pytest.raises(services.ReportError, match="reviewer_signs"):
        services.sign(session, lead, engagement, version, levels, approve=True, comment="")
