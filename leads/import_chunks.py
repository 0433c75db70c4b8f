"""A chunk of an import: what it needs of its run, and its CPU-bound half.

Normalizing, merging the chunk's own repeats and encoding the new leads' columns
for the driver touch no database, so a chunk can go through them in another
process (see `leads.import_workers`) while this one writes the previous chunk.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.extensions import db
from leads.import_inserts import LeadEncoder, lead_encoder
from leads.import_rows import Candidate, RowNormalizer, merge_into, raw_text
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
    encoder: LeadEncoder

    @classmethod
    def from_run(cls, run: ImportRun) -> RunSettings:
        return cls(run.id, run.workspace_id, run.duplicate_policy, run.suppression_policy,
                   run.original_name, run.created_by_id, RowNormalizer.for_run(run),
                   lead_encoder(db.session.get_bind().dialect))  # fmt: skip


@dataclass(frozen=True, slots=True)
class RowError:
    """A rejected record, for the error file: plain data, so it crosses processes cheaply."""

    line: int
    raw: str
    reason: str

    def __reduce__(self) -> tuple[type, tuple[int, str, str]]:
        return RowError, (self.line, self.raw, self.reason)


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
    candidates = []
    for record in records:
        if isinstance(record, RowProblem):
            result.errors.append(RowError(record.line, record.raw, record.reason))
            continue
        candidate, problem = settings.normalizer.normalize(record)
        if problem:
            result.errors.append(RowError(record.line, raw_text(record.cells), problem))
        else:
            candidates.append(candidate)
    result.candidates = _merge_within_chunk(settings, candidates, result)
    encode = settings.encoder.encode
    for candidate in result.candidates:
        candidate.params = encode(candidate.columns)
    return result


def _merge_within_chunk(
    settings: RunSettings, candidates: list[Candidate], result: ChunkResult
) -> list[Candidate]:
    """The same person twice in a chunk becomes one candidate, by the run's policy."""
    by_key: dict[tuple[str, str], Candidate] = {}
    kept: list[Candidate] = []
    for candidate in candidates:
        keys = candidate.keys
        earlier = next((by_key[k] for k in keys if k in by_key), None)
        if earlier is None:
            kept.append(candidate)
        else:
            # A repeat within the file: merged into the first (unless skipping), and
            # counted as skipped since no second lead comes of it.
            merge_into(earlier.columns, candidate.columns, settings.duplicate_policy)
            result.skipped += 1
        target = earlier or candidate
        for key in keys:
            by_key.setdefault(key, target)
    return kept
