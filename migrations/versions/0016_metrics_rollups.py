"""Call metrics: a token per workspace naming the state of its finished days' figures.

Revision ID: 0016_metrics_rollups
Revises: 0015_cadence_rules
Create Date: 2026-11-25 15:40:00

"""
import secrets

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0016_metrics_rollups'
down_revision = '0015_cadence_rules'
branch_labels = None
depends_on = None


def upgrade(engine_name):
    globals()["upgrade_%s" % engine_name]()


def downgrade(engine_name):
    globals()["downgrade_%s" % engine_name]()


def upgrade_():
    versions = op.create_table(
        'metric_rollup_versions',
        sa.Column('workspace_id', sa.Integer(), nullable=False),
        sa.Column('token', sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'],
                                name=op.f('fk_metric_rollup_versions_workspace_id_workspaces')),
        sa.PrimaryKeyConstraint('workspace_id', name=op.f('pk_metric_rollup_versions')),
    )
    # Existing workspaces get a token now, so their finished days are cached from the
    # first view rather than from their next recorded call.
    workspaces = op.get_bind().execute(sa.text('SELECT id FROM workspaces')).scalars().all()
    if workspaces:
        op.bulk_insert(versions, [{'workspace_id': ws, 'token': secrets.token_hex(16)}
                                  for ws in workspaces])


def downgrade_():
    op.drop_table('metric_rollup_versions')


def upgrade_pipeline():
    pass


def downgrade_pipeline():
    pass
