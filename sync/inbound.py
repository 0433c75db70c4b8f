"""Deal activities carried back to their leads: status, timeline and metrics, exactly once.

The pipeline writes an activity in the transaction that changes the deal (the
outbox). Carrying one back inserts a receipt keyed by the activity's id in the
transaction that changes the lead; the activity is then marked carried on the
pipeline side. A crash between the two leaves the mark unset, and the next run
finds the receipt and only sets the mark.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from app.database import insert_ignoring_duplicates
from app.extensions import db
from app.models import utcnow
from leads.models import Activity, ActivityType, Lead, LeadStatus
from sync.models import DealActivity, PipelineReceipt, StageOutcome

BATCH = 1000
# A lead follows its deal: won and lost close it, any open stage keeps it handed off.
LEAD_STATUS_FOR_OUTCOME = {
    StageOutcome.OPEN.value: LeadStatus.HANDED_OFF.value,
    StageOutcome.WON.value: LeadStatus.WON.value,
    StageOutcome.LOST.value: LeadStatus.LOST.value,
}


def carry_back(limit: int = BATCH) -> int:
    """Apply up to ``limit`` uncarried deal activities to their leads; returns how many.

    Commits twice: the lead side (receipts and effects), then the pipeline's marks.
    """
    pending = db.session.execute(
        sa.select(DealActivity.id, DealActivity.lead_id, DealActivity.kind,
                  DealActivity.summary, DealActivity.actor_id, DealActivity.data,
                  DealActivity.occurred_at)  # fmt: skip
        .where(DealActivity.lead_synced_at.is_(None))
        .order_by(DealActivity.id)
        .limit(limit)
    ).all()
    if not pending:
        db.session.commit()
        return 0
    _apply(pending)
    db.session.execute(
        sa.update(DealActivity)
        .where(DealActivity.id.in_([row.id for row in pending]))
        .values(lead_synced_at=utcnow())
    )
    db.session.commit()
    return len(pending)


def _apply(pending: list[sa.Row]) -> None:
    """One lead-database transaction: receipts, timeline entries and statuses, in order."""
    lead_ids = {row.lead_id for row in pending if row.lead_id is not None}
    existing = set(db.session.scalars(sa.select(Lead.id).where(Lead.id.in_(lead_ids))))
    fresh = [row for row in pending if row.lead_id in existing]
    if fresh:
        inserted = set(
            db.session.scalars(
                insert_ignoring_duplicates(PipelineReceipt.__table__).returning(
                    PipelineReceipt.deal_activity_id
                ),
                [{"deal_activity_id": row.id, "lead_id": row.lead_id, "received_at": utcnow()}
                 for row in fresh],  # fmt: skip
            )
        )
        for row in fresh:
            if row.id in inserted:
                _apply_one(row)
    db.session.commit()


def _apply_one(row: sa.Row) -> None:
    db.session.execute(
        sa.insert(Activity.__table__).values(
            lead_id=row.lead_id, type=ActivityType.STAGE_CHANGE.value, actor_id=row.actor_id,
            occurred_at=row.occurred_at, summary=row.summary[:500],
            data={"deal_activity_id": row.id, **(row.data or {})},
        )
    )  # fmt: skip
    outcome = (row.data or {}).get("outcome")
    if outcome in LEAD_STATUS_FOR_OUTCOME:
        db.session.execute(
            sa.update(Lead)
            .where(Lead.id == row.lead_id)
            .values(status=LEAD_STATUS_FOR_OUTCOME[outcome], updated_at=_later(row.occurred_at))
        )


def _later(moment: datetime) -> datetime:
    return max(moment, utcnow())
