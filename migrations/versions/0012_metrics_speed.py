"""Call metrics: hourly rollups for the ragged edges of a period.

Revision ID: 0012_metrics_speed
Revises: 0011_cadence_tasks
Create Date: 2026-11-25 13:45:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0012_metrics_speed'
down_revision = "0011_cadence_tasks"
branch_labels = None
depends_on = None

SUM_COLUMNS = ('talk_seconds', 'active_hours', 'first_calls', 'first_connects',
               'first_connect_attempts', 'speed_to_lead_calls', 'speed_to_lead_seconds')
BIG = {'talk_seconds', 'speed_to_lead_seconds'}
TABLES = ('call_caller_hour_rollups', 'call_list_hour_rollups', 'call_slot_hour_rollups')


def upgrade(engine_name):
    globals()["upgrade_%s" % engine_name]()


def downgrade(engine_name):
    globals()["downgrade_%s" % engine_name]()


def _call_sums():
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
        sa.Column('hour_start', sa.DateTime(), nullable=False),
        *keys,
        *sums,
        sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f(f'fk_{name}_workspace_id_workspaces')),
        sa.PrimaryKeyConstraint('workspace_id', 'hour_start', *(k.name for k in keys), name=op.f(f'pk_{name}')),
        sqlite_with_rowid=False,
    )


def upgrade_():
    caller, lists, slots = TABLES
    _rollup(caller, sa.Column('caller_id', sa.Integer(), nullable=False), *_outcome(), sums=_call_sums())
    _rollup(lists, sa.Column('list_id', sa.Integer(), nullable=False),
            sa.Column('source', sa.String(length=120), nullable=False), *_outcome(), sums=_call_sums())
    _rollup(slots, sa.Column('list_id', sa.Integer(), nullable=False),
            sa.Column('weekday', sa.Integer(), nullable=False), sa.Column('hour', sa.Integer(), nullable=False),
            sums=(sa.Column('calls', sa.Integer(), nullable=False),
                  sa.Column('connects', sa.Integer(), nullable=False)))
    _backfill()


# Figures as of this revision: the hourly rollups must hold every call already recorded,
# since a period's edges read their whole hours from them from now on.
CONNECTED = ('call_back', 'conversation', 'do_not_call', 'meeting_booked', 'not_interested',
             'qualified')
CALL_SUMS = {
    'calls': 'COUNT(*)',
    'talk_seconds': 'COALESCE(SUM(duration_seconds), 0)',
    'active_hours': 'COALESCE(SUM(CASE WHEN opens_hour THEN 1 ELSE 0 END), 0)',
    'first_calls': 'COALESCE(SUM(CASE WHEN attempt_number = 1 THEN 1 ELSE 0 END), 0)',
    'first_connects': 'COALESCE(SUM(CASE WHEN first_connect THEN 1 ELSE 0 END), 0)',
    'first_connect_attempts':
        'COALESCE(SUM(CASE WHEN first_connect THEN attempt_number ELSE 0 END), 0)',
    'speed_to_lead_calls': 'COUNT(speed_to_lead_seconds)',
    'speed_to_lead_seconds': 'COALESCE(SUM(speed_to_lead_seconds), 0)',
}
SLOT_SUMS = {
    'calls': 'COUNT(*)',
    'connects': 'COALESCE(SUM(CASE WHEN category IN (%s) THEN 1 ELSE 0 END), 0)'
                % ', '.join(f"'{value}'" for value in CONNECTED),
}
KEYS = {
    'call_caller_hour_rollups': {'caller_id': 'COALESCE(caller_id, 0)', 'outcome': 'outcome',
                                 'category': 'category'},
    'call_list_hour_rollups': {'list_id': 'COALESCE(list_id, 0)',
                               'source': "COALESCE(source, '')", 'outcome': 'outcome',
                               'category': 'category'},
    'call_slot_hour_rollups': {'list_id': 'COALESCE(list_id, 0)',
                               'weekday': 'COALESCE(lead_local_weekday, -1)',
                               'hour': 'COALESCE(lead_local_hour, -1)'},
}


def _backfill():
    if op.get_bind().dialect.name == 'postgresql':
        hour = "date_trunc('hour', started_at)"
    else:
        hour = "strftime('%Y-%m-%d %H:00:00.000000', started_at)"
    for table, keys in KEYS.items():
        sums = SLOT_SUMS if table == 'call_slot_hour_rollups' else CALL_SUMS
        op.execute(
            f"INSERT INTO {table} (workspace_id, hour_start, {', '.join(keys)}, {', '.join(sums)}) "
            f"SELECT workspace_id, {hour}, {', '.join(keys.values())}, {', '.join(sums.values())} "
            f"FROM call_attempts GROUP BY workspace_id, {hour}, {', '.join(keys.values())}"
        )


def downgrade_():
    for name in reversed(TABLES):
        op.drop_table(name)


def upgrade_pipeline():
    pass


def downgrade_pipeline():
    pass
