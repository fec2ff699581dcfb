"""engagements: the report's framing facts (evaluation period, data provider, the 评价依据
the firm selected, the commission notice)

Revision ID: p22frm000001
Revises: e22exp000001
Create Date: 2026-12-07 23:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'p22frm000001'
down_revision = 'e22exp000001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('engagements', schema=None) as batch_op:
        batch_op.add_column(sa.Column('evaluation_period', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('data_provider', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('basis_rules', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('basis_other', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('commission_notice', sa.String(length=300), nullable=True))


def downgrade():
    with op.batch_alter_table('engagements', schema=None) as batch_op:
        batch_op.drop_column('commission_notice')
        batch_op.drop_column('basis_other')
        batch_op.drop_column('basis_rules')
        batch_op.drop_column('data_provider')
        batch_op.drop_column('evaluation_period')
