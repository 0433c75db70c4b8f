"""Creating and editing single leads: normalize, refuse duplicates, record the timeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa

from app.extensions import db
from app.models import User
from leads import clock, dnc
from leads.models import Activity, ActivityType, Lead
from leads.normalize import (
    NormalizedEmail,
    NormalizedPhone,
    blank_to_none,
    normalize_email,
    normalize_name,
    normalize_phone,
    region_code,
)
from leads.profiles import profile_url_problem
from leads.social import move_pending_tasks
from leads.tasks import Network
from leads.timeline import record

NAME_FIELDS = ("first_name", "last_name", "full_name", "company", "title", "city", "state")
PLAIN_FIELDS = (
    "website",
    "linkedin_url",
    "x_url",
    "other_profile_url",
    "source",
    "external_id",
    "notes",
)
# Fields whose change is worth a line on the timeline, in the order shown.
TRACKED_FIELDS = (
    *NAME_FIELDS,
    "phone_raw",
    "email_raw",
    "country",
    "birthday",
    *PLAIN_FIELDS,
    "status",
    "owner_id",
    "list_id",
    "custom_fields",
)


@dataclass
class LeadInput:
    """What a person typed, before normalization."""

    values: dict[str, Any]
    custom_fields: dict[str, str] = field(default_factory=dict)


@dataclass
class LeadProblems:
    """Field-level messages for the form; empty when the lead can be saved."""

    by_field: dict[str, str] = field(default_factory=dict)
    duplicate_of: dict[str, Lead] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.by_field)


def normalize_contact(
    phone: str | None, email: str | None, country: str | None, default_region: str
) -> tuple[NormalizedPhone | None, NormalizedEmail | None, str | None]:
    """Normalize the phone (in the lead's country when known) and the email."""
    region = region_code(country) or default_region
    return normalize_phone(phone, region), normalize_email(email), region_code(country)


def check_lead(
    lead: Lead, data: LeadInput, default_region: str
) -> tuple[LeadProblems, dict[str, Any]]:
    """Validate and normalize ``data``; returns problems and the column values to apply."""
    problems = LeadProblems()
    values = data.values
    phone, email, country = normalize_contact(
        values.get("phone"), values.get("email"), values.get("country"), default_region
    )
    if values.get("country") and not country:
        problems.by_field["country"] = "Unknown country; use a name like Canada or a code like CA."
    if phone and phone.error:
        problems.by_field["phone"] = phone.error
    if email and email.error:
        problems.by_field["email"] = email.error
    columns = lead_columns(values, phone, email, country)
    columns["custom_fields"] = data.custom_fields
    for network in Network:
        url = columns.get(network.lead_column)
        if url and (problem := profile_url_problem(network, url)):
            problems.by_field[network.lead_column] = problem
    if not any(
        columns.get(k)
        for k in ("first_name", "last_name", "full_name", "company", "phone_raw", "email_raw")
    ):
        problems.by_field["first_name"] = "Give at least a name, a company, a phone or an email."
    _check_duplicates(lead, columns, problems)
    for kind, _value in dnc.erased(lead.workspace_id, dnc.lead_pairs(columns)):
        problems.by_field[kind] = (
            f"This {kind} belongs to a person erased on request; it may not be stored again."
        )
    return problems, columns


def lead_columns(
    values: dict[str, Any],
    phone: NormalizedPhone | None,
    email: NormalizedEmail | None,
    country: str | None,
) -> dict[str, Any]:
    """Column values of a lead from typed values and its normalized phone and email."""
    columns: dict[str, Any] = {name: normalize_name(values.get(name)) for name in NAME_FIELDS}
    columns.update({name: blank_to_none(values.get(name)) for name in PLAIN_FIELDS})
    columns.update(
        country=country,
        birthday=values.get("birthday") if isinstance(values.get("birthday"), date) else None,
        status=values.get("status"),
        owner_id=values.get("owner_id"),
        list_id=values.get("list_id"),
        **contact_columns(phone, email),
    )
    return columns


def contact_columns(phone: NormalizedPhone | None, email: NormalizedEmail | None) -> dict[str, Any]:
    """The phone and email columns of a lead, the same for the form, imports and capture."""
    return {
        "phone_raw": phone.raw if phone else None,
        "phone_e164": phone.e164 if phone else None,
        "phone_extension": phone.extension if phone else None,
        "phone_region": phone.region if phone else None,
        "phone_type": phone.number_type if phone else None,
        "phone_time_zones": list(phone.time_zones) if phone else [],
        "time_zone": phone.time_zones[0] if phone and phone.time_zones else None,
        "diallable": bool(phone and phone.diallable),
        "email_raw": email.raw if email else None,
        "email": email.normalized if email else None,
        "email_key": email.key if email else None,
        "email_valid": bool(email and email.valid),
    }


def _check_duplicates(lead: Lead, columns: dict[str, Any], problems: LeadProblems) -> None:
    # A friendly message with a link; the unique constraints still decide under races.
    checks = (
        ("phone", Lead.phone_e164, columns["phone_e164"]),
        ("email", Lead.email_key, columns["email_key"]),
        ("external_id", Lead.external_id, columns["external_id"]),
    )
    for form_field, column, value in checks:
        if not value:
            continue
        query = sa.select(Lead).where(Lead.workspace_id == lead.workspace_id, column == value)
        if lead.id is not None:
            query = query.where(Lead.id != lead.id)
        if other := db.session.scalar(query.limit(1)):
            problems.duplicate_of[form_field] = other
            problems.by_field[form_field] = (
                f"{other.display_name} already has this {form_field.replace('_', ' ')}."
            )


def save_lead(lead: Lead, columns: dict[str, Any], actor: User) -> Activity | None:
    """Apply checked column values and record what changed; the caller commits."""
    creating = lead.id is None
    changes = {
        name: [_jsonable(getattr(lead, name)), _jsonable(columns[name])]
        for name in TRACKED_FIELDS
        if name in columns and getattr(lead, name) != columns[name] and not creating
    }
    owner_before = lead.owner_id
    for name, value in columns.items():
        setattr(lead, name, value)
    if not creating and lead.owner_id != owner_before:
        _record_hand_over(lead, owner_before, actor)
    if creating:
        db.session.add(lead)
        db.session.flush()
        return record(lead, ActivityType.CREATED, actor, f"Created by {actor.name}")
    if not changes:
        return None
    fields = ", ".join(
        name.replace("_raw", "").replace("_id", "").replace("_", " ") for name in changes
    )
    return record(
        lead, ActivityType.UPDATED, actor, f"{actor.name} changed {fields}", changes=changes
    )


def _record_hand_over(lead: Lead, owner_before: int | None, actor: User) -> None:
    """A new owner typed into the form is an assignment like rotation's: audited, with
    a fresh SLA clock and no rule, and the lead's pending tasks go with it."""
    lead.assigned_at = clock.now() if lead.owner_id else None
    lead.rotation_rule_id = None
    lead.rotation_count = 0
    lead.escalated_at = None
    new_owner = db.session.get(User, lead.owner_id) if lead.owner_id else None
    summary = (f"Reassigned to {new_owner.name} by {actor.name}" if new_owner
               else f"Back to the rotation, by {actor.name}")  # fmt: skip
    record(lead, ActivityType.ASSIGNMENT, actor, summary, **{
        "from": owner_before, "to": lead.owner_id, "rule_id": None,
        "reason": "manual", "why": "changed on the lead form",
    })  # fmt: skip
    move_pending_tasks([lead.id], lead.owner_id)


def add_note(lead: Lead, text: str, actor: User) -> Activity:
    """Add a note to the lead's timeline."""
    return record(lead, ActivityType.NOTE, actor, text.strip()[:500], text=text.strip())


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value
