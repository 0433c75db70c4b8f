"""The rotation report: per rep what rotation gave, what is open, SLA kept and missed;
expected against actual shares of weighted pools."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from app.extensions import db
from app.models import User
from leads import clock
from leads.availability import OPEN_STATUSES
from leads.models import Activity, ActivityType, Lead
from leads.rotation_models import RotationMethod, RotationRule


@dataclass
class RepLine:
    user_id: int
    name: str
    assigned: int = 0
    open: int = 0
    touched_in_sla: int = 0
    breaches: int = 0


def _audit_counts(workspace_id: int, since: datetime, lines: dict[int, RepLine]) -> None:
    rows = db.session.execute(
        sa.select(Activity.data)
        .join(Lead, Lead.id == Activity.lead_id)
        .where(
            Lead.workspace_id == workspace_id,
            Activity.type == ActivityType.ASSIGNMENT.value,
            Activity.occurred_at >= since,
        )
    ).scalars()
    for data in rows:
        reason = data.get("reason")
        if reason in ("sla", "escalated") and data.get("from") in lines:
            lines[data["from"]].breaches += 1
        if reason != "escalated" and data.get("to") in lines:
            lines[data["to"]].assigned += 1


def _touched_in_sla(workspace_id: int, since: datetime, lines: dict[int, RepLine]) -> None:
    first_touch = (
        sa.select(sa.func.min(Activity.occurred_at))
        .where(
            Activity.lead_id == Lead.id,
            Activity.occurred_at >= Lead.assigned_at,
            Activity.type != ActivityType.ASSIGNMENT.value,
        )
        .scalar_subquery()
    )
    rows = db.session.execute(
        sa.select(Lead.owner_id, Lead.assigned_at, RotationRule.sla_hours, first_touch)
        .join(RotationRule, RotationRule.id == Lead.rotation_rule_id)
        .where(
            Lead.workspace_id == workspace_id,
            Lead.assigned_at >= since,
            RotationRule.sla_hours.is_not(None),
        )
    )
    for owner_id, assigned_at, hours, touched in rows:
        in_time = touched is not None and touched <= assigned_at + timedelta(hours=hours)
        if in_time and owner_id in lines:
            lines[owner_id].touched_in_sla += 1


def rep_report(workspace_id: int, days: int) -> list[RepLine]:
    since = clock.now() - timedelta(days=days)
    users = db.session.execute(
        sa.select(User.id, User.name).where(User.workspace_id == workspace_id).order_by(User.name)
    ).all()
    lines = {uid: RepLine(uid, name) for uid, name in users}
    open_rows = db.session.execute(
        sa.select(Lead.owner_id, sa.func.count())
        .where(Lead.workspace_id == workspace_id, Lead.owner_id.is_not(None),
               Lead.status.in_(OPEN_STATUSES))
        .group_by(Lead.owner_id)
    )  # fmt: skip
    for owner_id, count in open_rows:
        if owner_id in lines:
            lines[owner_id].open = count
    _audit_counts(workspace_id, since, lines)
    _touched_in_sla(workspace_id, since, lines)
    return [line for line in lines.values() if line.assigned or line.open or line.breaches]


def weighted_shares(workspace_id: int) -> list[dict]:
    """Per weighted pool: each member's target share against what the pool gave them."""
    rules = db.session.scalars(
        sa.select(RotationRule)
        .where(RotationRule.workspace_id == workspace_id,
               RotationRule.method == RotationMethod.WEIGHTED.value)
        .order_by(RotationRule.position, RotationRule.id)
    )  # fmt: skip
    pools = []
    for rule in rules:
        total_weight = sum(m.weight for m in rule.members) or 1
        total = sum(m.assigned for m in rule.members)
        members = [
            {"name": m.user.name, "expected": 100 * m.weight / total_weight,
             "actual": 100 * m.assigned / total if total else 0.0, "assigned": m.assigned}
            for m in rule.members
        ]  # fmt: skip
        pools.append({"rule": rule, "total": total, "members": members})
    return pools


def escalated_leads(workspace_id: int, limit: int = 500) -> list[Lead]:
    return list(
        db.session.scalars(
            sa.select(Lead)
            .where(Lead.workspace_id == workspace_id, Lead.escalated_at.is_not(None))
            .order_by(Lead.escalated_at.desc())
            .limit(limit)
        )
    )


def unassigned_count(workspace_id: int) -> int:
    from leads.rotation import unassigned_leads

    query = unassigned_leads(workspace_id).with_only_columns(sa.func.count())
    return db.session.scalar(query) or 0
