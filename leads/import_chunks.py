"""A chunk of an import: what it needs of its run, and its CPU-bound half (normalizing).

Nothing here touches the database, so a chunk can be normalized in another
process (see `leads.import_workers`) while this one writes the previous chunk.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from leads.import_rows import Candidate, RowNormalizer, raw_text
from leads.models import ImportRun
from leads.sources import RowProblem, SourceRow


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


@dataclass(frozen=True, slots=True)
class RowError:
    """A rejected record, for the error file: plain data, so it crosses processes cheaply."""

    line: int
    raw: str
    reason: str


@dataclass
class ChunkResult:
    consumed: int = 0
    candidates: list[Candidate] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    skipped: int = 0
    suppressed: int = 0
    errors: list[RowError] = field(default_factory=list)


def normalize_chunk(settings: RunSettings, records: list[SourceRow | RowProblem]) -> ChunkResult:
    """The CPU-bound half of a chunk; touches no database, so it holds no lock."""
    result = ChunkResult(consumed=len(records))
    for record in records:
        if isinstance(record, RowProblem):
            result.errors.append(RowError(record.line, record.raw, record.reason))
            continue
        candidate, problem = settings.normalizer.normalize(record)
        if problem:
            result.errors.append(RowError(record.line, raw_text(record.cells), problem))
        else:
            result.candidates.append(candidate)
    return result
