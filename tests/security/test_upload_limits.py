"""Every upload is checked before a parser opens it (issue #13): the dimension bomb, zip bombs,
sparse and wide tables, YAML alias bombs and NUL in file names, through the real routes.

The parsers are replaced by a tripwire that raises a BaseException (no importer's
``except Exception`` swallows it): a hostile file that reaches a parser fails the test
instead of aborting the test process inside calamine."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from tests.security import _payloads as p
from workbench.accounts.models import OrganisationKind, Role
from workbench.audit.models import AuditEntry
from workbench.reports.models import ReportTemplateFile
from workbench.scoring import services as scoring
from workbench.surveys import jobs
from workbench.surveys.models import ImportJob


class ParserReached(BaseException):
    """A hostile file got to a parser."""


@pytest.fixture
def world(session, make_org, make_user, make_engagement):  # type: ignore[no-untyped-def]
    bureau = make_org(OrganisationKind.CLIENT)
    lead = make_user(Role.EVALUATOR)
    engagement = make_engagement(lead=lead, client=bureau)
    scoring.instantiate(session, lead, engagement, scoring.bundled_templates()["project-2020"])
    session.commit()
    return {"engagement": engagement, "lead": lead}


@pytest.fixture
def tripwire(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every parser a hostile file could reach raises :class:`ParserReached`."""

    def reached(*args: object, **kwargs: object) -> None:
        raise ParserReached(str(args)[:80])

    import docxtpl

    from workbench.core import surveys
    from workbench.engagements import imports
    from workbench.experts import offline
    from workbench.scoring import spreadsheet

    monkeypatch.setattr(pd, "read_excel", reached)
    monkeypatch.setattr(surveys, "_excel_text_cells", reached)
    for module in (imports, offline, spreadsheet):
        monkeypatch.setattr(module, "load_workbook", reached)
    monkeypatch.setattr(docxtpl, "DocxTemplate", reached)


def _post(client, url: str, payload: bytes, filename: str, field: str = "file", **data):  # type: ignore[no-untyped-def]
    # encoded here, in memory: the test client would spool a large body to a temporary file
    # that it never closes (a ResourceWarning, not the app's)
    upload = FileStorage(
        io.BytesIO(payload), filename=filename, content_type="application/octet-stream"
    )
    boundary, body = encode_multipart({**data, field: upload})
    return client.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}")


def _uploads(app) -> list[Path]:  # type: ignore[no-untyped-def]
    folder = Path(app.instance_path) / "uploads"
    return sorted(folder.iterdir()) if folder.exists() else []


SURVEY_BOMBS = [
    (p.DIMENSION_BOMB, "wjx.xlsx", "wjx", "16384 columns"),
    (p.DECLARED_DIMENSION_BOMB, "table.xlsx", "table", "16384 columns"),
    (p.wide_csv(), "wide.csv", "table", "200000 columns"),
    (p.docx_bomb(600 * 1024 * 1024), "zip.xlsx", "wjx", "expands to 600 MB"),
]


_XLS_BOMB = p.xls_dimension_bomb()
if _XLS_BOMB is not None:
    SURVEY_BOMBS.append((_XLS_BOMB, "wjx.xls", "wjx", "4294967280 rows"))


@pytest.mark.parametrize(
    ("payload", "name", "kind", "words"),
    SURVEY_BOMBS,
    ids=["dimension-bomb", "declared-dimension", "wide-csv", "zip-bomb", "xls-dimensions"][
        : len(SURVEY_BOMBS)
    ],
)
def test_a_survey_import_is_refused_before_a_job_exists(
    app, world, client, auth, session, tripwire, payload, name, kind, words
):  # type: ignore[no-untyped-def]
    auth.login(world["lead"])
    eid = world["engagement"].id
    response = _post(
        client,
        f"/engagements/{eid}/surveys/import",
        payload,
        name,
        field="imp-file",
        **{"imp-kind": kind, "imp-target": "", "imp-title": "导入", "imp-group": "群众"},
    )
    assert response.status_code == 302
    assert response.location.endswith(f"/engagements/{eid}/surveys/")
    page = client.get(response.location).get_data(as_text=True)
    assert words in page
    assert session.scalar(sa.select(sa.func.count(ImportJob.id))) == 0
    assert _uploads(app) == []  # nothing stored for a worker to open later


def test_the_job_page_and_the_job_never_parse_an_unchecked_file(
    app, world, client, auth, session, tripwire
):  # type: ignore[no-untyped-def]
    """A file stored before the check existed (or replaced on disk): the mapping page shows
    the reason on every GET, and the background job fails with it instead of dying."""
    auth.login(world["lead"])
    engagement = world["engagement"]
    table = jobs.create(
        session,
        world["lead"],
        engagement,
        kind="table",
        data="序号,满意度\n1,满意\n".encode(),
        filename="ok.csv",
        options={},
        survey=None,
    )
    wjx = jobs.create(
        session,
        world["lead"],
        engagement,
        kind="wjx",
        data="序号,1、满意度\n1,满意\n".encode(),
        filename="ok.csv",
        options={"title": "问卷"},
        survey=None,
    )
    session.commit()
    for job in (table, wjx):
        jobs.upload_path(job).write_bytes(p.DIMENSION_BOMB)
    for _ in range(2):
        page = client.get(f"/engagements/{engagement.id}/surveys/imports/{table.id}")
        assert page.status_code == 200
        assert "16384 columns" in page.get_data(as_text=True)
    jobs.run(wjx.id)
    session.expire_all()
    job = session.get(ImportJob, wjx.id)
    assert job.status == "failed"
    assert job.errors[0][0] == "unreadable" and "16384 columns" in job.errors[0][1]["reason"]


@pytest.mark.parametrize(
    ("payload", "name", "words"),
    [
        (p.SPARSE_XLSX, "goals.xlsx", "100000 rows × 8 columns"),
        (p.DIMENSION_BOMB, "goals.xlsx", "16384 columns"),
        (p.wide_csv(), "goals.csv", "200000 columns"),
    ],
    ids=["sparse", "dimension-bomb", "wide-csv"],
)
def test_the_goal_import_refuses_oversized_tables_unread(
    world, client, auth, tripwire, payload, name, words
):  # type: ignore[no-untyped-def]
    auth.login(world["lead"])
    eid = world["engagement"].id
    response = _post(client, f"/engagements/{eid}/goals/import", payload, name, replace="y")
    assert response.status_code == 422
    assert words in response.get_data(as_text=True)


def test_indicator_workbooks_are_checked_before_openpyxl(world, client, auth, tripwire):  # type: ignore[no-untyped-def]
    auth.login(world["lead"])
    eid = world["engagement"].id
    response = _post(
        client, f"/engagements/{eid}/indicators/upload", p.DIMENSION_BOMB, "s.xlsx", replace="y"
    )
    assert response.status_code == 302
    assert "16384 columns" in client.get(response.location).get_data(as_text=True)


@pytest.mark.parametrize(
    "payload", [p.YAML_ALIAS_BOMB, p.YAML_ANCHOR, p.YAML_DEEP], ids=["aliases", "anchor", "deep"]
)
def test_yaml_with_aliases_or_deep_nesting_is_refused_everywhere(
    world, client, auth, session, payload
):  # type: ignore[no-untyped-def]
    auth.login(world["lead"])
    eid = world["engagement"].id
    before = session.scalar(sa.select(sa.func.count(AuditEntry.id)))
    for url, data in (
        (f"/engagements/{eid}/indicators/upload", {"replace": "y"}),
        ("/scoring-templates/", {}),
    ):
        response = _post(client, url, payload, "system.yaml", **data)
        assert response.status_code in (302, 422)
        page = client.get(response.location).get_data(as_text=True)
        assert "not accepted" in page and ("anchors" in page or "nested deeper" in page)
    leaf = next(iter(scoring.template_of(scoring.system_of(session, world["engagement"])).leaves()))
    edit = client.post(  # the method form reads no YAML: the payload is just an invalid element
        f"/engagements/{eid}/indicators/{leaf.code}/edit",
        data={
            "name": leaf.name,
            "m-type": "survey",
            "m-mode": "banded",
            "m-bands": payload.decode()[:1900],
        },
    )
    assert edit.status_code == 200
    assert "Not saved" in edit.get_data(as_text=True)
    session.expire_all()
    assert session.scalar(sa.select(sa.func.count(AuditEntry.id))) == before  # nothing changed


def test_a_questionnaire_upload_refuses_aliases(world, client, auth):  # type: ignore[no-untyped-def]
    auth.login(world["lead"])
    eid = world["engagement"].id
    created = client.post(
        f"/engagements/{eid}/surveys/new",
        data={"new-title": "问卷", "new-group": "", "new-start_from": ""},
    )
    build = created.location
    response = _post(client, f"{build}/upload", p.YAML_ALIAS_BOMB, "q.yaml")
    assert response.status_code in (200, 302, 422)
    page = (client.get(response.location) if response.status_code == 302 else response).get_data(
        as_text=True
    )
    assert "anchors and aliases" in page


@pytest.mark.parametrize(
    "payload", [p.YAML_BAD_DATE, p.YAML_HUGE_INT], ids=["bad-date", "huge-int"]
)
def test_yaml_values_that_cannot_be_built_are_a_message_not_a_500(
    world, client, auth, session, payload
):  # type: ignore[no-untyped-def]
    """SafeConstructor raised ValueError for "2001-13-45" and a 5,000-digit integer: a 500."""
    auth.login(world["lead"])
    eid = world["engagement"].id
    created = client.post(
        f"/engagements/{eid}/surveys/new",
        data={"new-title": "问卷", "new-group": "", "new-start_from": ""},
    )
    response = _post(client, f"{created.location}/upload", payload, "q.yaml")
    assert response.status_code in (200, 302, 422)
    page = (client.get(response.location) if response.status_code == 302 else response).get_data(
        as_text=True
    )
    assert "cannot be read" in page
    response = _post(
        client, f"/engagements/{eid}/indicators/upload", payload, "s.yaml", replace="y"
    )
    assert response.status_code in (302, 422)
    # (a leaf's method is no longer typed as YAML: see tests/scoring/test_method_forms.py)


_HIDDEN = {
    **{f"sheet-at-{k}": v for k, v in p.SHEET_ELSEWHERE.items()},
    "gt-in-cell": p.GT_IN_CELL,
    "gt-in-row": p.GT_IN_ROW,
    "r-in-quotes": p.R_IN_QUOTES,
}
if (_BOOK_FIRST := p.xls_book_first()) is not None:
    _HIDDEN["xls-book-before-workbook"] = _BOOK_FIRST


@pytest.mark.parametrize("payload", list(_HIDDEN.values()), ids=list(_HIDDEN))
def test_a_bomb_hidden_from_the_scan_is_refused_before_a_job_exists(
    app, world, client, auth, session, tripwire, payload
):  # type: ignore[no-untyped-def]
    """The review's bypasses of issue #13: each one reached calamine (and aborted it)."""
    auth.login(world["lead"])
    eid = world["engagement"].id
    name = "wjx.xls" if payload.startswith(b"\xd0\xcf") else "wjx.xlsx"
    response = _post(
        client,
        f"/engagements/{eid}/surveys/import",
        payload,
        name,
        field="imp-file",
        **{"imp-kind": "wjx", "imp-target": "", "imp-title": "导入", "imp-group": "群众"},
    )
    assert response.status_code == 302
    assert "accepted" in client.get(response.location).get_data(as_text=True)
    assert session.scalar(sa.select(sa.func.count(ImportJob.id))) == 0
    assert _uploads(app) == []


def test_a_report_template_bomb_is_refused_before_docxtpl(world, client, auth, session, tripwire):  # type: ignore[no-untyped-def]
    auth.login(world["lead"])
    eid = world["engagement"].id
    response = _post(
        client,
        f"/engagements/{eid}/report/templates",
        p.docx_bomb(110 * 1024 * 1024),
        "bomb.docx",
        name="模板",
        scope="engagement",
    )
    assert response.status_code == 422
    assert "refused before reading" in response.get_data(as_text=True)
    assert session.scalar(sa.select(sa.func.count(ReportTemplateFile.id))) == 0


@pytest.mark.parametrize("name", p.HOSTILE_NAMES, ids=["nul", "controls", "bidi", "long"])
def test_file_names_are_cleaned_where_they_are_stored(world, client, auth, session, name):  # type: ignore[no-untyped-def]
    auth.login(world["lead"])
    eid = world["engagement"].id
    response = _post(
        client,
        f"/engagements/{eid}/surveys/import",
        "序号,满意度\n1,满意\n".encode(),
        name,
        field="imp-file",
        **{"imp-kind": "table", "imp-target": "", "imp-title": "导入"},
    )
    assert response.status_code == 302
    job = session.scalar(sa.select(ImportJob))
    assert job is not None
    stored = job.filename
    assert stored.endswith(".csv") and len(stored) <= 200
    assert not any(ord(ch) < 32 or ch == "\u202e" for ch in stored)
    assert "\\" not in stored and "/" not in stored
    goal = _post(
        client,
        f"/engagements/{eid}/goals/import",
        "一级指标,二级指标,三级指标,指标性质,指标值,度量单位,实际完成值\n"
        "产出指标,数量指标,管网长度,≥,120,公里,126\n".encode(),
        name,
    )
    assert goal.status_code == 302
    summaries = session.scalars(sa.select(AuditEntry.summary)).all()
    assert all("\x00" not in (s or "") for s in summaries)
