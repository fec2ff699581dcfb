"""Command-line tools: ``flask --app workbench <command>``."""

from __future__ import annotations

import os
import shutil
import sqlite3
import sys
from pathlib import Path

import click
import sqlalchemy as sa
from flask import Flask, current_app

from workbench import serving
from workbench.accounts import services as accounts
from workbench.accounts.models import Organisation, Role, User
from workbench.archive import expected_files, manifest_of, verify
from workbench.core.indicators import InvalidTemplate
from workbench.db import db
from workbench.demo import DEMO_TITLE, load_demo
from workbench.engagements.models import Engagement
from workbench.reports.context import build_context
from workbench.reports.models import ReportTemplateFile
from workbench.reports.printed import printed_report
from workbench.reports.render import TEMPLATES, bundled_path, render
from workbench.reports.services import qa, to_pdf
from workbench.reports.templates_check import DOCUMENTED_VARIABLES, vet_template
from workbench.scoring.spreadsheet import read_template
from workbench.storage import store_bytes
from workbench.surveys import jobs
from workbench.surveys.models import ImportJob


def _sqlite_path() -> Path:
    url = sa.engine.make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        raise click.ClickException(
            "backup/restore work on the embedded SQLite database only; for PostgreSQL use "
            "pg_dump / pg_restore."
        )
    return Path(url.database)


def sqlite_backup(source: Path, target: Path) -> None:
    """A consistent online copy through SQLite's backup API (safe while the app writes)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(tmp)
    try:
        with dst:
            src.backup(dst)
        check = dst.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            raise click.ClickException(f"backup failed its integrity check: {check}")
        dst.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
    finally:
        dst.close()
        src.close()
    tmp.replace(target)


def init_app(app: Flask) -> None:
    @app.cli.command("create-user")
    @click.option("--username", prompt=True)
    @click.option("--name", "display_name", prompt="Full name")
    @click.option(
        "--role", type=click.Choice(["admin", "evaluator", "reviewer", "client"]), prompt=True
    )
    @click.option("--organisation", default="", help="Organisation name (required for client).")
    @click.password_option()
    def create_user(
        username: str, display_name: str, role: str, organisation: str, password: str
    ) -> None:
        """Create a user (e.g. the first admin)."""
        org = None
        if organisation:
            org = db.session.scalar(
                sa.select(Organisation).where(Organisation.name == organisation)
            )
            if org is None:
                raise click.ClickException(f"no organisation named {organisation!r}")
        try:
            user = accounts.create_user(
                db.session,
                None,
                username=username,
                display_name=display_name,
                password=password,
                role=Role(role),
                organisation=org,
            )
        except accounts.AccountError as exc:
            raise click.ClickException(f"cannot create user: {exc}") from exc
        db.session.commit()
        click.echo(f"created user {user.username} ({user.role.value})")

    @app.cli.command("demo")
    def demo() -> None:
        """Load the demo organisations, users and engagement (idempotent)."""
        logins = load_demo(db.session)
        db.session.commit()
        click.echo("Demo data ready. Logins (user name / password / role):")
        for username, password, role in logins:
            click.echo(f"  {username:<10} {password:<20} {role}")

    @app.cli.group("report")
    def report() -> None:
        """Evaluation reports (Word)."""

    @report.command("build")
    @click.argument("engagement")
    @click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
    @click.option(
        "--template",
        "template_name",
        default=None,
        help="project, department or summary-en (default: by the engagement's kind)",
    )
    @click.option("--pdf", is_flag=True, help="also write a PDF next to it (needs LibreOffice)")
    def report_build(engagement: str, out: Path, template_name: str | None, pdf: bool) -> None:
        """Build the current draft of ENGAGEMENT (an id, or "demo") into a .docx file."""
        import sqlalchemy as sa

        if engagement == "demo":
            found = db.session.scalar(sa.select(Engagement).where(Engagement.title == DEMO_TITLE))
        elif engagement.isdigit():
            found = db.session.get(Engagement, int(engagement))
        else:
            found = None
        if found is None:
            raise click.ClickException(f"no engagement {engagement!r} (run `flask demo` first?)")
        name = template_name or ("department" if found.kind.value == "department" else "project")
        if name not in TEMPLATES:
            raise click.ClickException(f"unknown template {name!r}: {', '.join(TEMPLATES)}")
        context = build_context(db.session, found)
        data = render(context, bundled_path(name))
        store_bytes(out, data)
        click.echo(
            f"wrote {out} ({len(data):,} bytes): {context.values.get('total')} "
            f"{context.values.get('grade') or ''}"
        )
        printed = printed_report(data)
        threshold = current_app.config["REPORT_QA_LOSS_THRESHOLD"]
        for problem in qa(context, printed, threshold=threshold):
            label = "QA" if problem.severity == "blocking" else "QA warning"
            click.echo(f"{label}: {problem.message}", err=True)
        if pdf:
            store_bytes(out.with_suffix(".pdf"), to_pdf(data))
            click.echo(f"wrote {out.with_suffix('.pdf')}")

    @app.cli.group("jobs")
    def jobs_group() -> None:
        """Background survey imports."""

    @jobs_group.command("reap")
    def jobs_reap() -> None:
        """Mark every import whose worker is gone (lease expired) failed and delete its
        upload; the pages do this when a job is looked at, this does it for all (cron)."""
        import sqlalchemy as sa

        waiting = db.session.scalars(
            sa.select(ImportJob).where(ImportJob.status.in_(("queued", "running")))
        ).all()
        reaped = [job.id for job in waiting if jobs.reap(db.session, job)]
        click.echo(f"{len(reaped)} of {len(waiting)} queued or running imports were dead")
        for job_id in reaped:
            click.echo(f"  import {job_id}: marked failed (interrupted), upload deleted")

    @app.cli.group("archive")
    def archive_group() -> None:
        """Archive packages of archived engagements."""

    @archive_group.command("verify")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option(
        "--engagement",
        "engagement_id",
        type=int,
        default=None,
        help="Compare with this engagement's stored files in the database (default: the "
        "engagement named in the manifest, when this database has it).",
    )
    @click.option("--manifest-only", is_flag=True, help="Do not compare with the database.")
    def archive_verify(path: Path, engagement_id: int | None, manifest_only: bool) -> None:
        """Check a package against its manifest and the database (exit 1 when anything
        differs or is missing)."""
        expected = None
        checked = ""
        if not manifest_only:
            wanted = engagement_id or ((manifest_of(path) or {}).get("engagement") or {}).get("id")
            found = db.session.get(Engagement, wanted) if isinstance(wanted, int) else None
            if found is None and engagement_id is not None:
                raise click.ClickException(f"no engagement {engagement_id} in this database")
            if found is None:
                click.echo(
                    "the package's engagement is not in this database: checked against its "
                    "manifest only",
                    err=True,
                )
            else:
                instance = Path(current_app.instance_path)
                expected = expected_files(
                    db.session, found, instance / "reports", instance / "evidence"
                )
                checked = (
                    f" and holds all {len(expected)} stored files of engagement {found.id} "
                    "in the database"
                )
        problems = verify(path, expected, engagement_id=engagement_id)
        for problem in problems:
            click.echo(problem, err=True)
        if problems:
            raise click.ClickException(f"{len(problems)} problem(s) in {path.name}")
        click.echo(f"{path.name}: every file matches its SHA-256 in the manifest{checked}")

    @app.cli.command("check-template")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    def check_template(path: Path) -> None:
        """Validate a scoring template (.yaml or .xlsx) and list every error."""
        try:
            template = read_template(path.read_bytes(), path.name)
        except InvalidTemplate as exc:
            for error in exc.errors:
                click.echo(str(error), err=True)
            raise click.ClickException(f"{len(exc.errors)} problem(s) in {path.name}") from exc
        click.echo(
            f"{path.name}: {template.name} — {len(template.leaves())} leaf indicators, "
            f"depth {template.depth()}, total {template.total}: OK"
        )

    @report.command("check-templates")
    def report_check_templates() -> None:
        """Re-check every stored Word template (and the bundled ones) against the sandbox.

        Nothing is rendered: each part of each file is parsed by the report sandbox and its
        variables compared with docs/report-templates.md. Lists refused files and firm-wide
        templates no admin uploaded (offered nowhere); exits 1 if any file is refused.
        """
        import sqlalchemy as sa

        def show(label: str, data: bytes) -> bool:
            result = vet_template(data, DOCUMENTED_VARIABLES)
            if result.ok:
                click.echo(f"ok       {label}")
                return True
            click.echo(f"REFUSED  {label}")
            for code, params in result.errors:
                detail = ", ".join(f"{k}={v}" for k, v in params.items() if v)
                click.echo(f"         {code}: {detail}")
            return False

        refused = 0
        for name in TEMPLATES:
            refused += not show(f"bundled {name}", bundled_path(name).read_bytes())
        folder = Path(app.instance_path) / "report-templates"
        rows = db.session.execute(
            sa.select(ReportTemplateFile, User.role)
            .outerjoin(User, User.id == ReportTemplateFile.uploaded_by_id)
            .order_by(ReportTemplateFile.id)
        ).all()
        for item, role in rows:
            scope = (
                f"engagement {item.engagement_id}"
                if item.engagement_id
                else f"organisation {item.organisation_id}"
            )
            label = f"#{item.id} {item.name!r} ({scope}, {item.stored_as})"
            path = folder / item.stored_as
            if not path.is_file():
                click.echo(f"MISSING  {label}")
                continue
            refused += not show(label, path.read_bytes())
            if item.engagement_id is None and role is not Role.ADMIN:
                click.echo("         not offered: firm-wide, but not uploaded by an admin")
        click.echo(f"{len(rows)} stored template(s) checked, {refused} refused")
        if refused:
            raise SystemExit(1)

    @app.cli.command("backup")
    @click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
    def backup(path: Path) -> None:
        """Write a consistent online backup of the SQLite database to PATH."""
        source = _sqlite_path()
        if not source.exists():
            raise click.ClickException(f"database {source} does not exist")
        sqlite_backup(source, path)
        click.echo(f"backup written to {path} ({path.stat().st_size} bytes)")

    @app.cli.command("restore")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
    def restore(path: Path, yes: bool) -> None:
        """Replace the SQLite database with the backup at PATH (the server must be stopped).

        Refused while any server process holds ``instance/serving.lock``, and for a file that
        is not a workbench database at a known migration revision; an older backup is
        upgraded. The replaced database is kept as ``<name>.before-restore-<UTC time>``.
        """
        target = _sqlite_path()
        revision = check_backup(path)
        try:
            with serving.exclusive(current_app.instance_path):
                if not yes:
                    click.confirm(f"Replace {target} with {path}?", abort=True)
                kept = _replace_database(target, path)
                if revision != known_revisions()[1]:
                    _upgrade_or_put_back(target, kept)
        except serving.Busy as exc:
            raise click.ClickException(
                f"the server is running ({exc}); stop it first (e.g. systemctl stop "
                "workbench) and make sure no worker is left, then restore"
            ) from exc
        click.echo(f"restored {target} from {path} (revision {revision})")
        if kept:
            click.echo(f"the replaced database is kept as {kept}")
        sys.stdout.flush()


REQUIRED_TABLES = ("alembic_version", "organisations", "users", "engagements", "audit_entries")


def known_revisions() -> tuple[set[str], str]:
    """The revisions of our migrations and the head."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    directory = current_app.extensions["migrate"].directory
    config = Config()
    config.set_main_option("script_location", str(directory))
    script = ScriptDirectory.from_config(config)
    head = script.get_current_head()
    return {r.revision for r in script.walk_revisions()}, str(head)


def check_backup(path: Path) -> str:
    """The backup's migration revision, or a ClickException saying why it is not a
    workbench database we can restore."""
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            ok = con.execute("PRAGMA integrity_check").fetchone()[0]
            tables = {
                row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            versions = (
                [row[0] for row in con.execute("SELECT version_num FROM alembic_version")]
                if "alembic_version" in tables
                else []
            )
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise click.ClickException(f"{path} is not a SQLite database: {exc}") from exc
    if ok != "ok":
        raise click.ClickException(f"{path} is not a workbench backup (integrity: {ok})")
    absent = [t for t in REQUIRED_TABLES if t not in tables]
    if absent:
        raise click.ClickException(
            f"{path} is not a workbench backup (no table {', '.join(absent)})"
        )
    known, head = known_revisions()
    if len(versions) != 1 or versions[0] not in known:
        raise click.ClickException(
            f"{path} is not a workbench backup: its revision {', '.join(versions) or 'none'} "
            f"is not one of this version's migrations (head {head})"
        )
    return str(versions[0])


def _replace_database(target: Path, source: Path) -> Path | None:
    """Keep the current database as a timestamped copy, then put ``source`` in its place
    (copied, fsynced and renamed: the live file is never half written)."""
    import datetime as dt

    db.session.remove()
    db.engine.dispose()
    kept = None
    if target.exists():
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        kept = target.with_name(f"{target.name}.before-restore-{stamp}")
        sqlite_backup(target, kept)
    tmp = target.with_name(target.name + ".restoring")
    shutil.copyfile(source, tmp)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    for suffix in ("-wal", "-shm", "-journal"):
        Path(str(target) + suffix).unlink(missing_ok=True)
    tmp.replace(target)
    return kept


def _upgrade_or_put_back(target: Path, kept: Path | None) -> None:
    """Upgrade a restored older backup to this version's head; on failure put the replaced
    database back."""
    from flask_migrate import upgrade

    try:
        upgrade()
    except Exception as exc:
        db.session.remove()
        db.engine.dispose()
        if kept is not None:
            shutil.copyfile(kept, target)
        raise click.ClickException(
            f"the backup could not be upgraded ({type(exc).__name__}: {exc}); "
            "the replaced database was put back"
        ) from exc
    finally:
        db.engine.dispose()
