"""Importing lead files: normalize, dedupe against the database, apply in resumable chunks.

Each chunk of records is one transaction that also advances the run's cursor
(`ImportRun.processed`), so a worker killed at any moment loses at most the chunk
in flight, and the retry resumes after the last committed chunk: no duplicates,
no missing rows. Leads the import creates stay hidden (`pending_import_id`) until
the run finishes; a run that fails for good, or is cancelled, is undone.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import current_app
from rq import Retry

from app.database import insert_ignoring_duplicates
from app.extensions import db
from app.models import utcnow
from app.queue import enqueue
from leads.import_rows import IMPORTED_COLUMNS, Candidate, RowNormalizer, merge_into, raw_text
from leads.import_undo import undo_import
from leads.models import (
    Activity,
    ActivityType,
    ContactKind,
    DoNotContact,
    DuplicatePolicy,
    ImportChange,
    ImportRowError,
    ImportRun,
    ImportStatus,
    Lead,
    LeadStatus,
    SuppressionPolicy,
)
from leads.signals import import_finished
from leads.sources import RowProblem, SourceFormat, SourceRow, read_rows

CHUNK_ROWS = 2000
MAX_ROWS = 1_048_576  # what a spreadsheet holds; the rest of a file is refused


class ImportCancelled(Exception):
    """The marketer asked to stop; what was done is undone."""


class ImportSuperseded(Exception):
    """Another runner advanced the cursor first; this one stops without writing."""


@dataclass(frozen=True)
class RunSettings:
    """What a chunk needs of its run, read once: the run row itself may be expired."""

    run_id: int
    workspace_id: int
    duplicate_policy: str
    suppression_policy: str
    original_name: str
    created_by_id: int | None
    normalizer: RowNormalizer

    @classmethod
    def from_run(cls, run: ImportRun) -> RunSettings:
        return cls(run.id, run.workspace_id, run.duplicate_policy, run.suppression_policy,
                   run.original_name, run.created_by_id, RowNormalizer.for_run(run))  # fmt: skip


@dataclass
class ChunkResult:
    consumed: int = 0
    candidates: list[Candidate] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    skipped: int = 0
    suppressed: int = 0
    errors: list[ImportRowError] = field(default_factory=list)


IMPORT_JOB_TIMEOUT = 2 * 3600  # a million rows take minutes; a dead worker is caught by the sweep


def queue_import(run: ImportRun) -> None:
    """Hand a mapped run to a worker; a fresh job id each time, so a retry is never refused."""
    enqueue(
        "leads.jobs.run_import_job", run.id, job_id=f"import-{run.id}-{uuid.uuid4().hex[:8]}",
        retry=Retry(max=3, interval=[10, 30, 60]), job_timeout=IMPORT_JOB_TIMEOUT,
    )  # fmt: skip
    if run.status != ImportStatus.RUNNING:  # a resumed run keeps its place in the history
        run.status = ImportStatus.QUEUED.value
    run.heartbeat_at = utcnow()


def request_cancel(run: ImportRun) -> None:
    """Ask the running import to stop; it undoes what it did and ends as cancelled."""
    run.cancel_requested = True


def source_path(run: ImportRun) -> Path:
    return Path(current_app.instance_path) / "imports" / run.stored_name


def run_import(run_id: int) -> ImportRun:
    """Run (or resume) an import to the end; safe to call again at any point."""
    run = db.session.get(ImportRun, run_id)
    if run is None or run.status not in (ImportStatus.QUEUED, ImportStatus.RUNNING):
        return run
    _mark_running(run)
    settings, cursor = RunSettings.from_run(run), run.processed
    records = read_rows(source_path(run), SourceFormat(**run.source_format))
    db.session.commit()  # reading and normalizing hold no transaction, so no lock
    try:
        for chunk in _chunks(islice(records, cursor, MAX_ROWS), CHUNK_ROWS):
            result = normalize_chunk(settings, chunk)
            if _cancel_requested(run_id):
                raise ImportCancelled
            write_chunk(settings, cursor, result)
            cursor += len(chunk)
    except ImportCancelled:
        undo_import(db.session.get(ImportRun, run_id), status=ImportStatus.CANCELLED)
    except ImportSuperseded:
        db.session.rollback()
    else:
        _finish(db.session.get(ImportRun, run_id), records)
    return db.session.get(ImportRun, run_id)


def _mark_running(run: ImportRun) -> None:
    run.status = ImportStatus.RUNNING.value
    run.started_at = run.started_at or utcnow()
    run.heartbeat_at = utcnow()
    db.session.commit()


def _cancel_requested(run_id: int) -> bool:
    return bool(
        db.session.scalar(sa.select(ImportRun.cancel_requested).where(ImportRun.id == run_id))
    )


def _chunks(records: Iterable, size: int) -> Iterator[list]:
    iterator = iter(records)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _finish(run: ImportRun, rest: Iterator) -> None:
    if next(rest, None) is not None:
        db.session.add(
            _error(
                RunSettings.from_run(run),
                MAX_ROWS + 1,
                "",
                f"The file has more than {MAX_ROWS:,} rows; the rest was not imported.",
            )
        )
        run.errors += 1
    # One statement makes every lead of the run visible at once; updated_at stays
    # as the import wrote it, so undo can still tell untouched leads.
    db.session.execute(
        sa.update(Lead)
        .where(Lead.pending_import_id == run.id)
        .values(pending_import_id=None, updated_at=Lead.updated_at)
    )
    run.status = ImportStatus.SUCCEEDED.value
    run.finished_at = utcnow()
    db.session.commit()
    import_finished.send(run)


def fail_import(run_id: int, error: str) -> None:
    """Give up on a run after its retries: record why and undo what it did."""
    run = db.session.get(ImportRun, run_id)
    if run is None or run.finished:
        return
    run.last_error = error[:2000]
    undo_import(run, status=ImportStatus.FAILED)


# ---------------------------------------------------------------------------
# One chunk
# ---------------------------------------------------------------------------


def apply_chunk(run: ImportRun, records: list[SourceRow | RowProblem]) -> ChunkResult:
    """Normalize and write one chunk of a run from its current cursor."""
    settings = RunSettings.from_run(run)
    result = normalize_chunk(settings, records)
    write_chunk(settings, run.processed, result)
    return result


def normalize_chunk(settings: RunSettings, records: list[SourceRow | RowProblem]) -> ChunkResult:
    """The CPU-bound half of a chunk; touches no database, so it holds no lock."""
    result = ChunkResult(consumed=len(records))
    for record in records:
        if isinstance(record, RowProblem):
            result.errors.append(_error(settings, record.line, record.raw, record.reason))
            continue
        candidate, problem = settings.normalizer.normalize(record)
        if problem:
            result.errors.append(_error(settings, record.line, raw_text(record.cells), problem))
        else:
            result.candidates.append(candidate)
    return result


def write_chunk(settings: RunSettings, cursor: int, result: ChunkResult) -> None:
    """Dedupe and write a normalized chunk, advancing the cursor in the same transaction."""
    candidates = _merge_within_chunk(settings, result.candidates, result)
    candidates = _apply_suppression(settings, candidates, result)
    stamp = utcnow()
    leftovers = _insert_new(settings, candidates, stamp, result)
    if leftovers:
        _update_existing(settings, leftovers, stamp, result)
    _advance_cursor(settings, cursor, result)
    db.session.commit()


def _merge_within_chunk(
    settings: RunSettings, candidates: list[Candidate], result: ChunkResult
) -> list[Candidate]:
    """The same person twice in a chunk becomes one candidate, by the run's policy."""
    by_key: dict[tuple[str, str], Candidate] = {}
    kept: list[Candidate] = []
    for candidate in candidates:
        earlier = next((by_key[k] for k in candidate.keys if k in by_key), None)
        if earlier is None:
            kept.append(candidate)
        else:
            # A repeat within the file: merged into the first (unless skipping), and
            # counted as skipped since no second lead comes of it.
            merge_into(earlier.columns, candidate.columns, settings.duplicate_policy)
            result.skipped += 1
        target = earlier or candidate
        for key in candidate.keys:
            by_key.setdefault(key, target)
    return kept


def _apply_suppression(
    settings: RunSettings, candidates: list[Candidate], result: ChunkResult
) -> list[Candidate]:
    phones = {c.columns["phone_e164"] for c in candidates if c.columns.get("phone_e164")}
    emails = {c.columns["email_key"] for c in candidates if c.columns.get("email_key")}
    if not phones and not emails:
        return candidates
    listed = set(
        db.session.execute(
            sa.select(DoNotContact.kind, DoNotContact.value).where(
                DoNotContact.workspace_id == settings.workspace_id,
                sa.or_(
                    sa.and_(DoNotContact.kind == ContactKind.PHONE, DoNotContact.value.in_(phones)),
                    sa.and_(DoNotContact.kind == ContactKind.EMAIL, DoNotContact.value.in_(emails)),
                ),
            )
        )
    )
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


def _insert_new(
    settings: RunSettings, candidates: list[Candidate], stamp: datetime, result: ChunkResult
) -> list[Candidate]:
    """Insert candidates no lead has yet; returns those the database refused as duplicates.

    The unique constraints decide, not a prior look-up, so two imports of
    overlapping files running at once still give one lead per person.
    """
    existing = _existing_keys(settings, candidates)
    fresh = [c for c in candidates if not any(k in existing for k in c.keys)]
    leftovers = [c for c in candidates if any(k in existing for k in c.keys)]
    if not fresh:
        return leftovers
    rows = [
        {**c.columns, "workspace_id": settings.workspace_id, "status": LeadStatus.NEW.value,
         "pending_import_id": settings.run_id, "created_at": stamp, "updated_at": stamp}
        for c in fresh
    ]  # fmt: skip
    table = Lead.__table__
    insert = insert_ignoring_duplicates(table).returning(
        table.c.id, table.c.phone_e164, table.c.email_key, table.c.external_id
    )
    inserted = db.session.connection().execute(insert, rows).all()
    ids_by_key = {}
    for lead_id, *keys in inserted:
        for name, value in zip(("phone_e164", "email_key", "external_id"), keys, strict=True):
            if value:
                ids_by_key[(name, value)] = lead_id
    created_ids = []
    for candidate in fresh:
        lead_id = next((ids_by_key[k] for k in candidate.keys if k in ids_by_key), None)
        if lead_id is None and not candidate.keys:
            continue  # handled below: keyless rows are matched by position
        if lead_id is None:
            leftovers.append(candidate)  # a concurrent writer inserted it first
        else:
            created_ids.append(lead_id)
    keyless = [lead_id for lead_id, *keys in inserted if not any(keys)]
    created_ids.extend(keyless)
    result.created += len(created_ids)
    _record_changes(settings, [(i, "created", {}) for i in created_ids], stamp)
    _record_activities(settings, created_ids, ActivityType.IMPORTED, stamp)
    return leftovers


def _existing_keys(
    settings: RunSettings, candidates: list[Candidate]
) -> dict[tuple[str, str], int]:
    values: dict[str, set[str]] = {"phone_e164": set(), "email_key": set(), "external_id": set()}
    for candidate in candidates:
        for name, value in candidate.keys:
            values[name].add(value)
    conditions = [getattr(Lead, name).in_(found) for name, found in values.items() if found]
    if not conditions:
        return {}
    rows = db.session.execute(
        sa.select(Lead.id, Lead.phone_e164, Lead.email_key, Lead.external_id).where(
            Lead.workspace_id == settings.workspace_id, sa.or_(*conditions)
        )
    )
    keys: dict[tuple[str, str], int] = {}
    for lead_id, *found in rows:
        for name, value in zip(("phone_e164", "email_key", "external_id"), found, strict=True):
            if value:
                keys[(name, value)] = lead_id
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
            result.errors.append(_error(
                settings, candidate.line, candidate.raw,
                "Matches two different leads (by phone, email or external id); "
                "merge them first or fix the row.",
            ))  # fmt: skip
        elif not ids or settings.duplicate_policy == DuplicatePolicy.SKIP:
            result.skipped += 1
        else:
            targets.setdefault(ids.pop(), []).append(candidate)
    if not targets:
        return
    leads = db.session.execute(
        sa.select(Lead.id, *(getattr(Lead, n) for n in IMPORTED_COLUMNS)).where(
            Lead.id.in_(targets)
        )
    ).all()
    already = set(db.session.scalars(
        sa.select(ImportChange.lead_id).where(
            ImportChange.import_run_id == settings.run_id, ImportChange.lead_id.in_(targets)
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
            changes.append((row.id, "updated", _jsonable(before)))
    for columns, batch in _group_by_columns(updates).items():
        statement = (
            sa.update(Lead.__table__)
            .where(Lead.__table__.c.id == sa.bindparam("b_id"))
            .values({c: sa.bindparam(c) for c in columns})
        )
        db.session.execute(statement, batch)
    _record_changes(settings, changes, stamp)
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


def _record_changes(
    settings: RunSettings, changes: list[tuple[int, str, dict]], stamp: datetime
) -> None:
    if changes:
        db.session.execute(
            sa.insert(ImportChange),
            [
                {"import_run_id": settings.run_id, "lead_id": lead_id, "action": action,
                 "before": before, "stamp": stamp}
                for lead_id, action, before in changes
            ],
        )  # fmt: skip


def _record_activities(
    settings: RunSettings, lead_ids: list[int], kind: ActivityType, stamp: datetime
) -> None:
    if not lead_ids:
        return
    verb = "Imported from" if kind == ActivityType.IMPORTED else "Updated by the import of"
    summary = f"{verb} {settings.original_name}"[:500]
    db.session.execute(
        sa.insert(Activity),
        [
            {"lead_id": lead_id, "type": kind.value, "actor_id": settings.created_by_id,
             "occurred_at": stamp, "summary": summary, "data": {"import_run_id": settings.run_id}}
            for lead_id in lead_ids
        ],
    )  # fmt: skip


def _advance_cursor(settings: RunSettings, cursor: int, result: ChunkResult) -> None:
    if result.errors:
        db.session.add_all(result.errors)
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


def _error(settings: RunSettings, line: int, raw: str, reason: str) -> ImportRowError:
    return ImportRowError(
        import_run_id=settings.run_id, line=line, raw=raw[:20_000], reason=reason[:500]
    )


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in values.items()}
