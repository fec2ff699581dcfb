import io
from decimal import Decimal as D

import pytest
import sqlalchemy as sa

from workbench.core.evaluation import Source
from workbench.evaluation import result_of
from workbench.surveys.models import Survey, SurveyResponse

HEADER = "序号,提交答卷时间,所用时间,来源,来源详情,来自IP,1、您对本项目的总体满意程度,2、性别\n"


def export(rows, gender="男"):
    meta = "手机提交,微信"
    lines = [HEADER] + [
        f"{i},2026/09/03 12:00:{i % 60:02d},{60 + i}秒,{meta},10.0.0.{i % 250}(临川),{a},{gender}\n"
        for i, a in enumerate(rows, start=1)
    ]
    return "".join(lines).encode("gbk")


def upload(client, eid, payload, name="wjx.csv", population="", kind="wjx", target=""):
    """Upload through the import form; returns the job page it redirects to."""
    response = client.post(
        f"/engagements/{eid}/surveys/import",
        content_type="multipart/form-data",
        data={
            "imp-kind": kind,
            "imp-target": target,
            "imp-title": "受益群众满意度",
            "imp-group": "受益群众",
            "imp-population": population,
            "imp-file": (io.BytesIO(payload), name),
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response


def test_import_map_and_feed_the_satisfaction_indicator(setup, client, auth, session):
    auth.login(setup["lead"])
    eid = setup["engagement"].id
    answers = ["非常满意"] * 40 + ["满意"] * 45 + ["一般"] * 10 + ["不满意"] * 5 + ["不了解"] * 4
    job = upload(client, eid, export(answers), population="5000")
    assert "104" in client.get(job.location).get_data(as_text=True)
    survey = session.scalar(sa.select(Survey))
    assert len(survey.responses) == 104 and survey.flavour == "text"
    response = client.get(f"/engagements/{eid}/surveys/{survey.id}/mapping")
    page = response.get_data(as_text=True)
    assert "1、您对本项目的总体满意程度" in page
    response.location = f"/engagements/{eid}/surveys/{survey.id}/mapping"
    levels = {f"level-{i}": "" for i in range(10)}
    mapping = client.get(response.location)
    assert mapping.status_code == 200
    from workbench.surveys.services import distinct_answers, guess_level

    found = distinct_answers(survey, ["1、您对本项目的总体满意程度"])
    levels = {f"level-{i}": guess_level(a, "text") for i, a in enumerate(found)}
    saved = client.post(
        f"{response.location}/save",
        data={
            "columns": ["1、您对本项目的总体满意程度"],
            "leaf_code": "D12",
            **levels,
        },
    )
    assert saved.status_code == 302
    overview = client.get(f"/engagements/{eid}/surveys/").get_data(as_text=True)
    assert "85.00%" in overview  # (40 + 45) / 100 valid; 不了解 left out
    session.expire_all()  # the requests changed the survey in their own sessions
    d12 = result_of(session, setup["engagement"]).node("D12")
    assert d12.exact == D(10) * D("0.85") / D("0.9")  # proportional to the 90 % target
    assert d12.score == D("9.44")  # the official score: half-up to 2 decimals
    assert d12.source is Source.SURVEY


def test_code_export_never_guesses_levels_from_option_numbers(setup, client, auth, session):
    """问卷星 numbers options in questionnaire order: 1 may be 非常不满意 as well as 非常满意.
    The import waits for a confirmation and no number is pre-mapped to a level (#15)."""
    auth.login(setup["lead"])
    eid = setup["engagement"].id
    job = upload(client, eid, export(["1", "2", "2", "5", "-3"], gender="1"))
    assert session.scalar(sa.select(sa.func.count(Survey.id))) == 0  # waits for the mapping
    page = client.get(job.location).get_data(as_text=True)
    assert 'name="confirm_codes"' in page
    client.post(
        job.location,
        data={
            "col-0": "meta:row_no",
            "col-1": "meta:submitted",
            "col-2": "meta:duration",
            "col-6": "new",
            "col-7": "new",
            "confirm_codes": "y",
        },
    )
    survey = session.scalar(sa.select(Survey))
    assert survey.flavour == "code" and len(survey.responses) == 5
    from workbench.surveys.services import guess_level

    assert [guess_level(v, "code") for v in ("1", "2", "5", "6")] == ["", "", "", ""]
    assert guess_level("满意", "code") == "满意"  # a label is still itself


@pytest.mark.parametrize(
    ("payload", "name", "message"),
    [
        (b"", "e.csv", "empty"),
        (b"a,b\n1,2\n", "e.csv", "序号"),
        (b"PK\x03\x04junk", "e.xlsx", "could not be read"),
    ],
)
def test_a_bad_export_imports_nothing(setup, client, auth, session, payload, name, message):
    auth.login(setup["lead"])
    job = upload(client, setup["engagement"].id, payload, name)
    page = client.get(job.location).get_data(as_text=True)
    # a file the upload check refuses (a broken zip) gets no job at all (issue #13)
    assert ("Nothing was imported" in page or "The file was not imported" in page) and (
        message in page
    )
    assert session.scalar(sa.select(sa.func.count()).select_from(SurveyResponse)) == 0


def test_raw_export_keeps_no_ip_address_and_clients_see_nothing(setup, client, auth, session):
    auth.login(setup["lead"])
    eid = setup["engagement"].id
    upload(client, eid, export(["满意", "一般"]))
    survey = session.scalar(sa.select(Survey))
    raw = client.get(f"/engagements/{eid}/surveys/{survey.id}/raw.xlsx")
    assert b"10.0.0." not in raw.data
    assert all(len(r.ip_hash) == 64 for r in survey.responses)
    auth.logout()
    auth.login(setup["client"])
    assert client.get(f"/engagements/{eid}/surveys/").status_code == 404
