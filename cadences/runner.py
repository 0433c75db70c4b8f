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
from cadences.exits import blocked_keys, exit_enrollments, exit_reason_for
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
from cadences.signals import cadence_task_due
from leads.models import Lead

BATCH_SIZE = 1000
# A leased enrolment whose job vanished (killed worker, flushed Redis) is picked
# again after this long.
LEASE = timedelta(minutes=5)
# How long a call step waits for its outcome before the cadence moves on anyway.
CALL_OUTCOME_WAIT = timedelta(days=2)


def lease_due(limit: int) -> list[int]:
    """Lease up to ``limit`` due enrolments, oldest due first; the caller commits."""
    moment = now()
    query = (
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
    ids = list(db.session.scalars(query))
    if ids:
        db.session.execute(
            sa.update(Enrollment.__table__)
            .where(Enrollment.id.in_(ids))
            .values(lease_until=moment + LEASE)
        )
    return ids


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
    enrollments = db.session.execute(
        sa.select(
            Enrollment.id,
            Enrollment.position,
            Enrollment.variant_seed,
            Enrollment.owner_id,
            Enrollment.cadence_id,
            Enrollment.lead_id,
        ).where(
            Enrollment.id.in_(ids),
            Enrollment.status == EnrollmentStatus.ACTIVE.value,
            Enrollment.due_at <= moment,
        )
    ).all()
    cadences = {
        c.id: c
        for c in db.session.scalars(
            sa.select(Cadence).where(Cadence.id.in_({e.cadence_id for e in enrollments}))
        )
    }
    steps = _steps_by_position(cadences)
    leads = {
        row.id: row
        for row in db.session.execute(
            sa.select(
                Lead.id,
                Lead.workspace_id,
                Lead.status,
                Lead.email,
                Lead.email_key,
                Lead.phone_e164,
                Lead.time_zone,
            ).where(Lead.id.in_({e.lead_id for e in enrollments}))
        )
    }
    return [
        Item(
            e.id,
            e.position,
            e.variant_seed,
            e.owner_id,
            cadences[e.cadence_id],
            steps[e.cadence_id].get(e.position),
            leads.get(e.lead_id),
        )
        for e in enrollments
        if not cadences[e.cadence_id].paused
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
    blocked: set[tuple[str, str]] = set()
    for workspace_id in {item.cadence.workspace_id for item in items}:
        mine = [i.lead for i in items if i.lead and i.cadence.workspace_id == workspace_id]
        blocked |= blocked_keys(
            workspace_id, (x.phone_e164 for x in mine), (x.email_key for x in mine)
        )
    holidays = _holidays({item.cadence.workspace_id for item in items})
    for item in items:
        if item.step is None:
            plan.finished.append(item.enrollment_id)
        elif reason := exit_reason_for(item.lead, blocked):
            plan.exits[reason].append(item.enrollment_id)
        elif item.step.kind == StepKind.WAIT:
            plan.runs.append((item, RunStatus.DONE.value, _wait_until(item, moment, holidays)))
        elif (opening := _window_opening(item, moment, holidays)) > moment:
            plan.deferred.append({"eid": item.enrollment_id, "due": opening})
        elif _lacks_contact(item):
            plan.runs.append((item, RunStatus.SKIPPED.value, moment))
        elif item.step.kind == StepKind.EMAIL:
            plan.emails.append(item)
        else:
            follow_up = moment + CALL_OUTCOME_WAIT if item.step.kind == StepKind.CALL else moment
            plan.runs.append((item, RunStatus.DONE.value, follow_up))
    return plan


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
    return False


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
    table = StepRun.__table__
    claimed = {
        row.enrollment_id: row.id
        for row in db.session.execute(
            insert_ignoring_duplicates(table)
            .values(
                [
                    {
                        "enrollment_id": item.enrollment_id,
                        "step_id": item.step.id,
                        "lead_id": item.lead.id,
                        "status": status,
                        "attempts": 1,
                        "started_at": moment,
                        "finished_at": moment,
                    }
                    for item, status, _ in runs
                ]
            )
            .returning(table.c.id, table.c.enrollment_id)
        )
    }
    moves = []
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
            _announce_task(item, run_id, moment)
    advance(moves)


def _announce_task(item: Item, run_id: int, moment: datetime) -> None:
    assert item.step.kind in TASK_KINDS
    cadence_task_due.send(
        current_app._get_current_object(),
        lead_id=item.lead.id,
        owner_id=item.owner_id,
        kind=item.step.kind,
        due_at=moment,
        step_run_id=run_id,
        instructions=item.step.instructions or "",
    )


def advance(moves: list[dict[str, Any]]) -> None:
    """Move enrolments from step ``pos`` to the next, due at ``due``; compare-and-set on pos.

    An enrolment past its last step is picked once more by the tick and finished then,
    so this never needs to know the cadence's length.
    """
    if not moves:
        return
    db.session.execute(
        sa.update(Enrollment.__table__)
        .where(Enrollment.id == sa.bindparam("eid"), Enrollment.position == sa.bindparam("pos"))
        .values(position=Enrollment.position + 1, due_at=sa.bindparam("due"), lease_until=None),
        moves,
    )
