"""Social tasks for every lead of a filtered view, in a few statements whatever the count."""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from app.database import insert_ignoring_duplicates
from app.extensions import db
from app.models import User, utcnow
from leads import dnc
from leads.models import Lead
from leads.profiles import profile_url_problem
from leads.queries import LeadFilters, filtered_leads
from leads.tasks import (
    Network,
    SocialAction,
    Task,
    TaskKind,
    TaskSource,
    TaskStatus,
    is_pending,
)

INSERT_BATCH = 1_000
# Above this a view is too broad to be meant: the rep would drown in tasks.
MAX_BULK_LEADS = 50_000


class SkipReason(enum.StrEnum):
    NO_PROFILE = "no_profile"
    BAD_PROFILE = "bad_profile"
    SUPPRESSED = "suppressed"
    ALREADY_PENDING = "already_pending"
    UNASSIGNED = "unassigned"

    def describe(self, network: Network) -> str:
        return {
            "no_profile": f"no {network.label} address",
            "bad_profile": f"a {network.label} address that cannot be opened",
            "suppressed": "on the do-not-contact list",
            "already_pending": "the same task already pending",
            "unassigned": "no owner to give the task to",
        }[self.value]


@dataclass
class BulkResult:
    created: int = 0
    skipped: Counter[SkipReason] = field(default_factory=Counter)

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())


class BulkTooLarge(ValueError):
    """The view holds more leads than one bulk creation may cover."""


def _same_task_pending(network: Network, action: SocialAction) -> sa.Exists:
    return (
        sa.select(Task.id)
        .where(
            Task.lead_id == Lead.id,
            Task.network == network.value,
            Task.action == action.value,
            is_pending(),
        )
        .exists()
    )


def _candidates(
    user: User, filters: LeadFilters, network: Network, action: SocialAction
) -> sa.Select:
    return (
        filtered_leads(user, filters)
        .with_only_columns(
            Lead.id,
            Lead.owner_id,
            getattr(Lead, network.lead_column),
            dnc.suppressed().label("suppressed"),
            _same_task_pending(network, action).label("pending"),
        )
        .order_by(Lead.id)
    )


def _skip_reason(
    network: Network, owner_id: int | None, url: str | None, suppressed: bool, pending: bool
) -> SkipReason | None:
    if pending:
        return SkipReason.ALREADY_PENDING
    if suppressed:
        return SkipReason.SUPPRESSED
    if not url or not url.strip():
        return SkipReason.NO_PROFILE
    if profile_url_problem(network, url):
        return SkipReason.BAD_PROFILE
    if owner_id is None:
        return SkipReason.UNASSIGNED
    return None


def bulk_create(
    user: User,
    filters: LeadFilters,
    network: Network,
    action: SocialAction,
    due_at: datetime | None = None,
) -> BulkResult:
    """One social task per lead of the view, for the lead's owner. The caller commits.

    Leads are read as plain rows in one query and tasks inserted in batches with
    ON CONFLICT DO NOTHING, so running it twice, or beside someone else, adds each
    task once.
    """
    rows = db.session.execute(_candidates(user, filters, network, action)).all()
    if len(rows) > MAX_BULK_LEADS:
        raise BulkTooLarge(
            f"This view holds {len(rows):,} leads; narrow it to {MAX_BULK_LEADS:,} or fewer."
        )
    result = BulkResult()
    base = {
        "workspace_id": user.workspace_id,
        "kind": TaskKind.SOCIAL.value,
        "status": TaskStatus.OPEN.value,
        "network": network.value,
        "action": action.value,
        "due_at": due_at or utcnow(),
        "source": TaskSource.BULK.value,
        "created_by_id": user.id,
        "created_at": utcnow(),
    }
    wanted = []
    for lead_id, owner_id, url, suppressed, pending in rows:
        if reason := _skip_reason(network, owner_id, url, suppressed, pending):
            result.skipped[reason] += 1
        else:
            wanted.append({**base, "lead_id": lead_id, "owner_id": owner_id})
    insert = insert_ignoring_duplicates(Task.__table__).returning(Task.id)
    for start in range(0, len(wanted), INSERT_BATCH):
        batch = wanted[start : start + INSERT_BATCH]
        created = len(db.session.connection().execute(insert, batch).all())
        result.created += created
        if raced := len(batch) - created:
            # Another writer added the same task between our read and this insert.
            result.skipped[SkipReason.ALREADY_PENDING] += raced
    return result
