"""Editing a workspace's dispositions: add, rename, reorder, turn off; the caller commits.

Calls keep an outcome's key and category, never a row id, so renaming or turning
an outcome off leaves past calls and their metrics as they were. The order of the
active outcomes is their keyboard order: the first is key 1, the tenth 0, the
eleventh "-"; positions are renumbered after every change so they stay 1…n.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from app.extensions import db
from leads.dial_models import SHORTCUT_KEYS, DialOutcome, OutcomeCategory
from leads.dispositions import default_outcomes
from leads.models import LeadStatus

MAX_RETRY_MINUTES = 365 * 24 * 60
# Statuses a call may set; the others belong to the pipeline.
CALL_STATUSES = (
    LeadStatus.NEW, LeadStatus.CONTACTED, LeadStatus.CONNECTED, LeadStatus.QUALIFIED,
    LeadStatus.DISQUALIFIED,
)  # fmt: skip
CATEGORY_LABELS = {c.value: c.value.replace("_", " ").capitalize() for c in OutcomeCategory}
_EVENT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
FLAGS = ("do_not_contact", "needs_callback", "qualifies")


class OutcomeSettingsError(ValueError):
    """A change the settings page must refuse, with the reason for the user."""


@dataclass
class OutcomeForm:
    """An outcome as typed, with a message per field it cannot take."""

    values: dict[str, Any] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)
    shortcut: str = ""


def all_outcomes(workspace_id: int) -> list[DialOutcome]:
    """Every outcome, active ones in keyboard order first; the defaults while none are stored."""
    rows = list(
        db.session.scalars(
            sa.select(DialOutcome)
            .where(DialOutcome.workspace_id == workspace_id)
            .order_by(DialOutcome.active.desc(), DialOutcome.position, DialOutcome.id)
        )
    )
    return rows or default_outcomes(workspace_id)


def stored_outcomes(workspace_id: int) -> list[DialOutcome]:
    """The workspace's outcome rows, storing copies of the defaults on its first change."""
    if not db.session.scalar(
        sa.select(sa.func.count(DialOutcome.id)).where(DialOutcome.workspace_id == workspace_id)
    ):
        for default in default_outcomes(workspace_id):
            columns = {c.key: getattr(default, c.key) for c in DialOutcome.__table__.columns}
            db.session.add(DialOutcome(**{k: v for k, v in columns.items() if k != "id"}))
        db.session.flush()
    return all_outcomes(workspace_id)


def find(workspace_id: int, key: str) -> DialOutcome | None:
    return next((o for o in stored_outcomes(workspace_id) if o.key == key), None)


def parse(form: Mapping[str, str], others: list[DialOutcome]) -> OutcomeForm:
    """Check a typed outcome against the workspace's other outcomes."""
    typed = OutcomeForm(shortcut=form.get("shortcut", "").strip())
    problems, values = typed.problems, typed.values
    label = " ".join(form.get("label", "").split())
    if not label:
        problems["label"] = "Give the outcome a name callers will recognise, e.g. “Left voicemail”."
    elif len(label) > 80:
        problems["label"] = "Keep the name to 80 characters or fewer."
    elif any(o.label.lower() == label.lower() for o in others):
        problems["label"] = f"Another outcome is already called “{label}”; pick another name."
    values["label"] = label
    values["category"] = form.get("category", "")
    if values["category"] not in CATEGORY_LABELS:
        problems["category"] = "Pick the category this outcome counts under in metrics."
    values["retry_minutes"] = _retry(form.get("retry_minutes", ""), problems)
    values["new_status"] = form.get("new_status", "") or None
    if values["new_status"] not in (None, *CALL_STATUSES):
        problems["new_status"] = "Pick a status from the list, or leave the status unchanged."
    event = form.get("cadence_event", "").strip().lower() or None
    if event and not _EVENT_NAME.match(event):
        problems["cadence_event"] = (
            "An event name is lower-case letters, digits and underscores (at most 40), "
            "starting with a letter, e.g. voicemail_left."
        )
    values["cadence_event"] = event
    for flag in FLAGS:
        values[flag] = form.get(flag) in ("on", "1", "true", "y")
    if values["do_not_contact"] and values["needs_callback"]:
        problems["needs_callback"] = (
            "An outcome that puts the contact on the do-not-contact list cannot also ask "
            "for a callback: untick one of the two."
        )
    if typed.shortcut and typed.shortcut not in SHORTCUT_KEYS:
        problems["shortcut"] = "The key is one of 1–9, 0 or -."
    return typed


def _retry(text: str, problems: dict[str, str]) -> int | None:
    text = text.strip()
    if not text:
        return None
    if text.isdigit() and 1 <= int(text) <= MAX_RETRY_MINUTES:
        return int(text)
    problems["retry_minutes"] = (
        f"Retry spacing is whole minutes from 1 to {MAX_RETRY_MINUTES:,} "
        "(240 is 4 hours), or blank to take the lead out of the queue."
    )
    return None


def _active(workspace_id: int) -> list[DialOutcome]:
    return [o for o in stored_outcomes(workspace_id) if o.active]


def _place(active: list[DialOutcome], outcome: DialOutcome, shortcut: str) -> None:
    """Put ``outcome`` on ``shortcut``'s slot (its keyboard key) and renumber the rest."""
    order = [o for o in active if o is not outcome]
    slot = SHORTCUT_KEYS.index(shortcut) if shortcut else len(order)
    if outcome.active:
        order.insert(min(slot, len(order)), outcome)
    for position, row in enumerate(order, 1):
        row.position = position


def add(workspace_id: int, typed: OutcomeForm) -> DialOutcome:
    """A new active outcome on the chosen key (the next free one when none is chosen)."""
    active = _active(workspace_id)
    if len(active) >= len(SHORTCUT_KEYS):
        raise OutcomeSettingsError(
            f"At most {len(SHORTCUT_KEYS)} outcomes can be active, one per key "
            "(1–9, 0, -): turn one off before adding another."
        )
    outcome = DialOutcome(
        workspace_id=workspace_id, key=_new_key(workspace_id, typed.values["label"]),
        active=True, position=len(active) + 1, **typed.values,
    )  # fmt: skip
    db.session.add(outcome)
    _place(active, outcome, typed.shortcut)
    return outcome


def _new_key(workspace_id: int, label: str) -> str:
    """A stable identifier from the name; calls keep it, so it never changes afterwards."""
    base = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")[:30] or "outcome"
    taken = {o.key for o in stored_outcomes(workspace_id)}
    key, suffix = base, 2
    while key in taken:
        key, suffix = f"{base}_{suffix}", suffix + 1
    return key


def update(outcome: DialOutcome, typed: OutcomeForm) -> None:
    """Rename the outcome, change its effects and, when a key is chosen, its keyboard key."""
    for name, value in typed.values.items():
        setattr(outcome, name, value)
    if typed.shortcut and outcome.active:
        _place(_active(outcome.workspace_id), outcome, typed.shortcut)


def move(outcome: DialOutcome, step: int) -> None:
    """Swap an active outcome with its neighbour (step -1: up, +1: down)."""
    active = _active(outcome.workspace_id)
    if not outcome.active:
        raise OutcomeSettingsError("Turn the outcome on before moving it.")
    index = active.index(outcome) + step
    if 0 <= index < len(active):
        _place(active, outcome, SHORTCUT_KEYS[index])


def set_active(outcome: DialOutcome, active: bool) -> None:
    """Turn an outcome on (last key) or off (past calls keep it; callers no longer see it)."""
    current = _active(outcome.workspace_id)
    if active == outcome.active:
        return
    if not active and len(current) == 1:
        raise OutcomeSettingsError("Callers need at least one outcome: add another first.")
    if active and len(current) >= len(SHORTCUT_KEYS):
        raise OutcomeSettingsError(
            f"All {len(SHORTCUT_KEYS)} keys are taken: turn another outcome off first."
        )
    outcome.active = active
    _place(current, outcome, "")
    if not active:
        outcome.position = len(SHORTCUT_KEYS) + 1
