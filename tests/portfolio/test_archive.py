"""Archiving freezes the engagement and makes a package whose manifest can be verified."""

import io
import zipfile

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
    for state in ("fieldwork", "expert_scoring", "drafting", "review"):
        engagements.transition(session, users["zhang.wei"], engagement, EngagementState(state))
    engagements.transition(session, users["wang.fang"], engagement, EngagementState.ISSUED)
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
    assert "evidence/C21/v1-验收报告.pdf" in names
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
        f"/engagements/{engagement.id}/report/findings",
        data={"action": "finding-update", "id": finding.id, "kind": "other", "title": "改"},
    )
    assert edit.status_code == 403
