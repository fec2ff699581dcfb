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
