import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from workbench.accounts.models import User
from workbench.audit.models import AuditEntry
from workbench.db import db
from workbench.engagements.models import Engagement, GoalIndicator
from workbench.evaluation import result_of


def counts(session):
    return {
        m.__name__: session.scalar(sa.select(sa.func.count()).select_from(m))
        for m in (User, Engagement, GoalIndicator, AuditEntry)
    }


def test_demo_is_idempotent(app, session):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    assert "admin" in first.output and "demo-admin-2026" in first.output
    after_first = counts(session)
    assert after_first["Engagement"] == 1 and after_first["GoalIndicator"] == 10
    second = runner.invoke(args=["demo"])
    assert second.exit_code == 0
    session.expire_all()
    assert counts(session) == after_first


def test_demo_engagement_has_budget_goals_team_and_a_complete_score(app, session):
    app.test_cli_runner().invoke(args=["demo"])
    engagement = session.scalar(sa.select(Engagement))
    assert "农村饮水" in engagement.title
    assert len(engagement.budget_lines) == 3
    assert {m.role.value for m in engagement.members} == {"lead", "member", "reviewer"}
    result = result_of(session, engagement)
    assert result.template_code == "project-2020"
    assert result.complete and result.grade in {"优", "良", "中", "差"}
    for node in result.nodes:
        if node.is_leaf and node.score is not None and node.score < node.weight:
            assert node.reason_zh, node.code


def test_create_user_command(app, session):
    result = app.test_cli_runner().invoke(
        args=[
            "create-user",
            "--username",
            "boss",
            "--name",
            "Boss",
            "--role",
            "admin",
            "--password",
            "a-strong-pass-1",
        ]
    )
    assert result.exit_code == 0, result.output
    assert session.scalar(sa.select(User).where(User.username == "boss")).is_admin
    weak = app.test_cli_runner().invoke(
        args=[
            "create-user",
            "--username",
            "weak",
            "--name",
            "W",
            "--role",
            "admin",
            "--password",
            "123",
        ]
    )
    assert weak.exit_code != 0 and "password_too_short" in weak.output


@pytest.fixture
def sqlite_only(app):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("backup/restore is for the embedded SQLite database")


def test_backup_and_restore_round_trip(app, session, tmp_path, sqlite_only):
    runner = app.test_cli_runner()
    runner.invoke(args=["demo"])
    before = counts(session)
    backup = tmp_path / "backup" / "wb.db"
    result = runner.invoke(args=["backup", str(backup)])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(backup) as con:
        assert con.execute("select count(*) from engagements").fetchone()[0] == 1
    # change the live database after the backup
    session.execute(sa.text("DELETE FROM goal_indicators"))
    session.commit()
    assert counts(session)["GoalIndicator"] == 0
    session.remove() if hasattr(session, "remove") else None
    result = runner.invoke(args=["restore", str(backup), "--yes"])
    assert result.exit_code == 0, result.output
    db.session.remove()
    assert counts(db.session) == before


def test_restore_refuses_a_file_that_is_not_a_backup(app, tmp_path, sqlite_only):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    result = app.test_cli_runner().invoke(args=["restore", str(junk), "--yes"])
    assert result.exit_code != 0
    assert "not a SQLite database" in result.output or "not a workbench backup" in result.output


def test_backup_on_postgresql_explains_pg_dump(app):
    if db.engine.dialect.name == "sqlite":
        pytest.skip("PostgreSQL message")
    result = app.test_cli_runner().invoke(args=["backup", "x.db"])
    assert result.exit_code != 0 and "pg_dump" in result.output


def test_check_template_command(app, tmp_path):
    runner = app.test_cli_runner()
    root = Path(__file__).resolve().parents[1]
    ok = runner.invoke(args=["check-template", str(root / "scoring_templates/project-2020.yaml")])
    assert ok.exit_code == 0 and "17 leaf indicators" in ok.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "code: b\nname: B\nindicators:\n  - {code: A, name: a, weight: 50, "
        "method: {type: manual}}\n",
        encoding="utf-8",
    )
    result = runner.invoke(args=["check-template", str(bad)])
    assert result.exit_code != 0
    assert "top-level weights add up to 50, not 100" in result.output


# --- issue #13: restore refuses while serving, checks the file, keeps the replaced database ---


def _live_path():
    return Path(sa.engine.make_url(str(db.engine.url)).database)


def test_restore_is_refused_while_a_server_process_holds_the_serving_lock(
    app, session, tmp_path, sqlite_only
):
    import fcntl

    from workbench import serving

    runner = app.test_cli_runner()
    runner.invoke(args=["demo"])
    backup = tmp_path / "wb.db"
    assert runner.invoke(args=["backup", str(backup)]).exit_code == 0
    session.execute(sa.text("DELETE FROM goal_indicators"))  # an answer acknowledged later
    session.commit()
    # a gunicorn worker (or an orphan of a killed master) holds the lock shared
    with open(serving.lock_path(app.instance_path), "a+b") as worker:
        fcntl.flock(worker, fcntl.LOCK_SH | fcntl.LOCK_NB)
        result = runner.invoke(args=["restore", str(backup), "--yes"])
        assert result.exit_code != 0
        assert "the server is running" in result.output
        db.session.remove()
        assert counts(db.session)["GoalIndicator"] == 0  # the live database was not replaced
        assert not list(_live_path().parent.glob("*.before-restore*"))
    result = runner.invoke(args=["restore", str(backup), "--yes"])
    assert result.exit_code == 0, result.output
    db.session.remove()
    assert counts(db.session)["GoalIndicator"] == 10
    kept = list(_live_path().parent.glob(f"{_live_path().name}.before-restore-*"))
    assert len(kept) == 1 and "kept as" in result.output
    with sqlite3.connect(kept[0]) as con:  # the replaced database, as it was
        assert con.execute("select count(*) from goal_indicators").fetchone()[0] == 0


def test_the_serving_lock_is_taken_by_wsgi_and_refuses_a_server_during_a_restore(app, tmp_path):
    from workbench import serving

    serving.hold(app)
    try:
        with pytest.raises(serving.Busy), serving.exclusive(app.instance_path):
            pass
    finally:
        serving.release(app)
    with serving.exclusive(app.instance_path), pytest.raises(serving.Busy):
        serving.hold(app)
    wsgi = (Path(__file__).resolve().parents[1] / "wsgi.py").read_text()
    assert "serving.hold(app)" in wsgi


@pytest.mark.parametrize(
    ("revision", "tables", "message"),
    [
        ("deadbeef0000", ("organisations", "users", "engagements", "audit_entries"), "revision"),
        ("b395c22d12f7", (), "no table"),
        (None, ("organisations", "users", "engagements", "audit_entries"), "revision none"),
    ],
)
def test_restore_refuses_a_foreign_sqlite_file(
    app, session, tmp_path, sqlite_only, revision, tables, message
):
    runner = app.test_cli_runner()
    runner.invoke(args=["demo"])
    before = counts(session)
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as con:
        con.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        if revision:
            con.execute("INSERT INTO alembic_version VALUES (?)", (revision,))
        for table in tables:
            con.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY)")
    result = runner.invoke(args=["restore", str(foreign), "--yes"])
    assert result.exit_code != 0
    assert "not a workbench backup" in result.output and message in result.output
    db.session.remove()
    assert counts(db.session) == before


def test_restore_upgrades_an_older_backup(app, app_with, session, tmp_path, sqlite_only):
    from flask_migrate import upgrade

    older = tmp_path / "older.db"
    previous = app_with(SQLALCHEMY_DATABASE_URI=f"sqlite:///{older}")
    with previous.app_context():
        upgrade(revision="6aa6395deaf5")  # before the working-papers tables
        db.engine.dispose()
    with sqlite3.connect(older) as con:
        assert not con.execute(
            "select count(*) from sqlite_master where name='evidence_files'"
        ).fetchone()[0]
    result = app.test_cli_runner().invoke(args=["restore", str(older), "--yes"])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(_live_path()) as con:
        head = con.execute("select version_num from alembic_version").fetchone()[0]
        has_evidence = con.execute(
            "select count(*) from sqlite_master where name='evidence_files'"
        ).fetchone()[0]
    from workbench.cli import known_revisions

    assert head == known_revisions()[1] and has_evidence == 1
