"""Erasing a person (GDPR Art. 17): every copy of their data goes; a keyed hash stays.

The lead side removes the leads and everything hanging off them in one transaction
and announces `lead_erased` inside it, so cadences and hand-off remove their part
in the same commit (or nothing happens at all). After the commit come the parts
no transaction covers: job data in Redis, the SQLite write-ahead log, and the
deletes owed to external CRMs (`erasure_committed`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from app.extensions import db
from app.models import User
from app.queue import forget_jobs_mentioning
from leads import dnc
from leads.dial_models import CallAttempt, Callback, DncRemoval
from leads.erasure_models import LeadErasure
from leads.erasure_uploads import busy_imports, scrub_uploads
from leads.models import (
    ACTIVE_IMPORT_STATUSES,
    Activity,
    ActivityType,
    ContactKind,
    DoNotContact,
    ImportChange,
    ImportRowError,
    ImportRun,
    Lead,
    LeadConsent,
)
from leads.signals import erasure_committed, lead_erased
from leads.tasks import Task

# Names shorter than this are not searched for in free text: "Al" is in too many words.
MIN_NAME_NEEDLE = 5


class ErasureRefused(ValueError):
    """The erasure cannot run now; the message says why and what to do."""


@dataclass(frozen=True)
class Person:
    """One person as several leads may carry them."""

    workspace_id: int
    lead_ids: tuple[int, ...]
    pairs: tuple[tuple[ContactKind, str], ...]  # normalized phones and emails
    needles: tuple[str, ...]  # lower-cased strings that mark a copy of their data


def person(leads: Sequence[Lead]) -> Person:
    """The person the given leads (of one workspace) stand for."""
    workspaces = {lead.workspace_id for lead in leads}
    if len(workspaces) != 1:
        raise ErasureRefused("Erase the leads of one workspace at a time.")
    pairs: dict[tuple[ContactKind, str], None] = {}
    needles: dict[str, None] = {}
    for lead in leads:
        pairs.update(dict.fromkeys(dnc.lead_pairs(_contacts(lead))))
        raw_phones = [lead.phone_raw, *(p.get("raw") for p in lead.other_phones or [])]
        for text in (lead.email, lead.email_raw, lead.email_key, *raw_phones):
            if text and text.strip():
                needles[text.strip().lower()] = None
        for name in (lead.full_name, " ".join(filter(None, (lead.first_name, lead.last_name)))):
            if name and len(name.strip()) >= MIN_NAME_NEEDLE:
                needles[name.strip().lower()] = None
    needles.update(dict.fromkeys(value.lower() for _, value in pairs))
    return Person(workspaces.pop(), tuple(sorted(lead.id for lead in leads)), tuple(pairs),
                  tuple(needles))  # fmt: skip


def _contacts(lead: Lead) -> dict:
    return {"phone_e164": lead.phone_e164, "other_phones": lead.other_phones,
            "email_key": lead.email_key}  # fmt: skip


def same_person(lead: Lead) -> list[Lead]:
    """The other leads of the workspace with one of this lead's phones or email."""
    pairs = dnc.lead_pairs(_contacts(lead))
    phones = [value for kind, value in pairs if kind == ContactKind.PHONE]
    conditions = [Lead.phone_e164.in_(phones)] if phones else []
    # Further phones live in JSON: a text match on the quoted number, read rarely enough
    # (only here) not to need an index of its own.
    listed = sa.cast(Lead.other_phones, sa.Text)
    conditions += [listed.contains(f'"{phone}"', autoescape=True) for phone in phones]
    if lead.email_key:
        conditions.append(Lead.email_key == lead.email_key)
    if not conditions:
        return []
    return list(
        db.session.scalars(
            sa.select(Lead)
            .where(Lead.workspace_id == lead.workspace_id, Lead.id != lead.id, sa.or_(*conditions))
            .order_by(Lead.id)
        )
    )


def planned(lead_ids: Sequence[int]) -> dict[str, int]:
    """What erasing these leads removes on the lead side, for the confirm step."""
    counted = {
        "timeline entries": sa.select(sa.func.count()).where(Activity.lead_id.in_(lead_ids)),
        "notes": sa.select(sa.func.count()).where(
            Activity.lead_id.in_(lead_ids), Activity.type == ActivityType.NOTE.value
        ),
        "tasks": sa.select(sa.func.count()).where(Task.lead_id.in_(lead_ids)),
        "callbacks": sa.select(sa.func.count()).where(Callback.lead_id.in_(lead_ids)),
        "calls (kept as counts, notes removed)": sa.select(sa.func.count()).where(
            CallAttempt.lead_id.in_(lead_ids)
        ),
        "import undo records": sa.select(sa.func.count()).where(ImportChange.lead_id.in_(lead_ids)),
    }
    counts = {what: db.session.scalar(query) or 0 for what, query in counted.items()}
    return {"leads": len(lead_ids), **counts}


def erase(leads: Sequence[Lead], user: User | None) -> LeadErasure:
    """Erase the person these leads stand for, everywhere; commits. Returns the audit row."""
    who = person(leads)
    if busy := busy_imports(who):
        raise ErasureRefused(
            f"Import #{busy[0]} holding this person is still running; erase once it has finished."
        )
    erasure = LeadErasure(
        workspace_id=who.workspace_id, erased_by_id=user.id if user else None,
        subject_digest=_subject_digest(who), lead_count=len(who.lead_ids),
    )  # fmt: skip
    db.session.add(erasure)
    db.session.flush()
    removed: dict[str, int] = {}
    for _receiver, counts in lead_erased.send(
        who.workspace_id, lead_ids=list(who.lead_ids), erasure_id=erasure.id, needles=who.needles
    ):
        _add(removed, counts or {})
    _add(removed, _remove_lead_side(who))
    dnc.add_erased(who.workspace_id, who.pairs, erasure.id)
    erasure.removed = removed
    db.session.commit()
    _add(removed, _after_commit(who))
    erasure.removed = dict(removed)
    db.session.commit()
    erasure_committed.send(who.workspace_id, erasure_id=erasure.id)
    return erasure


def _subject_digest(who: Person) -> str:
    """A stable hash naming the request: the hashed contacts, sorted and hashed again."""
    digests = sorted(dnc.digests(who.workspace_id, who.pairs, create=True).values())
    return hashlib.sha256(repr(digests).encode()).hexdigest()


def _add(total: dict[str, int], counts: dict[str, int]) -> None:
    for what, count in counts.items():
        total[what] = total.get(what, 0) + count


def _delete(statement) -> int:
    return db.session.execute(statement.execution_options(synchronize_session=False)).rowcount


def delete_lead_rows(lead_ids: Sequence[int], **models: Any) -> dict[str, int]:
    """Delete each model's rows of these leads, in the order given; counts by name for
    the erasure's audit. The packages above use it for their own tables."""
    return {
        name: _delete(sa.delete(model).where(model.lead_id.in_(lead_ids)))
        for name, model in models.items()
    }


def _remove_lead_side(who: Person) -> dict[str, int]:
    ids = list(who.lead_ids)
    counts = {
        **delete_lead_rows(
            ids,
            activities=Activity,
            tasks=Task,
            callbacks=Callback,
            consents=LeadConsent,
            import_before_images=ImportChange,
        ),
        # Calls stay as anonymous counts (metrics must not change); their notes go.
        "call_notes": _delete(
            sa.update(CallAttempt)
            .where(CallAttempt.lead_id.in_(ids))
            .values(note=None, lead_id=None)
        ),
        "import_error_rows": _delete(
            sa.delete(ImportRowError).where(
                ImportRowError.import_run_id.in_(
                    sa.select(ImportRun.id).where(ImportRun.workspace_id == who.workspace_id)
                ),
                _mentions(ImportRowError.raw, who.needles),
            )
        ),
        "undo_reports": _scrub_undo_reports(who),
        **_remove_plain_contacts(who),
    }
    db.session.expire_all()  # the deleted rows must not be flushed back by a stale object
    counts["leads"] = _delete(sa.delete(Lead).where(Lead.id.in_(ids)))
    counts.update(scrub_uploads(who))
    return counts


def _mentions(column: sa.ColumnElement[str], needles: Iterable[str]) -> sa.ColumnElement[bool]:
    lowered = sa.func.lower(column)
    return sa.or_(*(lowered.contains(needle, autoescape=True) for needle in needles))


def _scrub_undo_reports(who: Person) -> int:
    """An undo's report lists the leads it kept by name: the person's entries go."""
    scrubbed = 0
    runs = db.session.scalars(
        sa.select(ImportRun).where(
            ImportRun.workspace_id == who.workspace_id,
            ImportRun.status.not_in(ACTIVE_IMPORT_STATUSES),
        )
    )
    for run in runs:
        kept = (run.undo_report or {}).get("kept") or []
        left = [entry for entry in kept if entry.get("lead_id") not in who.lead_ids]
        if len(left) != len(kept):
            run.undo_report = {**run.undo_report, "kept": left}
            scrubbed += len(kept) - len(left)
    db.session.flush()
    return scrubbed


def _remove_plain_contacts(who: Person) -> dict[str, int]:
    """The do-not-contact list holds values in the clear; the hashed entry replaces them."""
    if not who.pairs:
        return {}
    listed = sa.or_(
        *(sa.and_(DoNotContact.kind == kind.value, DoNotContact.value == value)
          for kind, value in who.pairs)
    )  # fmt: skip
    removals = sa.or_(
        *(sa.and_(DncRemoval.kind == kind.value, DncRemoval.value == value)
          for kind, value in who.pairs)
    )  # fmt: skip
    return {
        "do_not_contact_entries": _delete(
            sa.delete(DoNotContact).where(DoNotContact.workspace_id == who.workspace_id, listed)
        ),
        "do_not_contact_removals": _delete(
            sa.delete(DncRemoval).where(DncRemoval.workspace_id == who.workspace_id, removals)
        ),
    }


def _after_commit(who: Person) -> dict[str, int]:
    """What lives outside the transaction: job data in Redis, old pages in SQLite's log."""
    counts = {"redis_keys": forget_jobs_mentioning(who.needles)}
    for engine in db.engines.values():
        if engine.dialect.name == "sqlite":
            # Copies the log into the file and empties it: the log still holds the
            # deleted rows' old pages until then.
            # On the driver's connection: SQLAlchemy's would open a transaction first,
            # and a checkpoint cannot run inside one.
            connection = engine.raw_connection()
            try:
                connection.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                connection.close()
    return counts
