"""panel_settings: named or anonymised expert table, deadline and contact for the experts;
evidence_files.shared_with_panel: the documents the experts are asked to judge

Revision ID: e22exp000001
Revises: h22fund000001
Create Date: 2026-12-07 22:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e22exp000001'
down_revision = 'h22fund000001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('panel_settings', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('named_in_report', sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(sa.Column('deadline', sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column('contact', sa.String(length=200), nullable=False, server_default='')
        )
    with op.batch_alter_table('evidence_files', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('shared_with_panel', sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade():
    with op.batch_alter_table('evidence_files', schema=None) as batch_op:
        batch_op.drop_column('shared_with_panel')
    with op.batch_alter_table('panel_settings', schema=None) as batch_op:
        batch_op.drop_column('contact')
        batch_op.drop_column('deadline')
        batch_op.drop_column('named_in_report')
