"""Lead rotation: hand unowned leads to reps, move stale ones on, reassign by hand.

Every change is a few set-based statements in one transaction: claim the batch,
update the owners conditionally, bump the pool counters, write the audit
activities. A worker killed mid-batch leaves the batch as it was; the caller commits.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import sqlalchemy as sa

from app.extensions import db
from app.models import User
from leads import clock
from leads.availability import load_capacities
from leads.dnc import suppressed
from leads.models import ActivityType, Lead
from leads.rotation_models import RotationMember, RotationMethod, RotationRule
from leads.rotation_picking import Pick, Pool, PoolMember, Router
from leads.signals import leads_assigned
from leads.social import move_pending_tasks

BATCH_SIZE = 1000
ROUTING_COLUMNS = (Lead.id, Lead.owner_id)


AUDIT_KEYS = ("from", "to", "rule_id", "reason", "why")


class RotationConflict(Exception):
    """Another writer changed a claimed lead; the batch is rolled back and retried."""


@dataclass
class BatchResult:
    assigned: int = 0
    waiting: int = 0
    escalated: int = 0
    last_id: int | None = None
    more: bool = False
    # lead id -> its new owner, for ``leads_assigned`` once the batch is committed.
    owners: dict[int, int | None] = field(default_factory=dict)


class Change(NamedTuple):
    """One owner change; a tuple because a batch makes thousands of them."""

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
    )
    if lock and is_postgres():
        query = query.with_for_update(of=RotationRule)
    rules = db.session.scalars(query).all()
    members = db.session.execute(
        sa.select(RotationMember.rule_id, RotationMember.user_id, RotationMember.weight,
                  RotationMember.assigned)
        .where(RotationMember.rule_id.in_([rule.id for rule in rules]))
        .order_by(RotationMember.user_id)
    ).all()  # fmt: skip
    by_rule = defaultdict(list)
    for rule_id, user_id, weight, assigned in members:
        by_rule[rule_id].append(PoolMember(user_id, weight, assigned))
    return [Pool.from_rule(rule, by_rule[rule.id]) for rule in rules]


def unassigned_leads(workspace_id: int) -> sa.Select[Any]:
    """Leads waiting for an owner. Do-not-contact leads never wait: nobody may work them,
    so handing them out would only use up reps' caps and shares.

    `pending_import_id + 0` keeps SQLite off that column's index, which holds every
    published lead; with fresh statistics it may still prefer walking the primary key
    from the cursor, which is linear too.
    """
    return sa.select(*ROUTING_COLUMNS).where(
        Lead.workspace_id == workspace_id,
        Lead.owner_id.is_(None),
        (Lead.pending_import_id + 0).is_(None),
        ~suppressed(),
    )


def claim(query: sa.Select[Any], pools: list[Pool], limit: int) -> list[Mapping[str, Any]]:
    """Lock and read the next ``limit`` leads of ``query`` with the columns the rules test."""
    tested = sorted({column for p in pools for column in p.conditions})
    query = query.add_columns(*(getattr(Lead, column) for column in tested))
    if any(p.field_name for p in pools):
        query = query.add_columns(Lead.custom_fields)
    query = query.order_by(Lead.id).limit(limit)
    if is_postgres():
        query = query.with_for_update(of=Lead, skip_locked=True)
    return db.session.execute(query).mappings().all()


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
    changes = []
    summaries: dict[Pick, str] = {}  # a batch hands out few distinct picks
    for lead in leads:
        pick = router.route(lead)
        if pick is None:
            result.waiting += 1
            continue
        if (summary := summaries.get(pick)) is None:
            name = router.capacities.get(pick.user_id).name
            summary = summaries[pick] = f"Assigned to {name} by rule {pick.rule_name}"
        changes.append(
            Change(lead["id"], None, pick.user_id, pick.rule_id, summary, reason, pick.why)
        )
    _apply_new_owners(changes, now)
    save_counters(router)
    write_audit(changes, now)
    result.assigned = len(changes)
    result.owners = {change.lead_id: change.to_id for change in changes}
    return result


def capacities_for(pools: list[Pool], now: datetime):
    members = {m.user_id for p in pools for m in p.members}
    least_loaded = any(p.method == RotationMethod.LEAST_LOADED for p in pools)
    return load_capacities(members, now, count_open=least_loaded)


def _apply_new_owners(changes: list[Change], now: datetime) -> None:
    """One set-based UPDATE over the batch: a lead changes only while still unowned, and all must.

    The (lead, owner, rule) triples travel as one parameter, a JSON array on SQLite
    and arrays on PostgreSQL: per-row statements cost more than the rows' own writes.
    Only the columns that change are set: SQLite rewrites every index on a column in
    SET, even to the same value (an unowned lead has no count or escalation).
    """
    if not changes:
        return
    at = bind_value(sa.DateTime(), now)
    if is_postgres():
        sql = (
            "UPDATE leads SET owner_id = item.owner_id, assigned_at = %s,"
            " rotation_rule_id = item.rule_id"
            " FROM unnest(%s::integer[], %s::integer[], %s::integer[])"
            " AS item(lead_id, owner_id, rule_id)"
            " WHERE leads.id = item.lead_id AND leads.owner_id IS NULL"
        )
        params: tuple[Any, ...] = (
            at, [c.lead_id for c in changes], [c.to_id for c in changes],
            [c.rule_id for c in changes],
        )  # fmt: skip
    else:
        sql = (
            "UPDATE leads SET owner_id = json_extract(item.value, '$[1]'), assigned_at = ?,"
            " rotation_rule_id = json_extract(item.value, '$[2]')"
            " FROM json_each(?) AS item"
            " WHERE leads.id = json_extract(item.value, '$[0]') AND leads.owner_id IS NULL"
        )
        params = (at, json.dumps([(c.lead_id, c.to_id, c.rule_id) for c in changes]))
    updated = db.session.connection().exec_driver_sql(sql, params).rowcount
    if updated != len(changes):
        raise RotationConflict(f"{len(changes) - updated} claimed lead(s) got an owner meanwhile")


def bind_value(type_: sa.types.TypeEngine[Any], value: Any) -> Any:
    """``value`` as the driver gets it for a column of ``type_`` (e.g. SQLite's datetime text)."""
    dialect = db.session.get_bind().dialect
    process = type_.dialect_impl(dialect).bind_processor(dialect)
    return process(value) if process else value


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
    """One timeline activity per change, written by one INSERT … SELECT in the caller's
    transaction: the rows travel as one parameter, as the owners do."""
    if not changes:
        return
    at = bind_value(sa.DateTime(), now)
    encoded: dict[tuple[Any, ...], str] = {}  # a batch repeats few distinct payloads
    rows = []
    for c in changes:
        key = (c.from_id, c.to_id, c.rule_id, c.reason, c.why)
        if (data := encoded.get(key)) is None:
            data = encoded[key] = json.dumps(dict(zip(AUDIT_KEYS, key, strict=True)))
        rows.append((c.lead_id, c.summary[:500], data))
    columns = "INSERT INTO activities (lead_id, type, actor_id, occurred_at, summary, data)"
    kind = ActivityType.ASSIGNMENT.value
    if is_postgres():
        sql = (
            f"{columns} SELECT item.lead_id, '{kind}', CAST(%s AS INTEGER), %s, item.summary,"
            " CAST(item.data AS JSONB)"
            " FROM unnest(%s::integer[], %s::text[], %s::text[]) AS item(lead_id, summary, data)"
        )
        params: tuple[Any, ...] = (actor_id, at, *map(list, zip(*rows, strict=True)))
    else:
        sql = (
            f"{columns} SELECT json_extract(item.value, '$[0]'), '{kind}', ?, ?,"
            " json_extract(item.value, '$[1]'), json_extract(item.value, '$[2]')"
            " FROM json_each(?) AS item"
        )
        params = (actor_id, at, json.dumps(rows))
    db.session.connection().exec_driver_sql(sql, params)


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
) -> dict[int, int | None]:
    """Give leads to ``to_user`` by hand (no rule, so no SLA), or put them back in the
    unassigned pool (``to_user`` None) for the next rotation; returns {lead: new owner}
    of the leads that moved, for ``announce_assignments`` once the caller commits."""
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
    hand_over_tasks(moved)
    return {change.lead_id: change.to_id for change in moved}


def announce_assignments(workspace_id: int, owners: dict[int, int | None]) -> None:
    """Tell the packages above who owns the leads a committed change moved."""
    if owners:
        leads_assigned.send(workspace_id, owners=owners)


def hand_over_tasks(changes: Iterable[Change]) -> None:
    """Pending tasks follow their lead to its new owner: the old one may no longer work it."""
    by_owner: dict[int | None, list[int]] = defaultdict(list)
    for change in changes:
        by_owner[change.to_id].append(change.lead_id)
    for owner_id, lead_ids in by_owner.items():
        move_pending_tasks(lead_ids, owner_id)


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
