"""Questionnaires built in the workbench: builder, publishing, the public page, one-time
codes, quotas, screening with overrides, results and the satisfaction score."""

import datetime as dt
import io
import re
from decimal import Decimal as D

import openpyxl
import sqlalchemy as sa

from workbench.audit.models import AuditEntry
from workbench.db import utcnow
from workbench.evaluation import result_of
from workbench.surveys import builder
from workbench.surveys.models import Survey, SurveyResponse, SurveyToken


def create(client, eid, start="beneficiary"):
    response = client.post(
        f"/engagements/{eid}/surveys/new",
        data={"new-title": "受益群众满意度调查", "new-group": "", "new-start_from": start},
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return int(re.search(r"/surveys/(\d+)/build", response.location).group(1))


def publish(client, eid, sid, **extra):
    data = {"status": "open", "group_column": "", **extra}
    response = client.post(f"/engagements/{eid}/surveys/{sid}/publish", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


def answers_for(survey, overall="满意", matrix="满意", attention="满意", town="甲镇", **over):
    """A complete set of form fields for the library's beneficiary questionnaire."""
    qs = builder.questions_of(survey)
    data = {}
    for i, q in enumerate(qs, start=1):
        if q.type == "matrix":
            for j in range(1, len(q.items) + 1):
                data[f"q{i}.{j}"] = matrix
        elif q.expected:
            data[f"q{i}"] = attention
        elif q.type == "likert":
            data[f"q{i}"] = overall
        elif q.type in ("single", "multiple"):
            data[f"q{i}"] = town if town in q.options else q.options[0]
        elif q.type == "number":
            data[f"q{i}"] = "3"
        else:
            data[f"q{i}"] = "无"
    data.update(over)
    return data


def respond(app, token, data, code=""):
    """One respondent with their own browser (cookie jar)."""
    phone = app.test_client()
    url = f"/s/{token}" + (f"?t={code}" if code else "")
    first = phone.get(url)
    return first, phone.post(url, data=data)


def test_library_questionnaire_published_and_answered_on_the_public_page(
    setup, client, auth, session, app
):
    auth.login(setup["lead"])
    eid = setup["engagement"].id
    sid = create(client, eid)
    survey = session.get(Survey, sid)
    assert survey.kind == "form" and len(survey.questions) >= 5
    assert any(c.startswith("5、") and "—" in c for c in survey.satisfaction_columns)
    build = client.get(f"/engagements/{eid}/surveys/{sid}/build")
    assert build.status_code == 200 and "您所在的乡镇" in build.get_data(as_text=True)
    preview = client.get(f"/engagements/{eid}/surveys/{sid}/preview").get_data(as_text=True)
    assert "disabled" in preview and 'id="submit"' not in preview
    # a draft has no public link yet
    assert survey.public_token is None
    publish(client, eid, sid)
    session.expire_all()
    survey = session.get(Survey, sid)
    token = survey.public_token
    assert token and len(token) >= 30
    page = client.get(f"/engagements/{eid}/surveys/{sid}/publish").get_data(as_text=True)
    assert f"/s/{token}" in page and "data:image/png;base64," in page
    png = client.get(f"/engagements/{eid}/surveys/{sid}/qr.png")
    assert png.data[:8] == b"\x89PNG\r\n\x1a\n"
    svg = client.get(f"/engagements/{eid}/surveys/{sid}/qr.svg")
    assert b"<svg" in svg.data
    first, done = respond(app, token, answers_for(survey))
    assert first.status_code == 200 and 'name="q5.1"' in first.get_data(as_text=True)
    assert done.status_code == 303 and done.location.endswith(f"/s/{token}/thanks")
    stored = session.scalars(sa.select(SurveyResponse)).all()
    assert len(stored) == 1 and stored[0].source == "web"
    r = stored[0]
    assert r.duration_s is not None and r.duration_s >= 0
    assert len(r.ip_hash) == 64 and len(r.ua_hash) == 64 and "127.0.0.1" not in str(r.answers)
    assert r.answers[next(c for c in survey.columns if c.startswith("1、"))] in ("男", "女")
    # once answered, the questions are locked
    locked = client.post(f"/engagements/{eid}/surveys/{sid}/build/0/delete")
    assert locked.status_code == 422 and len(session.get(Survey, sid).questions) == len(
        survey.questions
    )


def test_missing_answers_are_marked_and_nothing_is_stored(setup, client, auth, session, app):
    auth.login(setup["lead"])
    eid = setup["engagement"].id
    sid = create(client, eid)
    publish(client, eid, sid)
    survey = session.get(Survey, sid)
    data = answers_for(survey)
    data.pop("q7")  # the overall satisfaction question
    data["q1"] = "不存在的选项"
    _first, response = respond(app, survey.public_token, data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Please answer this question." in page and "Choose one of the listed answers." in page
    assert session.scalar(sa.select(sa.func.count(SurveyResponse.id))) == 0


def test_one_response_per_browser_and_closed_surveys_say_so(setup, client, auth, session, app):
    auth.login(setup["lead"])
    eid = setup["engagement"].id
    sid = create(client, eid)
    publish(client, eid, sid)
    survey = session.get(Survey, sid)
    phone = app.test_client()
    url = f"/s/{survey.public_token}"
    phone.get(url)
    assert phone.post(url, data=answers_for(survey)).status_code == 303
    again = phone.get(url).get_data(as_text=True)
    assert "already answered" in again
    assert phone.post(url, data=answers_for(survey)).status_code == 403
    assert session.scalar(sa.select(sa.func.count(SurveyResponse.id))) == 1
    publish(client, eid, sid, status="closed")
    closed = app.test_client().get(url).get_data(as_text=True)
    assert "closed" in closed and "Submit" not in closed
    # an unknown link is a plain 404
    assert app.test_client().get("/s/not-a-real-token").status_code == 404
    # a survey whose closing time has passed is closed too
    survey = session.get(Survey, sid)
    survey.status, survey.closes_at = "open", utcnow() - dt.timedelta(minutes=1)
    session.commit()
    assert "closed" in app.test_client().get(url).get_data(as_text=True)


def test_one_time_codes_open_the_questionnaire_once(setup, client, auth, session, app):
    auth.login(setup["lead"])
    eid = setup["engagement"].id
    sid = create(client, eid)
    publish(client, eid, sid, require_token="y")
    made = client.post(
        f"/engagements/{eid}/surveys/{sid}/tokens", data={"labels": "张家 1号\n李家 2号\n王家 3号"}
    )
    assert made.status_code == 302
    tokens = session.scalars(sa.select(SurveyToken).order_by(SurveyToken.id)).all()
    assert [t.label for t in tokens] == ["张家 1号", "李家 2号", "王家 3号"]
    assert len({t.code for t in tokens}) == 3 and all(len(t.code) >= 12 for t in tokens)
    survey = session.get(Survey, sid)
    url = f"/s/{survey.public_token}"
    assert "personal code" in app.test_client().get(url).get_data(as_text=True)
    assert "not valid" in app.test_client().get(url + "?t=wrong").get_data(as_text=True)
    _f, ok = respond(app, survey.public_token, answers_for(survey), code=tokens[0].code)
    assert ok.status_code == 303
    # the same code from another phone is refused
    _f, again = respond(app, survey.public_token, answers_for(survey), code=tokens[0].code)
    assert again.status_code == 403 and "already been used" in again.get_data(as_text=True)
    session.expire_all()
    assert session.get(SurveyToken, tokens[0].id).used_at is not None
    stored = session.scalars(sa.select(SurveyResponse)).all()
    assert len(stored) == 1 and stored[0].token_id == tokens[0].id
    sheet = client.get(f"/engagements/{eid}/surveys/{sid}/tokens.xlsx")
    ws = openpyxl.load_workbook(io.BytesIO(sheet.data)).active
    codes = [row[2] for row in ws.iter_rows(min_row=2, values_only=True) if row[2]]
    assert set(codes) >= {t.code for t in tokens}
    printable = client.get(f"/engagements/{eid}/surveys/{sid}/tokens/print").get_data(as_text=True)
    assert printable.count("data:image/svg+xml;base64,") == 2  # the used code is not printed
    # the yield counts codes handed out
    cleaning = client.get(f"/engagements/{eid}/surveys/{sid}/cleaning").get_data(as_text=True)
    assert re.search(r"Handed out.*?<td class=\"num\">3</td>", cleaning, re.S)


def test_one_phone_answering_several_codes_times_each_household_from_its_own_form(
    setup, client, auth, session, app
):
    """An enumerator's phone: the start time kept in its session is cleared after each coded
    response, so the next household's duration runs from its own form."""
    auth.login(setup["lead"])
    eid = setup["engagement"].id
    sid = create(client, eid)
    publish(client, eid, sid, require_token="y")
    client.post(f"/engagements/{eid}/surveys/{sid}/tokens", data={"labels": "张家\n李家"})
    codes = session.scalars(sa.select(SurveyToken.code).order_by(SurveyToken.id)).all()
    survey = session.get(Survey, sid)
    phone = app.test_client()
    for code in codes:
        url = f"/s/{survey.public_token}?t={code}"
        assert phone.get(url).status_code == 200
        with phone.session_transaction() as s:  # as if the form had been open for an hour
            s[f"sv{sid}"] = (
                dt.datetime.fromisoformat(s[f"sv{sid}"]) - dt.timedelta(hours=1)
            ).isoformat()
        assert phone.post(url, data=answers_for(survey)).status_code == 303
        with phone.session_transaction() as s:
            assert f"sv{sid}" not in s
    durations = session.scalars(sa.select(SurveyResponse.duration_s)).all()
    assert len(durations) == 2 and all(3600 <= d < 3700 for d in durations)


def test_group_quota_and_post_stratification(setup, client, auth, session, app):
    auth.login(setup["lead"])
    eid = setup["engagement"].id
    sid = create(client, eid)
    survey = session.get(Survey, sid)
    town_col = next(c for c in survey.columns if "乡镇" in c)
    publish(client, eid, sid, group_column=town_col)
    session.expire_all()
    groups = builder.group_choices(session.get(Survey, sid))
    assert groups[:2] == ["甲镇", "乙镇"]
    publish(
        client,
        eid,
        sid,
        group_column=town_col,
        **{"population-0": "9000", "quota-0": "2", "population-1": "1000"},
    )
    survey = session.get(Survey, sid)
    for _ in range(2):
        assert (
            respond(app, survey.public_token, answers_for(survey, town="甲镇"))[1].status_code
            == 303
        )
    full = respond(app, survey.public_token, answers_for(survey, town="甲镇"))[1]
    assert full.status_code == 409 and "enough answers" in full.get_data(as_text=True)
    for _ in range(2):
        respond(
            app,
            survey.public_token,
            answers_for(survey, town="乙镇", matrix="不满意", overall="不满意"),
        )
    page = client.get(f"/engagements/{eid}/surveys/{sid}/results").get_data(as_text=True)
    assert 'id="groups"' in page
    # 甲镇 all satisfied, 乙镇 none: weighted 0.9 × 1 + 0.1 × 0 = 90 %
    assert re.search(r'id="stratified">[^<]*90\.00%', page)


def test_screening_excludes_planted_responses_with_reasons_and_overrides(
    setup, client, auth, session, app
):
    auth.login(setup["lead"])
    eid = setup["engagement"].id
    sid = create(client, eid)
    publish(client, eid, sid)
    survey = session.get(Survey, sid)
    for _ in range(6):
        respond(app, survey.public_token, answers_for(survey, matrix="满意", overall="非常满意"))
    respond(app, survey.public_token, answers_for(survey, attention="不满意"))  # careless
    respond(
        app, survey.public_token, answers_for(survey, matrix="非常不满意", overall="非常不满意")
    )
    rows = session.scalars(sa.select(SurveyResponse).order_by(SurveyResponse.id)).all()
    for r in rows:  # test clients answer in milliseconds; people take minutes
        r.duration_s = 120
    rows[0].duration_s = 5  # planted: far too fast
    session.commit()
    before = client.get(f"/engagements/{eid}/surveys/{sid}/results").get_data(as_text=True)
    saved = client.post(
        f"/engagements/{eid}/surveys/{sid}/cleaning",
        data={"min_seconds": "20", "straightline": "y", "attention": "y", "burst_minutes": "10"},
    )
    assert saved.status_code == 302
    page = client.get(f"/engagements/{eid}/surveys/{sid}/cleaning").get_data(as_text=True)
    assert re.search(r'data-rule="too_fast">1<', page)
    assert re.search(r'data-rule="attention">1<', page)
    # every matrix answered "满意" throughout is a straight-liner (all 8 here)
    assert re.search(r'data-rule="straightline">8<', page)
    # keep the straight-liners that answered carefully otherwise
    for r in rows[1:6]:
        client.post(
            f"/engagements/{eid}/surveys/{sid}/responses/{r.id}/override",
            data={"decision": "include", "note": "电话回访核实"},
        )
    no_note = client.post(
        f"/engagements/{eid}/surveys/{sid}/responses/{rows[7].id}/override",
        data={"decision": "include", "note": ""},
    )
    assert no_note.status_code == 302
    session.expire_all()
    assert session.get(SurveyResponse, rows[7].id).override is None  # a reason is required
    page = client.get(f"/engagements/{eid}/surveys/{sid}/cleaning").get_data(as_text=True)
    assert re.search(r'id="excluded">3<', page) and re.search(r'id="valid">5<', page)
    results = client.get(f"/engagements/{eid}/surveys/{sid}/results").get_data(as_text=True)
    raw = client.get(f"/engagements/{eid}/surveys/{sid}/results?raw=1").get_data(as_text=True)
    assert results != raw and before != results
    # raw data is untouched: 8 rows, reasons in the export
    wb = openpyxl.load_workbook(
        io.BytesIO(client.get(f"/engagements/{eid}/surveys/{sid}/raw.xlsx").data)
    )
    values = list(wb.active.iter_rows(values_only=True))
    assert len([v for v in values[1:] if v[0]]) == 8
    assert any("too fast" in str(v[-3]) for v in values[1:])
    wb = openpyxl.load_workbook(
        io.BytesIO(client.get(f"/engagements/{eid}/surveys/{sid}/raw.xlsx?cleaned=1").data)
    )
    assert len([v for v in list(wb.active.iter_rows(values_only=True))[1:] if v[0]]) == 5
    actions = session.scalars(sa.select(AuditEntry.action)).all()
    assert "survey.cleaning" in actions and actions.count("survey.override") == 5


def test_the_survey_leaf_scores_from_valid_responses(setup, client, auth, session, app):
    auth.login(setup["lead"])
    eid = setup["engagement"].id
    sid = create(client, eid)
    publish(client, eid, sid)
    survey = session.get(Survey, sid)
    for level in ["非常满意"] * 3 + ["满意"] * 3 + ["一般"] * 2:
        respond(app, survey.public_token, answers_for(survey, matrix=level, overall=level))
    respond(
        app,
        survey.public_token,
        answers_for(survey, matrix="非常不满意", overall="非常不满意", attention="一般"),
    )
    mapping = client.post(
        f"/engagements/{eid}/surveys/{sid}/mapping/save",
        data={
            "columns": survey.satisfaction_columns,
            "leaf_code": "D12",
            "leaf_measure": "rate",
        },
    )
    assert mapping.status_code == 302
    session.expire_all()

    def d12():
        return result_of(session, setup["engagement"]).node("D12")

    # a new questionnaire screens attention checks from the start: switch that off first
    client.post(f"/engagements/{eid}/surveys/{sid}/cleaning", data={"burst_minutes": "10"})
    session.expire_all()
    # all 9 responses: 6 of 9 satisfied on every item
    assert d12().exact == min(D(10), D(10) * (D(6) / D(9)) / D("0.9"))
    assert d12().score == D("7.41")
    client.post(
        f"/engagements/{eid}/surveys/{sid}/cleaning", data={"attention": "y", "burst_minutes": "10"}
    )
    session.expire_all()
    # the careless respondent is excluded: 6 of 8
    assert d12().exact == D(10) * (D(6) / D(8)) / D("0.9")
    assert d12().score == D("8.33")
    # the client never sees the survey pages
    auth.logout()
    auth.login(setup["client"])
    for path in ("results", "cleaning", "publish", "build"):
        assert client.get(f"/engagements/{eid}/surveys/{sid}/{path}").status_code == 404


def test_builder_edits_questions_and_rejects_bad_ones(setup, client, auth, session):
    auth.login(setup["lead"])
    eid = setup["engagement"].id
    sid = create(client, eid, start="")
    url = f"/engagements/{eid}/surveys/{sid}/build"
    assert client.post(f"{url}/add", data={"new_type": "single"}).status_code == 302
    survey = session.get(Survey, sid)
    assert [q["type"] for q in survey.questions] == ["likert", "single"]
    bad = client.post(
        f"{url}/1/save", data={"q1-type": "single", "q1-text": "性别", "q1-options": "男"}
    )
    assert bad.status_code == 422 and "at least 2 options" in bad.get_data(as_text=True)
    ok = client.post(
        f"{url}/1/save",
        data={
            "q1-type": "single",
            "q1-text": "性别",
            "q1-options": "男\n女",
            "q1-required": "1",
        },
    )
    assert ok.status_code == 302
    assert client.post(f"{url}/1/up").status_code == 302
    session.expire_all()
    survey = session.get(Survey, sid)
    assert survey.columns[0] == "1、性别" and survey.columns[1].startswith("2、")
    assert client.post(f"{url}/7/delete").status_code == 400
    yaml_text = client.get(f"/engagements/{eid}/surveys/{sid}/questionnaire.yaml").get_data(
        as_text=True
    )
    assert "性别" in yaml_text
    broken = client.post(
        f"{url}/upload",
        content_type="multipart/form-data",
        data={
            "file": (io.BytesIO(b"questions: [{type: likert}]"), "q.yaml"),
        },
    )
    assert broken.status_code == 422 and "Q1" in broken.get_data(as_text=True)
    session.expire_all()
    assert session.get(Survey, sid).columns[0] == "1、性别"  # unchanged


def test_populations_are_read_as_typed_and_bad_ones_refused(setup, client, auth, session):
    auth.login(setup["lead"])
    eid = setup["engagement"].id
    sid = create(client, eid)
    town_col = next(c for c in session.get(Survey, sid).columns if "乡镇" in c)
    publish(client, eid, sid, group_column=town_col)
    publish(client, eid, sid, group_column=town_col, **{"population-0": "1,200"})
    session.expire_all()
    assert session.get(Survey, sid).group_targets["甲镇"] == {"population": 1200}
    bad = client.post(
        f"/engagements/{eid}/surveys/{sid}/publish",
        data={"status": "open", "group_column": town_col, "population-1": "abc"},
    )
    assert bad.status_code == 422 and "abc" in bad.get_data(as_text=True)
    session.expire_all()
    assert "乙镇" not in session.get(Survey, sid).group_targets


def test_handed_out_is_the_entered_number_not_the_codes(setup, client, auth, session):
    auth.login(setup["lead"])
    eid = setup["engagement"].id
    sid = create(client, eid)
    publish(client, eid, sid, distributed="120")
    client.post(f"/engagements/{eid}/surveys/{sid}/tokens", data={"count": "5"})
    page = client.get(f"/engagements/{eid}/surveys/{sid}/cleaning").get_data(as_text=True)
    assert re.search(r"Handed out.*?<td class=\"num\">120</td>", page, re.S)


# --- one endpoint per builder action; forms for every post; the one message registry --------


def test_each_builder_action_is_its_own_endpoint(setup, client, auth, session):
    auth.login(setup["lead"])
    eid = setup["engagement"].id
    sid = create(client, eid, start="")
    url = f"/engagements/{eid}/surveys/{sid}/build"
    for qtype in ("single", "number"):
        added = client.post(f"{url}/add", data={"new_type": qtype})
        assert added.status_code == 302
    assert added.location.endswith("#question-2")  # the new question, to edit it
    assert client.post(f"{url}/add", data={"new_type": "essay"}).status_code == 400
    page = client.get(url).get_data(as_text=True)
    assert 'name="action"' not in page
    for action in ("add", "upload", "0/save", "1/up", "1/down", "2/delete"):
        assert f'"{url}/{action}"' in page, action

    def types():
        session.expire_all()
        return [q["type"] for q in session.get(Survey, sid).questions]

    assert types() == ["likert", "single", "number"]
    moved = client.post(f"{url}/0/down")
    assert moved.status_code == 302 and moved.location.endswith("#question-1")
    assert types() == ["single", "likert", "number"]
    # a bad bound: the question's number and the value are named, nothing changes
    bad = client.post(
        f"{url}/2/save", data={"q2-type": "number", "q2-text": "年龄", "q2-minimum": "ten"}
    )
    assert bad.status_code == 422
    assert "The question was not saved: Q3: ten" in bad.get_data(as_text=True)
    assert session.get(Survey, sid).questions[2]["text"] != "年龄"
    model = client.post(
        f"{url}/1/save",
        data={"q1-type": "likert", "q1-text": "满意吗", "q1-labels": "很好\n很好\n好\n差\n很差"},
    )
    assert model.status_code == 422
    assert "Q2: a satisfaction scale needs 5 different levels" in model.get_data(as_text=True)
    assert client.post(f"{url}/2/delete").status_code == 302
    assert types() == ["single", "likert"]
    assert client.post(f"{url}/2/up").status_code == 400  # a page out of date


def test_showing_the_answers_of_other_questions_saves_nothing(setup, client, auth, session):
    auth.login(setup["lead"])
    eid = setup["engagement"].id
    sid = create(client, eid)
    survey = session.get(Survey, sid)
    url = f"/engagements/{eid}/surveys/{sid}/mapping"
    before = session.scalar(sa.select(sa.func.count(AuditEntry.id)))
    column = survey.satisfaction_columns[0]
    shown = client.post(url, data={"columns": [column], "leaf_code": "D12"})
    assert shown.status_code == 200
    page = shown.get_data(as_text=True)
    assert f'formaction="{url}"' in page and f'action="{url}/save"' in page
    assert session.scalar(sa.select(sa.func.count(AuditEntry.id))) == before
    unknown = client.post(f"{url}/save", data={"columns": ["no such question"], "leaf_code": ""})
    assert unknown.status_code == 200 and "alert-danger" in unknown.get_data(as_text=True)
    session.expire_all()
    assert session.scalar(sa.select(sa.func.count(AuditEntry.id))) == before


def test_an_override_note_too_long_is_refused_with_a_message(setup, client, auth, session):
    auth.login(setup["lead"])
    eid = setup["engagement"].id
    sid = create(client, eid)
    publish(client, eid, sid)
    survey = session.get(Survey, sid)
    respond(client.application, survey.public_token, answers_for(survey))
    response = session.scalars(sa.select(SurveyResponse)).one()
    posted = client.post(
        f"/engagements/{eid}/surveys/{sid}/responses/{response.id}/override",
        data={"decision": "exclude", "note": "理" * 3000},
    )
    assert posted.status_code == 302
    shown = client.get(posted.location).get_data(as_text=True)
    assert "2000" in shown  # the length the note may have
    session.expire_all()
    assert session.get(SurveyResponse, response.id).override is None


def test_survey_errors_are_told_from_the_one_registry(app):
    from workbench.error_messages import message_for
    from workbench.surveys.services import SurveyError
    from workbench.surveys.views import import_errors

    with app.test_request_context():
        assert message_for(SurveyError("bad_column", "Q9")) == "Unknown question: Q9"
        assert message_for(SurveyError("bad_level")) == "Map every answer to one of the levels."
        question = SurveyError("bad_question", "options must be different; x", question=4)
        assert message_for(question) == (
            "The question was not saved: Q4: the options must be different; x"
        )
        job = type("Job", (), {"errors": [("no_rows", {}), ("unexpected", {"reason": "r"})]})
        assert import_errors(job) == [
            "The file contains no responses.",
            "Unexpected error (r); the file was not imported.",
        ]
