"""Reps' availability settings, away periods, and handing a leaving rep's leads on."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import url_for

from app.extensions import db
from app.models import User
from app.users import disable_user
from leads import clock
from leads.availability import OPEN_STATUSES, load_capacities
from leads.models import Lead, LeadStatus
from leads.rotation import owned_lead_ids, reassign
from leads.rotation_models import RepAwayPeriod, RepSettings, RotationMember


class AwayOverlap(ValueError):
    pass


def rep_settings(user: User) -> RepSettings:
    """The user's settings row, created with the defaults (not yet flushed) when missing."""
    settings = db.session.get(RepSettings, user.id)
    if settings is None:
        settings = RepSettings(user_id=user.id, accepts_leads=True, work_days="1234567")
    return settings


def save_settings(settings: RepSettings, **values) -> None:
    for name, value in values.items():
        setattr(settings, name, value)
    db.session.add(settings)


def add_away(user: User, starts_on: date, ends_on: date, note: str | None) -> RepAwayPeriod:
    """Add an away period; one that overlaps another of the same rep is refused."""
    clash = db.session.scalar(
        sa.select(RepAwayPeriod).where(
            RepAwayPeriod.user_id == user.id,
            RepAwayPeriod.starts_on <= ends_on,
            RepAwayPeriod.ends_on >= starts_on,
        )
    )
    if clash is not None:
        raise AwayOverlap(
            f"Overlaps the away period {clash.starts_on:%Y-%m-%d} – {clash.ends_on:%Y-%m-%d}."
        )
    period = RepAwayPeriod(user_id=user.id, starts_on=starts_on, ends_on=ends_on,
                           note=(note or "").strip() or None)  # fmt: skip
    db.session.add(period)
    return period


def away_periods(user_id: int) -> list[RepAwayPeriod]:
    return list(
        db.session.scalars(
            sa.select(RepAwayPeriod)
            .where(RepAwayPeriod.user_id == user_id)
            .order_by(RepAwayPeriod.starts_on)
        )
    )


def rotation_reps(workspace_id: int) -> list[dict]:
    """Every user of the workspace in a rotation pool, with their state now."""
    pooled = sa.select(RotationMember.user_id)
    users = list(
        db.session.scalars(
            sa.select(User)
            .where(User.workspace_id == workspace_id, User.id.in_(pooled))
            .order_by(User.name)
        )
    )
    capacities = load_capacities([u.id for u in users], clock.now(), count_open=True)
    settings = {
        s.user_id: s
        for s in db.session.scalars(
            sa.select(RepSettings).where(RepSettings.user_id.in_([u.id for u in users]))
        )
    }
    return [
        {"user": u, "capacity": capacities.get(u.id), "settings": settings.get(u.id)} for u in users
    ]


def new_lead_count(user: User) -> int:
    """Leads rotation gave the user that nobody has worked yet: the rep's badge."""
    return (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Lead)
            .where(
                Lead.workspace_id == user.workspace_id,
                Lead.owner_id == user.id,
                Lead.status == LeadStatus.NEW.value,
                Lead.assigned_at.is_not(None),
            )
        )
        or 0
    )


def open_lead_count(user: User) -> int:
    return (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Lead)
            .where(Lead.owner_id == user.id, Lead.status.in_(OPEN_STATUSES))
        )
        or 0
    )


def handover_url(user: User) -> str | None:
    """The page that hands the user's leads on before disabling them, if they have any
    open leads or sit in a rotation pool; None when disabling can go ahead at once."""
    in_pool = db.session.scalar(
        sa.select(RotationMember.rule_id).where(RotationMember.user_id == user.id).limit(1)
    )
    if in_pool is None and not open_lead_count(user):
        return None
    return url_for("leads.rotation_handover", user_id=user.id)


def hand_over(
    user: User, to_user: User | None, actor: User, disable: bool
) -> dict[int, int | None]:
    """Give a leaving rep's open leads to ``to_user`` or back to the rotation
    (``to_user`` None), take them out of every pool, and disable them if asked;
    {lead: new owner} of the leads that moved."""
    why = f"{user.name} {'disabled' if disable else 'handed over their leads'}"
    moved = reassign(owned_lead_ids(user.id), user.workspace_id, to_user, actor, why)
    db.session.execute(sa.delete(RotationMember).where(RotationMember.user_id == user.id))
    if disable:
        disable_user(user)
    return moved
