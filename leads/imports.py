"""Importing lead files: normalize, dedupe against the database, apply in resumable chunks.

Each chunk of records advances the run's cursor (`ImportRun.processed`) in the
transaction that writes it, and a transaction holds a few chunks, so a worker
killed at any moment loses at most the chunks since the last commit, and the
retry resumes after them: no duplicates, no missing rows. Leads the import
creates stay hidden (`pending_import_id`) until the run finishes; a run that
fails for good, or is cancelled, is undone.
"""

from __future__ import annotations

import gc
import time
import uuid
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from rq import Retry
from werkzeug.datastructures import FileStorage

from app.extensions import db
from app.models import User, utcnow
from app.queue import enqueue
from leads.import_chunks import ChunkResult, RowError, RunSettings, normalize_chunk
from leads.import_undo import undo_import
from leads.import_workers import NormalizedChunks, rare_collections
from leads.import_writer import ImportSuperseded, record_errors, write_chunk
from leads.mapping import ColumnMapping, mapping_to_json, suggest_mapping, validate_mapping
from leads.models import DuplicatePolicy, ImportRun, ImportStatus, Lead
from leads.signals import import_finished
from leads.sources import (
    RowProblem,
    SourceError,
    SourceFormat,
    SourceRow,
    preview,
    read_rows,
    sniff,
)

CHUNK_ROWS = 2000
# A commit writes every index page its rows touched; at a million leads the chunks
# touch nearly the same pages of the phone, email and name indexes, so a commit per
# chunk wrote them again and again (commits were a quarter of the import's time).
# The time bound keeps SQLite's one write lock free for the app's other writers.
COMMIT_ROWS = 10_000
COMMIT_SECONDS = 1.0
MAX_ROWS = 1_048_576  # what a spreadsheet holds; the rest of a file is refused


class ImportCancelled(Exception):
    """The marketer asked to stop; what was done is undone."""


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


UPLOAD_SUFFIXES = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".xlsx": "xlsx"}


class UploadError(ValueError):
    """An upload Leadline cannot read; the message says what to do."""


def store_upload(upload: FileStorage | None, user: User) -> ImportRun:
    """Store an uploaded file under a generated name, sniff it and open a run. Caller commits.

    Raises UploadError for a missing, unreadable or unsupported file.
    """
    suffix = Path(upload.filename or "").suffix.lower() if upload else ""
    if not upload or not upload.filename:
        raise UploadError("Choose a file to upload.")
    if suffix not in UPLOAD_SUFFIXES:
        raise UploadError(
            "Leadline reads .csv and .xlsx files. Save the sheet as one of those and try again."
        )
    folder = Path(current_app.instance_path) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    stored_name = f"{uuid.uuid4().hex}{suffix if suffix == '.xlsx' else '.csv'}"
    path = folder / stored_name
    upload.save(path)
    try:
        sniffed = sniff(path, upload.filename)
    except SourceError as exc:
        path.unlink(missing_ok=True)
        raise UploadError(str(exc)) from None
    run = ImportRun(
        workspace_id=user.workspace_id,
        created_by_id=user.id,
        original_name=Path(upload.filename).name[:255],
        stored_name=stored_name,
        file_size=path.stat().st_size,
        source_format=format_dict(sniffed.format),
        default_region=user.workspace.default_region,
    )
    db.session.add(run)
    return run


def format_dict(fmt: SourceFormat) -> dict:
    return {"kind": fmt.kind, "encoding": fmt.encoding, "delimiter": fmt.delimiter,
            "header_row": fmt.header_row, "sheet": fmt.sheet}  # fmt: skip


def start_mapped_run(
    run: ImportRun, mapping: list[ColumnMapping] | None, list_id: int | None,
    source: str | None, duplicate_policy: DuplicatePolicy,
) -> list[str]:  # fmt: skip
    """Map a stored run's columns (the suggestion where ``mapping`` is None) and queue it.

    Returns the problems that keep it from starting, changing nothing then. Caller commits.
    """
    try:
        sample = preview(source_path(run), SourceFormat(**run.source_format))
    except SourceError as exc:
        return [str(exc)]
    width = len(sample.headers)
    if mapping is None:
        mapping = suggest_mapping(sample.headers, sample.rows)
    elif len(mapping) != width:
        return [f"The file has {width} columns; give a mapping for each of them, in order."]
    if problems := validate_mapping(mapping):
        return problems
    run.mapping = mapping_to_json(mapping)
    run.list_id = list_id
    run.total_estimate = sample.total_estimate
    run.source = (source or "").strip()[:120] or run.original_name[:120]
    run.duplicate_policy = duplicate_policy.value
    queue_import(run)
    return []


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
    chunks = _chunks(islice(records, cursor, MAX_ROWS), CHUNK_ROWS)
    try:
        with rare_collections(), NormalizedChunks(settings, chunks) as normalized:
            uncommitted, began = 0, time.monotonic()
            for consumed, result in normalized:
                if _cancel_requested(run_id):
                    raise ImportCancelled
                write_chunk(settings, cursor, result)
                cursor += consumed
                uncommitted += consumed
                if uncommitted >= COMMIT_ROWS or time.monotonic() - began >= COMMIT_SECONDS:
                    db.session.commit()
                    # SQLAlchemy's statements are reference cycles, each holding its
                    # parameters (the chunk's ids as JSON); at the import's rare pace
                    # of collection they piled up with the rows (80 bytes a row). The
                    # app's own objects are frozen, so this walks only the last chunks.
                    gc.collect()
                    uncommitted, began = 0, time.monotonic()
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
        too_many = f"The file has more than {MAX_ROWS:,} rows; the rest was not imported."
        record_errors(RunSettings.from_run(run), [RowError(MAX_ROWS + 1, "", too_many)])
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


def apply_chunk(run: ImportRun, records: list[SourceRow | RowProblem]) -> ChunkResult:
    """Normalize and write one chunk of a run from its current cursor."""
    settings = RunSettings.from_run(run)
    result = normalize_chunk(settings, records)
    write_chunk(settings, run.processed, result)
    db.session.commit()
    return result
