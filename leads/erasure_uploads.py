"""An erased person's rows in stored import uploads.

A finished import never reads its upload again (undo works from the import's own
records), so an upload that mentions the person is deleted. An upload still being
mapped has not been read yet: the person's lines are taken out and the rest is kept.
An import that is running reads its file by record number, so it cannot be
rewritten under it: the erasure waits until it has finished.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from app.extensions import db
from leads.imports import source_path
from leads.models import ACTIVE_IMPORT_STATUSES, ImportChange, ImportRun, ImportStatus
from leads.sources import SourceError, SourceFormat, SourceRow, read_rows

if TYPE_CHECKING:
    from leads.erasure import Person


def busy_imports(who: Person) -> list[int]:
    """Running imports that hold the person (in their file or their undo records)."""
    runs = db.session.scalars(
        sa.select(ImportRun).where(
            ImportRun.workspace_id == who.workspace_id,
            ImportRun.status.in_(ACTIVE_IMPORT_STATUSES),
        )
    )
    busy = []
    for run in runs:
        touched = db.session.scalar(
            sa.select(ImportChange.id)
            .where(ImportChange.import_run_id == run.id, ImportChange.lead_id.in_(who.lead_ids))
            .limit(1)
        )
        if touched is not None or _mentions(run, who.needles):
            busy.append(run.id)
    return busy


def scrub_uploads(who: Person) -> dict[str, int]:
    """Delete or rewrite the workspace's stored uploads that mention the person."""
    counts = {"import_uploads_deleted": 0, "import_uploads_rewritten": 0}
    runs = db.session.scalars(
        sa.select(ImportRun).where(
            ImportRun.workspace_id == who.workspace_id,
            ImportRun.status.not_in(ACTIVE_IMPORT_STATUSES),
        )
    ).all()
    for run in runs:
        if not source_path(run).exists() or not _mentions(run, who.needles):
            continue
        if run.status == ImportStatus.UPLOADED and _format(run).kind == "csv":
            _drop_lines(run, who.needles)
            counts["import_uploads_rewritten"] += 1
            continue
        source_path(run).unlink(missing_ok=True)
        counts["import_uploads_deleted"] += 1
        if run.status == ImportStatus.UPLOADED:
            run.status = ImportStatus.CANCELLED.value
            run.last_error = "The file was removed by an erasure; upload it again to import it."
    return counts


def _format(run: ImportRun) -> SourceFormat:
    return SourceFormat(**(run.source_format or {"kind": "csv"}))


def _mentions(run: ImportRun, needles: tuple[str, ...]) -> bool:
    path = source_path(run)
    if not path.exists():
        return False
    try:
        return any(any(n in text for n in needles) for text in _texts(path, _format(run)))
    except SourceError:
        return True  # a workbook that cannot be read here may still hold the person


def _texts(path: Path, fmt: SourceFormat) -> Iterator[str]:
    """The file's lines (CSV) or rows (workbook), lower-cased."""
    if fmt.kind == "csv":
        with path.open(encoding=fmt.encoding or "utf-8-sig", errors="replace") as handle:
            for line in handle:
                yield line.lower()
        return
    for record in read_rows(path, fmt):
        yield ("\t".join(record.cells) if isinstance(record, SourceRow) else record.raw).lower()


def _drop_lines(run: ImportRun, needles: tuple[str, ...]) -> None:
    """Rewrite a not yet imported CSV upload without the lines that mention the person."""
    path, fmt = source_path(run), _format(run)
    encoding = fmt.encoding or "utf-8-sig"
    temporary = path.with_suffix(path.suffix + ".erasing")
    with (
        path.open(encoding=encoding, errors="replace", newline="") as source,
        temporary.open("w", encoding=encoding, newline="") as target,
    ):
        for line in source:
            lowered = line.lower()
            if not any(needle in lowered for needle in needles):
                target.write(line)
    os.replace(temporary, path)
    run.file_size = path.stat().st_size
