"""import job lease (heartbeat_at), one sign-off per review level, stored quota groups

Revision ID: a13job000001
Revises: b395c22d12f7
Create Date: 2026-12-02 08:10:00

"""
import json

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
    with op.batch_alter_table('survey_responses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('group_value', sa.String(length=200), nullable=True))
        batch_op.create_index('ix_survey_responses_group', ['survey_id', 'group_value'], unique=False)
    # the answers to each survey's group column, as collect.store_group_values writes them
    bind = op.get_bind()
    surveys = bind.execute(
        sa.text("SELECT id, group_column FROM surveys WHERE group_column IS NOT NULL")
    ).fetchall()
    for survey_id, column in surveys:
        if bind.dialect.name == "sqlite":
            if '"' in column or "\\" in column:
                continue  # not a JSON path: counted from the answers
            value, key = "coalesce(json_extract(answers, :key), '')", "$." + json.dumps(column)
        else:
            value, key = "coalesce(answers ->> :key, '')", column
        bind.execute(
            sa.text(
                f"UPDATE survey_responses SET group_value = CASE WHEN length({value}) <= 200"
                f" THEN {value} END WHERE survey_id = :survey_id"
            ),
            {"key": key, "survey_id": survey_id},
        )


def downgrade():
    with op.batch_alter_table('survey_responses', schema=None) as batch_op:
        batch_op.drop_index('ix_survey_responses_group')
        batch_op.drop_column('group_value')
    with op.batch_alter_table('report_reviews', schema=None) as batch_op:
        batch_op.drop_index('uq_report_reviews_version_level')
    with op.batch_alter_table('survey_import_jobs', schema=None) as batch_op:
        batch_op.drop_column('heartbeat_at')
