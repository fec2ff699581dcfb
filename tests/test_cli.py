import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from workbench.accounts.models import User
from workbench.audit.models import AuditEntry
from workbench.db import db
from workbench.engagements.models import Engagement, GoalIndicator


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
    from workbench.scoring.services import compute

    app.test_cli_runner().invoke(args=["demo"])
    engagement = session.scalar(sa.select(Engagement))
    assert "农村饮水" in engagement.title
    assert len(engagement.budget_lines) == 3
    assert {m.role.value for m in engagement.members} == {"lead", "member", "reviewer"}
    scores = compute(session, engagement)
    assert scores.template.code == "project-2020"
    assert scores.result.complete and scores.result.grade in {"优", "良", "中", "差"}
    for node in scores.result.nodes:
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
