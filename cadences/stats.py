"""Numbers for a cadence: enrolments by state and exit reason, runs by step, emails by variant."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field

import sqlalchemy as sa

from app.extensions import db
from cadences.models import RUNNING_STATUSES, CadenceStep, Enrollment, RunStatus, StepRun
from leads.export import safe_cell
from leads.models import Lead


@dataclass
class VariantStats:
    sent: int = 0
    replied: int = 0
    unsubscribed: int = 0
    bounced: int = 0


@dataclass
class CadenceStats:
    by_status: dict[str, int] = field(default_factory=dict)
    exits: dict[str, int] = field(default_factory=dict)
    by_step: dict[int, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    by_variant: dict[int, VariantStats] = field(default_factory=lambda: defaultdict(VariantStats))

    @property
    def enrolled(self) -> int:
        return sum(self.by_status.values())


def cadence_stats(cadence_id: int) -> CadenceStats:
    stats = CadenceStats()
    stats.by_status = dict(
        db.session.execute(
            sa.select(Enrollment.status, sa.func.count())
            .where(Enrollment.cadence_id == cadence_id)
            .group_by(Enrollment.status)
        ).all()
    )
    stats.exits = dict(
        db.session.execute(
            sa.select(Enrollment.exit_reason, sa.func.count())
            .where(Enrollment.cadence_id == cadence_id, Enrollment.exit_reason.is_not(None))
            .group_by(Enrollment.exit_reason)
        ).all()
    )
    steps = sa.select(CadenceStep.id).where(CadenceStep.cadence_id == cadence_id)
    for step_id, status, count in db.session.execute(
        sa.select(StepRun.step_id, StepRun.status, sa.func.count())
        .where(StepRun.step_id.in_(steps))
        .group_by(StepRun.step_id, StepRun.status)
    ):
        stats.by_step[step_id][status] = count
    for variant_id, sent, replied, unsubscribed, bounced in db.session.execute(
        sa.select(
            StepRun.variant_id,
            sa.func.count().filter(StepRun.status == RunStatus.SENT.value),
            sa.func.count(StepRun.replied_at),
            sa.func.count(StepRun.unsubscribed_at),
            sa.func.count().filter(StepRun.status == RunStatus.BOUNCED.value),
        )
        .where(StepRun.step_id.in_(steps), StepRun.variant_id.is_not(None))
        .group_by(StepRun.variant_id)
    ):
        stats.by_variant[variant_id] = VariantStats(sent, replied, unsubscribed, bounced)
    return stats


def problem_runs(cadence_id: int, limit: int = 50) -> list[StepRun]:
    """Emails waiting to retry, held for review or unconfirmed: what the cadence page flags."""
    return list(
        db.session.scalars(
            sa.select(StepRun)
            .join(CadenceStep, CadenceStep.id == StepRun.step_id)
            .where(
                CadenceStep.cadence_id == cadence_id,
                StepRun.status.in_(
                    (RunStatus.RETRY.value, RunStatus.HELD.value, RunStatus.UNCONFIRMED.value)
                ),
            )
            .order_by(StepRun.id.desc())
            .limit(limit)
        )
    )


def running_enrollments(cadence_id: int, limit: int = 50) -> list[sa.Row]:
    """The latest running enrolments with their lead's name, for the cadence page."""
    return list(
        db.session.execute(
            sa.select(
                Enrollment.id,
                Enrollment.lead_id,
                Enrollment.status,
                Enrollment.position,
                Enrollment.due_at,
                Lead.first_name,
                Lead.last_name,
                Lead.full_name,
                Lead.company,
                Lead.email,
                Lead.phone_raw,
            )
            .join(Lead, Lead.id == Enrollment.lead_id)
            .where(Enrollment.cadence_id == cadence_id, Enrollment.status.in_(RUNNING_STATUSES))
            .order_by(Enrollment.id.desc())
            .limit(limit)
        )
    )


def stats_csv(cadence, stats: CadenceStats) -> str:
    """The cadence's numbers as CSV: one line per step, and per variant for emails."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        [
            "step",
            "type",
            "variant",
            "subject",
            *RUN_COLUMNS,
            "sent",
            "replied",
            "unsubscribed",
            "bounced",
        ]
    )
    for number, step in enumerate(cadence.steps, start=1):
        runs = [stats.by_step.get(step.id, {}).get(status, 0) for status in RUN_COLUMNS]
        variants = step.variants or [None]
        for variant in variants:
            counts = stats.by_variant.get(variant.id) if variant else None
            numbers = (
                [counts.sent, counts.replied, counts.unsubscribed, counts.bounced]
                if counts
                else [0] * 4
            )
            writer.writerow(
                [
                    number,
                    step.kind,
                    variant.label if variant else "",
                    safe_cell(variant.subject) if variant else "",
                    *runs,
                    *numbers,
                ]
            )
    return "\ufeff" + out.getvalue()


RUN_COLUMNS = tuple(status.value for status in RunStatus)
