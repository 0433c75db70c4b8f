"""The step runner: SQL says what is due; each (enrolment, step) runs exactly once.

The tick leases due enrolments to batch jobs. A batch plans every enrolment from one
read, then writes task, wait and skip runs in one transaction: the step-run row
(unique per enrolment and step, inserted with ON CONFLICT DO NOTHING) and the
enrolment's move to the next step commit together, so a job that runs twice, a
killed worker or a flushed Redis can only repeat work that never committed.
Emails leave that transaction for ``cadences.sending``, which has SMTP to reckon with.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from app.database import insert_ignoring_duplicates
from app.extensions import db
from cadences.exits import exit_enrollments, exit_reason_for
from cadences.models import (
    TASK_KINDS,
    Cadence,
    CadenceStep,
    Enrollment,
    EnrollmentStatus,
    ExitReason,
    Holiday,
    RunStatus,
    StepKind,
    StepRun,
    WaitUnit,
)
from cadences.schedule import add_business_days, next_window_open, now, zone
from cadences.signals import cadence_tasks_due
from leads.dnc import suppressed
from leads.models import Lead
from leads.profiles import profile_url_problem
from leads.tasks import Network, SocialAction

BATCH_SIZE = 1000
# A leased enrolment whose job vanished (killed worker, flushed Redis) is picked
# again after this long.
LEASE = timedelta(minutes=5)
# How long a call step waits for its outcome before the cadence moves on anyway.
CALL_OUTCOME_WAIT = timedelta(days=2)


def lease_due(limit: int) -> list[int]:
    """Lease up to ``limit`` due enrolments, oldest due first; the caller commits.

    One UPDATE … WHERE id IN (SELECT …) RETURNING: atomic on both databases, and no
    list of ids travels back as parameters (SQLite caps those at 32,766).
    """
    moment = now()
    due = (
        sa.select(Enrollment.id)
        .join(Cadence, Cadence.id == Enrollment.cadence_id)
        .where(
            Enrollment.status == EnrollmentStatus.ACTIVE.value,
            Enrollment.due_at <= moment,
            sa.or_(Enrollment.lease_until.is_(None), Enrollment.lease_until < moment),
            Cadence.paused.is_(False),
        )
        .order_by(Enrollment.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Enrollment)
    )
    table = Enrollment.__table__
    leased = db.session.execute(
        sa.update(table)
        .where(table.c.id.in_(due.scalar_subquery()))
        .values(lease_until=moment + LEASE)
        .returning(table.c.id)
    )
    return sorted(leased.scalars())


@dataclass
class Item:
    """One due enrolment as the batch read it."""

    enrollment_id: int
    position: int
    variant_seed: int
    owner_id: int | None
    cadence: Any
    step: CadenceStep | None
    lead: Any


@dataclass
class Plan:
    exits: dict[ExitReason, list[int]] = field(default_factory=lambda: defaultdict(list))
    finished: list[int] = field(default_factory=list)
    deferred: list[dict[str, Any]] = field(default_factory=list)
    runs: list[tuple[Item, str, datetime | None]] = field(default_factory=list)
    emails: list[Item] = field(default_factory=list)


@dataclass
class BatchResult:
    tasks: int = 0
    waits: int = 0
    skipped: int = 0
    exited: int = 0
    finished: int = 0
    deferred: int = 0
    emails: list[tuple[int, int]] = field(default_factory=list)  # (enrollment_id, step_id)


def run_batch(enrollment_ids: list[int]) -> BatchResult:
    """Run the due step of each enrolment; commits. Emails are returned for sending."""
    moment = now()
    items = _load(enrollment_ids, moment)
    plan = _plan(items, moment)
    result = _apply(plan, moment)
    db.session.commit()
    result.emails = [(item.enrollment_id, item.step.id) for item in plan.emails]
    return result


def _load(ids: list[int], moment: datetime) -> list[Item]:
    """The enrolments still due, each with its lead and whether the lead is on the list."""
    rows = db.session.execute(
        sa.select(
            Enrollment.id,
            Enrollment.position,
            Enrollment.variant_seed,
            Enrollment.owner_id,
            Enrollment.cadence_id,
            Lead.id.label("lead_id"),
            Lead.status,
            Lead.email,
            Lead.phone_e164,
            Lead.time_zone,
            Lead.linkedin_url,
            Lead.x_url,
            Lead.other_profile_url,
            suppressed().label("blocked"),
        )
        .join(Lead, Lead.id == Enrollment.lead_id)
        .where(
            Enrollment.id.in_(ids),
            Enrollment.status == EnrollmentStatus.ACTIVE.value,
            Enrollment.due_at <= moment,
        )
    ).all()
    cadences = {
        c.id: c
        for c in db.session.scalars(
            sa.select(Cadence).where(Cadence.id.in_({row.cadence_id for row in rows}))
        )
    }
    steps = _steps_by_position(cadences)
    return [
        Item(
            row.id,
            row.position,
            row.variant_seed,
            row.owner_id,
            cadences[row.cadence_id],
            steps[row.cadence_id].get(row.position),
            row,
        )
        for row in rows
        if not cadences[row.cadence_id].paused
    ]


def _steps_by_position(cadences: dict[int, Cadence]) -> dict[int, dict[int, CadenceStep]]:
    by_cadence: dict[int, dict[int, CadenceStep]] = defaultdict(dict)
    for step in db.session.scalars(
        sa.select(CadenceStep).where(CadenceStep.cadence_id.in_(cadences))
    ):
        by_cadence[step.cadence_id][step.position] = step
    return by_cadence


def _holidays(workspace_ids: set[int]) -> set[date]:
    if not workspace_ids:
        return set()
    return set(
        db.session.scalars(sa.select(Holiday.day).where(Holiday.workspace_id.in_(workspace_ids)))
    )


def _plan(items: list[Item], moment: datetime) -> Plan:
    plan = Plan()
    holidays = _holidays({item.cadence.workspace_id for item in items})
    # Leads of one zone share a window: work each (zone, step) out once per batch.
    openings: dict[tuple[str | None, int], datetime] = {}
    for item in items:
        if item.step is None:
            plan.finished.append(item.enrollment_id)
        elif reason := exit_reason_for(item.lead, item.lead.blocked):
            plan.exits[reason].append(item.enrollment_id)
        elif item.step.kind == StepKind.WAIT:
            plan.runs.append((item, RunStatus.DONE.value, _wait_until(item, moment, holidays)))
        elif (opening := _opening(openings, item, moment, holidays)) > moment:
            plan.deferred.append({"eid": item.enrollment_id, "due": opening})
        elif _lacks_contact(item):
            plan.runs.append((item, RunStatus.SKIPPED.value, moment))
        elif item.step.kind == StepKind.EMAIL:
            plan.emails.append(item)
        else:
            follow_up = moment + CALL_OUTCOME_WAIT if item.step.kind == StepKind.CALL else moment
            plan.runs.append((item, RunStatus.DONE.value, follow_up))
    return plan


def _opening(cache: dict, item: Item, moment: datetime, holidays: set[date]) -> datetime:
    key = (item.lead.time_zone, item.step.id)
    if key not in cache:
        cache[key] = _window_opening(item, moment, holidays)
    return cache[key]


def _lead_zone(item: Item):
    return zone(item.lead.time_zone, item.cadence.default_time_zone)


def _wait_until(item: Item, moment: datetime, holidays: set[date]) -> datetime:
    step = item.step
    if step.wait_unit == WaitUnit.HOURS:
        return moment + timedelta(hours=step.wait_amount)
    return add_business_days(moment, step.wait_amount, _lead_zone(item), holidays)


def _window_opening(item: Item, moment: datetime, holidays: set[date]) -> datetime:
    step = item.step
    return next_window_open(
        moment,
        _lead_zone(item),
        step.window_start,
        step.window_end,
        step.business_days_only,
        holidays,
    )


def _lacks_contact(item: Item) -> bool:
    if item.step.kind == StepKind.EMAIL:
        return not item.lead.email
    if item.step.kind == StepKind.CALL:
        return not item.lead.phone_e164
    if item.step.kind == StepKind.SOCIAL:
        return social_network(item.lead, item.step.network) is None
    return False


def social_network(lead, chosen: str | None = None) -> Network | None:
    """The network a social step works on: the one the step names if the lead has a
    usable profile there, else (for a step naming none) the lead's first usable profile,
    LinkedIn first, then X, then any other profile."""
    for network in [Network(chosen)] if chosen else Network:
        if profile_url_problem(network, getattr(lead, network.lead_column)) is None:
            return network
    return None


def _apply(plan: Plan, moment: datetime) -> BatchResult:
    result = BatchResult(deferred=len(plan.deferred), finished=len(plan.finished))
    for reason, ids in plan.exits.items():
        result.exited += exit_enrollments(Enrollment.id.in_(ids), reason)
    if plan.finished:
        db.session.execute(
            sa.update(Enrollment.__table__)
            .where(Enrollment.id.in_(plan.finished))
            .values(
                status=EnrollmentStatus.FINISHED.value,
                finished_at=moment,
                due_at=None,
                lease_until=None,
            )
        )
    if plan.deferred:
        db.session.execute(
            sa.update(Enrollment.__table__)
            .where(Enrollment.id == sa.bindparam("eid"))
            .values(due_at=sa.bindparam("due"), lease_until=None),
            plan.deferred,
        )
    if plan.runs:
        _record_runs(plan.runs, moment, result)
    return result


def _record_runs(
    runs: list[tuple[Item, str, datetime | None]], moment: datetime, result: BatchResult
) -> None:
    groups: dict[tuple[str, int], list[int]] = defaultdict(list)
    for item, status, _ in runs:
        groups[(status, item.position)].append(item.enrollment_id)
    claimed: dict[int, int] = {}
    for (status, position), ids in groups.items():
        claimed.update(_claim_runs(ids, position, status, moment))
    moves, announcements = [], []
    for item, status, next_due in runs:
        run_id = claimed.get(item.enrollment_id)
        if run_id is None:
            continue  # another job ran this step; it also moved the enrolment on
        moves.append({"eid": item.enrollment_id, "pos": item.position, "due": next_due})
        if status == RunStatus.SKIPPED:
            result.skipped += 1
        elif item.step.kind == StepKind.WAIT:
            result.waits += 1
        else:
            result.tasks += 1
            announcements.append(_announcement(item, run_id, moment))
    if announcements:
        cadence_tasks_due.send(current_app._get_current_object(), tasks=announcements)
    advance(moves)


def _claim_runs(ids: list[int], position: int, status: str, moment: datetime) -> dict[int, int]:
    """Insert the run rows of these enrolments' step at ``position``; {enrolment: run} for
    the rows this call inserted. A row that exists already was claimed by someone else.

    INSERT … SELECT builds the rows in the database from the enrolments themselves:
    one statement a batch, and the position in the WHERE keeps it to the planned step.
    """
    runs, enrollments, steps = StepRun.__table__, Enrollment.__table__, CadenceStep.__table__
    rows = (
        sa.select(
            enrollments.c.id,
            steps.c.id,
            enrollments.c.lead_id,
            sa.literal(status),
            sa.literal(1),
            sa.literal(moment, sa.DateTime),
            sa.literal(moment, sa.DateTime),
        )
        .join(
            steps,
            sa.and_(
                steps.c.cadence_id == enrollments.c.cadence_id,
                steps.c.position == enrollments.c.position,
            ),
        )
        .where(enrollments.c.id.in_(ids), enrollments.c.position == position)
    )
    columns = [
        "enrollment_id",
        "step_id",
        "lead_id",
        "status",
        "attempts",
        "started_at",
        "finished_at",
    ]
    inserted = db.session.execute(
        insert_ignoring_duplicates(runs)
        .from_select(columns, rows)
        .returning(runs.c.id, runs.c.enrollment_id)
    )
    return {row.enrollment_id: row.id for row in inserted}


def _announcement(item: Item, run_id: int, moment: datetime) -> dict[str, Any]:
    assert item.step.kind in TASK_KINDS
    social = item.step.kind == StepKind.SOCIAL
    network = social_network(item.lead, item.step.network) if social else None
    return {
        "lead_id": item.lead.lead_id,
        "owner_id": item.owner_id,
        "workspace_id": item.cadence.workspace_id,
        "kind": item.step.kind,
        "due_at": moment,
        "step_run_id": run_id,
        "enrollment_id": item.enrollment_id,
        "instructions": item.step.instructions or "",
        "network": network.value if network else None,
        "action": (item.step.social_action or SocialAction.VIEW.value) if social else None,
        "reminder": None,
    }


def advance(moves: list[dict[str, Any]]) -> None:
    """Move enrolments from step ``pos`` to the next, due at ``due``; compare-and-set on pos.

    An enrolment past its last step is picked once more by the tick and finished then,
    so this never needs to know the cadence's length. Moves sharing a position and a
    due time (most of a batch) go in one UPDATE.
    """
    groups: dict[tuple[int, datetime | None], list[int]] = defaultdict(list)
    for move in moves:
        groups[(move["pos"], move["due"])].append(move["eid"])
    table = Enrollment.__table__
    for (position, due), ids in groups.items():
        db.session.execute(
            sa.update(table)
            .where(table.c.id.in_(ids), table.c.position == position)
            .values(position=position + 1, due_at=due, lease_until=None)
        )
