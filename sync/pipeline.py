"""The pipeline board: pipelines and their stages, deals on the board, moves, won and lost.

Every change to a deal writes a DealActivity in the same pipeline transaction; the
ones carrying a lead id flow back to the lead (see sync.inbound).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import User, utcnow
from sync.models import Contact, Deal, DealActivity, Pipeline, Stage, StageOutcome
from sync.pipeline_target import ensure_default_pipeline

COLUMN_LIMIT = 100
MAX_DEAL_VALUE = Decimal("999999999999.99")


class DealError(ValueError):
    """A change the deal cannot take; the message is for the user."""


@dataclass
class Column:
    stage: Stage
    deals: list[Deal] = field(default_factory=list)
    # Per currency: amounts in different currencies do not add up.
    totals: dict[str, Decimal] = field(default_factory=dict)


def workspace_pipelines(workspace_id: int) -> list[Pipeline]:
    """The workspace's pipelines, the default one created (and committed) on first use."""
    exists = sa.select(Pipeline.id).where(Pipeline.workspace_id == workspace_id).limit(1)
    if db.session.scalar(exists) is None:
        ensure_default_pipeline(db.session.connection(bind_arguments={"mapper": Pipeline}),
                                workspace_id)  # fmt: skip
        db.session.commit()
    return list(
        db.session.scalars(
            sa.select(Pipeline)
            .where(Pipeline.workspace_id == workspace_id)
            .options(selectinload(Pipeline.stages))
            .order_by(Pipeline.position, Pipeline.id)
        )
    )


def visible_deals(user: User) -> sa.Select[tuple[Deal]]:
    """Deals the user may see: all of the workspace for managers, their own for reps."""
    query = sa.select(Deal).where(Deal.workspace_id == user.workspace_id)
    if not user.sees_all_leads:
        query = query.where(Deal.owner_id == user.id)
    return query


def get_visible_deal(user: User, deal_id: int) -> Deal | None:
    return db.session.scalar(visible_deals(user).where(Deal.id == deal_id))


def board(pipeline: Pipeline, user: User) -> list[Column]:
    """The pipeline's stages in order with their deals, most recently moved first."""
    columns = [Column(stage) for stage in pipeline.stages]
    for column in columns:
        deals = db.session.scalars(
            visible_deals(user)
            .where(Deal.pipeline_id == pipeline.id, Deal.stage_id == column.stage.id)
            .options(selectinload(Deal.contact), selectinload(Deal.account))
            .order_by(Deal.updated_at.desc(), Deal.id.desc())
            .limit(COLUMN_LIMIT)
        )
        column.deals = list(deals)
        for deal in column.deals:
            column.totals[deal.currency] = column.totals.get(deal.currency, Decimal(0)) + deal.value
    return columns


def move_deal(deal: Deal, stage: Stage, actor: User, lost_reason: str | None = None) -> bool:
    """Put the deal in ``stage``; won and lost stages close it. Caller commits.

    Returns False when the deal is there already. A lost deal needs a reason.
    """
    if stage.pipeline_id != deal.pipeline_id:
        raise DealError("That stage belongs to another pipeline.")
    if stage.id == deal.stage_id:
        return False
    reason = (lost_reason or "").strip()[:500]
    if stage.outcome == StageOutcome.LOST and not reason:
        raise DealError("Say why the deal was lost.")
    previous = deal.stage.name
    deal.stage_id = stage.id
    deal.outcome = stage.outcome
    deal.lost_reason = reason if stage.outcome == StageOutcome.LOST else None
    deal.closed_at = utcnow() if stage.outcome != StageOutcome.OPEN else None
    deal.updated_at = utcnow()
    summary = _move_summary(deal, previous, stage, reason)
    data = {"stage": stage.name, "outcome": stage.outcome, "lost_reason": reason or None}
    _log(deal, "stage_change", actor, summary, data)
    return True


def _move_summary(deal: Deal, previous: str, stage: Stage, reason: str) -> str:
    if stage.outcome == StageOutcome.WON:
        return f"Deal “{deal.title}” won ({previous} → {stage.name})"
    if stage.outcome == StageOutcome.LOST:
        return f"Deal “{deal.title}” lost: {reason}"
    return f"Deal “{deal.title}” moved: {previous} → {stage.name}"


def outcome_stage(deal: Deal, outcome: StageOutcome) -> Stage:
    """The pipeline's won or lost stage."""
    stage = db.session.scalar(
        sa.select(Stage)
        .where(Stage.pipeline_id == deal.pipeline_id, Stage.outcome == outcome.value)
        .order_by(Stage.position)
        .limit(1)
    )
    if stage is None:
        raise DealError(f"This pipeline has no {outcome.value} stage.")
    return stage


def neighbour_stage(deal: Deal, step: int) -> Stage | None:
    """The open stage before (-1) or after (+1) the deal's: the keyboard's move buttons."""
    stages = [s for s in deal.pipeline.stages if s.outcome == StageOutcome.OPEN]
    ids = [s.id for s in stages]
    if deal.stage_id not in ids:
        return stages[0] if stages and step < 0 else None
    index = ids.index(deal.stage_id) + step
    return stages[index] if 0 <= index < len(stages) else None


@dataclass
class DealChanges:
    title: str
    value: str
    currency: str
    expected_close: str


def update_deal(deal: Deal, changes: DealChanges, actor: User) -> dict[str, str]:
    """Apply the form; returns problems per field, changing nothing then. Caller commits."""
    problems: dict[str, str] = {}
    title = changes.title.strip()
    if not title:
        problems["title"] = "Give the deal a name."
    try:
        value = Decimal(changes.value.strip() or "0").quantize(Decimal("0.01"))
        if not Decimal(0) <= value <= MAX_DEAL_VALUE:
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        problems["value"] = "Enter an amount such as 12500 or 12500.50."
        value = deal.value
    currency = changes.currency.strip().upper()
    if not (len(currency) == 3 and currency.isascii() and currency.isalpha()):
        problems["currency"] = "Use a three-letter currency code such as USD or EUR."
    expected = None
    if changes.expected_close.strip():
        try:
            expected = date.fromisoformat(changes.expected_close.strip())
        except ValueError:
            problems["expected_close"] = "Pick a date."
    if problems:
        return problems
    deal.title, deal.value, deal.currency = title[:250], value, currency
    deal.expected_close = expected
    deal.updated_at = utcnow()
    _log(deal, "updated", actor, f"Deal “{deal.title}” updated: {value} {currency}", {})
    return {}


def add_deal_note(deal: Deal, text: str, actor: User) -> None:
    """A note on the deal, shown on the lead's timeline too. Caller commits."""
    _log(deal, "note", actor, text.strip()[:500], {})


def _log(deal: Deal, kind: str, actor: User, summary: str, data: dict) -> None:
    db.session.add(
        DealActivity(deal_id=deal.id, lead_id=deal.lead_id, kind=kind, summary=summary,
                     actor_id=actor.id, data=data)  # fmt: skip
    )


def deal_activities(deal: Deal) -> list[DealActivity]:
    return list(
        db.session.scalars(
            sa.select(DealActivity)
            .where(DealActivity.deal_id == deal.id)
            .order_by(DealActivity.id.desc())
            .limit(200)
        )
    )


def purchase_history(contact: Contact) -> list[Deal]:
    """The contact's won deals, newest first."""
    return list(
        db.session.scalars(
            sa.select(Deal)
            .where(Deal.contact_id == contact.id, Deal.outcome == StageOutcome.WON.value)
            .order_by(Deal.closed_at.desc())
        )
    )


def contact_deals(contact: Contact) -> list[Deal]:
    return list(
        db.session.scalars(
            sa.select(Deal).where(Deal.contact_id == contact.id).order_by(Deal.id.desc())
        )
    )


def won_deals(workspace_id: int, window: Any) -> tuple[int, int]:
    """Deals won in the window (``window.start``/``.end``, naive UTC; None for all
    time) and their value in whole units, for the metrics' funnel and income goals.

    Values of every currency are added as they are: a workspace selling in several
    currencies sees a sum of face values.
    """
    query = sa.select(sa.func.count(Deal.id), sa.func.coalesce(sa.func.sum(Deal.value), 0)).where(
        Deal.workspace_id == workspace_id, Deal.outcome == StageOutcome.WON.value
    )
    if window is not None:
        query = query.where(Deal.closed_at >= window.start, Deal.closed_at < window.end)
    count, value = db.session.execute(query).one()
    return count, int(value)
