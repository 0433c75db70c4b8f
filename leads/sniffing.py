"""Sniffing an uploaded lead list: CSV or XLSX, encoding, delimiter and header.

Files that are not spreadsheets (images, PDFs, old ``.xls`` workbooks, Word
documents, web pages) are refused here with a message for the marketer. How
each guess is made, and why, is told in :mod:`leads.sources`.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
import zipfile
from collections import Counter
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

import charset_normalizer

from leads.csv_text import DIALECT, csv_records
from leads.source_types import (
    RESAVE,
    SAMPLE_RECORDS,
    ReadStats,
    RowProblem,
    Sniffed,
    SourceError,
    SourceFormat,
    SourceRow,
    count_text,
    non_blank,
    used_width,
)
from leads.workbooks import open_workbook, sheet_records

_SNIFF_BYTES = 1 << 20  # enough for a strict UTF-8 verdict on real files
_SAMPLE_LINES = 100

_DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {",": ", (comma)", ";": "; (semicolon)", "\t": "tab", "|": "| (pipe)"}

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
            f"Leadline cannot read. {RESAVE}"
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
        raise SourceError(f"This file is a web page or XML document, not a table. {RESAVE}")


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
        reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter, **DIALECT)
        records = [len(cells) for cells in itertools.islice(reader, SAMPLE_RECORDS) if any(cells)]
        split = [width for width in records if width > 1]
        if not split or len(split) < len(records) / 2:
            continue
        share = max(Counter(split).values()) / len(records)
        if share > best_share:
            best, best_share = delimiter, share
    return best


def _sniff_header(path: Path, fmt: SourceFormat) -> tuple[int | None, str]:
    """Guess the header of a file being sniffed; return its index and a note."""
    with closing(csv_records(path, fmt, ReadStats())) as records:
        sample = list(itertools.islice(non_blank(records), SAMPLE_RECORDS))
    return _header_verdict(sample, unit="line")


def _header_verdict(sample: list[SourceRow | RowProblem], unit: str) -> tuple[int | None, str]:
    if not sample:
        raise SourceError("The file has no rows.")
    index = _guess_header([item.cells if isinstance(item, SourceRow) else None for item in sample])
    if index is None:
        return None, "Header: none found; the columns are named Column 1, Column 2, …"
    note = f"Header: {unit} {sample[index].line}"
    if index:
        note += f" ({count_text(index, 'row')} above it skipped)"
    return index, note


def _sniff_workbook(path: Path, original_name: str) -> Sniffed:
    """Sniff a ZIP container: an XLSX workbook, or a refusal naming what it is."""
    _refuse_other_zip(path)
    with open_workbook(path) as book:
        sheets = book.worksheets
        for sheet in sheets:
            with closing(sheet_records(sheet)) as records:
                sample = list(itertools.islice(non_blank(records), SAMPLE_RECORDS))
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
        raise SourceError(f"This file is a damaged ZIP archive or workbook. {RESAVE}") from exc
    if "xl/workbook.xml" in names:
        return
    if "xl/workbook.bin" in names:
        raise SourceError(f"This is a binary Excel workbook (.xlsb). {RESAVE}")
    if "word/document.xml" in names:
        raise SourceError("This is a Word document, not a spreadsheet.")
    if "mimetype" in names:
        raise SourceError(f"This is an OpenDocument file (LibreOffice). {RESAVE}")
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
    widths = Counter(width for _, cells in rows if (width := used_width(cells)) > 1)
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
