"""The types shared by the readers of uploaded lead lists, and helpers on their records.

They live apart from :mod:`leads.sources`, which re-exports the public ones, so
that sniffing, the CSV reader and the workbook reader can all use them without
importing each other in a circle.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

MAX_CELL_CHARS = 32_767
"""The longest cell accepted: Excel's own limit, so anything longer was never a real cell."""

SAMPLE_RECORDS = 50
"""Records looked at to guess a file's delimiter, header and width."""

RESAVE = "Open it in Excel and save it as .xlsx or as CSV, then upload that file."
"""The way out offered with every refusal of a file Excel can open but Leadline cannot."""


class SourceError(ValueError):
    """The file as a whole cannot be read; the message is meant for the marketer."""


@dataclass(frozen=True)
class SourceFormat:
    """How to read a file: what :func:`sniff` found, possibly overridden by the user.

    ``header_row`` is the 0-based index of the header among the file's
    non-blank records (rows of a sheet); records above it are skipped.
    ``None`` means the file has no header.
    """

    kind: Literal["csv", "xlsx"]
    encoding: str | None = None
    delimiter: str | None = None
    header_row: int | None = 0
    sheet: str | None = None


@dataclass(frozen=True)
class Sniffed:
    """The detected format and human-readable notes on how it was found."""

    format: SourceFormat
    notes: list[str]


@dataclass(frozen=True)
class Preview:
    """The header and first rows exactly as :func:`read_rows` yields them."""

    headers: list[str]
    rows: list[list[str]]
    total_estimate: int | None
    warnings: list[str]


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One record: its first physical line (or sheet row) and one cell per column."""

    line: int
    cells: list[str]

    # Import chunks cross to the normalizing processes by pickle; the dataclass
    # default (__getstate__ over fields()) cost the runner 16 µs a record.
    def __reduce__(self) -> tuple[type, tuple[int, list[str]]]:
        return SourceRow, (self.line, self.cells)


@dataclass(frozen=True, slots=True)
class RowProblem:
    """A record that cannot be read: where, its text, and why."""

    line: int
    raw: str
    reason: str

    def __reduce__(self) -> tuple[type, tuple[int, str, str]]:
        return RowProblem, (self.line, self.raw, self.reason)


@dataclass(slots=True)
class ReadStats:
    """Repairs made while reading; pass one to :func:`read_rows` to learn about them."""

    nul_lines: int = 0
    undecodable_lines: int = 0

    def describe(self) -> list[str]:
        """The repairs as sentences for the marketer; empty when there were none."""
        notes = []
        if self.nul_lines:
            notes.append(
                f"NUL characters were removed from {count_text(self.nul_lines, 'line')}; "
                "the file may be damaged."
            )
        if self.undecodable_lines:
            notes.append(
                f"{count_text(self.undecodable_lines, 'line')} contain characters that could not "
                "be decoded (shown as \ufffd); try another encoding."
            )
        return notes


def count_text(number: int, noun: str) -> str:
    return f"{number:,} {noun}" if number == 1 else f"{number:,} {noun}s"


# --------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------


def non_blank(items: Iterator[SourceRow | RowProblem]) -> Iterator[SourceRow | RowProblem]:
    """The records that count: problems, and rows with at least one non-empty cell."""
    for item in items:
        if isinstance(item, RowProblem) or any(item.cells):
            yield item


def used_width(cells: list[str]) -> int:
    """The number of cells up to the last one that is not blank."""
    width = len(cells)
    while width and not cells[width - 1].strip():
        width -= 1
    return width
