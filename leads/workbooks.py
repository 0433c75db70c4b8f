"""Reading XLSX workbooks: opening them safely and turning sheet rows into text.

Numbers come out as plain digits (``15551234567``, never ``1.55512E+10`` or
``...567.0``) and dates as ISO ``YYYY-MM-DD``; see :mod:`leads.sources` for the
rules shared with CSV files.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import openpyxl

from leads.source_types import RESAVE, SourceError, SourceRow

if TYPE_CHECKING:
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet


@contextmanager
def open_workbook(path: Path) -> Iterator[openpyxl.Workbook]:
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
                f"This workbook could not be opened; it may be damaged. {RESAVE}"
            ) from exc
        try:
            yield book
        finally:
            book.close()  # read-only mode keeps the archive open until told


def worksheet(book: openpyxl.Workbook, name: str | None) -> ReadOnlyWorksheet:
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


def sheet_records(sheet: ReadOnlyWorksheet) -> Generator[SourceRow, None, None]:
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
                f"damaged. {RESAVE}"
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
