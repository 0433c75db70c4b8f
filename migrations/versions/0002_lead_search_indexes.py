"""Prefix search indexes on lead names.

Revision ID: 0002_lead_search_indexes
Revises: 0001_foundation
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_lead_search_indexes"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

# Autogenerate does not see expression indexes; these mirror leads.models.Lead.
SEARCH_COLUMNS = ("first_name", "last_name", "full_name", "company")


def upgrade(engine_name):
    globals()[f"upgrade_{engine_name}"]()


def downgrade(engine_name):
    globals()[f"downgrade_{engine_name}"]()


def upgrade_():
    for name in SEARCH_COLUMNS:
        op.create_index(f"ix_leads_search_{name}", "leads", ["workspace_id", sa.text(f"lower({name})")])


def downgrade_():
    for name in SEARCH_COLUMNS:
        op.drop_index(f"ix_leads_search_{name}", table_name="leads")


def upgrade_pipeline():
    pass


def downgrade_pipeline():
    pass
