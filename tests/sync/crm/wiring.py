"""Helpers for the tests that run stored CRM targets through the hand-off ledger."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from sync.crm_targets import set_enabled
from sync.models import Handoff, StoredCrmTarget
from tests.sync.crm.conftest import FAST


def stored_target(workspace, kind: str, name: str | None = None, **settings) -> StoredCrmTarget:
    """An enabled stored target of the workspace, committed, with fast retry settings."""
    stored = StoredCrmTarget(workspace_id=workspace.id, kind=kind, name=name or kind,
                             settings={**FAST, **settings}, field_mapping={})  # fmt: skip
    db.session.add(stored)
    set_enabled(stored, True)
    db.session.commit()
    return stored


def ledger(target_name: str) -> list[Handoff]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            sa.select(Handoff).where(Handoff.target == target_name).order_by(Handoff.id)
        )
    )
