"""report_versions.pdf_stored_as / pdf_sha256: an issued version's PDF, made once at issuing,
stored and hashed like its Word file

Revision ID: l22pdf000001
Revises: e22exp000001
Create Date: 2026-12-07 23:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'l22pdf000001'
down_revision = 'e22exp000001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('report_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pdf_stored_as', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('pdf_sha256', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('report_versions', schema=None) as batch_op:
        batch_op.drop_column('pdf_sha256')
        batch_op.drop_column('pdf_stored_as')
