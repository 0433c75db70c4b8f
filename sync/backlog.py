"""What the Sync page reads: the backlog per target and state, and the per-lead log."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from app.extensions import db
from leads.models import Lead
from sync.models import Handoff, HandoffAttempt, HandoffState
from sync.targets import get_target, known_targets

PROBLEM_LIMIT = 200


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
    targets = {t.name: TargetBacklog(t.name, t.label) for t in known_targets()}
    for target, state, total in rows:
        backlog = targets.setdefault(target, TargetBacklog(target, target))
        backlog.counts[state] = total
    return list(targets.values())


def open_problems(workspace_id: int, state: str = "") -> list[tuple[Handoff, Lead]]:
    """Rows not delivered (or only those in ``state``), oldest first, with their leads."""
    states = [state] if state in {s.value for s in HandoffState} else [
        HandoffState.NEEDS_ATTENTION.value, HandoffState.FAILED.value, HandoffState.PENDING.value,
    ]  # fmt: skip
    return [
        tuple(row)
        for row in db.session.execute(
            sa.select(Handoff, Lead)
            .join(Lead, Lead.id == Handoff.lead_id)
            .where(Handoff.workspace_id == workspace_id, Handoff.state.in_(states))
            .order_by(Handoff.id)
            .limit(PROBLEM_LIMIT)
        )
    ]


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
