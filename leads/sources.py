"""Reading uploaded lead lists: CSV and XLSX files as they come from marketers.

This module knows nothing of leads, databases or requests. It sniffs a stored
file (:func:`sniff`), shows what it will read (:func:`preview`) and streams the
records after the header (:func:`read_rows`) in constant memory, so a list of a
million rows costs what a list of a hundred costs, only longer.

This is the module to import. The work is spread over :mod:`leads.sniffing`,
:mod:`leads.csv_text` and :mod:`leads.workbooks`, which share the types of
:mod:`leads.source_types`; the rules below hold across all of them.

How messy files are read, and why:

- Encoding. A byte-order mark wins. Without one, zero bytes at every other
  position mean UTF-16 (that pattern is evidence, not a guess; the Shift-JIS
  address book that merely *decodes* as UTF-16 has no zero bytes). Then strict
  UTF-8 over the first MiB, then charset-normalizer's guess (Windows-1252 when
  it ties with other Western code pages, Shift-JIS when the text has kana),
  then Windows-1252, which never fails on Latin-1 bytes. Reading never stops
  on a bad byte: in UTF-8 files a byte that is not UTF-8 is read as
  Windows-1252 (lists pasted together from several exports mix the two); in
  other encodings it becomes U+FFFD, and :class:`ReadStats` counts the lines
  affected so the preview can say so.
- Delimiter: the one of ``, ; TAB |`` that splits the first 50 records into
  the same number of cells most consistently (quotes respected). When none
  splits at least half of them the file is one column.
- Header: the first record that is filled across the table's width. It is
  the header unless it holds values (emails, phone numbers, URLs, numbers) or
  repeats a value found below it; numbers pass when title lines come before
  (a report with years as column names). Otherwise the file has no header and
  its columns are "Column 1", "Column 2", ...
- Records are counted without blank lines, which are skipped everywhere;
  ``SourceFormat.header_row`` indexes that sequence.
- Line numbers are physical lines (CR, LF and CRLF all end a line), so a
  quoted cell spanning three lines moves the next record three lines down.
- Bad records come back as :class:`RowProblem` and reading goes on:
  * a quote that opens a cell and is not closed (Python's csv would swallow
    the rest of the file into one cell): the line is refused and reading
    starts again on the next line;
  * a cell longer than 32,767 characters (Excel's own limit): the record is
    refused; cells up to 1 MiB are read to say so precisely;
  * a line longer than 2 MiB characters is skipped without being held;
  * more cells than columns: extra cells that are blank are dropped, any
    other extra cell refuses the record, since its values would land in the
    wrong columns. Short records are padded with "".
- NUL characters carry nothing and PostgreSQL cannot store them: they are
  removed and the row kept; :class:`ReadStats` counts the lines.
- Cells are returned as written: no trimming, no number conversion (a CSV's
  ``1.55512E+10`` stays text), markup untouched; only spaces right after a
  delimiter are skipped, so that ``a, "b, c"`` is two cells. XLSX numbers
  become plain digits (``15551234567``, never ``1.55512E+10`` or
  ``...567.0``) and dates ISO ``YYYY-MM-DD``.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Generator, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import NamedTuple

from leads.csv_text import DIALECT, NO_DELIMITER, Shape, csv_records, open_text
from leads.sniffing import sniff
from leads.source_types import (
    MAX_CELL_CHARS,
    SAMPLE_RECORDS,
    Preview,
    ReadStats,
    RowProblem,
    Sniffed,
    SourceError,
    SourceFormat,
    SourceRow,
    non_blank,
    used_width,
)
from leads.workbooks import open_workbook, sheet_records, worksheet

__all__ = [
    "MAX_CELL_CHARS",
    "Preview",
    "ReadStats",
    "RowProblem",
    "SourceError",
    "SourceFormat",
    "SourceRow",
    "Sniffed",
    "headers",
    "preview",
    "read_rows",
    "sniff",
]

_ESTIMATE_CHARS = 1 << 18


# --------------------------------------------------------------------------
# Headers and rows
# --------------------------------------------------------------------------


class _Opened(NamedTuple):
    items: Iterator[SourceRow | RowProblem]
    max_row: int | None  # a sheet's declared size, for estimates


class _Header(NamedTuple):
    names: list[str]
    line: int | None
    notes: list[str]


@contextmanager
def _open_records(path: Path, fmt: SourceFormat, stats: ReadStats) -> Iterator[_Opened]:
    """All records of the source, blank ones included, while the file is open."""
    if fmt.kind == "xlsx":
        with open_workbook(path) as book:
            sheet = worksheet(book, fmt.sheet)
            max_row = sheet.max_row
            with closing(sheet_records(sheet)) as records:
                yield _Opened(records, max_row)
    elif fmt.kind == "csv":
        with closing(csv_records(path, fmt, stats)) as records:
            yield _Opened(records, None)
    else:
        raise SourceError(f"Unknown kind of file: {fmt.kind}.")


def _split_header(
    items: Iterator[SourceRow | RowProblem], fmt: SourceFormat
) -> tuple[_Header, Iterator[SourceRow | RowProblem]]:
    """Take the header off the records; return it and the records after it."""
    if fmt.header_row is None:
        sample = list(itertools.islice(non_blank(items), SAMPLE_RECORDS))
        widths = [used_width(item.cells) for item in sample if isinstance(item, SourceRow)]
        width = max(widths, default=0)
        names = [f"Column {number}" for number in range(1, width + 1)]
        return _Header(names, None, []), itertools.chain(sample, items)
    if fmt.header_row < 0:
        raise SourceError("The header row must be 1 or later.")
    records = non_blank(items)
    item = next(itertools.islice(records, fmt.header_row, None), None)
    if item is None:
        number = fmt.header_row + 1
        raise SourceError(
            f"The file has fewer than {number} rows; there is no header row {number}."
        )
    if isinstance(item, RowProblem):
        raise SourceError(f"The header on line {item.line} cannot be read: {item.reason}")
    names, notes = _clean_names(item.cells)
    return _Header(names, item.line, notes), items


def _clean_names(cells: list[str]) -> tuple[list[str], list[str]]:
    """Column names from a header record, unique and never blank, plus notes on renames."""
    names: list[str] = []
    notes: list[str] = []
    seen: set[str] = set()
    for number, cell in enumerate(cells, start=1):
        # Whitespace (a newline in a header cell, a no-break space) collapses;
        # the BOM of a file read with a plain UTF-8 override goes.
        name = " ".join(cell.replace("\ufeff", "").split())
        if not name:
            name = f"Column {number}"
        unique, copy = name, 1
        while unique.casefold() in seen:
            copy += 1
            unique = f"{name} ({copy})"
        if unique != name:
            notes.append(f'Column {number} repeats the name "{name}"; it is called "{unique}".')
        seen.add(unique.casefold())
        names.append(unique)
    return names, notes


def _shaped(
    items: Iterator[SourceRow | RowProblem], shape: Shape
) -> Generator[SourceRow | RowProblem, None, None]:
    for item in items:
        if (taken := shape.take(item)) is not None:
            yield taken


def headers(path: Path, fmt: SourceFormat) -> list[str]:
    """The column names: from the header record (trimmed, de-duplicated, blanks named
    "Column N"), or "Column 1", "Column 2", ... for a file without a header."""
    return _read_header(path, fmt).names


def _read_header(path: Path, fmt: SourceFormat) -> _Header:
    with _open_records(path, fmt, ReadStats()) as opened:
        header, _ = _split_header(opened.items, fmt)
    return header


class _Rows(NamedTuple):
    header: _Header
    rows: Iterator[SourceRow | RowProblem]
    max_row: int | None


@contextmanager
def _open_rows(path: Path, fmt: SourceFormat, stats: ReadStats) -> Iterator[_Rows]:
    """The header and the rows after it, while the file is open."""
    if fmt.kind == "xlsx":
        # Opening a workbook costs a parse of its shared strings: do it once.
        with _open_records(path, fmt, stats) as opened:
            header, records = _split_header(opened.items, fmt)
            shape = Shape(len(header.names), 0, None)
            yield _Rows(header, _shaped(records, shape), opened.max_row)
        return
    header = _read_header(path, fmt)
    with closing(csv_records(path, fmt, stats, _csv_shape(header, fmt))) as rows:
        yield _Rows(header, rows, None)


def _csv_shape(header: _Header, fmt: SourceFormat) -> Shape:
    skip = 0 if fmt.header_row is None else fmt.header_row + 1
    return Shape(len(header.names), skip, fmt.delimiter)


def read_rows(
    path: Path, fmt: SourceFormat, stats: ReadStats | None = None
) -> Iterator[SourceRow | RowProblem]:
    """Stream the records after the header, one cell per column, in constant memory.

    Blank records are skipped; records that cannot be read come back as
    :class:`RowProblem` and reading goes on. Raises :class:`SourceError` when
    the format does not fit the file (for a CSV file at once, since its header
    is read first; for a workbook on the first ``next()``). The file is closed
    at the end or when the iterator is closed. Repairs are counted in
    ``stats`` when given.
    """
    stats = stats or ReadStats()
    if fmt.kind == "csv":
        # Reading the header first (a second, short pass over the file) lets
        # the rows come straight out of the parsing loop.
        shape = _csv_shape(_read_header(path, fmt), fmt)
        return csv_records(path, fmt, stats, shape)
    return _rows(path, fmt, stats)


def _rows(
    path: Path, fmt: SourceFormat, stats: ReadStats
) -> Generator[SourceRow | RowProblem, None, None]:
    with _open_rows(path, fmt, stats) as opened:
        yield from opened.rows


def preview(path: Path, fmt: SourceFormat, limit: int = 20) -> Preview:
    """The header and the first ``limit`` records as :func:`read_rows` yields them.

    Records that cannot be read count toward ``limit``; their reasons (which
    name their lines) are listed in ``warnings``, together with repairs made
    while reading and columns renamed in the header.
    """
    stats = ReadStats()
    rows: list[list[str]] = []
    problems: list[str] = []
    with _open_rows(path, fmt, stats) as opened:
        for item in itertools.islice(opened.rows, limit):
            if isinstance(item, RowProblem):
                problems.append(item.reason)
            else:
                rows.append(item.cells)
        header = opened.header
        if fmt.kind == "xlsx":
            estimate = _sheet_estimate(opened.max_row, header.line)
        else:
            estimate = _csv_estimate(path, fmt)
    warnings = [*header.notes, *problems, *stats.describe(), *_shortened_numbers(rows)]
    return Preview(header.names, rows, estimate, warnings)


_SHORTENED = re.compile(r"[+-]?\d(?:[.,]\d+)?E\+\d+", re.IGNORECASE)


def _shortened_numbers(rows: list[list[str]]) -> list[str]:
    """Warn about numbers Excel wrote in scientific notation: their digits are gone."""
    for row in rows:
        for cell in row:
            if _SHORTENED.fullmatch(cell.strip()):
                return [
                    f"Some numbers look like {cell.strip()}: Excel shortened them and their "
                    "last digits are lost. Format the column as text in the original sheet "
                    "and export it again."
                ]
    return []


def _sheet_estimate(max_row: int | None, header_line: int | None) -> int | None:
    if max_row is None:
        return None
    return max(0, max_row - (header_line or 0))


def _csv_estimate(path: Path, fmt: SourceFormat) -> int | None:
    """Data records in the file: counted in a small file, extrapolated in a big one."""
    with open_text(path, fmt.encoding) as stream:
        text = stream.read(_ESTIMATE_CHARS)
        complete = not stream.read(1)
    if not complete:
        text = text[: max(text.rfind("\n"), text.rfind("\r")) + 1]
    separator = fmt.delimiter or NO_DELIMITER
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator, **DIALECT)
    records = sum(1 for cells in reader if any(cells))
    skipped = 0 if fmt.header_row is None else fmt.header_row + 1
    if complete:
        return max(0, records - skipped)
    try:
        size = len(text.encode(fmt.encoding or "utf-8", errors="replace"))
    except (LookupError, UnicodeError):
        return None
    if not size:
        return None
    return max(0, round(records * path.stat().st_size / size) - skipped)
