"""Test data for rotation: leads inserted in bulk, rules with pools."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app.extensions import db
from app.models import User
from leads.models import Activity, ActivityType, Lead, LeadStatus
from leads.rotation_models import RotationRule
from leads.rotation_rules import save_rule


def add_leads(workspace_id: int, count: int, **fields: Any) -> list[int]:
    """Insert unowned leads quickly; returns their ids in order."""
    start = db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(Lead.id), 0)))
    rows = [
        {
            "workspace_id": workspace_id,
            "first_name": f"Lead{start + n}",
            "status": LeadStatus.NEW.value,
            "phone_time_zones": [],
            "other_phones": [],
            "custom_fields": {},
            **fields,
        }  # fmt: skip
        for n in range(1, count + 1)
    ]
    db.session.execute(sa.insert(Lead), rows)
    db.session.commit()
    return list(db.session.scalars(sa.select(Lead.id).where(Lead.id > start).order_by(Lead.id)))


def make_rule(
    workspace_id: int, reps: dict[User, float] | list[User], **values: Any
) -> RotationRule:
    pool = reps if isinstance(reps, dict) else {rep: 1.0 for rep in reps}
    values.setdefault("name", "Everyone")
    rule = save_rule(
        RotationRule(workspace_id=workspace_id), values, {u.id: w for u, w in pool.items()}
    )
    db.session.commit()
    return rule


def owners() -> dict[int, int | None]:
    return dict(db.session.execute(sa.select(Lead.id, Lead.owner_id)).all())


def assignment_audit() -> list[tuple[int, dict]]:
    return list(
        db.session.execute(
            sa.select(Activity.lead_id, Activity.data)
            .where(Activity.type == ActivityType.ASSIGNMENT.value)
            .order_by(Activity.id)
        ).all()
    )
