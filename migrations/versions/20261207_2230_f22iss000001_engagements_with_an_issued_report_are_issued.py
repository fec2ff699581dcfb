"""Engagements that have an issued report are 已出具 (issue #15: the status and the report agree)

Before issue #15 issuing a report left the engagement's status where it was, so an engagement
could show 立项 (or any earlier stage) next to its issued report. Issuing now moves the
engagement to 已出具 in the same transaction; this data migration does the same for the
engagements issued before, with an audit entry each (actor: the migration). Archived
engagements are left alone. The downgrade keeps the data (the status was wrong before).

Revision ID: f22iss000001
Revises: a14rev000001
Create Date: 2026-12-07 22:30:00

"""
import datetime as dt

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f22iss000001'
down_revision = 'a14rev000001'
branch_labels = None
depends_on = None

engagements = sa.table(
    'engagements', sa.column('id', sa.Integer), sa.column('state', sa.String),
    sa.column('version', sa.Integer),
)
versions = sa.table(
    'report_versions', sa.column('engagement_id', sa.Integer), sa.column('status', sa.String),
)
audit = sa.table(
    'audit_entries', sa.column('at', sa.DateTime), sa.column('user_id', sa.Integer),
    sa.column('actor', sa.String), sa.column('engagement_id', sa.Integer),
    sa.column('action', sa.String), sa.column('object_type', sa.String),
    sa.column('object_id', sa.Integer), sa.column('changes', sa.JSON),
    sa.column('summary', sa.String),
)


def upgrade():
    conn = op.get_bind()
    issued = sa.select(versions.c.engagement_id).where(versions.c.status == 'issued')
    stale = conn.execute(
        sa.select(engagements.c.id, engagements.c.state).where(
            engagements.c.id.in_(issued), engagements.c.state.not_in(('issued', 'archived'))
        ).order_by(engagements.c.id)
    ).all()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)  # stored as naive UTC
    for engagement_id, state in stale:
        conn.execute(
            sa.update(engagements).where(engagements.c.id == engagement_id).values(
                state='issued', version=engagements.c.version + 1
            )
        )
        conn.execute(
            sa.insert(audit).values(
                at=now, user_id=None, actor='数据迁移 f22iss000001',
                engagement_id=engagement_id, action='engagement.transition',
                object_type='engagement', object_id=engagement_id,
                changes={'state': {'before': state, 'after': 'issued'}},
                summary='已有出具的报告：状态同步为已出具',
            )
        )


def downgrade():
    pass  # the earlier status was inconsistent with the issued report; nothing to restore
