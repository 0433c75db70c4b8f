"""Call metrics: per-call metric facts, daily rollups, goals.

Revision ID: 0008_metrics
Revises: 0007_dialing
Create Date: 2026-11-25 12:40:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0008_metrics'
down_revision = '0007_dialing'
branch_labels = None
depends_on = None

CALL_COLUMNS = (
    sa.Column('list_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=120), nullable=True),
    sa.Column('lead_local_weekday', sa.Integer(), nullable=True),
    sa.Column('attempt_number', sa.Integer(), nullable=True),
    sa.Column('first_connect', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('speed_to_lead_seconds', sa.Integer(), nullable=True),
    sa.Column('opens_hour', sa.Boolean(), server_default=sa.false(), nullable=False),
)
SUM_COLUMNS = ('talk_seconds', 'active_hours', 'first_calls', 'first_connects',
               'first_connect_attempts', 'speed_to_lead_calls', 'speed_to_lead_seconds')
BIG = {'talk_seconds', 'speed_to_lead_seconds'}


def upgrade(engine_name):
    globals()["upgrade_%s" % engine_name]()


def downgrade(engine_name):
    globals()["downgrade_%s" % engine_name]()


def _sums():
    yield sa.Column('calls', sa.Integer(), nullable=False)
    for name in SUM_COLUMNS:
        yield sa.Column(name, sa.BigInteger() if name in BIG else sa.Integer(), nullable=False)


def _outcome():
    return (sa.Column('outcome', sa.String(length=40), nullable=False),
            sa.Column('category', sa.String(length=20), nullable=False))


def _rollup(name, *keys, sums):
    op.create_table(
        name,
        sa.Column('workspace_id', sa.Integer(), nullable=False),
        sa.Column('span', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        *keys,
        *sums,
        sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f(f'fk_{name}_workspace_id_workspaces')),
        sa.PrimaryKeyConstraint('workspace_id', 'span', 'day', *(k.name for k in keys), name=op.f(f'pk_{name}')),
        sqlite_with_rowid=False,
    )


def upgrade_():
    # Plain ALTER TABLE (no batch mode): the facts metrics need, fixed per call.
    for column in CALL_COLUMNS:
        op.add_column('call_attempts', column)
    op.create_index('ix_call_attempts_metrics_window', 'call_attempts',
                    ['workspace_id', 'started_at', 'caller_id', 'category', 'outcome', 'list_id',
                     'source', 'lead_local_weekday', 'lead_local_hour', 'duration_seconds',
                     'opens_hour', 'attempt_number', 'first_connect', 'speed_to_lead_seconds'])
    op.create_index('ix_call_attempts_list_started', 'call_attempts', ['workspace_id', 'list_id', 'started_at'])
    op.create_index('ix_call_attempts_source_started', 'call_attempts', ['workspace_id', 'source', 'started_at'])
    op.create_index('ix_callbacks_owner_due', 'callbacks', ['owner_id', 'due_at'])

    _rollup('call_caller_day_rollups', sa.Column('caller_id', sa.Integer(), nullable=False),
            *_outcome(), sums=_sums())
    op.create_index('ix_call_caller_day_rollups_caller', 'call_caller_day_rollups',
                    ['workspace_id', 'caller_id', 'span', 'day', 'outcome', 'category', 'calls', *SUM_COLUMNS])
    _rollup('call_list_day_rollups', sa.Column('list_id', sa.Integer(), nullable=False),
            sa.Column('source', sa.String(length=120), nullable=False), *_outcome(), sums=_sums())
    _rollup('call_slot_day_rollups', sa.Column('list_id', sa.Integer(), nullable=False),
            sa.Column('weekday', sa.Integer(), nullable=False), sa.Column('hour', sa.Integer(), nullable=False),
            sums=(sa.Column('calls', sa.Integer(), nullable=False),
                  sa.Column('connects', sa.Integer(), nullable=False)))

    op.create_table('metric_goals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('metric', sa.String(length=20), nullable=False),
    sa.Column('cadence', sa.String(length=10), nullable=False),
    sa.Column('target', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("metric IN ('dials', 'conversations', 'qualified', 'won_value')", name=op.f('ck_metric_goals_metric_valid')),
    sa.CheckConstraint("cadence IN ('daily', 'weekly')", name=op.f('ck_metric_goals_cadence_valid')),
    sa.CheckConstraint('target > 0', name=op.f('ck_metric_goals_target_positive')),
    sa.CheckConstraint('user_id IS NULL OR team_id IS NULL', name=op.f('ck_metric_goals_one_subject')),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_metric_goals_team_id_teams'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_metric_goals_user_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_metric_goals_workspace_id_workspaces')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_metric_goals'))
    )
    op.create_index('ix_metric_goals_workspace_user', 'metric_goals', ['workspace_id', 'user_id'])


def downgrade_():
    op.drop_index('ix_metric_goals_workspace_user', table_name='metric_goals')
    op.drop_table('metric_goals')
    op.drop_index('ix_call_caller_day_rollups_caller', table_name='call_caller_day_rollups')
    for name in ('call_slot_day_rollups', 'call_list_day_rollups', 'call_caller_day_rollups'):
        op.drop_table(name)
    op.drop_index('ix_callbacks_owner_due', table_name='callbacks')
    for name in ('ix_call_attempts_source_started', 'ix_call_attempts_list_started',
                 'ix_call_attempts_metrics_window'):
        op.drop_index(name, table_name='call_attempts')
    for column in reversed(CALL_COLUMNS):
        op.drop_column('call_attempts', column.name)


def upgrade_pipeline():
    pass


def downgrade_pipeline():
    pass
