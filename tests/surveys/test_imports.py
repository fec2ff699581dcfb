"""Imports: generic tables with a remembered column mapping, 问卷星 exports into a built
questionnaire, all-or-nothing with row-level errors, and the background runner."""

import io
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from workbench.surveys import jobs
from workbench.surveys.models import ImportJob, Survey, SurveyResponse
from workbench.surveys.services import results

from . import test_forms

create = test_forms.create


def upload(client, eid, payload, name, kind="table", target="", title="问卷"):
    response = client.post(
        f"/engagements/{eid}/surveys/import",
        content_type="multipart/form-data",
        data={
            "imp-kind": kind,
            "imp-target": target,
            "imp-title": title,
            "imp-file": (io.BytesIO(payload), name),
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:400]
    return response.location


def test_generic_table_is_mapped_then_imported_and_the_mapping_remembered(
    setup, client, auth, session
):
    auth.login(setup["lead"])
    eid = setup["engagement"].id
    sid = create(client, eid, start="")  # one Likert question: 1、您对本项目的总体满意程度
    survey = session.get(Survey, sid)
    column = survey.columns[0]
    table = "编号,填写时间,总体满意度,备注\n" + "".join(
        f"{i},2026-05-0{1 + i % 9} 10:00,{level},\n"
        for i, level in enumerate(["满意", "非常满意", "一般", "满意"], start=1)
    )
    job_url = upload(client, eid, table.encode("utf-8-sig"), "paper.csv", target=str(sid))
    page = client.get(job_url).get_data(as_text=True)
    assert "总体满意度" in page and "一般" in page  # the preview of the first rows
    job = session.scalar(sa.select(ImportJob))
    assert job.status == "mapping"
    mapping = {"col-0": "meta:row_no", "col-1": "meta:submitted", "col-2": column, "col-3": ""}
    done = client.post(job_url, data=mapping)
    assert done.status_code == 302
    assert "4 responses imported" in client.get(job_url).get_data(as_text=True)
    session.expire_all()
    survey = session.get(Survey, sid)
    assert [r.answers[column] for r in survey.responses] == ["满意", "非常满意", "一般", "满意"]
    assert survey.responses[0].submitted_at is not None and survey.responses[0].row_no == "1"
    assert results(survey).overall.rate.satisfied == 3
    assert survey.import_map["总体满意度"] == column
    # the next file from the same source is mapped the same way without asking again
    job2_url = upload(client, eid, table.encode("gb18030"), "paper2.csv", target=str(sid))
    page = client.get(job2_url).get_data(as_text=True)
    assert re.search(rf'<option value="{re.escape(column)}" selected>', page)


def test_a_bad_row_imports_nothing_and_lists_the_row(setup, client, auth, session):
    auth.login(setup["lead"])
    eid = setup["engagement"].id
    sid = create(client, eid, start="")
    column = session.get(Survey, sid).columns[0]
    table = "总体满意度,用时\n满意,120\n很满意呀,130\n一般,两分钟\n" + "满意," + "9" * 3 + "\n"
    job_url = upload(client, eid, table.encode(), "bad.csv", target=str(sid))
    client.post(job_url, data={"col-0": column, "col-1": "meta:duration"})
    page = client.get(job_url).get_data(as_text=True)
    assert "Nothing was imported" in page
    assert "Row 3" in page and "很满意呀" in page  # not an answer of the question
    assert "Row 4" in page and "两分钟" in page  # a duration that is not understood
    assert session.scalar(sa.select(sa.func.count(SurveyResponse.id))) == 0
    # the mapping can be corrected (ignore the duration) and the import retried
    client.post(job_url, data={"col-0": column, "col-1": ""})
    assert "Row 3" in client.get(job_url).get_data(as_text=True)


def test_huge_cells_and_wrong_files_fail_cleanly(setup, client, auth, session):
    auth.login(setup["lead"])
    eid = setup["engagement"].id
    huge = ("序号,1、意见\n1," + "很" * 20_000 + "\n").encode()
    page = client.get(upload(client, eid, huge, "wjx.csv", kind="wjx")).get_data(as_text=True)
    assert "Nothing was imported" in page and "20000 characters" in page
    gbk_as_xlsx = "序号,1、满意度\n1,满意\n".encode("gbk")
    page = client.get(upload(client, eid, gbk_as_xlsx, "wjx.xlsx", kind="wjx")).get_data(
        as_text=True
    )
    assert "not a valid Excel workbook" in page
    assert session.scalar(sa.select(sa.func.count(Survey.id))) == 0
    assert session.scalar(sa.select(sa.func.count(SurveyResponse.id))) == 0


def test_wjx_export_of_a_built_questionnaire_maps_by_question_number(setup, client, auth, session):
    auth.login(setup["lead"])
    eid = setup["engagement"].id
    sid = create(client, eid)  # the library's beneficiary questionnaire
    survey = session.get(Survey, sid)
    matrix = [c for c in survey.columns if c.startswith("5、")]
    header = ["序号", "提交答卷时间", "所用时间", "来源", "来源详情", "来自IP"]
    # 问卷星 puts the matrix title on the first item and bare labels on the others
    header += [f"5、您对本项目以下方面的满意程度 (矩阵单选题 *必答)—{matrix[0].split('—')[1]}"]
    header += [c.split("—")[1] for c in matrix[1:]]
    rows = [",".join(header)]
    for i in range(1, 4):
        rows.append(
            ",".join(
                [str(i), "2026/09/03 12:00:00", "136秒", "手机提交", "微信", "1.2.3.4(上海-上海)"]
                + ["满意"] * len(matrix)
            )
        )
    job_url = upload(
        client, eid, "\n".join(rows).encode("gb18030"), "wjx.csv", kind="wjx", target=str(sid)
    )
    page = client.get(job_url).get_data(as_text=True)
    assert re.search(rf'<option value="{re.escape(matrix[0])}" selected>', page)
    job = session.scalar(sa.select(ImportJob))
    guessed = jobs.guess_mapping(survey, list(jobs.read_frame(job, nrows=2)[0].columns))
    assert guessed["序号"] == "meta:row_no" and guessed["所用时间"] == "meta:duration"
    # the bare sub-item labels are not guessed; the evaluator picks them
    data = {f"col-{i}": target for i, target in enumerate(guessed.values())}
    for k, c in enumerate(matrix[1:], start=7):
        data[f"col-{k}"] = c
    client.post(job_url, data=data)
    session.expire_all()
    survey = session.get(Survey, sid)
    assert len(survey.responses) == 3 and survey.responses[0].duration_s == 136
    assert all(survey.responses[0].answers[c] == "满意" for c in matrix)


def test_background_import_reports_progress(setup, app, session, monkeypatch):
    monkeypatch.setitem(app.config, "SURVEY_IMPORT_INLINE", False)
    data = ("序号,1、满意度\n" + "".join(f"{i},满意\n" for i in range(1, 2001))).encode()
    job = jobs.create(
        session,
        setup["lead"],
        setup["engagement"],
        kind="wjx",
        data=data,
        filename="big.csv",
        options={"title": "大样本"},
        survey=None,
    )
    session.commit()
    jobs.start(app, job)
    jobs.wait_all()
    session.expire_all()
    job = session.get(ImportJob, job.id)
    assert job.status == "done" and job.rows == 2000
    assert jobs.progress(job) == {"phase": "done", "done": 2000, "total": 2000, "status": "done"}
    assert not jobs.upload_path(job).exists()  # the upload is removed once imported


FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "wenjuanxing"
needs_fixtures = pytest.mark.skipif(
    not FIXTURES.exists(), reason="shared/fixtures not beside the clone"
)


@needs_fixtures
def test_real_text_export_imports_through_the_page(setup, client, auth, session):
    auth.login(setup["lead"])
    eid = setup["engagement"].id
    name = "reportgen_800_800_0.xls"
    job_url = upload(client, eid, (FIXTURES / name).read_bytes(), name, kind="wjx")
    assert "800 responses imported" in client.get(job_url).get_data(as_text=True)
    survey = session.scalar(sa.select(Survey))
    assert len(survey.responses) == 800 and survey.flavour == "text"


@needs_fixtures
def test_real_code_export_waits_for_confirmation_with_options_grouped(setup, client, auth, session):
    """The option-number export is never imported unseen: the mapping step groups the
    multiple-choice sub-columns under their question with the option texts the file holds,
    and nothing is imported until the evaluator confirms (#15)."""
    auth.login(setup["lead"])
    eid = setup["engagement"].id
    name = "reportgen_800_800_2.xls"
    job_url = upload(client, eid, (FIXTURES / name).read_bytes(), name, kind="wjx")
    job = session.scalar(sa.select(ImportJob))
    assert job.status == "mapping"
    page = client.get(job_url).get_data(as_text=True)
    assert 'id="code-export"' in page and 'name="confirm_codes"' in page
    groups = re.findall(
        r'<tbody class="question-group" data-question="(\d*)">(.*?)</tbody>', page, re.S
    )
    by_number = dict(groups)
    options = re.findall(r'<span class="option-text">(.*?)</span>', by_number["6"])
    assert options[:3] == ["运动", "阅读", "影视"] and len(options) == 14
    assert (
        "第6题" in by_number["6"]
        and len(re.findall(r'<span class="option-text">', by_number["8"])) == 10
    )
    headers = list(jobs.read_frame(job, nrows=2)[0].columns)
    mapping = jobs.guess_mapping(None, headers)
    data = {f"col-{i}": mapping[h] for i, h in enumerate(headers)}
    client.post(job_url, data=data)  # not confirmed
    session.expire_all()
    assert session.get(ImportJob, job.id).status == "mapping"
    assert session.scalar(sa.select(sa.func.count(SurveyResponse.id))) == 0
    client.post(job_url, data={**data, "confirm_codes": "y"})
    assert "800 responses imported" in client.get(job_url).get_data(as_text=True)
    survey = session.scalar(sa.select(Survey))
    assert len(survey.responses) == 800 and survey.flavour == "code"
    # −2/−3 codes are stored as blanks, never as answers
    assert not any(v in ("-2", "-3") for r in survey.responses[:200] for v in r.answers.values())
    # the levels step pre-selects no level for an option number
    mapping_page = client.post(
        f"/engagements/{eid}/surveys/{survey.id}/mapping",
        data={"columns": ["1、手机部数"]},
    ).get_data(as_text=True)
    assert 'id="codes-not-guessed"' in mapping_page
    selects = re.findall(r'<select[^>]*name="level-\d+".*?</select>', mapping_page, re.S)
    assert len(selects) == 4  # the codes 1–4 found in the file
    assert not any(" selected" in select for select in selects)


def test_local_times_become_utc_and_a_waiting_import_can_be_discarded(setup, client, auth, session):
    auth.login(setup["lead"])
    eid = setup["engagement"].id
    table = "序号,提交答卷时间,所用时间,1、满意度\n1,2026/04/15 16:17:59,100秒,满意\n"
    client.get(upload(client, eid, table.encode(), "wjx.csv", kind="wjx"))
    stored = session.scalar(sa.select(SurveyResponse))
    # 问卷星 shows Beijing time: 16:17:59 there is 08:17:59 UTC
    assert stored.submitted_at.replace(tzinfo=None).isoformat() == "2026-04-15T08:17:59"
    survey = session.scalar(sa.select(Survey))
    raw = client.get(f"/engagements/{eid}/surveys/{survey.id}/raw.xlsx")
    import openpyxl

    cell = openpyxl.load_workbook(io.BytesIO(raw.data)).active.cell(row=2, column=2).value
    assert cell.isoformat() == "2026-04-15T16:17:59"  # Excel shows the local time again
    waiting = upload(client, eid, b"a,b\n1,2\n", "other.csv", target=str(survey.id))
    job_id = session.scalar(sa.select(ImportJob.id).where(ImportJob.status == "mapping"))
    assert client.post(f"{waiting}/discard").status_code == 302
    session.expire_all()
    assert session.get(ImportJob, job_id) is None


def test_survey_pages_send_strangers_to_the_login_page(setup, client):
    eid = setup["engagement"].id
    for path in ("", "1/results", "1/raw.xlsx", "imports/1.json"):
        response = client.get(f"/engagements/{eid}/surveys/{path}")
        assert response.status_code == 302 and "/login" in response.location
