"""Cadence rules: social steps name a network and an action, auto-enrolment on
assignment, and birthdays as a task or a templated email per workspace.

Revision ID: 0015_cadence_rules
Revises: 0014_erasure
Create Date: 2026-11-25 15:30:00.000000

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0015_cadence_rules'
down_revision = "0014_erasure"
branch_labels = None
depends_on = None


def upgrade(engine_name):
    globals()["upgrade_%s" % engine_name]()


def downgrade(engine_name):
    globals()["downgrade_%s" % engine_name]()


def upgrade_():
    # Plain columns: steps are referenced by variants and runs, so no table rebuild.
    op.add_column('cadence_steps', sa.Column('network', sa.String(length=10), nullable=True))
    op.add_column('cadence_steps', sa.Column('social_action', sa.String(length=10), nullable=True))
    op.create_table(
        'cadence_assign_rules',
        sa.Column('cadence_id', sa.Integer(), nullable=False),
        sa.Column('list_id', sa.Integer(), nullable=True),
        sa.Column('team_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['cadence_id'], ['cadences.id'], name=op.f('fk_cadence_assign_rules_cadence_id_cadences'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['list_id'], ['lead_lists.id'], name=op.f('fk_cadence_assign_rules_list_id_lead_lists'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_cadence_assign_rules_team_id_teams'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('cadence_id', name=op.f('pk_cadence_assign_rules')),
    )
    op.create_table(
        'cadence_birthday_settings',
        sa.Column('workspace_id', sa.Integer(), nullable=False),
        sa.Column('mode', sa.String(length=10), nullable=False),
        sa.Column('template_id', sa.Integer(), nullable=True),
        sa.Column('sender_id', sa.Integer(), nullable=True),
        sa.CheckConstraint("mode IN ('task', 'email')", name=op.f('ck_cadence_birthday_settings_mode')),
        sa.CheckConstraint("mode = 'task' OR (template_id IS NOT NULL AND sender_id IS NOT NULL)", name=op.f('ck_cadence_birthday_settings_email_complete')),
        sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_cadence_birthday_settings_workspace_id_workspaces')),
        sa.ForeignKeyConstraint(['template_id'], ['cadence_email_templates.id'], name=op.f('fk_cadence_birthday_settings_template_id_cadence_email_templates')),
        sa.ForeignKeyConstraint(['sender_id'], ['mail_senders.id'], name=op.f('fk_cadence_birthday_settings_sender_id_mail_senders')),
        sa.PrimaryKeyConstraint('workspace_id', name=op.f('pk_cadence_birthday_settings')),
    )
    op.create_table(
        'cadence_birthday_emails',
        sa.Column('reminder_id', sa.Integer(), nullable=False),
        sa.Column('lead_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('template_id', sa.Integer(), nullable=True),
        sa.Column('sender_id', sa.Integer(), nullable=True),
        sa.Column('message_id', sa.String(length=255), nullable=False),
        sa.Column('unsubscribe_token', sa.String(length=64), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('last_error', sa.String(length=500), nullable=True),
        sa.Column('due_at', sa.DateTime(), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=True),
        sa.Column('finished_at', sa.DateTime(), nullable=True),
        sa.Column('unsubscribed_at', sa.DateTime(), nullable=True),
        sa.CheckConstraint("status IN ('due', 'sending', 'retry', 'sent', 'unconfirmed', 'bounced', 'cancelled')", name=op.f('ck_cadence_birthday_emails_status')),
        sa.ForeignKeyConstraint(['reminder_id'], ['cadence_reminders.id'], name=op.f('fk_cadence_birthday_emails_reminder_id_cadence_reminders'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_cadence_birthday_emails_lead_id_leads'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['template_id'], ['cadence_email_templates.id'], name=op.f('fk_cadence_birthday_emails_template_id_cadence_email_templates'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['sender_id'], ['mail_senders.id'], name=op.f('fk_cadence_birthday_emails_sender_id_mail_senders'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('reminder_id', name=op.f('pk_cadence_birthday_emails')),
        sa.UniqueConstraint('message_id', name=op.f('uq_cadence_birthday_emails_message_id')),
        sa.UniqueConstraint('unsubscribe_token', name=op.f('uq_cadence_birthday_emails_unsubscribe_token')),
    )
    with op.batch_alter_table('cadence_birthday_emails', schema=None) as batch_op:
        batch_op.create_index('ix_cadence_birthday_emails_pending', ['due_at'], unique=False, sqlite_where=sa.text("status IN ('due', 'retry')"), postgresql_where=sa.text("status IN ('due', 'retry')"))
        batch_op.create_index(batch_op.f('ix_cadence_birthday_emails_lead_id'), ['lead_id'], unique=False)


def downgrade_():
    op.drop_table('cadence_birthday_emails')
    op.drop_table('cadence_birthday_settings')
    op.drop_table('cadence_assign_rules')
    op.drop_column('cadence_steps', 'social_action')
    op.drop_column('cadence_steps', 'network')


def upgrade_pipeline():
    pass


def downgrade_pipeline():
    pass
