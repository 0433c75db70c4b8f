"""Stored CRM targets: the external CRMs a workspace hands qualified leads to.

Revision ID: 0010_crm_targets
Revises: 0009_cadences
Create Date: 2026-11-25 13:20:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0010_crm_targets'
down_revision = "0009_cadences"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade(engine_name):
    globals()["upgrade_%s" % engine_name]()


def downgrade(engine_name):
    globals()["downgrade_%s" % engine_name]()


def upgrade_():
    op.create_table('crm_targets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('settings', JSON, nullable=False),
    sa.Column('field_mapping', JSON, nullable=False),
    sa.Column('enabled_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('hubspot', 'pipedrive', 'webhook')", name=op.f('ck_crm_targets_kind_valid')),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_crm_targets_workspace_id_workspaces')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crm_targets')),
    sa.UniqueConstraint('workspace_id', 'name', name=op.f('uq_crm_targets_workspace_id_name'))
    )
    op.create_index('ix_crm_targets_enabled', 'crm_targets', ['enabled', 'id'], unique=False)


def downgrade_():
    op.drop_index('ix_crm_targets_enabled', table_name='crm_targets')
    op.drop_table('crm_targets')


def upgrade_pipeline():
    pass


def downgrade_pipeline():
    pass
