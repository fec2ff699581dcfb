"""The migrations build exactly the schema the models declare, and can be undone."""

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from workbench.db import db


def test_migrated_schema_matches_the_models(app):
    with db.engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata
        )
    assert diff == []


def test_downgrade_to_base_and_back(app):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("run on the per-test SQLite copy; PostgreSQL shares one database")
    downgrade(revision="base")
    tables = set(sa.inspect(db.engine).get_table_names())
    assert tables <= {"alembic_version"}
    upgrade()
    assert "engagements" in sa.inspect(db.engine).get_table_names()


def test_f22_moves_engagements_with_an_issued_report_to_issued(app, make_engagement):
    """Engagements issued before #15 kept an earlier status; the data migration syncs them
    (with an audit entry), and leaves the others alone."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("run on the per-test SQLite copy; PostgreSQL shares one database")
    from workbench.audit.models import AuditEntry
    from workbench.core.workflow import EngagementState
    from workbench.engagements.models import Engagement
    from workbench.reports.models import ReportVersion

    stale, untouched = make_engagement(), make_engagement()
    for engagement, status in ((stale, "issued"), (untouched, "consultation")):
        db.session.add(
            ReportVersion(
                engagement_id=engagement.id, number=1, template="project", status=status,
                stored_as="x.docx", sha256="0" * 64, size=1,
            )
        )  # fmt: skip
    db.session.commit()
    ids = stale.id, untouched.id
    db.session.remove()
    downgrade(revision="a14rev000001")
    upgrade()
    assert db.session.get(Engagement, ids[0]).state is EngagementState.ISSUED
    assert db.session.get(Engagement, ids[1]).state is EngagementState.SETUP
    entry = db.session.scalars(
        sa.select(AuditEntry).where(
            AuditEntry.engagement_id == ids[0], AuditEntry.action == "engagement.transition"
        )
    ).one()
    assert entry.changes == {"state": {"before": "setup", "after": "issued"}}
