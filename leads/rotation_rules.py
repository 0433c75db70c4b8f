"""Editing rotation rules and previewing who gets the next leads, and why."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from app.extensions import db
from app.models import User
from leads import clock
from leads.models import Lead, display_name
from leads.rotation import capacities_for, load_pools, unassigned_leads
from leads.rotation_models import CONDITION_COLUMNS, RotationMember, RotationRule
from leads.rotation_picking import Pool, Router

PREVIEW_COUNT = 10


class RuleError(ValueError):
    """A rule that cannot be saved; `field` names the form field to show it on."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


def parse_pool(
    chosen: list[str], weights: Mapping[str, str], users: list[User]
) -> dict[int, float]:
    """The pool as typed: the ticked users with their weights (empty weight: 1)."""
    known = {u.id: u for u in users}
    pool: dict[int, float] = {}
    for text in chosen:
        user = known.get(int(text)) if text.isascii() and text.isdigit() else None
        if user is None:
            raise RuleError("pool", "One of the chosen reps is not in this workspace.")
        raw = (weights.get(str(user.id)) or "1").strip()
        try:
            weight = float(raw)
        except ValueError:
            weight = math.nan
        if not math.isfinite(weight) or weight <= 0:
            raise RuleError(
                "pool", f"The weight of {user.name} must be a positive number, not {raw!r}."
            )
        pool[user.id] = weight
    if not pool:
        raise RuleError("pool", "Choose at least one rep for the pool.")
    return pool


def save_rule(
    rule: RotationRule, values: Mapping[str, Any], pool: dict[int, float]
) -> RotationRule:
    """Store a rule's fields and pool; members who stay keep their counters."""
    if values.get("is_fallback"):
        if any(values.get(c) for c in (*CONDITION_COLUMNS, "field_name")):
            raise RuleError(
                "is_fallback", "A fallback pool has no conditions: it takes what is left."
            )
        other = db.session.scalar(
            sa.select(RotationRule.id).where(
                RotationRule.workspace_id == rule.workspace_id,
                RotationRule.is_fallback.is_(True),
                RotationRule.id != (rule.id or 0),
            )
        )
        if other:
            raise RuleError(
                "is_fallback", "There is a fallback pool already; edit that one instead."
            )
    defaults = {"position": 0, "max_rotations": 2}
    for name, value in values.items():
        if value is None and name in defaults:
            value = defaults[name]
        if isinstance(value, str):
            value = value.strip() or None
        if isinstance(value, Decimal):
            value = float(value)
        setattr(rule, name, value)
    if rule.country:
        rule.country = rule.country.upper()
    kept = {m.user_id: m for m in rule.members if m.user_id in pool}
    rule.members = [
        kept.get(user_id) or RotationMember(user_id=user_id, assigned=0) for user_id in pool
    ]
    for member in rule.members:
        member.weight = pool[member.user_id]
    db.session.add(rule)
    db.session.flush()
    return rule


def delete_rule(rule: RotationRule) -> None:
    """Delete a rule; its leads keep their owners but leave the SLA sweep."""
    db.session.execute(
        sa.update(Lead)
        .where(Lead.rotation_rule_id == rule.id)
        .values(rotation_rule_id=None, updated_at=Lead.updated_at)
    )
    db.session.delete(rule)


def describe_conditions(rule: RotationRule, list_names: Mapping[int, str]) -> str:
    """The rule's conditions in a line, for the rules table."""
    parts = [f"list {list_names.get(rule.list_id, '?')}"] if rule.list_id else []
    for column in CONDITION_COLUMNS[1:]:
        if value := getattr(rule, column):
            parts.append(f"{column.replace('_', ' ')} {value}")
    if rule.field_name:
        parts.append(f"{rule.field_name} = {rule.field_value}")
    if parts:
        return ", ".join(parts)
    return "anything left" if rule.is_fallback else "every lead"


@dataclass
class Preview:
    picks: list[tuple[str, str]] = field(default_factory=list)  # (rep, why)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (rep, why not)


def preview_rule(rule: RotationRule, count: int = PREVIEW_COUNT) -> Preview:
    """Who the rule's next ``count`` leads would go to; nothing is stored."""
    pool = Pool.from_rule(rule)
    capacities = capacities_for([pool], clock.now())
    router = Router([pool], capacities)
    preview = Preview()
    for user_id in sorted(m.user_id for m in pool.members):
        capacity = capacities.get(user_id)
        if not capacity.can_take():
            preview.skipped.append((capacity.name, capacity.why_not()))
    for _ in range(count):
        pick = router.pickers[rule.id].pick()
        if pick is None:
            break
        preview.picks.append((capacities.get(pick.user_id).name, pick.why))
    return preview


def preview_waiting(workspace_id: int, count: int = PREVIEW_COUNT) -> list[dict[str, Any]]:
    """The next waiting leads and where the rules would send each; nothing is stored."""
    pools = load_pools(workspace_id, lock=False)
    query = unassigned_leads(workspace_id).add_columns(
        *(getattr(Lead, column) for column in CONDITION_COLUMNS), Lead.custom_fields,
        Lead.first_name, Lead.last_name, Lead.full_name, Lead.company, Lead.email, Lead.phone_raw,
    )  # fmt: skip
    leads = [dict(r._mapping) for r in db.session.execute(query.order_by(Lead.id).limit(count))]
    if not leads:
        return []
    capacities = capacities_for(pools, clock.now())
    router = Router(pools, capacities)
    rows = []
    for lead in leads:
        pick = router.route(lead)
        rows.append({
            "lead_id": lead["id"],
            "name": display_name(_Named(lead)),
            "rep": capacities.get(pick.user_id).name if pick else None,
            "rule": pick.rule_name if pick else None,
            "why": pick.why if pick else "no rule matched and nobody in the fallback pool is free",
        })  # fmt: skip
    return rows


class _Named:
    """Attribute access over a row, for display_name."""

    def __init__(self, row: Mapping[str, Any]) -> None:
        self.__dict__.update(row)
