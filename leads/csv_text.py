"""Reading CSV text: records numbered by physical line, with broken ones refused by name.

A broken quote, an over-long cell or line and extra values each come back as a
:class:`~leads.source_types.RowProblem` while reading goes on; see
:mod:`leads.sources` for the rules and why they are what they are.
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TextIO

from leads.source_types import (
    MAX_CELL_CHARS,
    ReadStats,
    RowProblem,
    SourceError,
    SourceFormat,
    SourceRow,
    used_width,
)

_FIELD_LIMIT = 1 << 20  # csv's limit: read big cells to refuse them by name
_LINE_LIMIT = 1 << 21  # a longer physical line is skipped rather than held in memory
_RAW_LIMIT = 4_096  # characters of a refused record kept for the marketer to see

# The csv module's limit is process-wide; raising it only lets more through.
if csv.field_size_limit() < _FIELD_LIMIT:
    csv.field_size_limit(_FIELD_LIMIT)

# NUL is removed from every line before parsing, so it can never split a
# one-column file.
NO_DELIMITER = "\0"
# Hand-written files put a space after the delimiter: `a, "b, c"` is two cells.
DIALECT = {"skipinitialspace": True}


def _fallback_to_cp1252(error: UnicodeError) -> tuple[str, int]:
    """Decode bytes that are not UTF-8 as Windows-1252, the usual other half of a mix."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start : error.end]
    return bytes(bad).decode("cp1252", errors="replace"), error.end


_CP1252_FALLBACK = "leads.csv_text.cp1252-fallback"
codecs.register_error(_CP1252_FALLBACK, _fallback_to_cp1252)


# Python's "utf-16" and "utf-32" decoders refuse text without a byte-order
# mark; such files are read little-endian, the way Windows writes them.
_BOM_REQUIRED = {
    "utf-16": ("utf-16-le", (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)),
    "utf-32": ("utf-32-le", (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)),
}


def open_text(path: Path, encoding: str | None) -> TextIO:
    """Open a CSV file as text whose lines end in CR, LF or CRLF, left as they are."""
    codec = encoding or "utf-8"
    try:
        name = codecs.lookup(codec).name
    except LookupError:
        raise SourceError(f"Unknown encoding: {codec}.") from None
    if name in _BOM_REQUIRED:
        without_bom, boms = _BOM_REQUIRED[name]
        with path.open("rb") as handle:
            if not handle.read(4).startswith(boms):
                codec = without_bom
    errors = _CP1252_FALLBACK if name in ("utf-8", "utf-8-sig") else "replace"
    try:
        return path.open(encoding=codec, errors=errors, newline="")
    except LookupError:  # a codec that is not a text encoding, such as base64
        raise SourceError(f"Unknown encoding: {codec}.") from None


class _LineTooLong(Exception):
    def __init__(self, head: str) -> None:
        super().__init__("line too long")
        self.head = head


def _lines(
    stream: TextIO, replay: list[str], pending: list[str], stats: ReadStats
) -> Iterator[str]:
    """Feed csv.reader: ``replay`` first, then the stream's physical lines.

    Every line handed out is also appended to ``pending``, which the caller
    clears after each record, so it holds the raw lines of the record being
    parsed. NUL characters are removed here, before they can confuse parsing.
    """
    append, limit = pending.append, _LINE_LIMIT
    for line in replay:
        append(line)
        yield line
    for line in iter(functools.partial(stream.readline, limit), ""):
        if len(line) == limit and line[-1] not in "\r\n":
            raise _LineTooLong(_skip_rest_of_line(stream, line))
        if "\0" in line:
            line = line.replace("\0", "")
            stats.nul_lines += 1
        if "\ufffd" in line:
            stats.undecodable_lines += 1
        append(line)
        yield line


def _skip_rest_of_line(stream: TextIO, head: str) -> str:
    """Read past the end of an over-long line without keeping it; return its start."""
    piece = head
    while piece and piece[-1] not in "\r\n":
        piece = stream.readline(_LINE_LIMIT)
    return head[:_RAW_LIMIT]


def csv_records(
    path: Path, fmt: SourceFormat, stats: ReadStats, shape: Shape | None = None
) -> Generator[SourceRow | RowProblem, None, None]:
    """The records of a CSV file, numbered by the physical line each starts on.

    Without ``shape`` every record comes out, blank ones included; with it,
    the rows of :func:`read_rows` (see :class:`Shape`). Records that cannot be
    read come back as :class:`RowProblem`; reading then resumes on the line
    after the one where the broken record started.
    """
    separator = fmt.delimiter or NO_DELIMITER
    _check_delimiter(separator)
    take = _as_is if shape is None else shape.take
    new_row, set_line, set_cells, max_cell = _new_row, _set_line, _set_cells, MAX_CELL_CHARS
    base = 0  # physical lines before the current reader's first line
    replay: list[str] = []
    # The generator opens the file itself (rather than taking a stream from a
    # caller's `with`) so that a row costs one generator step, not two.
    with open_text(path, fmt.encoding) as stream:
        while True:
            # Records of this many cells on one line take the fast path; -1
            # matches none, so all go through `take` until the header is behind.
            width = -1 if shape is None else shape.fast_width
            pending: list[str] = []
            lines = _lines(stream, replay, pending, stats)
            reader = csv.reader(lines, delimiter=separator, **DIALECT)
            start = base + 1
            try:
                for cells in reader:
                    end = base + reader.line_num
                    if len(cells) == width and end == start and len(pending[0]) <= max_cell:
                        if any(cells):
                            # A frozen dataclass sets its fields through
                            # object.__setattr__, which costs as much as parsing
                            # the record; this loop sets the slots directly.
                            row = new_row(SourceRow)
                            set_line(row, start)
                            set_cells(row, cells)
                            yield row
                    elif end != start and _quote_is_broken(pending, separator):
                        if (item := take(_broken_quote(start, pending))) is not None:
                            yield item
                        replay, base = pending[1:], start
                        break
                    else:
                        if (item := take(_size_checked(start, cells, pending))) is not None:
                            yield item
                        if shape is not None:
                            width = shape.fast_width
                    pending.clear()
                    start = end + 1
                else:
                    return
            except csv.Error:
                # A non-strict reader only fails on a cell over the field limit.
                if len(pending) > 1:
                    problem = _broken_quote(start, pending)
                else:
                    problem = _too_large(start, f"more than {_FIELD_LIMIT:,} characters", pending)
                if (item := take(problem)) is not None:
                    yield item
                replay, base = pending[1:], start
            except UnicodeError as exc:
                # Decoding errors are replaced; this is a codec that fails
                # outright on bad input (idna, say).
                raise SourceError(f"The file cannot be read as {fmt.encoding}.") from exc
            except _LineTooLong as long:
                number = base + reader.line_num + 1
                if pending and (item := take(_broken_quote(start, pending))) is not None:
                    yield item
                reason = f"Line {number} is longer than {_LINE_LIMIT:,} characters; it was skipped."
                if (item := take(RowProblem(number, long.head, reason))) is not None:
                    yield item
                if pending:
                    # An empty line stands in for the skipped one to keep the numbering.
                    replay, base = [*pending[1:], "\n"], start
                else:
                    replay, base = [], number


_new_row = object.__new__
_set_line = vars(SourceRow)["line"].__set__
_set_cells = vars(SourceRow)["cells"].__set__


def _as_is(item: SourceRow | RowProblem) -> SourceRow | RowProblem:
    return item


def _check_delimiter(delimiter: str) -> None:
    if len(delimiter) != 1 or delimiter in '"\r\n':
        raise SourceError(f"{delimiter!r} cannot be used as a delimiter.")


def _quote_is_broken(lines: list[str], delimiter: str) -> bool:
    """Whether a record spanning several lines does so because a quote is never closed.

    A properly quoted multi-line cell parses the same in strict mode. A
    runaway quote either reaches the end of the file or is "closed" by the
    opening quote of a later cell, which strict mode rejects because a
    delimiter does not follow it.
    """
    try:
        return sum(1 for _ in csv.reader(lines, delimiter=delimiter, strict=True, **DIALECT)) != 1
    except csv.Error:
        return True


def _raw(lines: list[str]) -> str:
    text = "".join(lines).rstrip("\r\n")
    return text if len(text) <= _RAW_LIMIT else text[:_RAW_LIMIT] + "…"


def _broken_quote(start: int, pending: list[str]) -> RowProblem:
    reason = (
        f'The quote (") that opens a cell on line {start} is never closed; the line was '
        f"skipped and reading went on with line {start + 1}."
    )
    return RowProblem(start, _raw(pending[:1]), reason)


def _size_checked(start: int, cells: list[str], pending: list[str]) -> SourceRow | RowProblem:
    longest = max(map(len, cells), default=0)
    if longest > MAX_CELL_CHARS:
        return _too_large(start, f"{longest:,} characters", pending)
    return SourceRow(start, cells)


def _too_large(start: int, size: str, pending: list[str]) -> RowProblem:
    reason = (
        f"A cell on line {start} holds {size}; a cell can hold at most "
        f"{MAX_CELL_CHARS:,} characters."
    )
    return RowProblem(start, _raw(pending), reason)


# --------------------------------------------------------------------------
# Fitting records to the header
# --------------------------------------------------------------------------


class Shape:
    """Turns records into the rows of :func:`read_rows`.

    The first ``skip`` records that count (the header and the lines above
    it) are dropped, blank records are dropped, and the rest get exactly
    ``width`` cells: short ones are padded, blank extra cells are dropped, and
    a record with more values than columns becomes a :class:`RowProblem`.

    It lives with the CSV reader because the reader's fast path is built on
    ``fast_width``; workbook rows simply go through :meth:`take` one by one.
    """

    __slots__ = ("delimiter", "skip", "width", "_padding")

    def __init__(self, width: int, skip: int, delimiter: str | None) -> None:
        self.width = width
        self.skip = skip
        self.delimiter = delimiter
        self._padding = [""] * width

    @property
    def fast_width(self) -> int:
        """Records with this many cells need no fitting; -1 while records are skipped."""
        return -1 if self.skip else self.width

    def take(self, item: SourceRow | RowProblem) -> SourceRow | RowProblem | None:
        """The record as a row, a problem, or None when it is dropped."""
        if self.skip:
            if isinstance(item, RowProblem) or any(item.cells):
                self.skip -= 1
            return None
        if isinstance(item, RowProblem):
            return item
        cells = item.cells
        count = len(cells)
        if count > self.width:
            if any(cell.strip() for cell in cells[self.width :]):
                return _too_many_cells(item, self.width, self.delimiter)
            del cells[self.width :]
        elif count < self.width:
            cells += self._padding[count:]
        return item if any(cells) else None


def _too_many_cells(row: SourceRow, width: int, delimiter: str | None) -> RowProblem:
    reason = (
        f"Line {row.line} has {used_width(row.cells)} cells but the file has {width} "
        "columns; its values would land in the wrong columns."
    )
    # The cells written back with the file's delimiter (a tab for a sheet):
    # for a one-line record that is the line itself, give or take quotes.
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter or "\t", lineterminator="\n").writerow(row.cells)
    return RowProblem(row.line, _raw([buffer.getvalue()]), reason)
