"""The database half of an import chunk: dedupe, insert, update, record, advance the cursor.

The caller commits, after one chunk or a few. Statements take their lists of keys and ids as
a single parameter (`app.database.values_table`) and each key column is looked
up through its own unique index, so a chunk costs the same at the millionth
lead as at the first.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from app.database import values_table
from app.extensions import db
from app.models import utcnow
from leads import dnc
from leads.import_chunks import ChunkResult, RowError, RunSettings
from leads.import_inserts import insert_leads
from leads.import_rows import IMPORTED_COLUMNS, KEY_COLUMNS, Candidate, merge_into
from leads.models import (
    Activity,
    ActivityType,
    ContactKind,
    DoNotContact,
    DuplicatePolicy,
    ImportChange,
    ImportRowError,
    ImportRun,
    Lead,
    SuppressionPolicy,
)


class ImportSuperseded(Exception):
    """Another runner advanced the cursor first; this one stops without writing."""


def write_chunk(settings: RunSettings, cursor: int, result: ChunkResult) -> None:
    """Dedupe and write a normalized chunk, advancing the cursor in the same transaction.

    The caller commits."""
    candidates = _apply_suppression(settings, result.candidates, result)
    stamp = utcnow()
    refused = _insert_new(settings, candidates, stamp, result)
    if refused:
        _update_existing(settings, refused, stamp, result)
    _advance_cursor(settings, cursor, result)


def record_errors(settings: RunSettings, errors: list[RowError]) -> None:
    """Store rejected records for the run's error file."""
    if errors:
        db.session.execute(
            sa.insert(ImportRowError),
            [
                {"import_run_id": settings.run_id, "line": error.line, "raw": error.raw[:20_000],
                 "reason": error.reason[:500]}
                for error in errors
            ],
        )  # fmt: skip


def _apply_suppression(
    settings: RunSettings, candidates: list[Candidate], result: ChunkResult
) -> list[Candidate]:
    candidates = _drop_erased(settings, candidates, result)
    listed = {
        (kind.value, value)
        for kind, column in ((ContactKind.PHONE, "phone_e164"), (ContactKind.EMAIL, "email_key"))
        for value in _listed(settings, kind, {c.columns.get(column) for c in candidates} - {None})
    }
    if not listed:
        return candidates
    kept = []
    for candidate in candidates:
        on_list = (ContactKind.PHONE.value, candidate.columns.get("phone_e164")) in listed or (
            ContactKind.EMAIL.value,
            candidate.columns.get("email_key"),
        ) in listed
        result.suppressed += on_list
        if on_list and settings.suppression_policy == SuppressionPolicy.SKIP:
            result.skipped += 1
        else:
            kept.append(candidate)
    return kept


def _drop_erased(
    settings: RunSettings, candidates: list[Candidate], result: ChunkResult
) -> list[Candidate]:
    """Erased people never come back, whatever the run's policy: their rows are skipped."""
    pairs = {id(c): dnc.lead_pairs(c.columns) for c in candidates}
    erased = dnc.erased(settings.workspace_id, [p for ps in pairs.values() for p in ps])
    if not erased:
        return candidates
    kept = [c for c in candidates if not any((str(k), v) in erased for k, v in pairs[id(c)])]
    result.suppressed += len(candidates) - len(kept)
    result.skipped += len(candidates) - len(kept)
    return kept


def _listed(settings: RunSettings, kind: ContactKind, values: set[str]) -> list[str]:
    """Which of ``values`` the workspace's do-not-contact list holds for ``kind``."""
    if not values:
        return []
    each = values_table(sorted(values), DoNotContact.value.type)
    return list(
        db.session.scalars(
            sa.select(DoNotContact.value).where(
                DoNotContact.workspace_id == settings.workspace_id,
                DoNotContact.kind == kind.value,
                DoNotContact.value.in_(sa.select(each.c.value)),
            )
        )
    )


def _insert_new(
    settings: RunSettings, candidates: list[Candidate], stamp: datetime, result: ChunkResult
) -> list[Candidate]:
    """Insert every candidate; returns those the database refused as duplicates.

    The unique constraints decide, not a prior look-up, so two imports of
    overlapping files running at once still give one lead per person, and only
    the refused rows (the duplicates, a few percent) are looked up afterwards.
    """
    if not candidates:
        return []
    inserted = insert_leads(settings, [c.params for c in candidates], stamp)
    ids_by_key = {
        (name, value): lead_id
        for lead_id, *keys in inserted
        for name, value in zip(KEY_COLUMNS, keys, strict=True)
        if value
    }
    # Keyless candidates never conflict; a keyed one not among the added rows was
    # refused: an earlier import, or a concurrent one, has that person.
    created_ids = [lead_id for lead_id, *_ in inserted]
    refused = [
        candidate
        for candidate in candidates
        if (keys := candidate.keys) and not any(key in ids_by_key for key in keys)
    ]
    result.created += len(created_ids)
    _record_created(settings, created_ids, stamp)
    _record_activities(settings, created_ids, ActivityType.IMPORTED, stamp)
    return refused


def _existing_keys(
    settings: RunSettings, candidates: list[Candidate]
) -> dict[tuple[str, str], int]:
    """The leads holding the candidates' keys: one look-up per key column, by its index."""
    keys: dict[tuple[str, str], int] = {}
    for name in KEY_COLUMNS:
        values = {value for candidate in candidates for n, value in candidate.keys if n == name}
        if not values:
            continue
        column = Lead.__table__.c[name]
        each = values_table(sorted(values), column.type)
        found = db.session.execute(
            sa.select(Lead.id, column).where(
                Lead.workspace_id == settings.workspace_id, column.in_(sa.select(each.c.value))
            )
        )
        keys.update(((name, value), lead_id) for lead_id, value in found)
    return keys


def _update_existing(
    settings: RunSettings, candidates: list[Candidate], stamp: datetime, result: ChunkResult
) -> None:
    """Apply duplicates to the leads they match, keeping before-images for undo."""
    existing = _existing_keys(settings, candidates)
    targets: dict[int, list[Candidate]] = {}
    for candidate in candidates:
        ids = {existing[k] for k in candidate.keys if k in existing}
        if len(ids) > 1:
            result.errors.append(RowError(
                candidate.line, candidate.raw,
                "Matches two different leads (by phone, email or external id); "
                "merge them first or fix the row.",
            ))  # fmt: skip
        elif not ids or settings.duplicate_policy == DuplicatePolicy.SKIP:
            result.skipped += 1
        else:
            targets.setdefault(ids.pop(), []).append(candidate)
    if not targets:
        return
    target_ids = values_table(sorted(targets), Lead.id.type)
    leads = db.session.execute(
        sa.select(Lead.id, *(getattr(Lead, n) for n in IMPORTED_COLUMNS)).where(
            Lead.id.in_(sa.select(target_ids.c.value))
        )
    ).all()
    already = set(db.session.scalars(
        sa.select(ImportChange.lead_id).where(
            ImportChange.import_run_id == settings.run_id,
            ImportChange.lead_id.in_(sa.select(target_ids.c.value)),
        )
    ))  # fmt: skip
    updates, changes = [], []
    for row in leads:
        current = dict(zip(IMPORTED_COLUMNS, row[1:], strict=True))
        before: dict[str, Any] = {}
        for candidate in targets[row.id]:
            for name, old in merge_into(
                current, candidate.columns, settings.duplicate_policy
            ).items():
                before.setdefault(name, old)
        if not before:
            result.skipped += len(targets[row.id])
            continue
        result.updated += len(targets[row.id])
        updates.append({"b_id": row.id, "updated_at": stamp, **{n: current[n] for n in before}})
        if row.id not in already:
            changes.append((row.id, _jsonable(before)))
    for columns, batch in _group_by_columns(updates).items():
        statement = (
            sa.update(Lead.__table__)
            .where(Lead.__table__.c.id == sa.bindparam("b_id"))
            .values({c: sa.bindparam(c) for c in columns})
        )
        db.session.execute(statement, batch)
    _record_updated(settings, changes, stamp)
    # A lead this run created or changed in an earlier chunk: its change row keeps
    # the first before-image but takes the new stamp, so undo still recognises it.
    restamped = [u["b_id"] for u in updates if u["b_id"] in already]
    if restamped:
        db.session.execute(
            sa.update(ImportChange)
            .where(
                ImportChange.import_run_id == settings.run_id, ImportChange.lead_id.in_(restamped)
            )
            .values(stamp=stamp)
        )
    _record_activities(settings, [u["b_id"] for u in updates], ActivityType.UPDATED, stamp)


def _group_by_columns(updates: list[dict[str, Any]]) -> dict[tuple[str, ...], list[dict]]:
    groups: dict[tuple[str, ...], list[dict]] = {}
    for update in updates:
        groups.setdefault(tuple(sorted(k for k in update if k != "b_id")), []).append(update)
    return groups


def _record_created(settings: RunSettings, lead_ids: list[int], stamp: datetime) -> None:
    """One change row per created lead, written by one INSERT … SELECT over the ids."""
    if not lead_ids:
        return
    each = values_table(lead_ids, ImportChange.lead_id.type)
    columns = {
        "import_run_id": sa.literal(settings.run_id, ImportChange.import_run_id.type),
        "lead_id": each.c.value,
        "action": sa.literal("created", ImportChange.action.type),
        "before": sa.literal({}, ImportChange.before.type),
        "stamp": sa.literal(stamp, ImportChange.stamp.type),
    }
    db.session.execute(
        sa.insert(ImportChange).from_select(list(columns), sa.select(*columns.values()))
    )


def _record_updated(
    settings: RunSettings, changes: list[tuple[int, dict[str, Any]]], stamp: datetime
) -> None:
    if changes:
        db.session.execute(
            sa.insert(ImportChange),
            [
                {"import_run_id": settings.run_id, "lead_id": lead_id, "action": "updated",
                 "before": before, "stamp": stamp}
                for lead_id, before in changes
            ],
        )  # fmt: skip


def _record_activities(
    settings: RunSettings, lead_ids: list[int], kind: ActivityType, stamp: datetime
) -> None:
    """The same timeline entry for each lead, written by one INSERT … SELECT over the ids."""
    if not lead_ids:
        return
    verb = "Imported from" if kind == ActivityType.IMPORTED else "Updated by the import of"
    each = values_table(lead_ids, Activity.lead_id.type)
    columns = {
        "lead_id": each.c.value,
        "type": sa.literal(kind.value, Activity.type.type),
        "actor_id": sa.literal(settings.created_by_id, Activity.actor_id.type),
        "occurred_at": sa.literal(stamp, Activity.occurred_at.type),
        "summary": sa.literal(f"{verb} {settings.original_name}"[:500], Activity.summary.type),
        "data": sa.literal({"import_run_id": settings.run_id}, Activity.data.type),
    }
    db.session.execute(sa.insert(Activity).from_select(list(columns), sa.select(*columns.values())))


def _advance_cursor(settings: RunSettings, cursor: int, result: ChunkResult) -> None:
    record_errors(settings, result.errors)
    # Conditional on the cursor we started from: if another runner got here first,
    # this chunk must not count (or write) twice.
    advanced = db.session.execute(
        sa.update(ImportRun)
        .where(ImportRun.id == settings.run_id, ImportRun.processed == cursor)
        .values(
            processed=ImportRun.processed + result.consumed,
            created=ImportRun.created + result.created,
            updated=ImportRun.updated + result.updated,
            skipped=ImportRun.skipped + result.skipped,
            suppressed=ImportRun.suppressed + result.suppressed,
            errors=ImportRun.errors + len(result.errors),
            heartbeat_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if advanced != 1:
        raise ImportSuperseded


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in values.items()}
