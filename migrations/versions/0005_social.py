"""Tasks on leads (the social queue) and daily social quotas.

Revision ID: 0005_social
Revises: 0004_pipeline
Create Date: 2026-11-25 12:07:13.133227

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005_social'
down_revision = '0004_pipeline'
branch_labels = None
depends_on = None


def upgrade(engine_name):
    globals()["upgrade_%s" % engine_name]()


def downgrade(engine_name):
    globals()["downgrade_%s" % engine_name]()

def upgrade_():
    op.create_table('social_quotas',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('daily_limit', sa.Integer(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('daily_limit >= 0 AND daily_limit <= 10000', name=op.f('ck_social_quotas_daily_limit_range')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_social_quotas_updated_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_social_quotas_user_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_social_quotas_workspace_id_workspaces')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_social_quotas')),
    sa.UniqueConstraint('workspace_id', 'user_id', name=op.f('uq_social_quotas_workspace_id_user_id'))
    )
    # The workspace default (user_id NULL) is unique through its own partial index.
    op.create_index('uq_social_quotas_workspace_default', 'social_quotas', ['workspace_id'], unique=True, sqlite_where=sa.text('user_id IS NULL'), postgresql_where=sa.text('user_id IS NULL'))

    op.create_table('tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('lead_id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('network', sa.String(length=10), nullable=True),
    sa.Column('action', sa.String(length=10), nullable=True),
    sa.Column('outcome', sa.String(length=12), nullable=True),
    sa.Column('due_at', sa.DateTime(), nullable=False),
    sa.Column('snoozed_until', sa.DateTime(), nullable=True),
    sa.Column('completed_at', sa.DateTime(), nullable=True),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('enrollment_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("action IS NULL OR action IN ('view', 'connect', 'message', 'comment')", name=op.f('ck_tasks_action_valid')),
    sa.CheckConstraint("kind <> 'social' OR (network IS NOT NULL AND action IS NOT NULL)", name=op.f('ck_tasks_social_has_network_and_action')),
    sa.CheckConstraint("kind IN ('social', 'call', 'generic')", name=op.f('ck_tasks_kind_valid')),
    sa.CheckConstraint("network IS NULL OR network IN ('linkedin', 'x', 'other')", name=op.f('ck_tasks_network_valid')),
    sa.CheckConstraint("outcome IS NULL OR outcome IN ('done', 'no_profile', 'connected', 'replied')", name=op.f('ck_tasks_outcome_valid')),
    sa.CheckConstraint("source IN ('manual', 'bulk', 'cadence')", name=op.f('ck_tasks_source_valid')),
    sa.CheckConstraint("status <> 'snoozed' OR snoozed_until IS NOT NULL", name=op.f('ck_tasks_snoozed_has_until')),
    sa.CheckConstraint("status IN ('open', 'done', 'skipped', 'snoozed', 'cancelled')", name=op.f('ck_tasks_status_valid')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_tasks_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_tasks_lead_id_leads'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_tasks_owner_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_tasks_workspace_id_workspaces')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tasks'))
    )
    op.create_index('ix_tasks_lead_id_status', 'tasks', ['lead_id', 'status'], unique=False)
    op.create_index('ix_tasks_owner_kind_completed_at', 'tasks', ['owner_id', 'kind', 'completed_at'], unique=False)
    op.create_index('ix_tasks_owner_pending', 'tasks', ['owner_id', 'kind', 'due_at'], unique=False, sqlite_where=sa.text("status IN ('open', 'snoozed')"), postgresql_where=sa.text("status IN ('open', 'snoozed')"))
    op.create_index('uq_tasks_pending_social', 'tasks', ['lead_id', 'network', 'action'], unique=True, sqlite_where=sa.text("status IN ('open', 'snoozed') AND kind = 'social'"), postgresql_where=sa.text("status IN ('open', 'snoozed') AND kind = 'social'"))



def downgrade_():
    for name in ('uq_tasks_pending_social', 'ix_tasks_owner_pending',
                 'ix_tasks_owner_kind_completed_at', 'ix_tasks_lead_id_status'):
        op.drop_index(name, table_name='tasks')

    op.drop_table('tasks')
    op.drop_index('uq_social_quotas_workspace_default', table_name='social_quotas')

    op.drop_table('social_quotas')


def upgrade_pipeline():
    pass


def downgrade_pipeline():
    pass

