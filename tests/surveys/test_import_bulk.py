"""Large imports: all or nothing however many rows, row-level errors in row order, dates in
any format, and the fast Excel reader giving exactly pandas' text cells."""

import datetime as dt
import io

import openpyxl
import pandas as pd
import pytest
import sqlalchemy as sa

from workbench.core.surveys import _excel_text_cells, read_table
from workbench.surveys import jobs
from workbench.surveys.models import ImportJob, Survey, SurveyResponse

from . import test_forms
from .test_imports import FIXTURES


def _table_job(setup, session, client, auth, body, mapping_of):  # type: ignore[no-untyped-def]
    """A generic table imported into a one-question survey with the mapping given."""
    auth.login(setup["lead"])
    sid = test_forms.create(client, setup["engagement"].id, start="")
    survey = session.get(Survey, sid)
    job = jobs.create(
        session,
        setup["lead"],
        setup["engagement"],
        kind="table",
        data=body.encode("utf-8"),
        filename="big.csv",
        options={},
        survey=survey,
    )
    job.options = {**job.options, "mapping": mapping_of(survey.columns[0])}
    session.commit()
    jobs.start(client.application, job)
    session.expire_all()
    return session.get(ImportJob, job.id), sid


def _count(session, model) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(sa.select(sa.func.count()).select_from(model))


def test_an_error_on_the_last_of_many_rows_stores_nothing(setup, session, client, auth):
    rows = 12_345  # more than one INSERT chunk
    body = (
        "序号,总体满意度\n" + "".join(f"{i},满意\n" for i in range(1, rows)) + f"{rows},很满意呀\n"
    )
    job, _ = _table_job(
        setup, session, client, auth, body, lambda c: {"序号": "meta:row_no", "总体满意度": c}
    )
    assert job.status == "mapping"  # failed, the mapping can be corrected
    assert job.errors[0][0] == "bad_answer" and job.errors[0][1]["row"] == rows + 1
    assert job.errors[0][1]["value"] == "很满意呀" and len(job.errors) == 1
    assert _count(session, SurveyResponse) == 0


def test_a_failure_while_inserting_rolls_back_the_chunks_already_sent(
    setup, session, client, auth, monkeypatch
):
    monkeypatch.setattr(jobs, "CHUNK", 1000)
    sent = []
    write_progress = jobs.write_progress

    def fail_on_third_chunk(job_id, phase, done, total):  # type: ignore[no-untyped-def]
        if phase == "saving":
            sent.append(done)
            if len(sent) == 3:
                raise OSError("disk full")
        write_progress(job_id, phase, done, total)

    monkeypatch.setattr(jobs, "write_progress", fail_on_third_chunk)
    body = "总体满意度\n" + "满意\n" * 5000
    job, _ = _table_job(setup, session, client, auth, body, lambda c: {"总体满意度": c})
    assert sent == [1000, 2000, 3000]
    assert job.status == "mapping" and job.errors == [["unexpected", {"reason": "OSError"}]]
    assert _count(session, SurveyResponse) == 0


def test_row_errors_come_in_row_order_and_stop_at_the_limit(setup, session, client, auth):
    lines = []
    for i in range(1, 401):
        answer = "满意" if i % 2 else "好"  # every even row is not an option
        seconds = "两分钟" if i == 3 else str(100 + i)
        lines.append(f"{answer},{seconds}\n")
    body = "总体满意度,用时\n" + "".join(lines)
    job, _ = _table_job(
        setup, session, client, auth, body, lambda c: {"总体满意度": c, "用时": "meta:duration"}
    )
    codes = [(code, params.get("row")) for code, params in job.errors]
    # spreadsheet rows: the header is row 1, so file row i is row i + 1
    assert codes[:4] == [
        ("bad_answer", 3),
        ("bad_duration", 4),
        ("bad_answer", 5),
        ("bad_answer", 7),
    ]
    assert len(codes) == jobs.MAX_ERRORS + 1 and codes[-1] == ("more", None)
    assert codes[-2] == ("bad_answer", 399)  # the 200th error
    assert _count(session, SurveyResponse) == 0


def test_submission_times_in_other_formats_are_read_as_beijing_time(setup, session, client, auth):
    body = (
        "填写时间,总体满意度\n"
        "2026/04/15 16:17:59,满意\n"
        "2026-04-15 16:17,满意\n"
        "2026-04-15T16:17:59+05:00,满意\n"  # a written offset is ignored: the wall clock counts
        ",满意\n"
    )
    job, sid = _table_job(
        setup,
        session,
        client,
        auth,
        body,
        lambda c: {"填写时间": "meta:submitted", "总体满意度": c},
    )
    assert job.status == "done", job.errors
    times = session.scalars(
        sa.select(SurveyResponse.submitted_at)
        .where(SurveyResponse.survey_id == sid)
        .order_by(SurveyResponse.id)
    ).all()
    utc = dt.UTC
    assert times == [
        dt.datetime(2026, 4, 15, 8, 17, 59, tzinfo=utc),
        dt.datetime(2026, 4, 15, 8, 17, tzinfo=utc),
        dt.datetime(2026, 4, 15, 8, 17, 59, tzinfo=utc),
        None,
    ]
    bad, _ = _table_job(
        setup,
        session,
        client,
        auth,
        "填写时间,总体满意度\n2026/04/15 16:17:59,满意\n上周三,满意\n",
        lambda c: {"填写时间": "meta:submitted", "总体满意度": c},
    )
    assert bad.errors == [["bad_date", {"row": 3, "value": "上周三"}]]


def _workbook(rows: list[list[object]]) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _pandas_cells(data: bytes) -> pd.DataFrame:
    return pd.read_excel(io.BytesIO(data), engine="calamine", dtype=str, keep_default_na=False)


def test_the_fast_excel_reader_gives_pandas_text_cells():
    data = _workbook(
        [
            ["序号", "1、满意度", "2、分数", "3、时间", "4、编号"],
            [1, "满意", 1.5, dt.datetime(2026, 5, 1, 10, 0, 0, 500000), 12345678901],
            [None, None, None, None, None],  # a blank row stays, as pandas keeps it
            [3, " 一般 ", True, dt.date(2026, 5, 2), 0.1 + 0.2],
            [4, "", 0.0, "x", -3],
        ]
    )
    fast = _excel_text_cells(data)
    assert fast is not None
    pd.testing.assert_frame_equal(fast, _pandas_cells(data))
    assert fast["2、分数"].tolist() == ["1.5", "", "True", "0"]


@pytest.mark.parametrize(
    "rows",
    [
        [["序号", None], [1, 2]],  # a blank header: pandas names it "Unnamed: 1"
        [["a", "a"], [1, 2]],  # a repeated header: pandas renames it "a.1"
        [["a", "b"], [dt.time(12, 30), 1]],  # a time of day
    ],
)
def test_unusual_sheets_are_left_to_pandas(rows):
    data = _workbook(rows)
    assert _excel_text_cells(data) is None
    if rows[0] == ["a", "a"]:  # and the generic import still refuses a repeated header
        with pytest.raises(ValueError, match="same header"):
            read_table(data, "t.xlsx")


@pytest.mark.skipif(not FIXTURES.exists(), reason="shared/fixtures not beside the clone")
@pytest.mark.parametrize("name", ["reportgen_800_800_0.xls", "reportgen_800_800_2.xls"])
def test_the_fast_reader_matches_pandas_on_real_exports(name):
    data = (FIXTURES / name).read_bytes()
    fast = _excel_text_cells(data)
    assert fast is not None
    pd.testing.assert_frame_equal(fast, _pandas_cells(data))
