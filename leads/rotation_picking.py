"""Choosing the rep for a lead: rule matching and the three fair methods, in memory.

Nothing here writes: `leads.rotation` loads the pools, asks a `Picker` per pool
and stores the outcome; the rule preview asks the same pickers and stores nothing.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from leads.availability import Capacities
from leads.rotation_models import RotationMethod, RotationRule


@dataclass
class PoolMember:
    user_id: int
    weight: float
    assigned: int
    changed: bool = False


@dataclass
class Pool:
    """A rule as the picker sees it: its conditions and its members' counters."""

    rule_id: int
    name: str
    method: str
    is_fallback: bool
    conditions: dict[str, Any]
    field_name: str | None
    field_value: str | None
    members: list[PoolMember] = field(default_factory=list)

    @classmethod
    def from_rule(cls, rule: RotationRule, members: list[PoolMember] | None = None) -> Pool:
        """The rule's pool; ``members`` as loaded, else read from the rule's own members."""
        conditions = {
            "list_id": rule.list_id,
            "source": _folded(rule.source),
            "country": _folded(rule.country),
            "state": _folded(rule.state),
            "time_zone": _folded(rule.time_zone),
        }
        return cls(
            rule.id, rule.name, rule.method, rule.is_fallback,
            {k: v for k, v in conditions.items() if v is not None},
            rule.field_name, _folded(rule.field_value),
            members if members is not None
            else [PoolMember(m.user_id, m.weight, m.assigned) for m in rule.members],
        )  # fmt: skip

    def matches(self, lead: Mapping[str, Any]) -> bool:
        for column, wanted in self.conditions.items():
            value = lead[column]
            if (value if column == "list_id" else _folded(value)) != wanted:
                return False
        if self.field_name:
            custom = lead["custom_fields"] or {}
            return _folded(str(custom.get(self.field_name, ""))) == (self.field_value or "")
        return True


def _folded(text: str | None) -> str | None:
    return text.strip().casefold() if text and text.strip() else None


@dataclass(frozen=True)
class Pick:
    user_id: int
    rule_id: int
    rule_name: str
    why: str


class Picker:
    """Hands out one pool's leads for one batch, skipping reps who cannot take more.

    Round robin and weighted give the next lead to the member furthest behind its
    share, (assigned + 1) / weight: equal weights take turns, and weighted shares
    stay within one lead of exact. Least-loaded takes the fewest open leads.
    """

    def __init__(self, pool: Pool, capacities: Capacities) -> None:
        self.pool = pool
        self.capacities = capacities
        self.members = {m.user_id: m for m in pool.members}
        self.total_weight = sum(m.weight for m in pool.members)
        ready = [m for m in pool.members if capacities.get(m.user_id).can_take()]
        if pool.method != RotationMethod.LEAST_LOADED:
            _catch_up(ready)
        self.heap = [self._key(m) for m in ready]
        heapq.heapify(self.heap)
        # A fair method's reason never changes within a batch: one Pick per member
        # serves every lead it takes (formatting it per lead made weighted the slowest).
        self.picks: dict[int, Pick] = {}

    def _key(self, member: PoolMember) -> tuple[float, int]:
        if self.pool.method == RotationMethod.LEAST_LOADED:
            return (self.capacities.get(member.user_id).open_leads, member.user_id)
        return ((member.assigned + 1) / member.weight, member.user_id)

    def pick(self, exclude: Collection[int] = ()) -> Pick | None:
        """The next rep (not in ``exclude``), counted as given the lead; None if nobody can."""
        passed_over = []
        pick = None
        while self.heap:
            user_id = self.heap[0][1]
            if not self.capacities.get(user_id).can_take():
                heapq.heappop(self.heap)  # capped during this batch: out until the next one
            elif user_id in exclude:
                passed_over.append(heapq.heappop(self.heap))
            else:
                chosen = self.members[user_id]
                pick = self.picks.get(user_id) or self._pick(chosen)
                chosen.assigned += 1
                chosen.changed = True
                self.capacities.get(user_id).take()
                # Re-key in place: one sift instead of a pop and a push per lead.
                heapq.heapreplace(self.heap, self._key(chosen))
                break
        for key in passed_over:
            heapq.heappush(self.heap, key)
        return pick

    def _pick(self, member: PoolMember) -> Pick:
        pick = Pick(member.user_id, self.pool.rule_id, self.pool.name, self._why(member))
        if self.pool.method != RotationMethod.LEAST_LOADED:
            self.picks[member.user_id] = pick
        return pick

    def _why(self, member: PoolMember) -> str:
        if self.pool.method == RotationMethod.LEAST_LOADED:
            return f"least loaded: {self.capacities.get(member.user_id).open_leads} open leads"
        if self.pool.method == RotationMethod.WEIGHTED:
            share = 100 * member.weight / self.total_weight
            return f"weighted: furthest behind a {share:.3g}% share"
        return "round robin: next in turn"


def _catch_up(ready: list[PoolMember]) -> None:
    """Bring members who were away up to the others' level, so a returning rep
    gets their share from now on rather than a flood to make up for the absence.

    While everyone takes leads, each member is within one lead of the leader's
    share ((assigned + 1) / weight >= the highest assigned / weight), so this
    changes nobody who was there all along.
    """
    if not ready:
        return
    level = max(m.assigned / m.weight for m in ready)
    for member in ready:
        floor = math.floor(level * member.weight) - 1
        if member.assigned < floor:
            member.assigned = floor
            member.changed = True


class Router:
    """Routes leads through the rules in order, then the fallback pool."""

    def __init__(self, pools: list[Pool], capacities: Capacities) -> None:
        self.capacities = capacities
        self.rules = [p for p in pools if not p.is_fallback]
        self.fallback = next((p for p in pools if p.is_fallback), None)
        self.pickers = {p.rule_id: Picker(p, capacities) for p in pools}

    def route(self, lead: Mapping[str, Any]) -> Pick | None:
        rule = next((p for p in self.rules if p.matches(lead)), None)
        if rule is not None and (pick := self.pickers[rule.rule_id].pick()):
            return pick
        if self.fallback is None:
            return None
        pick = self.pickers[self.fallback.rule_id].pick()
        if pick is None:
            return None
        reason = f"nobody available in {rule.name}" if rule else "no rule matched"
        return Pick(pick.user_id, pick.rule_id, pick.rule_name, f"fallback ({reason}); {pick.why}")

    def changed_members(self) -> list[dict[str, Any]]:
        return [
            {"r": picker.pool.rule_id, "u": m.user_id, "a": m.assigned}
            for picker in self.pickers.values()
            for m in picker.pool.members
            if m.changed
        ]
