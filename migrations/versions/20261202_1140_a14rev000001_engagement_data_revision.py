"""engagements.data_revision: the explicit key of the evaluated-result cache

Revision ID: a14rev000001
Revises: a13job000001
Create Date: 2026-12-02 11:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a14rev000001'
down_revision = 'a13job000001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('engagements', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('data_revision', sa.Integer(), nullable=False, server_default='0')
        )


def downgrade():
    with op.batch_alter_table('engagements', schema=None) as batch_op:
        batch_op.drop_column('data_revision')
