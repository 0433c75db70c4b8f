"""Erasure: the audit of each erasure, hashed suppression entries, deletes owed to CRMs;
CRM tokens stored before encryption are sealed.

Revision ID: 0014_erasure
Revises: 0013_api_tokens
Create Date: 2026-11-25 15:20:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0014_erasure'
down_revision = "0013_api_tokens"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade(engine_name):
    globals()["upgrade_%s" % engine_name]()


def downgrade(engine_name):
    globals()["downgrade_%s" % engine_name]()


def upgrade_():
    op.add_column('workspaces', sa.Column('erasure_key', sa.String(length=64), nullable=True))
    op.create_table('lead_erasures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('erased_by_id', sa.Integer(), nullable=True),
    sa.Column('erased_at', sa.DateTime(), nullable=False),
    sa.Column('subject_digest', sa.String(length=64), nullable=False),
    sa.Column('lead_count', sa.Integer(), nullable=False),
    sa.Column('removed', JSON, nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_lead_erasures_workspace_id_workspaces')),
    sa.ForeignKeyConstraint(['erased_by_id'], ['users.id'], name=op.f('fk_lead_erasures_erased_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lead_erasures'))
    )
    op.create_index('ix_lead_erasures_workspace_erased_at', 'lead_erasures', ['workspace_id', 'erased_at'], unique=False)
    op.create_table('erased_contacts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('erasure_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('phone', 'email')", name=op.f('ck_erased_contacts_kind_valid')),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_erased_contacts_workspace_id_workspaces')),
    sa.ForeignKeyConstraint(['erasure_id'], ['lead_erasures.id'], name=op.f('fk_erased_contacts_erasure_id_lead_erasures'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_erased_contacts')),
    sa.UniqueConstraint('workspace_id', 'kind', 'digest', name=op.f('uq_erased_contacts_workspace_id_kind_digest'))
    )
    op.create_table('crm_erasures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('erasure_id', sa.Integer(), nullable=True),
    sa.Column('target', sa.String(length=40), nullable=False),
    sa.Column('idempotency_key', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
    sa.Column('external_ids', JSON, nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('delivered_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint("state IN ('pending', 'failed', 'delivered', 'needs_attention', 'discarded')", name=op.f('ck_crm_erasures_state_valid')),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_crm_erasures_workspace_id_workspaces')),
    sa.ForeignKeyConstraint(['erasure_id'], ['lead_erasures.id'], name=op.f('fk_crm_erasures_erasure_id_lead_erasures'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crm_erasures')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_crm_erasures_idempotency_key'))
    )
    op.create_index('ix_crm_erasures_due', 'crm_erasures', ['target', 'state', 'next_attempt_at', 'id'], unique=False)
    _seal_stored_tokens()


def _seal_stored_tokens():
    """Encrypt the tokens saved in the clear before this revision (with the app's key)."""
    from flask import has_app_context

    if not has_app_context():
        return
    from sync.crm_secrets import seal

    bind = op.get_bind()
    targets = sa.table('crm_targets', sa.column('id', sa.Integer()), sa.column('settings', JSON))
    for target_id, settings in bind.execute(sa.select(targets.c.id, targets.c.settings)).all():
        sealed = seal(settings or {})
        if sealed != settings:
            bind.execute(targets.update().where(targets.c.id == target_id).values(settings=sealed))


def downgrade_():
    op.drop_index('ix_crm_erasures_due', table_name='crm_erasures')
    op.drop_table('crm_erasures')
    op.drop_table('erased_contacts')
    op.drop_index('ix_lead_erasures_workspace_erased_at', table_name='lead_erasures')
    op.drop_table('lead_erasures')
    op.drop_column('workspaces', 'erasure_key')


def upgrade_pipeline():
    pass


def downgrade_pipeline():
    pass
