"""Import jobs are run once and never stay "running" forever.

* A double-submitted mapping (two requests at the same moment) imports the file once: the job is
  claimed with a conditional update, the other request is told it has started.
* A job whose worker died (no heartbeat for longer than its lease) is marked failed with the
  reason, its upload is deleted, and it can be discarded. The clock is injected: a dead job is a
  running row with an old heartbeat, nothing sleeps.
"""

from __future__ import annotations

import datetime as dt
import os
import threading

import sqlalchemy as sa

from workbench.audit.models import AuditEntry
from workbench.db import db, utcnow
from workbench.surveys import jobs
from workbench.surveys.models import ImportJob, Survey, SurveyResponse

from ..conftest import PASSWORD
from . import test_forms
from .test_imports import upload

N = 40  # rows of the file
TABLE = ("编号,总体满意度\n" + "".join(f"{i},满意\n" for i in range(1, N + 1))).encode()


def waiting_job(client, session, eid) -> tuple[str, str, int]:
    """A table import into a new questionnaire, waiting for its mapping."""
    sid = test_forms.create(client, eid, start="")  # one Likert question
    column = session.get(Survey, sid).columns[0]
    return upload(client, eid, TABLE, "paper.csv", target=str(sid)), column, sid


def responses(session, sid: int) -> int:
    session.expire_all()
    return session.scalar(
        sa.select(sa.func.count(SurveyResponse.id)).where(SurveyResponse.survey_id == sid)
    )


def test_a_double_submitted_mapping_imports_the_file_once(
    setup, app, client, auth, session, monkeypatch
):
    auth.login(setup["lead"])
    eid = setup["engagement"].id
    job_url, column, sid = waiting_job(client, session, eid)
    mapping = {"col-0": "meta:row_no", "col-1": column}
    # both requests read the job while it still waits for its mapping (the page previews the
    # file then), before either starts it: the double submit of the review
    both_read = threading.Barrier(2, timeout=20)
    preview = jobs.read_frame

    def read_frame(job, nrows=None):  # type: ignore[no-untyped-def]
        frame = preview(job, nrows=nrows)
        if nrows is not None:
            both_read.wait()
        return frame

    monkeypatch.setattr(jobs, "read_frame", read_frame)
    pages: list[str] = []

    def submit() -> None:
        tab = app.test_client()
        tab.post("/login", data={"username": setup["lead"].username, "password": PASSWORD})
        page = tab.post(job_url, data=mapping, follow_redirects=True)
        pages.append(f"{page.status_code} {page.get_data(as_text=True)}")

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert len(pages) == 2 and all(p.startswith("200 ") for p in pages), [p[:300] for p in pages]
    assert responses(session, sid) == N  # not 2 × N
    assert sum("already been started" in p for p in pages) == 1
    job = session.scalar(sa.select(ImportJob))
    assert (job.status, job.rows) == ("done", N)


def test_a_job_is_run_by_one_worker_only(setup, app, session):
    job = jobs.create(
        session,
        setup["lead"],
        setup["engagement"],
        kind="wjx",
        data=("序号,1、满意度\n" + "1,满意\n").encode(),
        filename="wjx.csv",
        options={"title": "问卷"},
        survey=None,
    )
    job.status = "running"  # another worker claimed it
    session.commit()
    jobs.run(job.id)  # a second worker (or a repeated start) does nothing
    session.expire_all()
    assert session.get(ImportJob, job.id).status == "running"
    assert session.scalar(sa.select(sa.func.count(Survey.id))) == 0


def dead_job(session, setup, minutes_ago: int = 60) -> ImportJob:
    """A job a killed worker left "running", its last heartbeat ``minutes_ago``."""
    job = jobs.create(
        session,
        setup["lead"],
        setup["engagement"],
        kind="wjx",
        data=("序号,1、满意度\n" + "1,满意\n").encode(),
        filename="killed.csv",
        options={"title": "问卷"},
        survey=None,
    )
    job.status = "running"
    job.heartbeat_at = utcnow() - dt.timedelta(minutes=minutes_ago)
    session.commit()
    return job


def test_the_lease_follows_the_heartbeat_and_the_injected_clock(setup, app, session):
    job = dead_job(session, setup)
    last = job.heartbeat_at
    lease = dt.timedelta(seconds=jobs.LEASE_S)
    assert app.config.get("SURVEY_IMPORT_LEASE_S", jobs.LEASE_S) == jobs.LEASE_S == 180
    assert not jobs.is_dead(job, now=last + lease - dt.timedelta(seconds=1))
    assert jobs.is_dead(job, now=last + lease + dt.timedelta(seconds=1))
    # a worker that is alive touches the beat file: that counts, whatever the row says
    beat = jobs._beat_file(job.id)
    beat.touch()
    fresh = (last + dt.timedelta(minutes=59)).timestamp()
    os.utime(beat, (fresh, fresh))
    assert not jobs.is_dead(job, now=last + dt.timedelta(minutes=60))
    assert not jobs.reap(session, job, now=last + dt.timedelta(minutes=60))
    assert jobs.is_dead(job, now=last + dt.timedelta(minutes=59) + lease + dt.timedelta(seconds=1))
    # done, failed and waiting jobs have no lease
    for status in ("done", "failed", "mapping"):
        job.status = status
        assert not jobs.is_dead(job, now=last + dt.timedelta(days=1))


def test_a_job_whose_worker_died_fails_with_the_reason_and_can_be_discarded(
    setup, app, client, auth, session
):
    auth.login(setup["lead"])
    eid = setup["engagement"].id
    job = dead_job(session, setup)
    stored, job_id = jobs.upload_path(job), job.id
    assert stored.exists()
    url = f"/engagements/{eid}/surveys/imports/{job_id}"

    assert client.get(f"{url}.json").json["status"] == "failed"
    page = client.get(url).get_data(as_text=True)
    assert "The import was interrupted" in page and "Discard this import" in page
    session.expire_all()
    job = session.get(ImportJob, job_id)
    assert job.status == "failed" and job.errors == [["interrupted", {}]]
    assert job.finished_at is not None
    assert not stored.exists()  # its upload is deleted with it

    discarded = client.post(f"{url}/discard")
    assert discarded.status_code == 302
    session.expire_all()
    assert session.get(ImportJob, job_id) is None
    entry = session.scalar(
        sa.select(AuditEntry).where(AuditEntry.action == "survey.import_discard")
    )
    assert entry is not None and entry.summary == "killed.csv"


def test_a_dead_job_is_discarded_directly_and_a_live_one_is_not(setup, app, client, auth, session):
    auth.login(setup["lead"])
    eid = setup["engagement"].id
    alive = dead_job(session, setup, minutes_ago=0)
    url = f"/engagements/{eid}/surveys/imports/{alive.id}"
    refused = client.post(f"{url}/discard", follow_redirects=True)
    assert "still running" in refused.get_data(as_text=True)
    session.expire_all()
    assert session.get(ImportJob, alive.id).status == "running"
    assert jobs.upload_path(alive).exists()

    dead = dead_job(session, setup)
    dead_id, stored = dead.id, jobs.upload_path(dead)
    assert client.post(f"/engagements/{eid}/surveys/imports/{dead_id}/discard").status_code == 302
    session.expire_all()
    assert session.get(ImportJob, dead_id) is None
    assert not stored.exists()
    # the surveys page lists no dead job as running either
    index = client.get(f"/engagements/{eid}/surveys/").get_data(as_text=True)
    assert "killed.csv" in index  # the live one


def test_a_job_declared_dead_while_it_ran_keeps_no_rows(
    setup, app, client, auth, session, monkeypatch
):
    """A worker that was only slow and finishes after its job was failed does not import."""
    auth.login(setup["lead"])
    eid = setup["engagement"].id
    job_url, column, sid = waiting_job(client, session, eid)
    job_id = session.scalar(sa.select(ImportJob.id))
    insert = jobs.insert_rows
    beats: list[bool] = []

    def late_insert(s, survey_id, rows, tick=lambda n: None):  # type: ignore[no-untyped-def]
        beats.append(jobs._beat_file(job_id).exists())  # the worker's heartbeat is on
        with db.engine.begin() as other:  # meanwhile another request reaped it
            other.execute(
                sa.update(ImportJob.__table__)
                .where(ImportJob.__table__.c.id == job_id)
                .values(status="failed")
            )
        insert(s, survey_id, rows, tick)

    monkeypatch.setattr(jobs, "insert_rows", late_insert)
    client.post(job_url, data={"col-0": "meta:row_no", "col-1": column})
    assert beats == [True]
    assert responses(session, sid) == 0
    assert session.get(ImportJob, job_id).status == "failed"
    assert not jobs._beat_file(job_id).exists()


def test_the_cli_reaps_every_dead_job_and_leaves_live_ones(setup, app, session):
    dead = dead_job(session, setup)
    alive = dead_job(session, setup, minutes_ago=0)
    dead_id, alive_id, upload = dead.id, alive.id, jobs.upload_path(dead)
    result = app.test_cli_runner().invoke(args=["jobs", "reap"])
    assert result.exit_code == 0, result.output
    assert "1 of 2 queued or running imports were dead" in result.output
    session.expire_all()
    assert session.get(ImportJob, dead_id).status == "failed"
    assert session.get(ImportJob, alive_id).status == "running"
    assert not upload.exists() and jobs.upload_path(alive).exists()
