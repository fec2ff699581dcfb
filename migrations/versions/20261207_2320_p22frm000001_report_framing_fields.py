"""engagements: the report's framing facts (evaluation period, data provider, the 评价依据
the firm selected, the commission notice)

Revision ID: p22frm000001
Revises: l22pdf000001
Create Date: 2026-12-07 23:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'p22frm000001'
down_revision = 'l22pdf000001'
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
    # plain DROP COLUMN (SQLite 3.35+ and PostgreSQL): no table copy, so the tables whose foreign
    # keys point at engagements do not block the downgrade of a database with data
    for column in (
        'commission_notice', 'basis_other', 'basis_rules', 'data_provider', 'evaluation_period'
    ):
        op.drop_column('engagements', column)
