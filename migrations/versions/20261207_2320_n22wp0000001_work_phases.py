"""Work phases (工作过程) the team records; the report's work process is written from them.

Revision ID: n22wp0000001
Revises: p22frm000001
Create Date: 2026-12-07 23:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "n22wp0000001"
down_revision = "p22frm000001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "work_phases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("engagement_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("end", sa.Date(), nullable=True),
        sa.Column("place", sa.String(length=200), nullable=False),
        sa.Column("participants", sa.String(length=500), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["engagement_id"],
            ["engagements.id"],
            name=op.f("fk_work_phases_engagement_id_engagements"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_phases")),
    )
    with op.batch_alter_table("work_phases", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_work_phases_engagement_id"), ["engagement_id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("work_phases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_work_phases_engagement_id"))
    op.drop_table("work_phases")
