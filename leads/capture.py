"""Inbound lead capture: a public form and JSON endpoint per list, opened by the list's key.

A captured person goes down the import path: `RowNormalizer` turns the fields into
lead columns, the unique constraints dedupe (INSERT … ON CONFLICT DO NOTHING, then a
look-up), and a known person is filled in (empty fields only), never duplicated.

Consent: when the box is ticked, a `LeadConsent` row keeps the exact text shown,
the time, the address, the page and the browser. It is proof of what the person
did, so it is stored whoever they are.

Do-not-contact: the list wins. A person on it who fills in the form is stored (or
updated) like anyone else, consent included, but stays on the list, which keeps
them out of every queue; only staff lift an entry, after checking with the person.
The activity and the `lead_captured` signal say so (`do_not_contact`, `suppressed`).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

import sqlalchemy as sa
from flask import current_app, url_for
from sqlalchemy.exc import IntegrityError

from app.database import insert_ignoring_duplicates
from app.extensions import db
from app.models import Workspace, utcnow
from app.ratelimit import RateLimit
from leads import dnc
from leads.editing import TRACKED_FIELDS
from leads.import_rows import IMPORTED_COLUMNS, Candidate, RowNormalizer, merge_into
from leads.models import (
    Activity,
    ActivityType,
    ContactKind,
    DoNotContact,
    DuplicatePolicy,
    Lead,
    LeadConsent,
    LeadList,
    LeadStatus,
)
from leads.normalize import normalize_email, normalize_phone
from leads.signals import lead_captured
from leads.sources import SourceRow

# What the form asks for, in the order the normalizer reads them.
CAPTURE_FIELDS = ("first_name", "last_name", "email", "phone", "company")
# The columns' sizes: a public endpoint must refuse what the database would.
FIELD_LIMITS = {"first_name": 120, "last_name": 120, "email": 320, "phone": 64, "company": 250}
# A field people never see: bots that fill every input give themselves away.
HONEYPOT_FIELD = "website_url"
MAX_CONSENT_TEXT = 5_000
# A few short fields: anything larger is not a person filling in a form.
MAX_BODY_BYTES = 64 * 1024
CAPTURE_SOURCE = "Lead capture"

_NORMALIZER_TARGETS = tuple((name, None) for name in CAPTURE_FIELDS)
_TRUE = frozenset({"1", "on", "yes", "true"})


@dataclass(frozen=True)
class ConsentInput:
    """A ticked consent box and the exact text the person saw beside it."""

    text: str


@dataclass(frozen=True)
class RequestInfo:
    """Where a capture came from, for the consent record."""

    ip_address: str | None
    user_agent: str | None
    source_url: str | None


@dataclass(frozen=True)
class Submission:
    """A posted form or JSON body, read but not yet validated."""

    fields: dict[str, str]
    consent: bool
    consent_text: str | None
    page_url: str | None
    trapped: bool  # the honeypot was filled in
    errors: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CaptureResult:
    status: Literal["created", "updated"] | None = None
    lead_id: int | None = None
    suppressed: bool = False
    errors: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------------------
# Keys
# ---------------------------------------------------------------------------

CAPTURE_ACTIONS = ("enable", "rotate", "disable")


def change_capture_key(lead_list: LeadList, action: str) -> None:
    """Turn capture on (keeping a live key), give it a new key, or turn it off.

    A new key makes every old URL and embed stop working at once: the way to
    shut out a leaked key without losing the form. The caller commits.
    """
    if action == "enable":
        lead_list.capture_key = lead_list.capture_key or secrets.token_urlsafe(24)
    elif action == "rotate":
        lead_list.capture_key = secrets.token_urlsafe(24)
    elif action == "disable":
        lead_list.capture_key = None
    else:
        raise ValueError(f"unknown capture action {action!r}")


def list_for_key(key: str) -> LeadList | None:
    """The list a capture key opens, or None for an unknown or switched-off key."""
    if not key or len(key) > 64:
        return None
    return db.session.scalar(sa.select(LeadList).where(LeadList.capture_key == key))


def company_name(lead_list: LeadList) -> str:
    return db.session.get(Workspace, lead_list.workspace_id).name


def consent_text(lead_list: LeadList) -> str:
    """The sentence beside the consent box.

    It names the company, not the list: list names are internal. Each consent row
    keeps the text as it was, so rewording it later changes no past proof.
    """
    company = company_name(lead_list)
    return (
        f"I agree that {company} may contact me by email or phone about its products "
        f"and services. I can ask {company} to stop at any time."
    )


@dataclass(frozen=True)
class CaptureEmbed:
    """What the list page shows a marketer to put the form on a site."""

    url: str
    iframe: str
    curl: str


def capture_embed(lead_list: LeadList) -> CaptureEmbed | None:
    if not lead_list.capture_key:
        return None
    url = url_for("leads.capture_form", key=lead_list.capture_key, _external=True)
    iframe = (
        f'<iframe src="{url}" title="Contact form" width="100%" height="620" '
        'style="border:0" loading="lazy"></iframe>'
    )
    curl = (
        f"curl -X POST '{url}' \\\n"
        "  -H 'Content-Type: application/json' \\\n"
        '  -d \'{"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", '
        '"phone": "+1 415 555 0134", "company": "Analytical Engines", "consent": true, '
        '"consent_text": "The sentence your form showed beside the box", '
        '"page_url": "https://example.com/contact"}\''
    )
    return CaptureEmbed(url, iframe, curl)


# ---------------------------------------------------------------------------
# Rate limits
# ---------------------------------------------------------------------------


def throttle_capture(lead_list: LeadList, ip_address: str | None) -> int | None:
    """Count one submission; the seconds to wait when over a limit, else None.

    Per address and list, so one sender cannot flood a form; per list and day, so
    many senders together cannot either. A sender already over its own limit is
    not counted against the list, or one address could use up the day's quota.
    """
    config = current_app.config
    per_address = RateLimit(
        "capture-ip",
        config.get("CAPTURE_MAX_PER_ADDRESS", 20),
        config.get("CAPTURE_ADDRESS_WINDOW_SECONDS", 600),
    )
    per_list = RateLimit("capture-list", config.get("CAPTURE_MAX_PER_LIST_PER_DAY", 200), 86_400)
    if wait := per_address.hit(f"{lead_list.id}:{ip_address or 'unknown'}"):
        return wait
    return per_list.hit(str(lead_list.id))


# ---------------------------------------------------------------------------
# Reading a submission
# ---------------------------------------------------------------------------


def read_submission(data: Mapping[str, Any]) -> Submission:
    """Fields from a form post or a JSON object; values of the wrong type are errors."""
    fields: dict[str, str] = {}
    errors: dict[str, str] = {}
    for name in CAPTURE_FIELDS:
        value = data.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)  # a phone sent as a JSON number
        if value is not None and not isinstance(value, str):
            errors[name] = "Send this field as text."
            value = None
        fields[name] = value or ""
    consent = data.get("consent")
    text = data.get("consent_text")
    if text is not None and (not isinstance(text, str) or len(text) > MAX_CONSENT_TEXT):
        errors["consent_text"] = f"Send text of at most {MAX_CONSENT_TEXT:,} characters."
        text = None
    page_url = data.get("page_url")
    trap = data.get(HONEYPOT_FIELD)
    return Submission(
        fields=fields,
        consent=consent is True or (isinstance(consent, str) and consent.strip().lower() in _TRUE),
        consent_text=(text or "").strip() or None,
        page_url=page_url if isinstance(page_url, str) else None,
        trapped=bool(trap.strip()) if isinstance(trap, str) else bool(trap),
        errors=errors,
    )


def source_url(page_url: str | None, referrer: str | None) -> str | None:
    """The page the person was on: the one the form names, else the Referer."""
    for candidate in (page_url, referrer):
        candidate = (candidate or "").strip()
        # Only web addresses: this is shown to staff, and other schemes are no page.
        if candidate.lower().startswith(("http://", "https://")):
            return candidate[:500]
    return None


# ---------------------------------------------------------------------------
# Capturing
# ---------------------------------------------------------------------------


def capture_lead(
    lead_list: LeadList,
    fields: dict[str, str],
    consent: ConsentInput | None,
    request_info: RequestInfo,
    *,
    source: str = CAPTURE_SOURCE,
    summary: str | None = None,
) -> CaptureResult:
    """Store one captured person in ``lead_list``: a new lead, or the known one filled in.

    ``source`` is the lead's source when it is new; ``summary`` the timeline's line
    (the form's by default). Commits, then sends `lead_captured`: whoever listens
    (rotation) must be able to read the lead, so the signal may only go out once it
    is committed.
    """
    region = db.session.scalar(
        sa.select(Workspace.default_region).where(Workspace.id == lead_list.workspace_id)
    )
    candidate, errors = normalize_capture(lead_list, fields, region or "US", source)
    if errors or candidate is None:
        return CaptureResult(errors=errors)
    if dnc.erased(lead_list.workspace_id, dnc.lead_pairs(candidate.columns)):
        # An erased person is not stored again; the sender hears what anyone hears.
        return CaptureResult(suppressed=True)
    summary = summary or f"Captured from form {lead_list.name}"
    result = _write_retrying(lead_list, candidate.columns, consent, request_info, summary)
    db.session.commit()
    lead_captured.send(
        lead_list,
        lead_id=result.lead_id,
        created=result.status == "created",
        suppressed=result.suppressed,
    )
    return result


def normalize_capture(
    lead_list: LeadList, fields: dict[str, str], default_region: str, source: str = CAPTURE_SOURCE
) -> tuple[Candidate | None, dict[str, str]]:
    """Lead columns from the typed fields, by the importer's normalizer; or field messages."""
    errors = {
        name: f"Use at most {limit} characters."
        for name, limit in FIELD_LIMITS.items()
        if len(fields.get(name) or "") > limit
    }
    if errors:
        return None, errors
    normalizer = RowNormalizer(_NORMALIZER_TARGETS, default_region, lead_list.id, source)
    record = SourceRow(line=1, cells=[fields.get(name) or "" for name in CAPTURE_FIELDS])
    candidate, _ = normalizer.normalize(record)
    columns = candidate.columns if candidate else {}
    if not columns.get("email_raw") and not columns.get("phone_raw"):
        return None, {"email": "Give an email address or a phone number."}
    # The normalizer keeps invalid values (an import must not lose them); a person
    # typing can fix theirs, so here they are refused with the reason.
    if columns["email_raw"] and not columns["email_valid"]:
        errors["email"] = normalize_email(columns["email_raw"]).error or "Not a valid email."
    if columns["phone_raw"] and not columns["diallable"]:
        phone = normalize_phone(columns["phone_raw"], default_region)
        errors["phone"] = (phone and phone.error) or "Not a valid phone number."
    return (None, errors) if errors else (candidate, {})


WRITE_ATTEMPTS = 3


def _write_retrying(
    lead_list: LeadList,
    columns: dict[str, Any],
    consent: ConsentInput | None,
    request_info: RequestInfo,
    summary: str,
) -> CaptureResult:
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        try:
            with db.session.begin_nested():
                return _write(lead_list, columns, consent, request_info, summary)
        except (IntegrityError, _Collision):
            # Another capture, import or edit changed this person's leads between
            # our statements (PostgreSQL; SQLite writers take turns): look again.
            if attempt == WRITE_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


class _Collision(Exception):
    """The insert hit a lead that the look-up then did not find: it was just deleted."""


@dataclass
class _Outcome:
    lead_id: int
    created: bool
    # The lead's phone and email after the write, for the do-not-contact check.
    keys: dict[str, str | None]
    changes: dict[str, list[Any]] = field(default_factory=dict)


def _write(
    lead_list: LeadList,
    columns: dict[str, Any],
    consent: ConsentInput | None,
    request_info: RequestInfo,
    summary: str,
) -> CaptureResult:
    stamp = utcnow()
    workspace_id = lead_list.workspace_id
    outcome = _insert(workspace_id, columns, stamp) or _fill_known(workspace_id, columns, stamp)
    # The submitted phone or email, or the one the known lead already has: either
    # on the list keeps the person out of the queues.
    suppressed = _on_do_not_contact(workspace_id, [_keys(columns), outcome.keys])
    data: dict[str, Any] = {"capture_list_id": lead_list.id, "consent": consent is not None}
    if suppressed:
        data["do_not_contact"] = True
    if outcome.changes:
        data["changes"] = outcome.changes
    db.session.add(
        Activity(
            lead_id=outcome.lead_id,
            type=(ActivityType.CREATED if outcome.created else ActivityType.UPDATED).value,
            occurred_at=stamp,
            summary=summary[:500],
            data=data,
        )
    )
    if consent is not None:
        db.session.add(
            LeadConsent(
                lead_id=outcome.lead_id,
                list_id=lead_list.id,
                text=consent.text,
                given_at=stamp,
                ip_address=(request_info.ip_address or "")[:64] or None,
                source_url=(request_info.source_url or "")[:500] or None,
                user_agent=(request_info.user_agent or "")[:300] or None,
            )
        )
    db.session.flush()
    return CaptureResult(
        status="created" if outcome.created else "updated",
        lead_id=outcome.lead_id,
        suppressed=suppressed,
    )


def _insert(workspace_id: int, columns: dict[str, Any], stamp: datetime) -> _Outcome | None:
    """Insert the person as a new lead; None when the unique constraints say they exist.

    The constraints decide, not a prior look-up, so two captures (or a capture and
    an import) of the same person at once still give one lead.
    """
    row = {
        **columns,
        "workspace_id": workspace_id,
        "status": LeadStatus.NEW.value,
        "created_at": stamp,
        "updated_at": stamp,
    }
    table = Lead.__table__
    lead_id = db.session.execute(
        insert_ignoring_duplicates(table).values(row).returning(table.c.id)
    ).scalar()
    if lead_id is None:
        return None
    return _Outcome(lead_id, created=True, keys=_keys(columns))


def _fill_known(workspace_id: int, columns: dict[str, Any], stamp: datetime) -> _Outcome:
    """Fill the empty fields of the lead the person already is."""
    keys = [
        getattr(Lead, name) == columns[name]
        for name in ("phone_e164", "email_key")
        if columns.get(name)
    ]
    matches = list(
        db.session.scalars(
            sa.select(Lead)
            .where(Lead.workspace_id == workspace_id, sa.or_(*keys))
            .order_by(Lead.id)
            .with_for_update()
        )
    )
    if not matches:
        raise _Collision
    # An email is typed by its owner; a phone may be a shared switchboard. So when
    # they point at two leads, the email's lead is the person.
    lead = next((m for m in matches if m.email_key and m.email_key == columns.get("email_key")),
                matches[0])  # fmt: skip
    incoming = dict(columns)
    for other in matches:
        if other is lead:
            continue
        # Never copy a phone or email onto this lead that another lead owns.
        if other.phone_e164 and other.phone_e164 == incoming.get("phone_e164"):
            incoming["phone_raw"] = None
        if other.email_key and other.email_key == incoming.get("email_key"):
            incoming["email_raw"] = None
    current = {name: getattr(lead, name) for name in IMPORTED_COLUMNS}
    before = merge_into(current, incoming, DuplicatePolicy.FILL)
    for name in before:
        setattr(lead, name, current[name])
    # Stamped even when nothing was filled: the person came back, and an import
    # undo must not delete a lead that now carries their consent.
    lead.updated_at = stamp
    changes = {
        name: [_jsonable(old), _jsonable(current[name])]
        for name, old in before.items()
        if name in TRACKED_FIELDS
    }
    return _Outcome(lead.id, created=False, keys=_keys(current), changes=changes)


def _keys(columns: dict[str, Any]) -> dict[str, str | None]:
    return {name: columns.get(name) for name in ("phone_e164", "email_key")}


def _on_do_not_contact(workspace_id: int, key_sets: list[dict[str, str | None]]) -> bool:
    wanted = {
        (kind.value, keys[name])
        for keys in key_sets
        for kind, name in ((ContactKind.PHONE, "phone_e164"), (ContactKind.EMAIL, "email_key"))
        if keys.get(name)
    }
    if not wanted:
        return False
    conditions = [sa.and_(DoNotContact.kind == k, DoNotContact.value == v) for k, v in wanted]
    found = db.session.scalar(
        sa.select(DoNotContact.id)
        .where(DoNotContact.workspace_id == workspace_id, sa.or_(*conditions))
        .limit(1)
    )
    return found is not None


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value
