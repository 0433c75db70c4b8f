"""What the Sync page reads: the backlog per target and state, and the per-lead log."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

import sqlalchemy as sa

from app.extensions import db
from leads.export import safe_cell
from leads.models import Lead, display_name
from sync.models import Handoff, HandoffAttempt, HandoffState
from sync.targets import get_target, known_targets

PROBLEM_LIMIT = 200
EXPORT_LIMIT = 100_000
EXPORT_COLUMNS = ("lead_id", "lead", "target", "state", "attempts", "next_attempt_utc",
                  "last_error", "idempotency_key", "created_utc")  # fmt: skip


@dataclass
class TargetBacklog:
    name: str
    label: str
    counts: dict[str, int] = field(default_factory=dict)


def backlog_counts(workspace_id: int) -> list[TargetBacklog]:
    """Rows per state for each target (the index on workspace, target, state serves it)."""
    rows = db.session.execute(
        sa.select(Handoff.target, Handoff.state, sa.func.count())
        .where(Handoff.workspace_id == workspace_id)
        .group_by(Handoff.target, Handoff.state)
    ).all()
    targets = {t.name: TargetBacklog(t.name, t.label) for t in known_targets(workspace_id)}
    for target, state, total in rows:
        backlog = targets.setdefault(target, TargetBacklog(target, target))
        backlog.counts[state] = total
    return list(targets.values())


def open_problems(workspace_id: int, state: str = "") -> list[tuple[Handoff, Lead]]:
    """Rows not delivered (or only those in ``state``), oldest first, with their leads."""
    return [tuple(row) for row in db.session.execute(_problems(workspace_id, state, PROBLEM_LIMIT))]


def _problems(workspace_id: int, state: str, limit: int) -> sa.Select:
    states = [state] if state in {s.value for s in HandoffState} else [
        HandoffState.NEEDS_ATTENTION.value, HandoffState.FAILED.value, HandoffState.PENDING.value,
    ]  # fmt: skip
    return (
        sa.select(Handoff, Lead)
        .join(Lead, Lead.id == Handoff.lead_id)
        .where(Handoff.workspace_id == workspace_id, Handoff.state.in_(states))
        .order_by(Handoff.id)
        .limit(limit)
    )


def problems_csv(workspace_id: int, state: str = "") -> str:
    """The rows the Sync page lists, all of them, as CSV (formula-safe cells)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for handoff, lead in db.session.execute(_problems(workspace_id, state, EXPORT_LIMIT)):
        writer.writerow([
            lead.id, safe_cell(display_name(lead)), handoff.target, handoff.state,
            handoff.attempts, handoff.next_attempt_at.isoformat(" ", "seconds"),
            safe_cell(handoff.last_error or ""), handoff.idempotency_key,
            handoff.created_at.isoformat(" ", "seconds"),
        ])  # fmt: skip
    return out.getvalue()


def handoff_log(lead: Lead) -> list[tuple[Handoff, str, list[HandoffAttempt]]]:
    """Each of the lead's ledger rows with its target's label and attempts, newest first."""
    entries = []
    for handoff in db.session.scalars(sa.select(Handoff).where(Handoff.lead_id == lead.id)):
        target = get_target(handoff.target)
        attempts = db.session.scalars(
            sa.select(HandoffAttempt)
            .where(HandoffAttempt.handoff_id == handoff.id)
            .order_by(HandoffAttempt.id.desc())
        ).all()
        entries.append((handoff, target.label if target else handoff.target, list(attempts)))
    return entries
