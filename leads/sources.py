"""Reading uploaded lead lists: CSV and XLSX files as they come from marketers.

This module knows nothing of leads, databases or requests. It sniffs a stored
file (:func:`sniff`), shows what it will read (:func:`preview`) and streams the
records after the header (:func:`read_rows`) in constant memory, so a list of a
million rows costs what a list of a hundred costs, only longer.

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

import codecs
import csv
import functools
import io
import itertools
import re
import zipfile
from collections import Counter
from collections.abc import Generator, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple, TextIO

import charset_normalizer
import openpyxl

if TYPE_CHECKING:
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

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

MAX_CELL_CHARS = 32_767
"""The longest cell accepted: Excel's own limit, so anything longer was never a real cell."""

_SNIFF_BYTES = 1 << 20  # enough for a strict UTF-8 verdict on real files
_SAMPLE_LINES = 100
_SAMPLE_RECORDS = 50
_FIELD_LIMIT = 1 << 20  # csv's limit: read big cells to refuse them by name
_LINE_LIMIT = 1 << 21  # a longer physical line is skipped rather than held in memory
_RAW_LIMIT = 4_096  # characters of a refused record kept for the marketer to see
_ESTIMATE_CHARS = 1 << 18

# The csv module's limit is process-wide; raising it only lets more through.
if csv.field_size_limit() < _FIELD_LIMIT:
    csv.field_size_limit(_FIELD_LIMIT)

_DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {",": ", (comma)", ";": "; (semicolon)", "\t": "tab", "|": "| (pipe)"}
# NUL is removed from every line before parsing, so it can never split a
# one-column file.
_NO_DELIMITER = "\0"
# Hand-written files put a space after the delimiter: `a, "b, c"` is two cells.
_DIALECT = {"skipinitialspace": True}


# --------------------------------------------------------------------------
# Public types
# --------------------------------------------------------------------------


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


@dataclass(frozen=True, slots=True)
class RowProblem:
    """A record that cannot be read: where, its text, and why."""

    line: int
    raw: str
    reason: str


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
                f"NUL characters were removed from {_count(self.nul_lines, 'line')}; "
                "the file may be damaged."
            )
        if self.undecodable_lines:
            notes.append(
                f"{_count(self.undecodable_lines, 'line')} contain characters that could not "
                "be decoded (shown as \ufffd); try another encoding."
            )
        return notes


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}" if number == 1 else f"{number:,} {noun}s"


# --------------------------------------------------------------------------
# Sniffing
# --------------------------------------------------------------------------

_BOMS: tuple[tuple[bytes, str, str], ...] = (
    # UTF-32 first: its little-endian mark starts with UTF-16's.
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32 LE"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32 BE"),
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16 LE"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16 BE"),
)

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF-", "a PDF document"),
    (b"{\\rtf", "a Rich Text document"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\x7fELF", "a program"),
)
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP = (b"PK\x03\x04", b"PK\x05\x06")
_RESAVE = "Open it in Excel and save it as .xlsx or as CSV, then upload that file."

_ENCODING_NAMES = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8",
    "utf-16": "UTF-16",
    "utf-16-le": "UTF-16 LE",
    "utf-16-be": "UTF-16 BE",
    "utf-32": "UTF-32",
    "cp1252": "Windows-1252",
    "cp1250": "Windows-1250",
    "iso8859-1": "Latin-1",
    "cp932": "Shift-JIS",
    "shift_jis": "Shift-JIS",
    "euc_jp": "EUC-JP",
    "big5": "Big5",
    "cp950": "Big5",
    "gb2312": "GB2312",
    "gbk": "GBK",
    "gb18030": "GB18030",
    "cp949": "Korean (CP949)",
    "euc_kr": "Korean (EUC-KR)",
}
# Code pages charset-normalizer may prefer for a short Japanese sample.
_CJK = frozenset({"big5", "big5hkscs", "cp949", "cp950", "euc_kr", "gb18030", "gb2312", "gbk"})
_KANA = re.compile(r"[\u3041-\u309f\u30a0-\u30ff]")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f\ufffd]")
_MARKUP = re.compile(r"\s*<(?:!doctype|html|\?xml|table|body|head)\b", re.IGNORECASE)


def sniff(path: Path, original_name: str) -> Sniffed:
    """Work out how to read a stored upload: CSV or XLSX, encoding, delimiter, header.

    ``original_name`` is the name the file was uploaded with; the content
    decides the kind, the name only shows up in notes. A workbook is read
    from its first sheet that holds data. Raises
    :class:`SourceError` for an empty file, one holding only a byte-order
    mark, a binary file (an image renamed ``.csv``) and files that are not
    spreadsheets (an old ``.xls``, a Word document, a web page).
    """
    with path.open("rb") as handle:
        prefix = handle.read(_SNIFF_BYTES)
    if not prefix:
        raise SourceError("The file is empty.")
    if prefix.startswith(_ZIP):
        return _sniff_workbook(path, original_name)
    _refuse_binary(prefix)
    encoding, encoding_note = _detect_encoding(prefix, complete=len(prefix) < _SNIFF_BYTES)
    text = prefix.decode(encoding, errors="replace")
    if not text.strip():
        if any(prefix == bom for bom, _, _ in _BOMS):
            raise SourceError("The file is empty: it holds only a byte-order mark.")
        raise SourceError("The file is empty.")
    _refuse_non_table(text)
    delimiter = _guess_delimiter(_first_lines(text, _SAMPLE_LINES))
    notes = [
        encoding_note,
        f"Delimiter: {_DELIMITER_NAMES.get(delimiter or '', 'none (one column)')}",
    ]
    if Path(original_name).suffix.lower() in (".xlsx", ".xlsm", ".xls"):
        notes.append(f"{original_name} holds text, not a workbook; it is read as CSV.")
    probe = SourceFormat("csv", encoding, delimiter, None, None)
    header_row, header_note = _sniff_header(path, probe)
    notes.append(header_note)
    return Sniffed(SourceFormat("csv", encoding, delimiter, header_row, None), notes)


def _refuse_binary(prefix: bytes) -> None:
    """Raise when the bytes are a known non-text format."""
    if prefix.startswith(_OLE2):
        raise SourceError(
            "This is an Excel 97-2003 workbook (.xls) or a password-protected file, which "
            f"Leadline cannot read. {_RESAVE}"
        )
    for magic, kind in _MAGIC:
        if prefix.startswith(magic):
            raise SourceError(f"This file is {kind}, not a spreadsheet.")


def _detect_encoding(prefix: bytes, complete: bool) -> tuple[str, str]:
    """Return the codec for ``prefix`` and a note saying how it was chosen."""
    for bom, codec, name in _BOMS:
        if prefix.startswith(bom):
            return codec, f"Encoding: {name} (byte-order mark)"
    utf16 = _utf16_without_bom(prefix)
    if utf16 is not None:
        return utf16, f"Encoding: {_ENCODING_NAMES[utf16]} (no byte-order mark)"
    if _strict_text(prefix, "utf-8", complete) is not None:
        return "utf-8", "Encoding: UTF-8"
    codec = _guess_legacy(prefix, complete)
    return codec, f"Encoding: {_encoding_name(codec)} (guessed)"


def _utf16_without_bom(prefix: bytes) -> str | None:
    """Recognize UTF-16 by its zero bytes: mostly-ASCII text has one in every pair."""
    sample = prefix[:4096]
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    pairs = len(sample) // 2
    if pairs < 8:
        return None
    if odd >= 0.4 * pairs and even <= 0.05 * pairs:
        return "utf-16-le"
    if even >= 0.4 * pairs and odd <= 0.05 * pairs:
        return "utf-16-be"
    return None


def _strict_text(prefix: bytes, codec: str, complete: bool) -> str | None:
    """``prefix`` decoded, or None when it is not valid ``codec``.

    Unless ``complete``, a character cut at the end of the prefix is left
    pending by the incremental decoder instead of counting as an error.
    """
    decoder = codecs.getincrementaldecoder(codec)("strict")
    try:
        return decoder.decode(prefix, final=complete)
    except UnicodeDecodeError:
        return None


def _guess_legacy(prefix: bytes, complete: bool) -> str:
    """charset-normalizer's guess for a non-UTF-8 sample, with two corrections."""
    matches = charset_normalizer.from_bytes(prefix)
    best = matches.best()
    if best is None:
        return "cp1252"
    # Western code pages often tie on short samples; Windows-1252 is the one
    # Excel writes, and picking Windows-1250 would turn "ñ" into "ń".
    for match in matches:
        tied = (match.chaos, match.coherence) == (best.chaos, best.coherence)
        if tied and "cp1252" in match.could_be_from_charset:
            return "cp1252"
    # On a few hundred bytes a Shift-JIS file reads as "valid" Korean, but
    # Japanese text is written with kana, which Korean bytes never produce.
    if best.encoding in _CJK:
        japanese = _strict_text(prefix, "cp932", complete)
        if japanese is not None and _KANA.search(japanese):
            return "cp932"
    return best.encoding


def _encoding_name(codec: str) -> str:
    try:
        key = codecs.lookup(codec).name
    except LookupError:
        return codec
    return _ENCODING_NAMES.get(key, key.upper())


def _refuse_non_table(text: str) -> None:
    """Raise for decoded text that is binary noise or markup rather than rows."""
    sample = text[:65536]
    controls = len(_CONTROL.findall(sample))
    # A stray NUL or two is damage to repair; binary data has them everywhere.
    if controls >= 8 and controls >= 0.05 * len(sample):
        raise SourceError("This file does not hold text; upload a CSV or XLSX file.")
    if _MARKUP.match(text):
        raise SourceError(f"This file is a web page or XML document, not a table. {_RESAVE}")


def _first_lines(text: str, count: int) -> str:
    """The first physical lines of ``text``, split the way the reader splits them."""
    return "".join(itertools.islice(io.StringIO(text, newline=""), count))


def _guess_delimiter(sample: str) -> str | None:
    """The delimiter that splits the sample's records most consistently, or None.

    A delimiter must split at least half of the records; among those, the one
    giving the most records the same number of cells wins.
    """
    best: str | None = None
    best_share = 0.0
    for delimiter in _DELIMITERS:
        reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter, **_DIALECT)
        records = [len(cells) for cells in itertools.islice(reader, _SAMPLE_RECORDS) if any(cells)]
        split = [width for width in records if width > 1]
        if not split or len(split) < len(records) / 2:
            continue
        share = max(Counter(split).values()) / len(records)
        if share > best_share:
            best, best_share = delimiter, share
    return best


def _sniff_header(path: Path, fmt: SourceFormat) -> tuple[int | None, str]:
    """Guess the header of a file being sniffed; return its index and a note."""
    with _open_records(path, fmt, ReadStats()) as opened:
        sample = list(itertools.islice(_non_blank(opened.items), _SAMPLE_RECORDS))
    return _header_verdict(sample, unit="line")


def _header_verdict(sample: list[SourceRow | RowProblem], unit: str) -> tuple[int | None, str]:
    if not sample:
        raise SourceError("The file has no rows.")
    index = _guess_header([item.cells if isinstance(item, SourceRow) else None for item in sample])
    if index is None:
        return None, "Header: none found; the columns are named Column 1, Column 2, …"
    note = f"Header: {unit} {sample[index].line}"
    if index:
        note += f" ({_count(index, 'row')} above it skipped)"
    return index, note


def _sniff_workbook(path: Path, original_name: str) -> Sniffed:
    """Sniff a ZIP container: an XLSX workbook, or a refusal naming what it is."""
    _refuse_other_zip(path)
    with _workbook(path) as book:
        sheets = book.worksheets
        for sheet in sheets:
            with closing(_sheet_records(sheet)) as records:
                sample = list(itertools.islice(_non_blank(records), _SAMPLE_RECORDS))
            if sample:
                break
        else:
            raise SourceError("The workbook is empty: none of its sheets has data.")
        names = [each.title for each in sheets]
    header_row, header_note = _header_verdict(sample, unit="row")
    note = f"Sheet: {sheet.title}"
    if len(names) > 1:
        note += f" ({len(names)} sheets: {', '.join(names)})"
    notes = [note, header_note]
    if Path(original_name).suffix.lower() not in (".xlsx", ".xlsm", ".xltx", ".xltm"):
        notes.append(f"{original_name} is an Excel workbook; it is read as XLSX.")
    return Sniffed(SourceFormat("xlsx", None, None, header_row, sheet.title), notes)


def _refuse_other_zip(path: Path) -> None:
    """Raise unless the ZIP file is an Excel workbook, naming what it is instead."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise SourceError(f"This file is a damaged ZIP archive or workbook. {_RESAVE}") from exc
    if "xl/workbook.xml" in names:
        return
    if "xl/workbook.bin" in names:
        raise SourceError(f"This is a binary Excel workbook (.xlsb). {_RESAVE}")
    if "word/document.xml" in names:
        raise SourceError("This is a Word document, not a spreadsheet.")
    if "mimetype" in names:
        raise SourceError(f"This is an OpenDocument file (LibreOffice). {_RESAVE}")
    raise SourceError("This is a ZIP archive; unzip it and upload the CSV or XLSX file inside.")


# --------------------------------------------------------------------------
# Header guessing
# --------------------------------------------------------------------------

_URL_PREFIXES = ("http://", "https://", "www.")


def _guess_header(sample: Sequence[list[str] | None]) -> int | None:
    """Index of the header among sampled records (None marks a refused record).

    The header is the first record filled across at least half of the table's
    usual width, provided it looks like names rather than values.
    """
    rows = [(index, cells) for index, cells in enumerate(sample) if cells is not None]
    # Widths without trailing blank cells: Excel pads rows with empty ones.
    widths = Counter(width for _, cells in rows if (width := _used_width(cells)) > 1)
    # The most common width, the wider one on a tie.
    width = max(widths.items(), key=lambda item: (item[1], item[0]))[0] if widths else 1
    needed = max(1, (width + 1) // 2)
    for position, (index, cells) in enumerate(rows):
        if _filled(cells) >= needed:
            below = [cells for _, cells in rows[position + 1 : position + 21]]
            return index if _looks_like_header(cells, below, after_title=position > 0) else None
    return None


def _filled(cells: Sequence[str]) -> int:
    return sum(1 for cell in cells if cell.strip())


def _looks_like_header(cells: list[str], below: list[list[str]], after_title: bool) -> bool:
    names = [cell.strip() for cell in cells if cell.strip()]
    if any(_is_contact(name) for name in names) or _repeats_below(cells, below):
        return False
    if not any(_is_number(name) for name in names):
        return True
    # Numbers name columns only in reports, whose tables sit under a title.
    return after_title and len(set(names)) == len(names)


def _is_contact(text: str) -> bool:
    """An email address, a URL or a phone number: a value, never a column name."""
    if "@" in text and "." in text.rpartition("@")[2] and " " not in text:
        return True
    if text.lower().startswith(_URL_PREFIXES):
        return True
    return sum(char.isdigit() for char in text) >= 7


def _is_number(text: str) -> bool:
    if any(char.isdigit() for char in text) and not any(char.isalpha() for char in text):
        return True
    if text.isalpha():  # float() accepts "nan" and "infinity"
        return False
    try:
        float(text)
    except ValueError:
        return False
    return True


def _repeats_below(cells: list[str], below: list[list[str]]) -> bool:
    """Whether a cell's value shows up again in its own column: data, not a name."""
    for column, cell in enumerate(cells):
        value = cell.strip().casefold()
        if value and any(
            column < len(row) and row[column].strip().casefold() == value for row in below
        ):
            return True
    return False


# --------------------------------------------------------------------------
# Reading CSV text
# --------------------------------------------------------------------------


def _fallback_to_cp1252(error: UnicodeError) -> tuple[str, int]:
    """Decode bytes that are not UTF-8 as Windows-1252, the usual other half of a mix."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start : error.end]
    return bytes(bad).decode("cp1252", errors="replace"), error.end


_CP1252_FALLBACK = "leads.sources.cp1252-fallback"
codecs.register_error(_CP1252_FALLBACK, _fallback_to_cp1252)


# Python's "utf-16" and "utf-32" decoders refuse text without a byte-order
# mark; such files are read little-endian, the way Windows writes them.
_BOM_REQUIRED = {
    "utf-16": ("utf-16-le", (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)),
    "utf-32": ("utf-32-le", (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)),
}


def _open_text(path: Path, encoding: str | None) -> TextIO:
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


def _csv_records(
    path: Path, fmt: SourceFormat, stats: ReadStats, shape: _Shape | None = None
) -> Generator[SourceRow | RowProblem, None, None]:
    """The records of a CSV file, numbered by the physical line each starts on.

    Without ``shape`` every record comes out, blank ones included; with it,
    the rows of :func:`read_rows` (see :class:`_Shape`). Records that cannot be
    read come back as :class:`RowProblem`; reading then resumes on the line
    after the one where the broken record started.
    """
    separator = fmt.delimiter or _NO_DELIMITER
    _check_delimiter(separator)
    take = _as_is if shape is None else shape.take
    new_row, set_line, set_cells, max_cell = _new_row, _set_line, _set_cells, MAX_CELL_CHARS
    base = 0  # physical lines before the current reader's first line
    replay: list[str] = []
    # The generator opens the file itself (rather than taking a stream from a
    # caller's `with`) so that a row costs one generator step, not two.
    with _open_text(path, fmt.encoding) as stream:
        while True:
            # Records of this many cells on one line take the fast path; -1
            # matches none, so all go through `take` until the header is behind.
            width = -1 if shape is None else shape.fast_width
            pending: list[str] = []
            lines = _lines(stream, replay, pending, stats)
            reader = csv.reader(lines, delimiter=separator, **_DIALECT)
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
        return sum(1 for _ in csv.reader(lines, delimiter=delimiter, strict=True, **_DIALECT)) != 1
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
# Reading XLSX workbooks
# --------------------------------------------------------------------------


@contextmanager
def _workbook(path: Path) -> Iterator[openpyxl.Workbook]:
    """Open a workbook for streaming and make sure its file is closed again."""
    # A file object rather than the path: openpyxl refuses paths by their
    # extension, and the content, not the name, says this is a workbook.
    with path.open("rb") as handle:
        try:
            book = openpyxl.load_workbook(handle, read_only=True, data_only=True)
        except Exception as exc:
            # openpyxl reports damaged files through many exception types
            # (zip, XML, KeyError for missing parts); to a marketer they are one.
            raise SourceError(
                f"This workbook could not be opened; it may be damaged. {_RESAVE}"
            ) from exc
        try:
            yield book
        finally:
            book.close()  # read-only mode keeps the archive open until told


def _worksheet(book: openpyxl.Workbook, name: str | None) -> ReadOnlyWorksheet:
    sheets = book.worksheets
    if not sheets:
        raise SourceError("The workbook has no worksheets.")
    if name is None:
        return sheets[0]
    for sheet in sheets:
        if sheet.title == name:
            return sheet
    titles = ", ".join(sheet.title for sheet in sheets)
    raise SourceError(f"The workbook has no sheet named {name}; its sheets are: {titles}.")


def _sheet_records(sheet: ReadOnlyWorksheet) -> Generator[SourceRow, None, None]:
    """Every row of a read-only sheet as text, numbered as Excel numbers it."""
    # The dimension a workbook declares can be wrong, and openpyxl stops at it.
    sheet.reset_dimensions()
    number = 0
    rows = sheet.iter_rows(values_only=True)
    while True:
        try:
            values = next(rows, None)
        except Exception as exc:
            # A damaged sheet fails while it is parsed, with whatever error
            # the XML parser raises.
            raise SourceError(
                f"Row {number + 1} of sheet {sheet.title} cannot be read; the workbook may be "
                f"damaged. {_RESAVE}"
            ) from exc
        if values is None:
            return
        number += 1
        yield SourceRow(number, [_cell_text(value) for value in values])


def _cell_text(value: object) -> str:
    """A cell value as the text a marketer typed, not as Python prints it."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, datetime):
        if value.time() == time():
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return str(value)


def _float_text(value: float) -> str:
    # Phone numbers typed into Excel are stored as numbers; they must come out
    # as the digits, not as "15551234567.0" or "1.5551234567e+10".
    if value.is_integer():
        return str(int(value))
    text = repr(value)
    if "e" in text:
        text = format(Decimal(text), "f")
    return text


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
        with _workbook(path) as book:
            sheet = _worksheet(book, fmt.sheet)
            max_row = sheet.max_row
            with closing(_sheet_records(sheet)) as records:
                yield _Opened(records, max_row)
    elif fmt.kind == "csv":
        with closing(_csv_records(path, fmt, stats)) as records:
            yield _Opened(records, None)
    else:
        raise SourceError(f"Unknown kind of file: {fmt.kind}.")


def _non_blank(items: Iterator[SourceRow | RowProblem]) -> Iterator[SourceRow | RowProblem]:
    """The records that count: problems, and rows with at least one non-empty cell."""
    for item in items:
        if isinstance(item, RowProblem) or any(item.cells):
            yield item


def _split_header(
    items: Iterator[SourceRow | RowProblem], fmt: SourceFormat
) -> tuple[_Header, Iterator[SourceRow | RowProblem]]:
    """Take the header off the records; return it and the records after it."""
    if fmt.header_row is None:
        sample = list(itertools.islice(_non_blank(items), _SAMPLE_RECORDS))
        widths = [_used_width(item.cells) for item in sample if isinstance(item, SourceRow)]
        width = max(widths, default=0)
        names = [f"Column {number}" for number in range(1, width + 1)]
        return _Header(names, None, []), itertools.chain(sample, items)
    if fmt.header_row < 0:
        raise SourceError("The header row must be 1 or later.")
    records = _non_blank(items)
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


def _used_width(cells: list[str]) -> int:
    width = len(cells)
    while width and not cells[width - 1].strip():
        width -= 1
    return width


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


class _Shape:
    """Turns records into the rows of :func:`read_rows`.

    The first ``skip`` records that count (the header and the lines above
    it) are dropped, blank records are dropped, and the rest get exactly
    ``width`` cells: short ones are padded, blank extra cells are dropped, and
    a record with more values than columns becomes a :class:`RowProblem`.
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


def _shaped(
    items: Iterator[SourceRow | RowProblem], shape: _Shape
) -> Generator[SourceRow | RowProblem, None, None]:
    for item in items:
        if (taken := shape.take(item)) is not None:
            yield taken


def _too_many_cells(row: SourceRow, width: int, delimiter: str | None) -> RowProblem:
    reason = (
        f"Line {row.line} has {_used_width(row.cells)} cells but the file has {width} "
        "columns; its values would land in the wrong columns."
    )
    # The cells written back with the file's delimiter (a tab for a sheet):
    # for a one-line record that is the line itself, give or take quotes.
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter or "\t", lineterminator="\n").writerow(row.cells)
    return RowProblem(row.line, _raw([buffer.getvalue()]), reason)


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
            shape = _Shape(len(header.names), 0, None)
            yield _Rows(header, _shaped(records, shape), opened.max_row)
        return
    header = _read_header(path, fmt)
    with closing(_csv_records(path, fmt, stats, _csv_shape(header, fmt))) as rows:
        yield _Rows(header, rows, None)


def _csv_shape(header: _Header, fmt: SourceFormat) -> _Shape:
    skip = 0 if fmt.header_row is None else fmt.header_row + 1
    return _Shape(len(header.names), skip, fmt.delimiter)


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
        return _csv_records(path, fmt, stats, shape)
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
    with _open_text(path, fmt.encoding) as stream:
        text = stream.read(_ESTIMATE_CHARS)
        complete = not stream.read(1)
    if not complete:
        text = text[: max(text.rfind("\n"), text.rfind("\r")) + 1]
    separator = fmt.delimiter or _NO_DELIMITER
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator, **_DIALECT)
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
