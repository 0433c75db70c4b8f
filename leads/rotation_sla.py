"""The SLA sweep: a lead nobody touched within its rule's hours moves to another rep
of the pool (never one who had it), at most `max_rotations` times, then goes to the
managers' escalation queue."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from app.extensions import db
from leads import clock
from leads.models import Activity, ActivityType, Lead
from leads.rotation import (
    BATCH_SIZE,
    ROUTING_COLUMNS,
    BatchResult,
    Change,
    capacities_for,
    claim,
    hand_over_tasks,
    load_pools,
    move_owner,
    save_counters,
    stale_cutoffs,
    write_audit,
)  # fmt: skip
from leads.rotation_models import RotationRule
from leads.rotation_picking import Router


def _untouched_since_assignment() -> sa.ColumnElement[bool]:
    return ~sa.exists().where(
        Activity.lead_id == Lead.id,
        Activity.occurred_at > Lead.assigned_at,
        Activity.type != ActivityType.ASSIGNMENT.value,
    )


def stale_leads(workspace_id: int, cutoffs: dict[int, datetime]) -> sa.Select[Any]:
    """Owned leads past their rule's SLA with no activity since they were assigned."""
    overdue = sa.or_(
        *(sa.and_(Lead.rotation_rule_id == rule_id, Lead.assigned_at < cutoff)
          for rule_id, cutoff in cutoffs.items())
    )  # fmt: skip
    return sa.select(*ROUTING_COLUMNS, Lead.rotation_rule_id, Lead.rotation_count).where(
        Lead.workspace_id == workspace_id,
        Lead.owner_id.is_not(None),
        Lead.escalated_at.is_(None),
        overdue,
        _untouched_since_assignment(),
    )


def previous_owners(lead_ids: list[int]) -> dict[int, set[int]]:
    """Everyone each lead was ever assigned to, read from its audit trail."""
    owners: dict[int, set[int]] = defaultdict(set)
    rows = db.session.execute(
        sa.select(Activity.lead_id, Activity.data).where(
            Activity.lead_id.in_(lead_ids), Activity.type == ActivityType.ASSIGNMENT.value
        )
    )
    for lead_id, data in rows:
        if isinstance(data, dict) and isinstance(data.get("to"), int):
            owners[lead_id].add(data["to"])
    return owners


def rerotate_stale(workspace_id: int, after_id: int = 0, limit: int = BATCH_SIZE) -> BatchResult:
    """Move on or escalate up to ``limit`` overdue leads (ids above ``after_id``)."""
    now = clock.now()
    pools = load_pools(workspace_id)
    limits = dict(
        db.session.execute(
            sa.select(RotationRule.id, RotationRule.max_rotations).where(
                RotationRule.id.in_([p.rule_id for p in pools])
            )
        ).all()
    )
    cutoffs = {k: v for k, v in stale_cutoffs(workspace_id, now).items() if k in limits}
    if not cutoffs:
        return BatchResult()
    leads = claim(stale_leads(workspace_id, cutoffs).where(Lead.id > after_id), pools, limit)
    result = BatchResult(last_id=leads[-1]["id"] if leads else None, more=len(leads) == limit)
    router = Router(pools, capacities_for(pools, now))
    had_it = previous_owners([lead["id"] for lead in leads])
    moves, escalations = [], []
    for lead in leads:
        picker = router.pickers[lead["rotation_rule_id"]]
        excluded = had_it[lead["id"]] | {lead["owner_id"]}
        pick = None
        if lead["rotation_count"] < limits[lead["rotation_rule_id"]]:
            pick = picker.pick(exclude=excluded)
        if pick is not None:
            name = router.capacities.get(pick.user_id).name
            summary = f"Moved to {name}: untouched past the SLA of {pick.rule_name}"
            moves.append((lead, Change(lead["id"], lead["owner_id"], pick.user_id, pick.rule_id,
                                       summary, "sla", pick.why)))  # fmt: skip
        elif lead["rotation_count"] >= limits[lead["rotation_rule_id"]] or all(
            m.user_id in excluded for m in picker.pool.members
        ):
            escalations.append(_escalation(lead, picker.pool.name))
        else:
            result.waiting += 1  # someone who has not had it will be free later
    done = [c for lead, c in moves if move_owner(c, now, rotation_count=lead["rotation_count"] + 1)]
    save_counters(router)
    result.assigned = len(done)
    result.owners = {change.lead_id: change.to_id for change in done}
    result.escalated = _escalate(escalations, now)
    write_audit(done, now)
    hand_over_tasks(done)
    return result


def _escalation(lead: dict[str, Any], rule_name: str) -> Change:
    summary = f"Escalated to the managers: untouched past the SLA of {rule_name}"
    why = f"moved {lead['rotation_count']} time(s) already"
    owner = lead["owner_id"]
    return Change(lead["id"], owner, owner, lead["rotation_rule_id"], summary, "escalated", why)


def _escalate(changes: list[Change], now: datetime) -> int:
    done = []
    for change in changes:
        updated = db.session.execute(
            sa.update(Lead)
            .where(Lead.id == change.lead_id, Lead.owner_id == change.from_id,
                   Lead.escalated_at.is_(None))
            .values(escalated_at=now, updated_at=Lead.updated_at),
            execution_options={"synchronize_session": False},
        ).rowcount  # fmt: skip
        if updated:
            done.append(change)
    write_audit(done, now)
    return len(done)
