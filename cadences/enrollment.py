"""Putting leads into cadences: one lead, a filtered view in bulk, or an import's new leads."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, time

import sqlalchemy as sa
from flask import current_app

from app.database import insert_ignoring_duplicates
from app.extensions import db
from app.models import User
from cadences.exits import STATUS_EXITS, blocked_keys
from cadences.models import RUNNING_STATUSES, AssignRule, Cadence, Enrollment
from cadences.schedule import now
from leads.models import ContactKind, Lead

# Bulk enrolment takes at most this many leads from a view at once.
BULK_LIMIT = 10_000


class EnrollError(Exception):
    """Why a lead cannot be enrolled, in words for the person who tried."""


def _check_cadence(cadence: Cadence) -> None:
    if not cadence.steps:
        raise EnrollError("This cadence has no steps yet: add at least one before enrolling leads.")


def enrollments_left_today(rep_id: int) -> int:
    """How many more leads the rep may enrol today (the per-rep daily throttle)."""
    cap = current_app.config["CADENCE_MAX_ENROLLMENTS_PER_REP_DAY"]
    midnight = datetime.combine(now().date(), time())
    used = db.session.scalar(
        sa.select(sa.func.count(Enrollment.id)).where(
            Enrollment.owner_id == rep_id, Enrollment.enrolled_at >= midnight
        )
    )
    return max(cap - (used or 0), 0)


def enroll(cadence: Cadence, lead: Lead, by: User) -> Enrollment:
    """Enrol one lead, or raise EnrollError saying why not. The caller commits."""
    _check_cadence(cadence)
    name = lead.display_name
    if lead.status in STATUS_EXITS:
        raise EnrollError(
            f"{name} is {lead.status_label.lower()}: cadences are for leads still being worked."
        )
    if blocked_keys(lead.workspace_id, [lead.phone_e164], [lead.email_key]):
        raise EnrollError(
            f"{name} is on the do-not-contact list (suppressed) and cannot be enrolled."
        )
    running = db.session.scalar(
        sa.select(Cadence.name)
        .join(Enrollment, Enrollment.cadence_id == Cadence.id)
        .where(Enrollment.lead_id == lead.id, Enrollment.status.in_(RUNNING_STATUSES))
    )
    if running:
        raise EnrollError(f"{name} is already in the cadence “{running}”; one cadence at a time.")
    owner_id = lead.owner_id or by.id
    if enrollments_left_today(owner_id) < 1:
        raise EnrollError("The daily enrolment limit for this rep is reached; try again tomorrow.")
    enrollment = Enrollment(
        cadence_id=cadence.id,
        lead_id=lead.id,
        owner_id=owner_id,
        due_at=now(),
        enrolled_at=now(),
        variant_seed=_next_seed(cadence),
    )
    db.session.add(enrollment)
    db.session.flush()
    return enrollment


def _next_seed(cadence: Cadence) -> int:
    # Consecutive seeds alternate the variants, so the split is even, not just even on average.
    return (
        db.session.scalar(
            sa.select(sa.func.count(Enrollment.id)).where(Enrollment.cadence_id == cadence.id)
        )
        or 0
    )


@dataclass
class BulkResult:
    enrolled: int = 0
    skipped: dict[str, int] = field(default_factory=dict)


def enroll_many(cadence: Cadence, leads: sa.Select[tuple[Lead]], by: User) -> BulkResult:
    """Enrol the leads of a view, skipping (and counting) those that may not be. Caller commits."""
    _check_cadence(cadence)
    rows = db.session.execute(
        leads.with_only_columns(
            Lead.id, Lead.owner_id, Lead.status, Lead.email_key, Lead.phone_e164
        )
        .order_by(Lead.id)
        .limit(BULK_LIMIT)
    ).all()
    result = BulkResult()
    running = set(
        db.session.scalars(
            sa.select(Enrollment.lead_id).where(
                Enrollment.lead_id.in_([r.id for r in rows]),
                Enrollment.status.in_(RUNNING_STATUSES),
            )
        )
    )
    blocked = _blocked(by.workspace_id, rows)
    room: dict[int, int] = {}
    seed = _next_seed(cadence)
    values = []
    for row in rows:
        reason = _bulk_skip_reason(row, running, blocked)
        owner_id = row.owner_id or by.id
        if reason is None and room.setdefault(owner_id, enrollments_left_today(owner_id)) < 1:
            reason = "daily enrolment limit reached"
        if reason:
            result.skipped[reason] = result.skipped.get(reason, 0) + 1
            continue
        room[owner_id] -= 1
        values.append(
            {
                "cadence_id": cadence.id,
                "lead_id": row.id,
                "owner_id": owner_id,
                "status": "active",
                "position": 0,
                "due_at": now(),
                "enrolled_at": now(),
                "variant_seed": seed + len(values),
            }
        )
    if values:
        # RETURNING, not rowcount: drivers report no total for a many-row insert.
        table = Enrollment.__table__
        inserted = db.session.execute(
            insert_ignoring_duplicates(table).returning(table.c.id), values
        )
        result.enrolled = len(inserted.all())
    return result


def _blocked(workspace_id: int, rows) -> set[tuple[str, str]]:
    blocked: set[tuple[str, str]] = set()
    for start in range(0, len(rows), 500):
        chunk = rows[start : start + 500]
        blocked |= blocked_keys(
            workspace_id, (r.phone_e164 for r in chunk), (r.email_key for r in chunk)
        )
    return blocked


def _bulk_skip_reason(row, running: set[int], blocked: set[tuple[str, str]]) -> str | None:
    if row.status in STATUS_EXITS:
        return f"lead is {row.status.replace('_', ' ')}"
    if row.id in running:
        return "already in a cadence"
    if (ContactKind.EMAIL.value, row.email_key) in blocked or (
        ContactKind.PHONE.value,
        row.phone_e164,
    ) in blocked:
        return "on the do-not-contact list"
    return None


def _enrol_automatically(cadence: Cadence, leads: sa.Select[tuple[Lead]]) -> int:
    """Enrol by a rule: as the cadence's creator, skipping what enroll_many skips."""
    if not cadence.steps or cadence.created_by_id is None:
        return 0
    creator = db.session.get(User, cadence.created_by_id)
    return enroll_many(cadence, leads, creator).enrolled if creator else 0


def enroll_imported(run) -> int:
    """Enrol the leads an import added to a list whose cadence enrols automatically."""
    if not run.list_id:
        return 0
    cadences = db.session.scalars(
        sa.select(Cadence).where(
            Cadence.auto_enroll_list_id == run.list_id, Cadence.paused.is_(False)
        )
    ).all()
    leads = sa.select(Lead).where(
        Lead.list_id == run.list_id,
        Lead.pending_import_id.is_(None),
        Lead.created_at >= run.created_at,
    )
    return sum(_enrol_automatically(cadence, leads) for cadence in cadences)


def enroll_assigned(workspace_id: int, owners: dict[int, int | None]) -> int:
    """Enrol leads just given to a rep in the cadences whose assignment rule they match.

    Cadences are tried oldest first; a lead enrolled by one is "already in a cadence"
    for the next (one running cadence per lead). The caller commits.
    """
    lead_ids = [lead_id for lead_id, owner_id in owners.items() if owner_id is not None]
    if not lead_ids:
        return 0
    rules = db.session.execute(
        sa.select(Cadence, AssignRule)
        .join(AssignRule, AssignRule.cadence_id == Cadence.id)
        .where(Cadence.workspace_id == workspace_id, Cadence.paused.is_(False))
        .order_by(Cadence.id)
    ).all()
    total = 0
    for cadence, rule in rules:
        leads = sa.select(Lead).where(Lead.id.in_(lead_ids), Lead.pending_import_id.is_(None))
        if rule.list_id is not None:
            leads = leads.where(Lead.list_id == rule.list_id)
        if rule.team_id is not None:
            team = sa.select(User.id).where(User.team_id == rule.team_id)
            leads = leads.where(Lead.owner_id.in_(team))
        total += _enrol_automatically(cadence, leads)
    return total


def on_import_finished(run, **_kwargs) -> None:
    """Receiver of leads.signals.import_finished: auto-enrol the list's new leads."""
    enroll_imported(run)
    # Always end the transaction: on SQLite even reading the run's list (it expired at
    # the import's commit) takes the write lock, and other receivers of this signal
    # read in sessions of their own.
    db.session.commit()


def on_leads_assigned(workspace_id: int, owners: dict[int, int | None], **_kwargs) -> None:
    """Receiver of leads.signals.leads_assigned: a running cadence's work follows its lead
    to the new owner (leads enrolled on import, before rotation, start with the cadence's
    creator as owner), and leads matching a cadence's assignment rule are enrolled."""
    by_owner: dict[int, list[int]] = defaultdict(list)
    for lead_id, owner_id in owners.items():
        if owner_id is not None:
            by_owner[owner_id].append(lead_id)
    for owner_id, lead_ids in by_owner.items():
        db.session.execute(
            sa.update(Enrollment)
            .where(Enrollment.lead_id.in_(lead_ids), Enrollment.status.in_(RUNNING_STATUSES))
            .values(owner_id=owner_id)
            .execution_options(synchronize_session=False)
        )
    enroll_assigned(workspace_id, owners)
    db.session.commit()
