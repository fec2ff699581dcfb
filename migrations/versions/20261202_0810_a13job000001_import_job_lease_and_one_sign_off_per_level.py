"""import job lease (heartbeat_at) and one sign-off per review level

Revision ID: a13job000001
Revises: b395c22d12f7
Create Date: 2026-12-02 08:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a13job000001'
down_revision = 'b395c22d12f7'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('survey_import_jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('heartbeat_at', sa.DateTime(), nullable=True))
    # a race could already have stored two sign-offs of one level: keep the first of each
    op.execute(
        "DELETE FROM report_reviews WHERE id NOT IN ("
        "SELECT min_id FROM (SELECT MIN(id) AS min_id FROM report_reviews"
        " GROUP BY version_id, level) AS firsts)"
    )
    with op.batch_alter_table('report_reviews', schema=None) as batch_op:
        batch_op.create_index('uq_report_reviews_version_level', ['version_id', 'level'], unique=True)


def downgrade():
    with op.batch_alter_table('report_reviews', schema=None) as batch_op:
        batch_op.drop_index('uq_report_reviews_version_level')
    with op.batch_alter_table('survey_import_jobs', schema=None) as batch_op:
        batch_op.drop_column('heartbeat_at')
