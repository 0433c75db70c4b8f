"""Tests for leads.sources: sniffing, previewing and streaming messy CSV and XLSX files.

The shared data folder holds real-world messy files; everything else is generated
here, in tmp_path, so no binary fixture lives in the repository.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
import tracemalloc
import zipfile
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leads.sources import (
    MAX_CELL_CHARS,
    ReadStats,
    RowProblem,
    SourceError,
    SourceFormat,
    SourceRow,
    headers,
    preview,
    read_rows,
    sniff,
)

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
NO_DATA = f"shared test data not found at {DATA}"

QUICK = settings(max_examples=100, deadline=None, database=None)


def _shared(*relative: str) -> list[object]:
    """Parameters for shared files (by path relative to DATA), or one skipped case."""
    if not DATA.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=NO_DATA))]
    return [pytest.param(DATA / name, id=name) for name in relative]


def _all_shared_csv() -> list[str]:
    if not DATA.is_dir():
        return []
    files = sorted((DATA / "messy").rglob("*.csv")) + sorted((DATA / "leads").glob("*.csv"))
    return [str(path.relative_to(DATA)) for path in files]


def _read(path: Path, fmt: SourceFormat, stats: ReadStats | None = None) -> list:
    return list(read_rows(path, fmt, stats))


def _rows(items: list) -> list[list[str]]:
    return [item.cells for item in items if isinstance(item, SourceRow)]


def _problems(items: list) -> list[RowProblem]:
    return [item for item in items if isinstance(item, RowProblem)]


def _write(tmp_path: Path, data: bytes | str, name: str = "list.csv") -> Path:
    path = tmp_path / name
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8", newline="")
    else:
        path.write_bytes(data)
    return path


def _sniffed_rows(path: Path) -> tuple[SourceFormat, list]:
    fmt = sniff(path, path.name).format
    return fmt, _read(path, fmt)


# --------------------------------------------------------------------------
# Every shared file
# --------------------------------------------------------------------------


@pytest.mark.parametrize("path", _shared(*_all_shared_csv()))
def test_every_shared_file_is_sniffed_previewed_and_read_to_the_end(path):
    fmt = sniff(path, path.name).format
    names = headers(path, fmt)
    items = _read(path, fmt)

    assert names and len(set(names)) == len(names) and all(names)
    for item in items:
        if isinstance(item, SourceRow):
            assert len(item.cells) == len(names)
            assert any(item.cells)
        else:
            assert f"line {item.line}" in item.reason.lower()
    lines = [item.line for item in items]
    assert lines == sorted(set(lines)), "lines must increase"
    sample = preview(path, fmt)
    assert sample.headers == names
    assert sample.rows == _rows(items[:20])
    assert sample.total_estimate is not None


# (encoding, delimiter, header_row, first headers, first rows)
KNOWN = {
    "messy/csvkit-examples/test_latin1.csv": (
        "cp1252",
        ",",
        0,
        ["a", "b", "c"],
        [["1", "2", "3"], ["4", "5", "©"]],
    ),
    "messy/csvkit-examples/test_utf16_big.csv": (
        "utf-16",
        ",",
        0,
        ["a", "b", "c"],
        [["1", "2", "3"], ["4", "5", "ʤ"]],
    ),
    "messy/csvkit-examples/test_utf16_little.csv": (
        "utf-16",
        ",",
        0,
        ["a", "b", "c"],
        [["1", "2", "3"], ["4", "5", "ʤ"]],
    ),
    "messy/csvkit-examples/test_utf8_bom.csv": (
        "utf-8-sig",
        ",",
        0,
        ["foo", "bar", "baz"],
        [["1", "2", "3"], ["4", "5", "ʤ"]],
    ),
    "messy/csvkit-examples/mac_newlines.csv": (
        "utf-8",
        ",",
        0,
        ["a", "b", "c"],
        [["1", "2", "3"], ["Once upon\ra time", "5", "6"]],
    ),
    "messy/csvkit-examples/no_header_row.csv": (
        "utf-8",
        ",",
        None,
        ["Column 1", "Column 2", "Column 3"],
        [["1", "2", "3"]],
    ),
    "messy/csvkit-examples/sniff_limit.csv": ("utf-8", ";", 0, ["a", "b", "c"], [["1", "2", "3"]]),
    "messy/csvkit-examples/test_header_newline.csv": (
        "utf-8",
        ",",
        0,
        ["start end", "b", "c"],
        [["d", "e", "f"]],
    ),
    "messy/csvkit-examples/date_like_number.csv": ("utf-8", None, 0, ["a"], [["4.5"]]),
    "messy/messytables-horror/spanish_chars.csv": (
        "cp1252",
        ",",
        0,
        ["GF_ID", "FN_ID", "SF_ID", "GF", "F", "SF", "Gasto total 2011", "Descripción"],
        [["1", "", "", "Gobierno", "", ""]],
    ),  # fmt: skip
    "messy/messytables-horror/characters.csv": (
        "big5",
        ",",
        0,
        ["id", "景點編號", "景點中文名稱"],
        [["v_1", "C1_395000000A_000001", "雲嘉南濱海國家風景區管理處"]],
    ),  # fmt: skip
    "messy/messytables-horror/weird_head_padding.csv": (
        "utf-8",
        ";",
        6,
        ["Column 1", "1985", "1993"],
        [["   Chirurgie (ohne Orthopädie) ..."], ["      Gefäßchirurgie", ".", "379"]],
    ),
    "messy/messytables-horror/excel_pasting.csv": (
        "utf-8",
        ",",
        2,
        ["Year", "2000", "2001"],
        [["Timber", "2,666", "2,274"]],
    ),
    "messy/messytables-horror/mixedGLB.csv": (
        "utf-8",
        ",",
        2,
        ["Year", "Jan", "Feb"],
        [["1880", "-43", "-27"]],
    ),
    "messy/messytables-horror/null.csv": (
        "utf-8",
        ",",
        None,
        ["Column 1", "Column 2"],
        [["1", "null", "0", "0"]],
    ),
    "messy/messytables-horror/skip_initials.csv": (
        "utf-8",
        ",",
        0,
        ["field1", "field2"],
        [["hello", "goodbye"], ["hello2", "goodbye2"]],
    ),
    "messy/messytables-horror/utf-16le_encoded.csv": (
        "utf-16",
        ",",
        0,
        ["Organisation_code", "Organisation_name"],
        [["5C1", "Enfield PCT"]],
    ),
    "messy/thunderbird-addressbook/tab_comma_mixed.csv": (
        "utf-8",
        "\t",
        None,
        ["Column 1"],
        [
            ["1,1,1,1,1@host.invalid" + "," * 21, "", "", "", ""],
            ["2", "2", "2", "2", "2@host.invalid"],
        ],
    ),  # fmt: skip
    # Named "semicolon", but the delimiter is a comma: the semicolons replaced
    # commas inside company names and must stay there.
    "leads/customers-10000.annrch-uppercase-semicolon.csv": (
        "utf-8",
        ",",
        0,
        ["INDEX", "CUSTOMERID", "FIRSNAME", "LASTNAME", "COMPANY"],
        [
            ["1", "EB54EF1154C3A78", "Heather", "Callahan", "Mosley-David"],
            ["2", "10dAcafEBbA5FcA", "Kristina", "Ferrell", "Horn; Shepard and Watson"],
        ],
    ),  # fmt: skip
    "leads/customers-10000.excel-resave-crlf.csv": (
        "utf-8",
        ",",
        0,
        ["Index", "Customer Id", "First Name"],
        [["1", "EB54EF1154C3A78"]],
    ),
}


@pytest.mark.parametrize("path", _shared(*KNOWN))
def test_known_files_are_read_as_a_person_would_read_them(path):
    encoding, delimiter, header_row, names, first_rows = KNOWN[str(path.relative_to(DATA))]
    fmt, items = _sniffed_rows(path)
    assert (fmt.kind, fmt.encoding, fmt.delimiter, fmt.header_row) == (
        "csv",
        encoding,
        delimiter,
        header_row,
    )
    assert headers(path, fmt)[: len(names)] == names
    rows = _rows(items)
    for row, expected in zip(rows, first_rows, strict=False):
        assert row[: len(expected)] == expected


@pytest.mark.parametrize("path", _shared("messy/csvkit-examples/mac_newlines.csv"))
def test_a_cr_only_file_numbers_its_lines_across_a_quoted_line_break(path):
    items = _read(path, sniff(path, path.name).format)
    assert [item.line for item in items] == [2, 3]


@pytest.mark.parametrize("path", _shared("messy/csvkit-examples/null_byte.csv"))
def test_nul_bytes_are_removed_and_the_row_kept(path):
    stats = ReadStats()
    fmt = sniff(path, path.name).format
    assert _rows(_read(path, fmt, stats)) == [["", "2", "3"]]
    assert stats.nul_lines == 1
    assert any("NUL" in warning for warning in preview(path, fmt).warnings)


@pytest.mark.parametrize("path", _shared("messy/csvkit-examples/bad.csv"))
def test_csvkits_bad_file_refuses_only_the_row_with_an_extra_value(path):
    items = _read(path, sniff(path, path.name).format)
    (problem,) = _problems(items)
    assert (problem.line, problem.raw) == (2, "1,27,,I'm too long!")
    assert "4 cells" in problem.reason and "3 columns" in problem.reason
    assert _rows(items) == [["", "I'm too short!", ""], ["0", "mixed types.... uh oh", "17"]]


@pytest.mark.parametrize("path", _shared("messy/thunderbird-addressbook/shiftjis_addressbook.csv"))
def test_the_shift_jis_address_book_is_not_taken_for_utf16(path):
    fmt = sniff(path, path.name).format
    assert fmt.encoding == "cp932"
    garbled = dataclasses.replace(fmt, encoding="utf-16")
    # Forced to UTF-16 it reads as nonsense, but reading goes on to the end.
    assert not any("名無し" in cell for row in _rows(_read(path, garbled)) for cell in row)


THUNDERBIRD_CARDS = {
    "basic_csv_addressbook.csv": "csv_import",
    "utf16_addressbook.csv": "utf16_csv",
    "shiftjis_addressbook.csv": "shiftjis_csv",
    "quote.csv": "quote_csv",
}
THUNDERBIRD_COLUMNS = {
    "DisplayName": "Display Name",
    "PrimaryEmail": "Primary Email",
    "FirstName": "First Name",
    "LastName": "Last Name",
    "Work Phone": "Work Phone",
    "Organization": "Organization",
}


@pytest.mark.parametrize(
    "path", _shared(*(f"messy/thunderbird-addressbook/{name}" for name in THUNDERBIRD_CARDS))
)
def test_thunderbird_address_books_give_the_expected_cards(path):
    expected = json.loads((path.parent / "addressbook.json").read_text(encoding="utf-8"))
    cards = expected[THUNDERBIRD_CARDS[path.name]]
    fmt, items = _sniffed_rows(path)
    names = headers(path, fmt)
    records = [dict(zip(names, row, strict=True)) for row in _rows(items)]
    assert len(records) == len(cards)
    for record, card in zip(records, cards, strict=True):
        assert {key: record[THUNDERBIRD_COLUMNS[key]] for key in card} == card


# --------------------------------------------------------------------------
# Files that are refused
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\xef\xbb\xbf", "byte-order mark"),
        (b"\xff\xfe", "byte-order mark"),
        (b" \r\n\t\n", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, "PNG image"),
        (b"%PDF-1.7\n" + bytes(range(256)), "PDF"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512), ".xls"),
        (bytes(range(256)) * 16, "does not hold text"),
        (b"<!DOCTYPE html>\n<html><table><tr><td>Ann</td></tr></table></html>", "web page"),
    ],
    ids=["empty", "utf8-bom-only", "utf16-bom-only", "whitespace", "png", "pdf", "xls",
         "binary", "html"],
)  # fmt: skip
def test_files_that_are_not_lists_are_refused_with_a_reason(tmp_path, data, message):
    path = _write(tmp_path, data)
    with pytest.raises(SourceError, match=message):
        sniff(path, "leads.csv")


def test_a_zip_that_is_not_a_workbook_is_named(tmp_path):
    path = tmp_path / "list.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("word/document.xml", "<document/>")
    with pytest.raises(SourceError, match="Word document"):
        sniff(path, "list.xlsx")


def test_a_damaged_workbook_is_refused(tmp_path):
    source = _workbook(tmp_path, [["Name"], ["Ann"]])
    path = _write(tmp_path, source.read_bytes()[:400], "cut.xlsx")
    with pytest.raises(SourceError, match="damaged"):
        sniff(path, "cut.xlsx")


def test_a_workbook_with_a_damaged_sheet_is_refused(tmp_path):
    source = _workbook(tmp_path, [["Name"], *([f"P{n}"] for n in range(100))])
    path = tmp_path / "damaged.xlsx"
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(path, "w") as copy:
        for item in original.infolist():
            content = original.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                content = content[: len(content) // 2]
            copy.writestr(item, content)
    with pytest.raises(SourceError, match="sheet Leads cannot be read"):
        list(read_rows(path, SourceFormat("xlsx", None, None, 0, "Leads")))


# --------------------------------------------------------------------------
# Encodings
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoded", "encoding", "note"),
    [
        ("Name,City\nJosé,Málaga\n".encode(), "utf-8", "Encoding: UTF-8"),
        ("Name,City\nJosé,Málaga\n".encode("utf-8-sig"), "utf-8-sig", "UTF-8 (byte-order mark)"),
        ("Name,City\nJosé,Málaga\n".encode("utf-16"), "utf-16", "UTF-16 LE (byte-order mark)"),
        (b"\xfe\xff" + "Name,City\nJosé,Málaga\n".encode("utf-16-be"), "utf-16",
         "UTF-16 BE (byte-order mark)"),
        ("Name,City\nJosé,Málaga\n".encode("utf-32"), "utf-32", "UTF-32 LE (byte-order mark)"),
        ("Name,City\nJosé,Málaga\n".encode("utf-16-le"), "utf-16-le", "no byte-order mark"),
        ("Name,City\nJosé,Málaga\n".encode("cp1252"), "cp1252", "Windows-1252 (guessed)"),
    ],
    ids=["utf8", "utf8-bom", "utf16le-bom", "utf16be-bom", "utf32-bom", "utf16le-bare", "cp1252"],
)  # fmt: skip
def test_encodings_are_detected_and_decoded(tmp_path, encoded, encoding, note):
    path = _write(tmp_path, encoded)
    sniffed = sniff(path, "list.csv")
    assert sniffed.format.encoding == encoding
    assert any(note in each for each in sniffed.notes)
    assert headers(path, sniffed.format) == ["Name", "City"]
    assert _rows(_read(path, sniffed.format)) == [["José", "Málaga"]]


def test_utf8_is_judged_on_a_large_prefix_and_a_cut_character_is_not_an_error(tmp_path):
    # The 1 MiB prefix ends in the middle of "é"; the file is still UTF-8.
    head = b"Name\n" + (b"x" * 999 + b"\n") * 1_048 + b"x" * 570
    assert len(head) == (1 << 20) - 1
    data = head + "é\n".encode()
    path = _write(tmp_path, data)
    fmt = sniff(path, "list.csv").format
    assert fmt.encoding == "utf-8"
    assert _rows(_read(path, fmt))[-1] == ["x" * 570 + "é"]


def test_latin1_bytes_after_a_utf8_prefix_are_read_as_windows_1252(tmp_path):
    # Lists pasted together from two exports: UTF-8 first, Windows-1252 later.
    data = "Name\nJosé\n".encode() + "Renée\n".encode("cp1252")
    path = _write(tmp_path, data)
    fmt = SourceFormat("csv", "utf-8", None, 0, None)
    stats = ReadStats()
    assert _rows(_read(path, fmt, stats)) == [["José"], ["Renée"]]
    assert stats.undecodable_lines == 0


def test_an_overridden_encoding_that_does_not_fit_replaces_and_counts(tmp_path):
    path = _write(tmp_path, "Name\nJosé\nAnn\n".encode())
    fmt = dataclasses.replace(sniff(path, "list.csv").format, encoding="ascii")
    stats = ReadStats()
    assert _rows(_read(path, fmt, stats)) == [["Jos\ufffd\ufffd"], ["Ann"]]
    assert stats.undecodable_lines == 1
    assert any("could not be decoded" in warning for warning in preview(path, fmt).warnings)


def test_utf16_chosen_for_a_file_without_a_byte_order_mark_reads_little_endian(tmp_path):
    path = _write(tmp_path, "Name\nJosé\n".encode("utf-16-le"))
    fmt = SourceFormat("csv", "utf-16", None, 0, None)
    assert _rows(_read(path, fmt)) == [["José"]]


@pytest.mark.parametrize("encoding", ["klingon", "base64"])
def test_an_unknown_encoding_is_a_source_error(tmp_path, encoding):
    path = _write(tmp_path, "Name\nAnn\n")
    with pytest.raises(SourceError, match="Unknown encoding"):
        list(read_rows(path, SourceFormat("csv", encoding, None, 0, None)))


# --------------------------------------------------------------------------
# Delimiters and headers
# --------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_the_delimiter_that_splits_consistently_wins(tmp_path, delimiter):
    # Every other delimiter shows up inside the cells, unevenly.
    rows = [["Name", "Company", "Notes"], ["Ann", "Acme, Inc.", "a;b"], ["Bob", "X|Y", "c\td, e"]]
    text = "".join(delimiter.join(f'"{cell}"' for cell in row) + "\n" for row in rows)
    path = _write(tmp_path, text)
    fmt, items = _sniffed_rows(path)
    assert fmt.delimiter == delimiter
    assert _rows(items) == rows[1:]


def test_a_one_column_file_is_not_split_on_an_occasional_comma(tmp_path):
    path = _write(tmp_path, "Company\nAcme\nSmith, Jones and Co\nInitech\n")
    fmt, items = _sniffed_rows(path)
    assert fmt.delimiter is None
    assert _rows(items) == [["Acme"], ["Smith, Jones and Co"], ["Initech"]]


def test_title_lines_above_the_header_are_skipped(tmp_path):
    text = "Leads from the fair\nExported 2024-05-01\n\nName,Email,Phone\nAnn,a@x.com,555-0100\n"
    path = _write(tmp_path, text)
    sniffed = sniff(path, "list.csv")
    assert sniffed.format.header_row == 2
    assert "Header: line 4 (2 rows above it skipped)" in sniffed.notes
    assert headers(path, sniffed.format) == ["Name", "Email", "Phone"]
    assert _read(path, sniffed.format) == [SourceRow(5, ["Ann", "a@x.com", "555-0100"])]


def test_a_short_header_over_rows_padded_with_empty_cells_is_found(tmp_path):
    path = _write(tmp_path, "Name,Email\nAnn,a@x.com,,,,,,\nBob,b@x.com,,,,,,\n")
    fmt, items = _sniffed_rows(path)
    assert fmt.header_row == 0
    assert _rows(items) == [["Ann", "a@x.com"], ["Bob", "b@x.com"]]


def test_the_delimiter_can_be_overridden(tmp_path):
    path = _write(tmp_path, "Name;Note\nAnn;x\n")
    fmt = sniff(path, "list.csv").format
    assert fmt.delimiter == ";"
    tab = dataclasses.replace(fmt, delimiter="\t")
    assert headers(path, tab) == ["Name;Note"]
    assert _rows(_read(path, tab)) == [["Ann;x"]]


@pytest.mark.parametrize(
    "text",
    [
        "Ann,ann@example.com\nBob,bob@example.com\n",
        "Ann,+1 415 555 0134\nBob,+1 415 555 0199\n",
        "Ann,Acme,US\nBob,Initech,US\n",  # "US" repeats in its column: data
        "1,2,3\n4,5,6\n",
    ],
    ids=["emails", "phones", "repeated-value", "numbers"],
)
def test_a_file_without_a_header_gets_numbered_columns(tmp_path, text):
    path = _write(tmp_path, text)
    fmt, items = _sniffed_rows(path)
    assert fmt.header_row is None
    assert headers(path, fmt)[:2] == ["Column 1", "Column 2"]
    assert [item.line for item in items] == [1, 2]


def test_the_header_can_be_overridden(tmp_path):
    path = _write(tmp_path, "Name,Email\nAnn,a@x.com\n")
    fmt = sniff(path, "list.csv").format
    without = dataclasses.replace(fmt, header_row=None)
    assert headers(path, without) == ["Column 1", "Column 2"]
    assert _rows(_read(path, without)) == [["Name", "Email"], ["Ann", "a@x.com"]]
    second = dataclasses.replace(fmt, header_row=1)
    assert headers(path, second) == ["Ann", "a@x.com"]
    assert _read(path, second) == []
    with pytest.raises(SourceError, match="no header row 5"):
        headers(path, dataclasses.replace(fmt, header_row=4))


def test_header_names_are_cleaned_and_duplicates_kept_apart(tmp_path):
    path = _write(
        tmp_path, '\ufeffEmail , Name,email,,"  First\n Name ",Email\nx@y.z,A,b@c.d,1,Ann,c@d.e\n'
    )
    fmt = SourceFormat("csv", "utf-8", ",", 0, None)
    assert headers(path, fmt) == [
        "Email",
        "Name",
        "email (2)",
        "Column 4",
        "First Name",
        "Email (3)",
    ]
    sample = preview(path, fmt)
    assert sample.rows == [["x@y.z", "A", "b@c.d", "1", "Ann", "c@d.e"]]
    assert 'Column 3 repeats the name "email"; it is called "email (2)".' in sample.warnings


def test_a_header_only_file_has_no_rows_and_no_error(tmp_path):
    path = _write(tmp_path, "Name,Email,Phone\r\n")
    fmt, items = _sniffed_rows(path)
    assert headers(path, fmt) == ["Name", "Email", "Phone"]
    assert items == []
    sample = preview(path, fmt)
    assert (sample.rows, sample.total_estimate, sample.warnings) == ([], 0, [])


# --------------------------------------------------------------------------
# Records: line numbers, ragged rows, broken records
# --------------------------------------------------------------------------


def test_line_numbers_follow_mixed_line_endings_and_multi_line_cells(tmp_path):
    text = 'Name,Notes\r\nAnn,one\nBob,two\rCy,"first\r\nsecond\nthird"\rDi,four\r\n\nEd,five'
    path = _write(tmp_path, text)
    fmt, items = _sniffed_rows(path)
    assert fmt.header_row == 0
    assert items == [
        SourceRow(2, ["Ann", "one"]),
        SourceRow(3, ["Bob", "two"]),
        SourceRow(4, ["Cy", "first\r\nsecond\nthird"]),
        SourceRow(7, ["Di", "four"]),
        SourceRow(9, ["Ed", "five"]),
    ]


def test_ragged_rows_are_padded_and_blank_extra_cells_dropped(tmp_path):
    path = _write(tmp_path, "a,b,c\n1,2\n3,4,5,,\n6,7,8, \n,,\n9,10,11,12\n13\n")
    items = _read(path, sniff(path, "list.csv").format)
    assert items[:3] == [
        SourceRow(2, ["1", "2", ""]),
        SourceRow(3, ["3", "4", "5"]),
        SourceRow(4, ["6", "7", "8"]),
    ]
    problem = items[3]
    assert isinstance(problem, RowProblem)
    assert (problem.line, problem.raw) == (6, "9,10,11,12")
    assert problem.reason.startswith("Line 6 has 4 cells but the file has 3 columns")
    assert items[4] == SourceRow(7, ["13", "", ""])


@pytest.mark.parametrize(
    "after",
    ["Cy,c@x.com\nDi,d@x.com\n", 'Cy,c@x.com\nDi,"d@x.com"\nEd,e@x.com\n'],
    ids=["to-the-end", "closed-by-a-later-quote"],
)
def test_an_unterminated_quote_costs_one_line_not_the_rest_of_the_file(tmp_path, after):
    path = _write(tmp_path, 'Name,Email\nAnn,a@x.com\nBob,"b@x.com\n' + after)
    items = _read(path, sniff(path, "list.csv").format)
    assert items[0] == SourceRow(2, ["Ann", "a@x.com"])
    problem = items[1]
    assert isinstance(problem, RowProblem)
    assert (problem.line, problem.raw) == (3, 'Bob,"b@x.com')
    assert "line 3" in problem.reason and "never closed" in problem.reason
    assert items[2] == SourceRow(4, ["Cy", "c@x.com"])
    assert items[3] == SourceRow(5, ["Di", "d@x.com"])
    assert len(_rows(items)) == 1 + after.count("\n")


def test_after_a_broken_quote_a_proper_multi_line_cell_keeps_its_line_numbers(tmp_path):
    path = _write(tmp_path, 'Name,Notes\nAnn,"open\nBob,"multi\nline"\nCy,x\n')
    items = _read(path, SourceFormat("csv", "utf-8", ",", 0, None))
    assert [(type(item).__name__, item.line) for item in items] == [
        ("RowProblem", 2),
        ("SourceRow", 3),
        ("SourceRow", 5),
    ]
    assert items[1].cells == ["Bob", "multi\nline"]


def test_a_quote_inside_a_cell_and_a_space_after_the_delimiter_are_read_leniently(tmp_path):
    path = _write(tmp_path, 'Name,Size,Company\nAnn,27" screen, "Acme, Inc."\n')
    assert _rows(_read(path, sniff(path, "list.csv").format)) == [
        ["Ann", '27" screen', "Acme, Inc."]
    ]


def test_a_200_kb_cell_is_refused_by_line_and_reading_goes_on(tmp_path):
    big = "x" * 200_000
    text = f'Name,Notes\nAnn,{big}\nBob,"{big[:100_000]}\n{big[:100_000]}"\nCy,ok\n'
    path = _write(tmp_path, text)
    items = _read(path, sniff(path, "list.csv").format)
    first, second, last = items
    assert (first.line, second.line) == (2, 3)
    assert first.reason == (
        "A cell on line 2 holds 200,000 characters; a cell can hold at most 32,767 characters."
    )
    assert "200,001 characters" in second.reason
    assert first.raw.startswith("Ann,xxx") and len(first.raw) < 5_000
    assert last == SourceRow(5, ["Cy", "ok"])


def test_a_cell_at_the_limit_is_accepted(tmp_path):
    path = _write(tmp_path, f"Name,Notes\nAnn,{'y' * MAX_CELL_CHARS}\n")
    assert _rows(_read(path, SourceFormat("csv", "utf-8", ",", 0, None)))[0][1] == (
        "y" * MAX_CELL_CHARS
    )


def test_a_line_over_two_million_characters_is_skipped(tmp_path):
    path = _write(tmp_path, "Name,Notes\nAnn," + "z" * (1 << 21) + "\nBob,ok\n")
    fmt = SourceFormat("csv", "utf-8", ",", 0, None)
    items = _read(path, fmt)
    assert isinstance(items[0], RowProblem)
    assert items[0].line == 2 and "Line 2 is longer than" in items[0].reason
    assert items[1:] == [SourceRow(3, ["Bob", "ok"])]


def test_markup_and_excel_shortened_numbers_come_back_verbatim(tmp_path):
    path = _write(tmp_path, 'Name,Phone\n"<script>alert(1)</script>",1.55512E+10\n&amp;,00123\n')
    fmt = sniff(path, "list.csv").format
    assert _rows(_read(path, fmt)) == [
        ["<script>alert(1)</script>", "1.55512E+10"],
        ["&amp;", "00123"],
    ]
    assert any("1.55512E+10" in warning for warning in preview(path, fmt).warnings)


def test_preview_counts_toward_the_limit_and_reports_problems(tmp_path):
    text = "Name,Email\n" + "".join(f"P{n},p{n}@x.com\n" for n in range(30))
    path = _write(tmp_path, text.replace("P3,", "P3,x,y,"))
    sample = preview(path, sniff(path, "list.csv").format, limit=5)
    assert [row[0] for row in sample.rows] == ["P0", "P1", "P2", "P4"]
    assert sample.warnings == [
        "Line 5 has 4 cells but the file has 2 columns; its values would land in the wrong columns."
    ]
    assert sample.total_estimate == 30


# --------------------------------------------------------------------------
# XLSX
# --------------------------------------------------------------------------


def _workbook(tmp_path: Path, rows: list[list[object]], name: str = "list.xlsx") -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Leads"
    for row in rows:
        sheet.append(row)
    book.create_sheet("Notes").append(["Only notes"])
    path = tmp_path / name
    book.save(path)
    return path


XLSX_ROWS: list[list[object]] = [
    ["Fair leads, May"],
    [],
    ["Name", "Phone", "Signed up", "Score", "Active", "Notes"],
    ["Ann", 15551234567, date(2024, 3, 5), 0.1, True, "<b>VIP</b>"],
    ["Bob", 15551234567.0, datetime(2024, 3, 5, 13, 45), 1e-7, False, None],
    [],
    ["Cy", 4.4e15, datetime(2024, 3, 6), 3, None, "line one\nline two"],
    ["Di", "+44 20 7946 0958", None, None, None, None, "stray"],
    ["Ed", None, None, None, None, None, None, None],
]


def test_xlsx_numbers_dates_and_header_come_out_as_a_person_typed_them(tmp_path):
    path = _workbook(tmp_path, XLSX_ROWS)
    sniffed = sniff(path, "list.xlsx")
    assert sniffed.format == SourceFormat("xlsx", None, None, 1, "Leads")
    assert sniffed.notes[0] == "Sheet: Leads (2 sheets: Leads, Notes)"
    assert headers(path, sniffed.format) == ["Name", "Phone", "Signed up", "Score", "Active",
                                             "Notes"]  # fmt: skip
    items = _read(path, sniffed.format)
    assert items[:3] == [
        SourceRow(4, ["Ann", "15551234567", "2024-03-05", "0.1", "TRUE", "<b>VIP</b>"]),
        SourceRow(5, ["Bob", "15551234567", "2024-03-05 13:45:00", "0.0000001", "FALSE", ""]),
        SourceRow(7, ["Cy", "4400000000000000", "2024-03-06", "3", "", "line one\nline two"]),
    ]
    problem = items[3]
    assert isinstance(problem, RowProblem) and problem.line == 8
    assert problem.raw == "Di\t+44 20 7946 0958\t\t\t\t\tstray"
    assert items[4] == SourceRow(9, ["Ed", "", "", "", "", ""])
    sample = preview(path, sniffed.format)
    assert sample.rows == _rows(items)
    assert sample.total_estimate == 6


def test_xlsx_sheet_override_and_unknown_sheet(tmp_path):
    path = _workbook(tmp_path, XLSX_ROWS)
    notes = SourceFormat("xlsx", None, None, None, "Notes")
    assert headers(path, notes) == ["Column 1"]
    assert _read(path, notes) == [SourceRow(1, ["Only notes"])]
    with pytest.raises(SourceError, match="no sheet named Archive; its sheets are: Leads, Notes"):
        list(read_rows(path, dataclasses.replace(notes, sheet="Archive")))


def test_a_workbook_renamed_csv_is_read_as_a_workbook(tmp_path):
    source = _workbook(tmp_path, [["Name", "Phone"], ["Ann", 4155550134]])
    path = _write(tmp_path, source.read_bytes(), "renamed.csv")
    fmt, items = _sniffed_rows(path)
    assert fmt.kind == "xlsx"
    assert items == [SourceRow(2, ["Ann", "4155550134"])]


def test_workbooks_are_closed_even_when_reading_stops_early(tmp_path, monkeypatch):
    path = _workbook(tmp_path, [["Name"], *([f"P{n}"] for n in range(50))])
    opened, closed = [], []
    real_close = openpyxl.Workbook.close
    real_load = openpyxl.load_workbook

    def load(*args, **kwargs):
        opened.append(1)
        return real_load(*args, **kwargs)

    def close(self):
        closed.append(1)
        real_close(self)

    monkeypatch.setattr(openpyxl, "load_workbook", load)
    monkeypatch.setattr(openpyxl.Workbook, "close", close)
    fmt = sniff(path, "list.xlsx").format
    preview(path, fmt, limit=3)
    rows = read_rows(path, fmt)
    next(rows)
    rows.close()  # type: ignore[attr-defined]
    assert len(opened) == len(closed) == 3


# --------------------------------------------------------------------------
# Round trip and memory
# --------------------------------------------------------------------------

CELLS = st.text(alphabet=st.sampled_from(list('ab é,;|\t"\r\n<>&')), max_size=8)


@QUICK
@given(
    rows=st.lists(st.lists(CELLS, min_size=3, max_size=3), max_size=12),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    terminator=st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_anything_csv_writes_reads_back_with_its_physical_line(
    tmp_path_factory, rows, delimiter, terminator
):
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=terminator,
                        quoting=csv.QUOTE_ALL)  # fmt: skip
    writer.writerow(["One", "Two", "Three"])
    expected = []
    for row in rows:
        line = 1 + len(re.findall(r"\r\n|\r|\n", buffer.getvalue()))
        writer.writerow(row)
        if any(row):
            expected.append(SourceRow(line, row))
    path = tmp_path_factory.mktemp("roundtrip") / "list.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8", newline="")
    assert _read(path, SourceFormat("csv", "utf-8", delimiter, 0, None)) == expected


PIECES = st.sampled_from([b",", b";", b"\t", b'"', b"\r", b"\n", b"a", b"1", b" ", b"@x.com",
                          b"\xc3\xa9", b"\xe9", b"\x00", b"\xef\xbb\xbf", b"\xff\xfe"])  # fmt: skip


@QUICK
@given(data=st.lists(PIECES, max_size=60).map(b"".join) | st.binary(max_size=200))
def test_any_bytes_are_refused_or_read_to_the_end(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "list.csv"
    path.write_bytes(data)
    try:
        fmt = sniff(path, "list.csv").format
    except SourceError:
        return
    names = headers(path, fmt)
    items = _read(path, fmt)
    assert all(len(row) == len(names) for row in _rows(items))
    lines = [item.line for item in items]
    assert lines == sorted(set(lines))
    assert preview(path, fmt).rows == _rows(items[:20])


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory) -> Path:
    """A 50 MB list: 1 KB records, one of them spanning two lines."""
    path = tmp_path_factory.mktemp("big") / "big.csv"
    header = ",".join(f"Column {n}" for n in range(10)) + "\r\n"
    block = "".join(
        ",".join(f"{row:06d}-{column}-" + "x" * 90 for column in range(10)) + "\r\n"
        for row in range(1_000)
    )
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(header)
        handle.write('multi,"line\r\ncell"' + ",x" * 8 + "\r\n")
        for _ in range(50):
            handle.write(block)
    return path


def test_streaming_a_50_mb_file_uses_constant_memory(big_csv):
    assert big_csv.stat().st_size > 50_000_000
    fmt = SourceFormat("csv", "utf-8", ",", 0, None)
    tracemalloc.start()
    try:
        count = 0
        last = None
        for item in read_rows(big_csv, fmt):
            count += 1
            last = item
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 50_001
    assert last.line == 50_003
    assert peak < 2_000_000, f"peak {peak:,} bytes"


def test_the_row_count_of_a_big_file_is_estimated(big_csv):
    estimate = preview(big_csv, sniff(big_csv, "big.csv").format).total_estimate
    assert estimate is not None and abs(estimate - 50_001) < 2_500
