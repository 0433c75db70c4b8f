"""Drill-down: the call records behind any figure of a dashboard."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

import sqlalchemy as sa
from flask import url_for

from app.extensions import db
from app.models import User
from leads.dial_models import CallAttempt
from leads.metrics import CALL_GROUPS
from leads.metrics_models import CallerDayRollup, ListDayRollup
from leads.metrics_periods import Period
from leads.metrics_queries import grouped
from leads.metrics_tables import Cell, Table, duration
from leads.models import Lead, display_name

PAGE_ROWS = 200
EXPORT_ROWS = 100_000
COUNT_CAP = 10_000


@dataclass
class CallFilter:
    group: str = "dials"
    caller_id: int | None = None
    list_id: int | None = None
    source: str | None = None
    outcome: str | None = None
    problems: list[str] = field(default_factory=list)

    @classmethod
    def from_args(cls, args: Any) -> CallFilter:
        found = cls()
        group = args.get("group", "dials")
        if group in CALL_GROUPS:
            found.group = group
        else:
            found.problems.append("Unknown kind of call; showing all dials.")
        for name in ("caller_id", "list_id"):
            raw = args.get(name, "").strip()
            if raw.isdigit():
                setattr(found, name, int(raw))
            elif raw:
                label = name.removesuffix("_id")
                found.problems.append(f"Ignored the {label} filter: not a number.")
        if "source" in args:
            found.source = args["source"][:120]
        found.outcome = (args.get("outcome") or "").strip()[:40] or None
        return found

    def query_args(self) -> dict[str, Any]:
        args = {"group": self.group, "caller_id": self.caller_id, "list_id": self.list_id,
                "source": self.source, "outcome": self.outcome}  # fmt: skip
        return {k: v for k, v in args.items() if v is not None}


def _where(workspace_id: int, period: Period, spec: CallFilter) -> list[sa.ColumnElement[bool]]:
    c = CallAttempt
    where = [c.workspace_id == workspace_id, c.started_at >= period.window.start,
             c.started_at < period.window.end]  # fmt: skip
    if spec.group != "dials":
        where.append(c.category.in_(sorted(CALL_GROUPS[spec.group])))
    if spec.caller_id is not None:
        where.append(c.caller_id == spec.caller_id if spec.caller_id else c.caller_id.is_(None))
    if spec.list_id is not None:
        where.append(c.list_id == spec.list_id if spec.list_id else c.list_id.is_(None))
    if spec.source is not None:
        where.append(c.source == spec.source if spec.source else c.source.is_(None))
    if spec.outcome:
        where.append(c.outcome == spec.outcome)
    return where


def count_calls(workspace_id: int, period: Period, spec: CallFilter) -> int:
    """How many calls match: from a rollup when one holds every filter (the same figure the
    dashboard showed), else counted up to COUNT_CAP + 1 (a page says "10,000+")."""
    outcome = {"outcome": spec.outcome} if spec.outcome else {}
    if spec.list_id is None and spec.source is None:
        caller = {} if spec.caller_id is None else {"caller_id": spec.caller_id}
        return _rollup_count(CallerDayRollup, workspace_id, period, spec, {**caller, **outcome})
    if spec.caller_id is None:
        where = {
            name: value
            for name, value in (("list_id", spec.list_id), ("source", spec.source))
            if value is not None
        }
        return _rollup_count(ListDayRollup, workspace_id, period, spec, {**where, **outcome})
    where = _where(workspace_id, period, spec)
    capped = sa.select(CallAttempt.id).where(*where).limit(COUNT_CAP + 1)
    return db.session.scalar(sa.select(sa.func.count()).select_from(capped.subquery())) or 0


def _rollup_count(
    model: Any, workspace_id: int, period: Period, spec: CallFilter, where: dict[str, Any]
) -> int:
    rows = grouped(model, workspace_id, period.window, ["category"], where)
    return sum(sums["calls"] for (category,), sums in rows.items()
               if category in CALL_GROUPS[spec.group])  # fmt: skip


def calls_table(
    workspace_id: int,
    period: Period,
    spec: CallFilter,
    limit: int = PAGE_ROWS,
    list_names: dict[int, str] | None = None,
) -> Table:
    """The matching calls, newest first, in the viewer's time zone."""
    names = list_names or {}
    query = (
        sa.select(CallAttempt, Lead, User.name)
        .outerjoin(Lead, Lead.id == CallAttempt.lead_id)
        .outerjoin(User, User.id == CallAttempt.caller_id)
        .where(*_where(workspace_id, period, spec))
        .order_by(CallAttempt.started_at.desc(), CallAttempt.id.desc())
        .limit(limit)
    )
    table = Table("calls", "Calls", ["Started", "Rep", "Lead", "List", "Source", "Outcome",
                                     "Duration", "Note"], empty="No calls match.")  # fmt: skip
    for call, lead, caller_name in db.session.execute(query):
        started = call.started_at.replace(tzinfo=UTC).astimezone(period.zone)
        table.rows.append([
            Cell(f"{started:%Y-%m-%d %H:%M}"), Cell(caller_name or "(removed user)"),
            Cell(display_name(lead) if lead else "(deleted lead)",
                 link=url_for("leads.detail", lead_id=lead.id) if lead else None),
            Cell(names.get(call.list_id or 0, f"Deleted list #{call.list_id}") if call.list_id
                 else "(no list)"),
            Cell(call.source or ""), Cell(call.outcome), duration(call.duration_seconds),
            Cell(call.note or ""),
        ])  # fmt: skip
    return table
