"""Archiving freezes the engagement and makes a package whose manifest can be verified."""

import io
import json
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from workbench.core.workflow import EngagementState
from workbench.engagements import services as engagements

from .test_portfolio import login, out_for_comments


def test_archiving_makes_a_verifiable_package(demo, client, session, app, tmp_path):
    from workbench.archive import verify
    from workbench.reports import services

    engagement, users, version, choice, levels = out_for_comments(
        session, tmp_path / "instance" / "reports"
    )
    services.issue(
        session,
        users["wang.fang"],
        engagement,
        version,
        choice,
        tmp_path / "instance" / "reports",
        levels,
        report_no="第002号",
    )
    from workbench.workpapers.services import upload_evidence

    upload_evidence(
        session,
        users["li.na"],
        engagement,
        tmp_path / "instance" / "evidence",
        b"%PDF-1.4 acceptance report",
        "验收报告.pdf",
        indicator_code="C21",
    )
    assert engagement.state is EngagementState.ISSUED  # issuing the report moved it
    session.commit()
    app.instance_path = str(tmp_path / "instance")  # where the report files were written
    login(client, "zhang.wei")
    response = client.post(
        f"/engagements/{engagement.id}/transition",
        data={"target": "archived", "version": str(engagement.version)},
    )
    assert response.status_code == 302
    page = client.get(f"/engagements/{engagement.id}").get_data(as_text=True)
    assert (
        'id="archive"' in page and str(int(__import__("datetime").date.today().year) + 10) in page
    )
    package = client.get(f"/engagements/{engagement.id}/archive.zip")
    assert package.status_code == 200
    path = tmp_path / "package.zip"
    path.write_bytes(package.data)
    with zipfile.ZipFile(io.BytesIO(package.data)) as z:
        names = z.namelist()
    assert "manifest.json" in names and any(
        n.startswith("reports/") and n.endswith(".docx") for n in names
    )
    assert "scores/指标体系评分表.xlsx" in names and "audit/审计日志.xlsx" in names
    assert "evidence/C21/1-v1-验收报告.pdf" in names
    assert sum(n.startswith("surveys/") for n in names) == 4  # two surveys, raw and cleaned
    assert verify(path) == []
    result = app.test_cli_runner().invoke(args=["archive", "verify", str(path)])
    assert result.exit_code == 0
    # a changed file is caught
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tampered, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "audit/审计日志.xlsx":
                data += b"x"
            dst.writestr(item, data)
    assert verify(tampered) == ["changed: audit/审计日志.xlsx"]
    assert app.test_cli_runner().invoke(args=["archive", "verify", str(tampered)]).exit_code != 0
    # archived means frozen: the findings can no longer be changed
    from workbench.reports.models import Finding

    finding = session.scalar(sa.select(Finding))
    edit = client.post(
        f"/engagements/{engagement.id}/report/findings/update",
        data={"id": finding.id, "kind": "other", "title": "改"},
    )
    assert edit.status_code == 403


# --- issue #13: every stored file, safe entry names, built in the background ------------------

PDF = b"%PDF-1.4 "


def _engagement_and_user(session):
    from workbench.accounts.models import User
    from workbench.engagements.models import Engagement

    return session.scalar(sa.select(Engagement)), session.scalar(
        sa.select(User).where(User.username == "li.na")
    )


def _build(app, session, engagement):
    from workbench import archive

    instance = Path(app.instance_path)
    return archive.build_package(session, engagement, instance / "archives", instance / "reports")


def _upload(app, session, user, engagement, name, code=None, body=b""):
    from workbench.workpapers.services import upload_evidence

    return upload_evidence(
        session,
        user,
        engagement,
        Path(app.instance_path) / "evidence",
        PDF + name.encode() + body,
        name,
        indicator_code=code,
    )


SIMILAR = ["资料 A.pdf", "资料_A.pdf", "资料:A.pdf", "资料?A.pdf", "资料 A.pdf"]


def test_similar_names_are_all_kept_and_verify_compares_with_the_database(
    demo, app, session, tmp_path
):
    from workbench import archive

    engagement, user = _engagement_and_user(session)
    for i, name in enumerate(SIMILAR):
        _upload(app, session, user, engagement, name, "C21", body=str(i).encode())
    session.commit()
    package = _build(app, session, engagement)
    evidence = [f for f in package.manifest["files"] if f["path"].startswith("evidence/")]
    assert len(evidence) == 5  # the old package kept 3 of 5
    assert sorted(f["origin"]["name"] for f in evidence) == sorted(SIMILAR)
    assert {f["origin"]["version"] for f in evidence if f["origin"]["name"] == "资料 A.pdf"} == {
        1,
        2,
    }
    instance = Path(app.instance_path)
    expected = archive.expected_files(
        session, engagement, instance / "reports", instance / "evidence"
    )
    assert len(expected) == 5
    assert archive.verify(package.path, expected) == []
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["archive", "verify", str(package.path)])
    assert ok.exit_code == 0, ok.output
    assert "all 5 stored files of engagement" in ok.output

    # a package that lost two files (manifest and ZIP consistent, as the old one was) is caught
    short = tmp_path / "short.zip"
    dropped = {f["path"] for f in evidence[:2]}
    with zipfile.ZipFile(package.path) as src, zipfile.ZipFile(short, "w") as dst:
        manifest = json.loads(src.read("manifest.json"))
        manifest["files"] = [f for f in manifest["files"] if f["path"] not in dropped]
        for item in src.infolist():
            if item.filename not in dropped and item.filename != "manifest.json":
                dst.writestr(item, src.read(item.filename))
        dst.writestr("manifest.json", json.dumps(manifest))
    assert archive.verify(short) == []  # the manifest alone cannot tell
    problems = archive.verify(short, expected)
    assert len(problems) == 2
    assert all(p.startswith("not in the package: evidence #") for p in problems)
    result = runner.invoke(args=["archive", "verify", str(short)])
    assert result.exit_code != 0
    assert "2 problem(s)" in result.output and "not in the package" in result.output
    assert runner.invoke(args=["archive", "verify", "--manifest-only", str(short)]).exit_code == 0
    wrong = runner.invoke(args=["archive", "verify", "--engagement", "999", str(short)])
    assert wrong.exit_code != 0 and "no engagement 999" in wrong.output
    # an evidence row added after the package was built is reported too
    _upload(app, session, user, engagement, "后补.pdf")
    session.commit()
    late = runner.invoke(args=["archive", "verify", str(package.path)])
    assert late.exit_code != 0 and "后补.pdf" in late.output


def test_a_stored_file_missing_on_disk_is_listed_not_silently_skipped(demo, app, session):
    from workbench import archive

    engagement, user = _engagement_and_user(session)
    gone = _upload(app, session, user, engagement, "丢失.pdf", "C21")
    session.commit()
    (Path(app.instance_path) / "evidence" / gone.sha256).unlink()
    package = _build(app, session, engagement)
    assert [m["id"] for m in package.manifest["missing"]] == [gone.id]
    instance = Path(app.instance_path)
    expected = archive.expected_files(
        session, engagement, instance / "reports", instance / "evidence"
    )
    assert archive.verify(package.path, expected) == [
        f"not in the package: evidence #{gone.id} 丢失.pdf (sha256 {gone.sha256[:12]}…)"
    ]


TRAVERSAL_CODES = [
    "../../../../x",
    "/etc/cron.d",
    "..\\..\\win",
    "C:\\Windows",
    "..",
    ".",
    "a/../../b",
    "x\x00y",
    "\u202e..",
]


def test_free_text_indicator_codes_never_escape_the_package(demo, app, session, tmp_path):
    from workbench.archive import unsafe_name

    engagement, user = _engagement_and_user(session)
    for i, code in enumerate(TRAVERSAL_CODES):
        _upload(app, session, user, engagement, f"f{i}.pdf", code)
        _upload(app, session, user, engagement, f"{code}.pdf", "C21", body=b"n")
    session.commit()
    package = _build(app, session, engagement)
    with zipfile.ZipFile(package.path) as z:
        names = z.namelist()
        out = tmp_path / "out"
        z.extractall(out)
    evidence = [n for n in names if n.startswith("evidence/")]
    assert len(evidence) == 2 * len(TRAVERSAL_CODES)
    for name in names:
        assert not unsafe_name(name), name
        assert not name.startswith("/") and "\\" not in name and "\x00" not in name
        assert ".." not in name.split("/")
        assert (out / name).resolve().is_relative_to(out.resolve())
    assert not (tmp_path / "x").exists()


def test_survey_tables_are_streamed_in_chunks_write_only(demo, app, session, monkeypatch):
    """Bounded memory, structurally: rows go through survey_chunks in CHUNK-sized pieces into
    write-only workbooks, and each entry is written to the ZIP on disk as it is made."""
    from workbench import archive
    from workbench.surveys.models import SurveyResponse

    engagement, _ = _engagement_and_user(session)
    monkeypatch.setattr(archive, "CHUNK", 7)
    chunks: list[int] = []
    real = archive.survey_chunks

    def spy(*args, **kwargs):
        for chunk in real(*args, **kwargs):
            chunks.append(len(chunk))
            yield chunk

    monkeypatch.setattr(archive, "survey_chunks", spy)
    modes: list[bool] = []
    real_workbook = archive.Workbook

    def workbook(*args, **kwargs):
        modes.append(kwargs.get("write_only", False))
        return real_workbook(*args, **kwargs)

    monkeypatch.setattr(archive, "Workbook", workbook)
    package = _build(app, session, engagement)
    responses = session.scalar(sa.select(sa.func.count()).select_from(SurveyResponse))
    assert responses > 7
    assert max(chunks) <= 7 and len(chunks) >= 2 * (responses // 7)
    assert modes and all(modes)  # survey and audit tables: write-only
    with zipfile.ZipFile(package.path) as z:
        raw = [n for n in z.namelist() if n.endswith("原始数据.xlsx")]
        import openpyxl

        total = 0
        for name in raw:
            wb = openpyxl.load_workbook(io.BytesIO(z.read(name)), read_only=True)
            total += sum(1 for _ in wb.active.iter_rows(min_row=2, values_only=True))
            wb.close()
    assert total == responses


def test_archiving_runs_in_the_background_and_changes_state_only_when_complete(
    demo, client, session, app, tmp_path, monkeypatch
):
    from workbench import archive, archiving

    engagement, users, _version, _choice, _levels = out_for_comments(
        session, tmp_path / "instance" / "reports"
    )
    for state in ("fieldwork", "expert_scoring", "drafting", "review"):
        engagements.transition(session, users["zhang.wei"], engagement, EngagementState(state))
    engagements.transition(
        session, users["wang.fang"], engagement, EngagementState.ISSUED, issued_report=True
    )
    session.commit()
    eid = engagement.id
    app.instance_path = str(tmp_path / "instance")
    login(client, "zhang.wei")

    def archive_it():
        session.expire_all()
        return client.post(
            f"/engagements/{eid}/transition",
            data={"target": "archived", "version": str(session.get(type(engagement), eid).version)},
        )

    # a build that fails leaves the engagement as it was, with no package, and says so
    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(archive, "build_package", broken)
    assert archive_it().status_code == 302
    session.expire_all()
    assert session.get(type(engagement), eid).state is EngagementState.ISSUED
    assert not (tmp_path / "instance" / "archives" / f"engagement-{eid}.zip").exists()
    assert client.get(f"/engagements/{eid}/archive.zip").status_code == 404
    assert client.get(f"/engagements/{eid}/archive/progress").json["status"] == "failed"
    assert "could not be built" in client.get(f"/engagements/{eid}").get_data(as_text=True)
    monkeypatch.undo()

    # in the background: queued → running → done; the state changes with the package
    monkeypatch.setitem(app.config, "ARCHIVE_BUILD_INLINE", False)
    seen: list[str] = []
    real_build = archive.build_package

    def observed(session_, engagement_, *args, **kwargs):
        seen.append(session_.get(type(engagement_), eid).state.value)
        return real_build(session_, engagement_, *args, **kwargs)

    monkeypatch.setattr(archive, "build_package", observed)
    assert archive_it().status_code == 302
    archiving.wait_all()
    assert seen == ["issued"]  # not archived while the package was being written
    session.expire_all()
    assert session.get(type(engagement), eid).state is EngagementState.ARCHIVED
    progress = client.get(f"/engagements/{eid}/archive/progress").json
    assert progress["status"] == "done" and progress["done"] == progress["total"] > 0
    assert client.get(f"/engagements/{eid}/archive.zip").status_code == 200


def test_a_second_build_of_the_same_engagement_is_refused(demo, app, session):
    import fcntl

    from workbench import archiving

    engagement, user = _engagement_and_user(session)
    with open(archiving._lock_file(engagement.id), "a+b") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(archiving.AlreadyBuilding):
            archiving.start(app, engagement, user, engagement.version)
    # a job file left "running" by a dead process shows as interrupted
    archiving._write(engagement.id, status="running", done=1, total=9)
    assert archiving.status(engagement)["status"] == "interrupted"


@pytest.mark.parametrize("late", ["evidence", "answer"])
def test_a_file_or_answer_stored_during_the_build_fails_it(demo, app, session, monkeypatch, late):
    """The engagement's version does not move for evidence or survey answers: the build
    compares the database with the package before it archives."""
    from workbench import archive, archiving
    from workbench.surveys.models import Survey, SurveyResponse

    engagement, user = _engagement_and_user(session)
    real = archive.build_package

    def slow(*args, **kwargs):
        package = real(*args, **kwargs)
        if late == "evidence":
            _upload(app, session, user, engagement, "迟到.pdf")
        else:
            survey = session.scalar(sa.select(Survey).order_by(Survey.id))
            session.add(SurveyResponse(survey_id=survey.id, answers={}))
        session.commit()
        return package

    monkeypatch.setattr(archive, "build_package", slow)
    archiving.start(app, engagement, user, engagement.version)
    state = archiving.status(engagement)
    assert state["status"] == "failed" and state["error"] == "archive_stale"
    assert not archive.package_path(archiving.folder(), engagement).exists()
    assert not list(archiving.folder().glob("*.tmp"))
