"""budget_lines: configurable fund sources (a name and a position instead of three fixed rows)

The three fixed sources become named rows (fiscal → 财政拨款, carryover → 上年结转,
other → 其他资金) in that order; their figures are kept.

Revision ID: h22fund000001
Revises: f22att000001
Create Date: 2026-12-07 22:00:00

"""
from decimal import Decimal

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'h22fund000001'
down_revision = 'f22att000001'
branch_labels = None
depends_on = None

LEGACY = (('fiscal', '财政拨款'), ('carryover', '上年结转'), ('other', '其他资金'))
AMOUNTS = ('initial', 'adjusted', 'available', 'executed')


def upgrade():
    with op.batch_alter_table('budget_lines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name', sa.String(length=60), nullable=True))
        batch_op.add_column(
            sa.Column('position', sa.Integer(), nullable=False, server_default='0')
        )
    lines = sa.table(
        'budget_lines',
        sa.column('source', sa.String),
        sa.column('name', sa.String),
        sa.column('position', sa.Integer),
    )
    for position, (source, name) in enumerate(LEGACY):
        op.execute(
            lines.update()
            .where(lines.c.source == source)
            .values(name=name, position=position)
        )
    with op.batch_alter_table('budget_lines', schema=None) as batch_op:
        batch_op.alter_column('name', existing_type=sa.String(length=60), nullable=False)
        batch_op.drop_constraint('uq_budget_lines_engagement_id_source', type_='unique')
        batch_op.drop_column('source')
        batch_op.create_unique_constraint(
            batch_op.f('uq_budget_lines_engagement_id_name'), ['engagement_id', 'name']
        )


def _legacy_source(name):
    for source, legacy in LEGACY:
        if name == legacy:
            return source
    if name == '上年结转' or '结转' in name:
        return 'carryover'
    if '财政' in name:
        return 'fiscal'
    return 'other'


def _add(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return Decimal(a) + Decimal(b)


def downgrade():
    """Back to three fixed rows: each configured row goes to the nearest legacy source
    (财政… → fiscal, …结转 → carryover, anything else → other); rows meeting on one source
    are added together."""
    bind = op.get_bind()
    lines = sa.table(
        'budget_lines',
        sa.column('id', sa.Integer),
        sa.column('engagement_id', sa.Integer),
        sa.column('name', sa.String),
        sa.column('position', sa.Integer),
        *[sa.column(c, sa.Numeric(18, 6)) for c in AMOUNTS],
    )
    rows = bind.execute(sa.select(lines).order_by(lines.c.engagement_id, lines.c.position, lines.c.id)).all()
    with op.batch_alter_table('budget_lines', schema=None) as batch_op:
        batch_op.drop_constraint('uq_budget_lines_engagement_id_name', type_='unique')
        batch_op.add_column(
            sa.Column(
                'source',
                sa.Enum('fiscal', 'carryover', 'other', name='fundsource', native_enum=False, length=20),
                nullable=True,
            )
        )
    kept = {}
    target = sa.table('budget_lines', sa.column('id', sa.Integer), sa.column('source', sa.String),
                      *[sa.column(c, sa.Numeric(18, 6)) for c in AMOUNTS])
    for row in rows:
        key = (row.engagement_id, _legacy_source(row.name))
        if key not in kept:
            kept[key] = row.id
            bind.execute(target.update().where(target.c.id == row.id).values(source=key[1]))
            continue
        first = bind.execute(sa.select(target).where(target.c.id == kept[key])).one()
        bind.execute(
            target.update()
            .where(target.c.id == kept[key])
            .values(**{c: _add(getattr(first, c), getattr(row, c)) for c in AMOUNTS})
        )
        bind.execute(target.delete().where(target.c.id == row.id))
    with op.batch_alter_table('budget_lines', schema=None) as batch_op:
        batch_op.alter_column(
            'source',
            existing_type=sa.Enum('fiscal', 'carryover', 'other', name='fundsource', native_enum=False, length=20),
            nullable=False,
        )
        batch_op.drop_column('position')
        batch_op.drop_column('name')
        batch_op.create_unique_constraint(
            'uq_budget_lines_engagement_id_source', ['engagement_id', 'source']
        )
