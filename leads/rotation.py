"""Lead rotation: hand unowned leads to reps, move stale ones on, reassign by hand.

Every change is a few set-based statements in one transaction: claim the batch,
update the owners conditionally, bump the pool counters, write the audit
activities. A worker killed mid-batch leaves the batch as it was; the caller commits.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import User
from leads import clock
from leads.availability import load_capacities
from leads.models import Activity, ActivityType, ContactKind, DoNotContact, Lead
from leads.rotation_models import RotationMember, RotationMethod, RotationRule
from leads.rotation_picking import Pick, Pool, Router

BATCH_SIZE = 1000
ROUTING_COLUMNS = (Lead.id, Lead.owner_id, Lead.list_id, Lead.source, Lead.country, Lead.state,
                   Lead.time_zone)  # fmt: skip


class RotationConflict(Exception):
    """Another writer changed a claimed lead; the batch is rolled back and retried."""


@dataclass
class BatchResult:
    assigned: int = 0
    waiting: int = 0
    escalated: int = 0
    last_id: int | None = None
    more: bool = False


@dataclass(frozen=True)
class Change:
    lead_id: int
    from_id: int | None
    to_id: int | None
    rule_id: int | None
    summary: str
    reason: str
    why: str = ""


def is_postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def load_pools(workspace_id: int, lock: bool = True) -> list[Pool]:
    """The workspace's enabled rules in order, locked on PostgreSQL so that two
    batches never read the same pool counters (SQLite's write lock does the same)."""
    query = (
        sa.select(RotationRule)
        .where(RotationRule.workspace_id == workspace_id, RotationRule.enabled.is_(True))
        .order_by(RotationRule.is_fallback, RotationRule.position, RotationRule.id)
        .options(selectinload(RotationRule.members))
    )
    if lock and is_postgres():
        query = query.with_for_update(of=RotationRule)
    return [Pool.from_rule(rule) for rule in db.session.scalars(query)]


def _suppressed(kind: ContactKind, column: sa.ColumnElement[Any]) -> sa.Exists:
    return sa.exists().where(
        DoNotContact.workspace_id == Lead.workspace_id,
        DoNotContact.kind == kind.value,
        DoNotContact.value == column,
    )


def unassigned_leads(workspace_id: int) -> sa.Select[Any]:
    """Leads waiting for an owner. Do-not-contact leads never wait: nobody may work them,
    so handing them out would only use up reps' caps and shares."""
    return sa.select(*ROUTING_COLUMNS).where(
        Lead.workspace_id == workspace_id,
        Lead.owner_id.is_(None),
        Lead.pending_import_id.is_(None),
        ~_suppressed(ContactKind.PHONE, Lead.phone_e164),
        ~_suppressed(ContactKind.EMAIL, Lead.email_key),
    )


def claim(query: sa.Select[Any], pools: list[Pool], limit: int) -> list[dict[str, Any]]:
    if any(p.field_name for p in pools):
        query = query.add_columns(Lead.custom_fields)
    query = query.order_by(Lead.id).limit(limit)
    if is_postgres():
        query = query.with_for_update(of=Lead, skip_locked=True)
    return [dict(row._mapping) for row in db.session.execute(query)]


def assign_unassigned(
    workspace_id: int, after_id: int = 0, lead_ids: Iterable[int] | None = None,
    reason: str = "rotation", limit: int = BATCH_SIZE,
) -> BatchResult:  # fmt: skip
    """Give up to ``limit`` unowned leads (ids above ``after_id``) to reps by the rules."""
    now = clock.now()
    pools = load_pools(workspace_id)
    query = unassigned_leads(workspace_id).where(Lead.id > after_id)
    if lead_ids is not None:
        query = query.where(Lead.id.in_(list(lead_ids)))
    leads = claim(query, pools, limit) if pools else []
    result = BatchResult(last_id=leads[-1]["id"] if leads else None, more=len(leads) == limit)
    if not leads:
        return result
    router = Router(pools, capacities_for(pools, now))
    names = user_names(pools)
    changes = []
    for lead in leads:
        pick = router.route(lead)
        if pick is None:
            result.waiting += 1
            continue
        changes.append(_assignment(lead["id"], None, pick, names, reason))
    _apply_new_owners(changes, now)
    save_counters(router)
    write_audit(changes, now)
    result.assigned = len(changes)
    return result


def capacities_for(pools: list[Pool], now: datetime):
    members = {m.user_id for p in pools for m in p.members}
    least_loaded = any(p.method == RotationMethod.LEAST_LOADED for p in pools)
    return load_capacities(members, now, count_open=least_loaded)


def user_names(pools: list[Pool]) -> dict[int, str]:
    ids = {m.user_id for p in pools for m in p.members}
    return dict(db.session.execute(sa.select(User.id, User.name).where(User.id.in_(ids))).all())


def _assignment(
    lead_id: int, from_id: int | None, pick: Pick, names: dict[int, str], reason: str
) -> Change:
    summary = f"Assigned to {names.get(pick.user_id, '?')} by rule {pick.rule_name}"
    return Change(lead_id, from_id, pick.user_id, pick.rule_id, summary, reason, pick.why)


def _apply_new_owners(changes: list[Change], now: datetime) -> None:
    """One UPDATE per (rep, rule): only rows still unowned change, and all must."""
    groups: dict[tuple[int, int | None], list[int]] = defaultdict(list)
    for change in changes:
        groups[(change.to_id, change.rule_id)].append(change.lead_id)
    for (owner_id, rule_id), ids in groups.items():
        updated = db.session.execute(
            sa.update(Lead)
            .where(Lead.id.in_(ids), Lead.owner_id.is_(None))
            .values(_owner_values(owner_id, rule_id, now, rotation_count=0)),
            execution_options={"synchronize_session": False},
        ).rowcount
        if updated != len(ids):
            raise RotationConflict(f"{len(ids) - updated} claimed lead(s) got an owner meanwhile")


def _owner_values(owner_id: int | None, rule_id: int | None, now: datetime, **more) -> dict:
    # updated_at keeps its value: an owner change is not an edit (import undo
    # compares it to tell whether anyone touched a lead since the import).
    return {
        "owner_id": owner_id,
        "assigned_at": now if owner_id else None,
        "rotation_rule_id": rule_id,
        "escalated_at": None,
        "updated_at": Lead.updated_at,
        **more,
    }


def save_counters(router: Router) -> None:
    rows = router.changed_members()
    if rows:
        table = RotationMember.__table__
        db.session.execute(
            table.update()
            .where(table.c.rule_id == sa.bindparam("r"), table.c.user_id == sa.bindparam("u"))
            .values(assigned=sa.bindparam("a")),
            rows,
        )


def write_audit(changes: list[Change], now: datetime, actor_id: int | None = None) -> None:
    """One timeline activity per change, written in bulk in the caller's transaction."""
    if not changes:
        return
    db.session.execute(
        sa.insert(Activity),
        [
            {
                "lead_id": c.lead_id,
                "type": ActivityType.ASSIGNMENT.value,
                "actor_id": actor_id,
                "occurred_at": now,
                "summary": c.summary[:500],
                "data": {"from": c.from_id, "to": c.to_id, "rule_id": c.rule_id,
                         "reason": c.reason, "why": c.why},
            }  # fmt: skip
            for c in changes
        ],
    )


def move_owner(change: Change, now: datetime, **values: Any) -> bool:
    """Change one lead's owner only if it still has the owner the change expects."""
    updated = db.session.execute(
        sa.update(Lead)
        .where(Lead.id == change.lead_id, Lead.owner_id.is_not_distinct_from(change.from_id))
        .values(_owner_values(change.to_id, change.rule_id, now, **values)),
        execution_options={"synchronize_session": False},
    ).rowcount
    return updated == 1


def reassign(
    lead_ids: Iterable[int], workspace_id: int, to_user: User | None, actor: User, why: str
) -> int:
    """Give leads to ``to_user`` by hand (no rule, so no SLA), or put them back in the
    unassigned pool (``to_user`` None) for the next rotation; returns how many moved."""
    now = clock.now()
    rows = db.session.execute(
        sa.select(Lead.id, Lead.owner_id).where(
            Lead.workspace_id == workspace_id, Lead.id.in_(list(lead_ids))
        )
    ).all()
    summary = (f"Reassigned to {to_user.name} by {actor.name}" if to_user
               else f"Back to the rotation, by {actor.name}")  # fmt: skip
    changes = [
        Change(lead_id, owner_id, to_user.id if to_user else None, None, summary, "manual", why)
        for lead_id, owner_id in rows
        if owner_id != (to_user.id if to_user else None)
    ]
    moved = [c for c in changes if move_owner(c, now, rotation_count=0)]
    write_audit(moved, now, actor.id)
    return len(moved)


def owned_lead_ids(user_id: int, open_only: bool = True) -> list[int]:
    from leads.availability import OPEN_STATUSES

    query = sa.select(Lead.id).where(Lead.owner_id == user_id)
    if open_only:
        query = query.where(Lead.status.in_(OPEN_STATUSES))
    return list(db.session.scalars(query.order_by(Lead.id)))


def stale_cutoffs(workspace_id: int, now: datetime) -> dict[int, datetime]:
    """Per rule with an SLA: leads assigned before this moment are overdue."""
    rules = db.session.execute(
        sa.select(RotationRule.id, RotationRule.sla_hours).where(
            RotationRule.workspace_id == workspace_id, RotationRule.sla_hours.is_not(None)
        )
    ).all()
    return {rule_id: now - timedelta(hours=hours) for rule_id, hours in rules}
