"""Stored files are written whole or not at all: a full disk leaves no file, no temporary
file and no database row (issue #13: a truncated evidence file under the full file's hash, a
0-byte report .docx)."""

import builtins
import errno
import hashlib
import io
from pathlib import Path

import pytest
import sqlalchemy as sa

from workbench.storage import StorageError, store_bytes


class FullDisk(io.BufferedWriter):
    """A file that takes the first 10 bytes of a write, then reports ENOSPC (as a real
    full disk does: a short write, then the error)."""

    def write(self, data):  # type: ignore[no-untyped-def]
        super().write(bytes(data)[:10])
        super().flush()
        raise OSError(errno.ENOSPC, "No space left on device")


@pytest.fixture
def full_disk(monkeypatch):
    """Every file opened for writing under a folder in ``roots`` hits a full disk (both
    ``open`` and the ``io.open`` that ``Path.write_bytes`` uses)."""
    roots: list[Path] = []
    real_open = io.open

    def fake_open(file, mode="r", *args, **kwargs):  # type: ignore[no-untyped-def]
        path = Path(file) if isinstance(file, str | Path) else None
        if path is not None and "w" in mode and any(r in path.parents for r in roots):
            return FullDisk(real_open(file, "wb", buffering=0))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(io, "open", fake_open)
    monkeypatch.setattr(builtins, "open", fake_open)
    return roots


def test_store_bytes_on_a_full_disk_leaves_nothing(tmp_path, full_disk):
    full_disk.append(tmp_path)
    with pytest.raises(StorageError):
        store_bytes(tmp_path / "abc", b"x" * 1000)
    assert list(tmp_path.iterdir()) == []


def test_store_bytes_replaces_a_truncated_file_and_keeps_an_intact_one(tmp_path):
    data = b"evidence" * 100
    digest = hashlib.sha256(data).hexdigest()
    (tmp_path / digest).write_bytes(data[:10])  # debris from an old full disk
    assert store_bytes(tmp_path / digest, data) == digest
    assert (tmp_path / digest).read_bytes() == data
    assert store_bytes(tmp_path / digest, data) == digest
    assert [p.name for p in tmp_path.iterdir()] == [digest]
    with pytest.raises(StorageError):
        store_bytes(tmp_path / "other", data, sha256="0" * 64)
    assert [p.name for p in tmp_path.iterdir()] == [digest]


def test_evidence_upload_on_a_full_disk_stores_no_file_and_no_row(
    app, client, session, make_engagement, make_user, tmp_path, full_disk
):
    from workbench.engagements.models import MemberRole
    from workbench.engagements.services import add_member
    from workbench.workpapers.models import EvidenceFile

    engagement = make_engagement()
    user = make_user()
    add_member(session, None, engagement, user, MemberRole.LEAD)
    session.commit()
    folder = Path(app.instance_path) / "evidence"
    folder.mkdir(parents=True, exist_ok=True)
    full_disk.append(folder)
    client.post("/login", data={"username": user.username, "password": "correct-horse-42"})
    response = client.post(
        f"/engagements/{engagement.id}/workpapers/evidence",
        content_type="multipart/form-data",
        data={"file": (io.BytesIO(b"%PDF-1.4 " + b"x" * 5000), "资料.pdf")},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "could not be stored" in response.get_data(as_text=True)
    assert list(folder.iterdir()) == []  # no truncated file, no temporary file
    session.expire_all()
    assert session.scalar(sa.select(sa.func.count()).select_from(EvidenceFile)) == 0


def test_survey_import_on_a_full_disk_stores_no_file_and_no_job(
    app, client, session, make_engagement, make_user, full_disk
):
    from workbench.engagements.models import MemberRole
    from workbench.engagements.services import add_member
    from workbench.surveys.models import ImportJob

    engagement = make_engagement()
    user = make_user()
    add_member(session, None, engagement, user, MemberRole.LEAD)
    session.commit()
    folder = Path(app.instance_path) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    full_disk.append(folder)
    client.post("/login", data={"username": user.username, "password": "correct-horse-42"})
    table = "序号,满意度\n" + "".join(f"{i},满意\n" for i in range(1, 200))
    response = client.post(
        f"/engagements/{engagement.id}/surveys/import",
        content_type="multipart/form-data",
        data={
            "imp-kind": "table",
            "imp-target": "",
            "imp-title": "问卷",
            "imp-file": (io.BytesIO(table.encode()), "答卷.csv"),
        },
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "could not be stored" in response.get_data(as_text=True)
    assert list(folder.iterdir()) == []
    session.expire_all()
    assert session.scalar(sa.select(sa.func.count()).select_from(ImportJob)) == 0


def test_template_upload_on_a_full_disk_stores_no_file_and_no_row(
    app, session, make_engagement, make_user, tmp_path, full_disk
):
    from workbench.reports.models import ReportTemplateFile
    from workbench.reports.templates_check import store_template

    engagement = make_engagement()
    user = make_user()
    folder = tmp_path / "report-templates"
    folder.mkdir()
    full_disk.append(folder)
    with pytest.raises(OSError, match=r"No space|cannot store"):
        store_template(
            session,
            user,
            engagement,
            b"PK\x03\x04" + b"t" * 4000,
            filename="模板.docx",
            name="模板",
            scope="engagement",
            folder=folder,
        )
    session.rollback()
    assert list(folder.iterdir()) == []
    assert session.scalar(sa.select(sa.func.count()).select_from(ReportTemplateFile)) == 0


def test_instance_secret_key_on_a_full_disk_leaves_no_empty_key(tmp_path, monkeypatch):
    import os

    from workbench.config import ConfigError, instance_secret_key

    real_fdopen = os.fdopen

    class Full(io.StringIO):
        def write(self, text):  # type: ignore[no-untyped-def]
            raise OSError(errno.ENOSPC, "No space left on device")

    def full_fdopen(fd, *args, **kwargs):  # type: ignore[no-untyped-def]
        os.close(fd)
        return Full()

    monkeypatch.setattr(os, "fdopen", full_fdopen)
    with pytest.raises(OSError, match="No space"):
        instance_secret_key(tmp_path)
    assert list(tmp_path.iterdir()) == []  # no empty key every later worker would read
    monkeypatch.setattr(os, "fdopen", real_fdopen)
    key = instance_secret_key(tmp_path)
    assert len(key) == 64 and instance_secret_key(tmp_path) == key
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]
    (tmp_path / "secret_key").write_text("abc")
    with pytest.raises(ConfigError, match="damaged"):
        instance_secret_key(tmp_path)


def test_stored_files_get_the_mode_a_plain_write_gives(tmp_path):

    plain = tmp_path / "plain"
    plain.write_bytes(b"x")
    store_bytes(tmp_path / "stored", b"y")
    assert (tmp_path / "stored").stat().st_mode & 0o777 == plain.stat().st_mode & 0o777
