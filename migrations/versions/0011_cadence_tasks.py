"""Cadence work in the queues: a note on tasks, the enrolment behind a callback.

Revision ID: 0011_cadence_tasks
Revises: 0010_crm_targets
Create Date: 2026-11-25 13:50:00.000000

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0011_cadence_tasks'
down_revision = "0010_crm_targets"
branch_labels = None
depends_on = None


def upgrade(engine_name):
    globals()["upgrade_%s" % engine_name]()


def downgrade(engine_name):
    globals()["downgrade_%s" % engine_name]()


def upgrade_():
    op.add_column('tasks', sa.Column('note', sa.String(length=500), nullable=True))
    op.add_column('callbacks', sa.Column('enrollment_id', sa.Integer(), nullable=True))


def downgrade_():
    op.drop_column('callbacks', 'enrollment_id')
    op.drop_column('tasks', 'note')


def upgrade_pipeline():
    pass


def downgrade_pipeline():
    pass
