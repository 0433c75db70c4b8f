"""The do-not-contact list: add, import, remove with an audit row; the caller commits.

Entries are normalized phones (E.164) and email keys, so they match every lead,
import and capture carrying the same contact, whatever the lead's fate.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import sqlalchemy as sa

from app.database import insert_ignoring_duplicates
from app.extensions import db
from app.models import User, Workspace, utcnow
from leads.dial_models import DncRemoval
from leads.erasure_models import ErasedContact
from leads.models import ContactKind, DoNotContact, Lead
from leads.normalize import normalize_email, normalize_phone

MAX_IMPORT_ENTRIES = 100_000


class DncError(ValueError):
    """Input the list cannot take; the message is for the user."""


@dataclass
class ImportReport:
    added: int = 0
    already: int = 0
    rejected: list[str] = field(default_factory=list)


def normalize_entry(text: str, default_region: str) -> tuple[ContactKind, str]:
    """A typed phone or email as the list stores it; raises DncError when it is neither."""
    text = text.strip()
    if "@" in text:
        email = normalize_email(text)
        if email is None or email.key is None:
            raise DncError(f"{text!r} is not a valid email address.")
        return ContactKind.EMAIL, email.key
    phone = normalize_phone(text, default_region)
    if phone is None or phone.e164 is None:
        raise DncError(f"{text!r} is neither a valid phone number nor an email address.")
    return ContactKind.PHONE, phone.e164


def _insert_ignoring_duplicates(rows: list[dict]) -> int:
    """Insert entries; ones already listed stay as they are. Returns how many were new."""
    if not rows:
        return 0
    statement = insert_ignoring_duplicates(DoNotContact.__table__).values(rows)
    # Counting returned ids: rowcount is not reliable with RETURNING on every driver.
    return len(db.session.execute(statement.returning(DoNotContact.id)).all())


def add(workspace_id: int, kind: ContactKind, value: str, user: User | None, reason: str) -> bool:
    """Put one normalized contact on the list; False when it was there already."""
    row = {
        "workspace_id": workspace_id, "kind": kind.value, "value": value,
        "reason": reason[:300] or None, "created_by_id": user.id if user else None,
    }  # fmt: skip
    return _insert_ignoring_duplicates([row]) == 1


def add_lead(lead: Lead, user: User | None, reason: str) -> int:
    """List every contact of a lead (primary and other phones, email); returns how many were new."""
    values = {(ContactKind.EMAIL, lead.email_key)} if lead.email_key else set()
    phones = [lead.phone_e164, *(p.get("e164") for p in lead.other_phones or [])]
    values |= {(ContactKind.PHONE, phone) for phone in phones if phone}
    return sum(add(lead.workspace_id, kind, value, user, reason) for kind, value in sorted(values))


def import_entries(
    workspace_id: int, text: str, user: User, reason: str, region: str
) -> ImportReport:
    """Add one phone or email per line (commas and semicolons separate too)."""
    report = ImportReport()
    entries: dict[tuple[str, str], None] = {}
    for token in text.replace(";", "\n").replace(",", "\n").splitlines():
        if not token.strip():
            continue
        try:
            kind, value = normalize_entry(token, region)
        except DncError as exc:
            report.rejected.append(str(exc))
            continue
        entries[(kind.value, value)] = None
        if len(entries) > MAX_IMPORT_ENTRIES:
            raise DncError(f"At most {MAX_IMPORT_ENTRIES:,} entries at a time; split the file.")
    rows = [
        {"workspace_id": workspace_id, "kind": kind, "value": value,
         "reason": reason[:300] or None, "created_by_id": user.id}
        for kind, value in entries
    ]  # fmt: skip
    for start in range(0, len(rows), 1000):
        report.added += _insert_ignoring_duplicates(rows[start : start + 1000])
    report.already = len(rows) - report.added
    return report


def remove(entry: DoNotContact, manager: User, reason: str) -> DncRemoval:
    """Take an entry off the list, keeping who added and who removed it, and why."""
    reason = reason.strip()
    if not reason:
        raise DncError("Say why this contact may be contacted again.")
    removal = DncRemoval(
        workspace_id=entry.workspace_id, kind=entry.kind, value=entry.value,
        added_reason=entry.reason, added_by_id=entry.created_by_id, added_at=entry.created_at,
        removed_by_id=manager.id, reason=reason[:300],
    )  # fmt: skip
    db.session.add(removal)
    db.session.delete(entry)
    return removal


def suppressed(lead_table: type[Lead] = Lead) -> sa.ColumnElement[bool]:
    """SQL: the lead's main phone or email is on its workspace's list (one index probe each).

    The one do-not-contact condition every queue uses: a lead whose main phone is
    listed is never served, even with other phones (``listed_phones`` marks those).
    """
    return sa.or_(
        *(
            sa.exists().where(
                DoNotContact.workspace_id == lead_table.workspace_id,
                DoNotContact.kind == kind.value,
                DoNotContact.value == column,
            )
            for kind, column in (
                (ContactKind.PHONE, lead_table.phone_e164),
                (ContactKind.EMAIL, lead_table.email_key),
            )
        )
    )


def listed_phones(workspace_id: int, phones: Iterable[str]) -> set[str]:
    """Of these E.164 phones, the ones on the list (the entries ``suppressed`` matches).

    A lead's further phones are not part of ``suppressed``: the lead is served on its
    main phone, and the card shows each listed further phone as not to be called.
    """
    wanted = {phone for phone in phones if phone}
    if not wanted:
        return set()
    return set(
        db.session.scalars(
            sa.select(DoNotContact.value).where(
                DoNotContact.workspace_id == workspace_id,
                DoNotContact.kind == ContactKind.PHONE.value,
                DoNotContact.value.in_(wanted),
            )
        )
    )


def entries_page(workspace_id: int, search: str = "", limit: int = 200) -> list[DoNotContact]:
    """The newest entries, optionally those starting with ``search``."""
    query = sa.select(DoNotContact).where(DoNotContact.workspace_id == workspace_id)
    if search := search.strip().lower():
        query = query.where(DoNotContact.value.startswith(search, autoescape=True))
    return list(db.session.scalars(query.order_by(DoNotContact.id.desc()).limit(limit)))


def recent_removals(workspace_id: int, limit: int = 50) -> list[DncRemoval]:
    return list(
        db.session.scalars(
            sa.select(DncRemoval)
            .where(DncRemoval.workspace_id == workspace_id)
            .order_by(DncRemoval.removed_at.desc())
            .limit(limit)
        )
    )


def export_rows(workspace_id: int) -> Iterator[list[str]]:
    """Every entry as CSV rows (header first), read in id order in chunks."""
    yield ["kind", "value", "reason", "added_at"]
    last = 0
    while True:
        chunk = list(
            db.session.scalars(
                sa.select(DoNotContact)
                .where(DoNotContact.workspace_id == workspace_id, DoNotContact.id > last)
                .order_by(DoNotContact.id)
                .limit(1000)
            )
        )
        if not chunk:
            return
        for entry in chunk:
            yield [entry.kind, entry.value, entry.reason or "", entry.created_at.isoformat()]
        last = chunk[-1].id


# -- erased people: keyed hashes, never the values ------------------------------------------


def _erasure_key(workspace_id: int, create: bool) -> bytes | None:
    """The workspace's random hashing key, made on first erasure (two makers: one wins)."""
    key = db.session.scalar(sa.select(Workspace.erasure_key).where(Workspace.id == workspace_id))
    if key is None and create:
        db.session.execute(
            sa.update(Workspace)
            .where(Workspace.id == workspace_id, Workspace.erasure_key.is_(None))
            .values(erasure_key=secrets.token_hex(32))
            .execution_options(synchronize_session=False)
        )
        key = db.session.scalar(
            sa.select(Workspace.erasure_key).where(Workspace.id == workspace_id)
        )
    return key.encode() if key else None


def contact_digest(key: bytes, kind: ContactKind | str, value: str) -> str:
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def digests(
    workspace_id: int, pairs: Iterable[tuple[ContactKind | str, str]], create: bool = False
) -> dict[tuple[str, str], tuple[str, str]]:
    """(kind, digest) for each (kind, normalized value) pair; none before the first erasure."""
    key = _erasure_key(workspace_id, create)
    if key is None:
        return {}
    return {(str(k), v): (str(k), contact_digest(key, k, v)) for k, v in pairs if v}


def add_erased(
    workspace_id: int, pairs: Iterable[tuple[ContactKind, str]], erasure_id: int
) -> list[str]:
    """Keep erased contacts out for good, as hashes; returns the digests. Caller commits."""
    hashed = digests(workspace_id, pairs, create=True)
    rows = [
        {"workspace_id": workspace_id, "kind": kind, "digest": digest,
         "erasure_id": erasure_id, "created_at": utcnow()}
        for kind, digest in hashed.values()
    ]  # fmt: skip
    if rows:
        db.session.execute(insert_ignoring_duplicates(ErasedContact.__table__).values(rows))
    return [digest for _, digest in hashed.values()]


def erased(
    workspace_id: int, pairs: Iterable[tuple[ContactKind | str, str]]
) -> set[tuple[str, str]]:
    """Which of these (kind, normalized value) pairs belong to an erased person."""
    hashed = digests(workspace_id, pairs)
    if not hashed:
        return set()
    found = {
        (kind, digest)
        for kind, digest in db.session.execute(
            sa.select(ErasedContact.kind, ErasedContact.digest).where(
                ErasedContact.workspace_id == workspace_id,
                ErasedContact.digest.in_([digest for _, digest in hashed.values()]),
            )
        )
    }
    return {pair for pair, kind_digest in hashed.items() if kind_digest in found}


def lead_pairs(columns: dict) -> list[tuple[ContactKind, str]]:
    """The (kind, normalized value) pairs of a lead's columns or a row about to become one."""
    others = columns.get("other_phones") or []
    phones = [columns.get("phone_e164"), *(p.get("e164") for p in others)]
    pairs = [(ContactKind.PHONE, phone) for phone in phones if phone]
    if columns.get("email_key"):
        pairs.append((ContactKind.EMAIL, columns["email_key"]))
    return pairs
