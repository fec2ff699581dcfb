"""rectification_files: attachments of rectification (整改) items

Revision ID: f22att000001
Revises: f22iss000001
Create Date: 2026-12-07 22:40:00

"""
from alembic import op
import sqlalchemy as sa



# revision identifiers, used by Alembic.
revision = 'f22att000001'
down_revision = 'f22iss000001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'rectification_files',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('item_id', sa.Integer(), nullable=False),
        sa.Column('engagement_id', sa.Integer(), nullable=False),
        sa.Column('filename', sa.String(length=200), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
        sa.Column('uploaded_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ['engagement_id'], ['engagements.id'],
            name=op.f('fk_rectification_files_engagement_id_engagements'), ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['item_id'], ['rectification_items.id'],
            name=op.f('fk_rectification_files_item_id_rectification_items'), ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['uploaded_by_id'], ['users.id'],
            name=op.f('fk_rectification_files_uploaded_by_id_users'), ondelete='SET NULL',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_rectification_files')),
    )
    with op.batch_alter_table('rectification_files', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_rectification_files_engagement_id'), ['engagement_id'], unique=False
        )
        batch_op.create_index(
            batch_op.f('ix_rectification_files_item_id'), ['item_id'], unique=False
        )


def downgrade():
    with op.batch_alter_table('rectification_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rectification_files_item_id'))
        batch_op.drop_index(batch_op.f('ix_rectification_files_engagement_id'))
    op.drop_table('rectification_files')
