"""The lead's timeline: every change, call, email and touch is one Activity row."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app.extensions import db
from app.models import User
from leads.models import Activity, ActivityType, Lead

TIMELINE_LIMIT = 200


def record(
    lead: Lead, kind: ActivityType, actor: User | None, summary: str, **data: Any
) -> Activity:
    """Append one activity to the lead's timeline; the caller commits."""
    activity = Activity(
        lead_id=lead.id,
        type=kind.value,
        actor_id=actor.id if actor else None,
        summary=summary,
        data=data,
    )
    db.session.add(activity)
    return activity


def timeline(lead: Lead, limit: int = TIMELINE_LIMIT) -> list[Activity]:
    """The newest activities of a lead first."""
    return list(
        db.session.scalars(
            sa.select(Activity)
            .where(Activity.lead_id == lead.id)
            .order_by(Activity.occurred_at.desc(), Activity.id.desc())
            .limit(limit)
        )
    )
