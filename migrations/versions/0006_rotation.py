"""Lead rotation: rules and pools, rep availability, rotation columns on leads.

Revision ID: 0006_rotation
Revises: 0005_social
Create Date: 2026-11-25 12:30:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0006_rotation'
down_revision = '0005_social'
branch_labels = None
depends_on = None


def upgrade(engine_name):
    globals()["upgrade_%s" % engine_name]()


def downgrade(engine_name):
    globals()["downgrade_%s" % engine_name]()


def upgrade_():
    op.create_table('rotation_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('is_fallback', sa.Boolean(), nullable=False),
    sa.Column('method', sa.String(length=20), nullable=False),
    sa.Column('list_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=120), nullable=True),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.Column('state', sa.String(length=120), nullable=True),
    sa.Column('time_zone', sa.String(length=64), nullable=True),
    sa.Column('field_name', sa.String(length=120), nullable=True),
    sa.Column('field_value', sa.String(length=250), nullable=True),
    sa.Column('sla_hours', sa.Float(), nullable=True),
    sa.Column('max_rotations', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("method IN ('round_robin', 'weighted', 'least_loaded')", name=op.f('ck_rotation_rules_method_valid')),
    sa.CheckConstraint('sla_hours IS NULL OR sla_hours > 0', name=op.f('ck_rotation_rules_sla_hours_positive')),
    sa.CheckConstraint('max_rotations >= 0', name=op.f('ck_rotation_rules_max_rotations_not_negative')),
    sa.ForeignKeyConstraint(['list_id'], ['lead_lists.id'], name=op.f('fk_rotation_rules_list_id_lead_lists'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_rotation_rules_workspace_id_workspaces')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rotation_rules'))
    )
    op.create_index('ix_rotation_rules_workspace_position', 'rotation_rules', ['workspace_id', 'position'], unique=False)
    op.create_table('rotation_members',
    sa.Column('rule_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('weight', sa.Float(), nullable=False),
    sa.Column('assigned', sa.Integer(), nullable=False),
    sa.CheckConstraint('weight > 0', name=op.f('ck_rotation_members_weight_positive')),
    sa.ForeignKeyConstraint(['rule_id'], ['rotation_rules.id'], name=op.f('fk_rotation_members_rule_id_rotation_rules'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_rotation_members_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('rule_id', 'user_id', name=op.f('pk_rotation_members'))
    )
    op.create_index(op.f('ix_rotation_members_user_id'), 'rotation_members', ['user_id'], unique=False)
    op.create_table('rep_settings',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('accepts_leads', sa.Boolean(), nullable=False),
    sa.Column('work_start', sa.Time(), nullable=True),
    sa.Column('work_end', sa.Time(), nullable=True),
    sa.Column('work_days', sa.String(length=7), nullable=False),
    sa.Column('daily_cap', sa.Integer(), nullable=True),
    sa.Column('open_cap', sa.Integer(), nullable=True),
    sa.CheckConstraint('daily_cap IS NULL OR daily_cap >= 0', name=op.f('ck_rep_settings_daily_cap_not_negative')),
    sa.CheckConstraint('open_cap IS NULL OR open_cap >= 0', name=op.f('ck_rep_settings_open_cap_not_negative')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_rep_settings_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_rep_settings'))
    )
    op.create_table('rep_away_periods',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.CheckConstraint('ends_on >= starts_on', name=op.f('ck_rep_away_periods_ends_after_start')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_rep_away_periods_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rep_away_periods'))
    )
    op.create_index(op.f('ix_rep_away_periods_user_id'), 'rep_away_periods', ['user_id'], unique=False)

    # Plain ALTER TABLE, not batch mode: rebuilding `leads` on SQLite would drop the
    # expression indexes of 0002.
    op.add_column('leads', sa.Column('assigned_at', sa.DateTime(), nullable=True))
    op.add_column('leads', sa.Column('rotation_rule_id', sa.Integer(), nullable=True))
    op.add_column('leads', sa.Column('rotation_count', sa.Integer(), server_default='0', nullable=False))
    op.add_column('leads', sa.Column('escalated_at', sa.DateTime(), nullable=True))
    op.create_index('ix_leads_workspace_escalated_at', 'leads', ['workspace_id', 'escalated_at'], unique=False)


def downgrade_():
    op.drop_index('ix_leads_workspace_escalated_at', table_name='leads')
    op.drop_column('leads', 'escalated_at')
    op.drop_column('leads', 'rotation_count')
    op.drop_column('leads', 'rotation_rule_id')
    op.drop_column('leads', 'assigned_at')
    op.drop_index(op.f('ix_rep_away_periods_user_id'), table_name='rep_away_periods')
    op.drop_table('rep_away_periods')
    op.drop_table('rep_settings')
    op.drop_index(op.f('ix_rotation_members_user_id'), table_name='rotation_members')
    op.drop_table('rotation_members')
    op.drop_index('ix_rotation_rules_workspace_position', table_name='rotation_rules')
    op.drop_table('rotation_rules')


def upgrade_pipeline():
    pass


def downgrade_pipeline():
    pass
