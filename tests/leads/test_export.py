"""CSV export: format, formula safety, filters and scoping, streaming in constant memory."""

from __future__ import annotations

import codecs
import csv
import io
import re
import tracemalloc
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from app.extensions import db
from app.models import Role
from leads import export
from leads.export import COLUMNS, FORMULA_TRIGGERS, safe_cell, unescape_cell
from leads.models import Lead, LeadList

HEADER = [name for name, _ in COLUMNS]


@pytest.fixture
def add_lead(workspace):
    def add(**fields) -> Lead:
        lead = Lead(workspace_id=workspace.id, **fields)
        db.session.add(lead)
        db.session.commit()
        return lead

    return add


def download(client, **params):
    response = client.get("/leads/export.csv", query_string=params)
    assert response.status_code == 200
    return response


def records(response) -> list[dict[str, str]]:
    text = response.get_data().decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_download_is_utf8_csv_with_bom_and_header(client, admin, login, add_lead):
    add_lead(first_name="Ann")
    login(admin)
    response = download(client)
    assert response.content_type == "text/csv; charset=utf-8"
    name = f"leads-{datetime.now(UTC).date().isoformat()}.csv"
    assert response.headers["Content-Disposition"] == (
        f"attachment; filename=\"{name}\"; filename*=UTF-8''{name}"
    )
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_data()
    assert body.startswith(codecs.BOM_UTF8 + b"Lead ID,First Name,Last Name,")
    lines = body.decode("utf-8-sig").split("\r\n")
    assert lines[0].split(",") == HEADER
    assert lines[1].split(",")[:2] == [str(db.session.scalar(sa.select(Lead.id))), "Ann"]
    assert lines[2:] == [""]  # every line, the last included, ends in CRLF


def test_cells_are_quoted_as_rfc_4180_says(client, admin, login, add_lead):
    add_lead(company="Acme, Inc.", title='The "Boss"', notes="line one\r\nline two\nthree")
    login(admin)
    response = download(client)
    text = response.get_data().decode("utf-8-sig")
    assert ',"Acme, Inc.","The ""Boss""",' in text
    assert ',"line one\r\nline two\nthree"\r\n' in text
    (row,) = records(response)
    assert (row["Company"], row["Title"], row["Notes"]) == (
        "Acme, Inc.",
        'The "Boss"',
        "line one\r\nline two\nthree",
    )


def test_formula_cells_are_marked_as_text(client, admin, login, add_lead):
    add_lead(
        first_name="=1+1",
        last_name="+cmd|' /C calc'!A0",
        full_name="-2",
        company="@SUM(A1:A9)",
        title="\tTabbed",
        city="\rReturned",
        state="'Tis",
        notes="a = b + c",  # only the first character counts
        phone_e164="+14155550134",
        phone_raw="(415) 555-0134",
    )
    login(admin)
    (row,) = records(download(client))
    assert row["First Name"] == "'=1+1"
    assert row["Last Name"] == "'+cmd|' /C calc'!A0"
    assert row["Full Name"] == "'-2"
    assert row["Company"] == "'@SUM(A1:A9)"
    assert row["Title"] == "'\tTabbed"
    assert row["City"] == "'\rReturned"
    assert row["State"] == "''Tis"  # so that stripping one apostrophe gives it back
    assert row["Notes"] == "a = b + c"
    assert row["Phone"] == "'+14155550134"


def test_markup_stays_literal(client, admin, login, add_lead):
    add_lead(first_name="<script>alert(1)</script>", company="Tom & Jerry <b>")
    login(admin)
    (row,) = records(download(client))
    assert (row["First Name"], row["Company"]) == ("<script>alert(1)</script>", "Tom & Jerry <b>")


@given(st.text())
def test_the_importer_gets_every_cell_back(text):
    escaped = safe_cell(text)
    assert not escaped.startswith(FORMULA_TRIGGERS)
    assert unescape_cell(escaped) == text


def test_an_exported_lead_reads_back_as_the_same_lead(
    client, admin, login, add_lead, workspace, make_user
):
    owner = make_user(Role.REP, name="Rita Rep", email="rita@example.com")
    lst = LeadList(workspace_id=workspace.id, name="Trade show")
    db.session.add(lst)
    db.session.commit()
    lead = add_lead(
        first_name="José",
        last_name="Ñúñez",
        full_name="José Ñúñez",
        company="Acme",
        title="CTO",
        phone_raw="(415) 555-0134 x12",
        phone_e164="+14155550134",
        phone_extension="12",
        email_raw="Jose@EXAMPLE.com",
        email="Jose@example.com",
        website="https://acme.example",
        linkedin_url="https://www.linkedin.com/in/jose",
        x_url="https://x.com/jose",
        other_profile_url="https://github.com/jose",
        city="San Francisco",
        state="CA",
        country="US",
        time_zone="America/Los_Angeles",
        birthday=date(1980, 2, 29),
        status="handed_off",
        owner_id=owner.id,
        list_id=lst.id,
        source="Web",
        external_id="crm-42",
        created_at=datetime(2024, 5, 1, 12, 34, 56),
        notes="Met at the booth",
    )
    login(admin)
    (row,) = records(download(client))
    assert {name: unescape_cell(value) for name, value in row.items()} == {
        "Lead ID": str(lead.id),
        "First Name": "José",
        "Last Name": "Ñúñez",
        "Full Name": "José Ñúñez",
        "Company": "Acme",
        "Title": "CTO",
        "Phone": "+14155550134",
        "Phone Extension": "12",
        "Email": "Jose@example.com",
        "Website": "https://acme.example",
        "LinkedIn": "https://www.linkedin.com/in/jose",
        "X": "https://x.com/jose",
        "Other Profile": "https://github.com/jose",
        "City": "San Francisco",
        "State": "CA",
        "Country": "US",
        "Time Zone": "America/Los_Angeles",
        "Birthday": "1980-02-29",
        "Status": "handed_off",
        "Owner": "Rita Rep",
        "Owner Email": "rita@example.com",
        "List": "Trade show",
        "Source": "Web",
        "External ID": "crm-42",
        "Created At": "2024-05-01T12:34:56+00:00",
        "Notes": "Met at the booth",
    }


def test_invalid_phone_and_email_export_what_was_typed(client, admin, login, add_lead):
    add_lead(phone_raw="12345", email_raw="not-an-email@")
    login(admin)
    (row,) = records(download(client))
    assert (row["Phone"], row["Email"]) == ("12345", "not-an-email@")


def test_non_ascii_names_survive(client, admin, login, add_lead):
    add_lead(first_name="Zoë", last_name="李", company="Müller & Søn — Ελλάς")
    login(admin)
    (row,) = records(download(client))
    assert (row["First Name"], row["Last Name"], row["Company"]) == (
        "Zoë",
        "李",
        "Müller & Søn — Ελλάς",
    )


def test_filters_apply(client, admin, login, add_lead, workspace):
    lst = LeadList(workspace_id=workspace.id, name="Trade show")
    db.session.add(lst)
    db.session.commit()
    add_lead(first_name="Alice", status="new", list_id=lst.id)
    add_lead(first_name="Alfred", status="qualified")
    add_lead(first_name="Bob", status="qualified", list_id=lst.id)
    login(admin)

    def names(**params):
        return [row["First Name"] for row in records(download(client, **params))]

    assert names() == ["Bob", "Alfred", "Alice"]  # newest first, like the leads page
    assert names(status="qualified") == ["Bob", "Alfred"]
    assert names(list=str(lst.id)) == ["Bob", "Alice"]
    assert names(q="al") == ["Alfred", "Alice"]
    assert names(q="al", status="new", list=str(lst.id)) == ["Alice"]
    # The page cursor of the leads page does not cut the export short.
    assert names(after="999999", before="1") == ["Bob", "Alfred", "Alice"]


def test_reps_export_only_their_own_leads(client, make_user, login, add_lead):
    rep, other = make_user(Role.REP), make_user(Role.REP)
    add_lead(first_name="Mine", owner_id=rep.id)
    add_lead(first_name="Theirs", owner_id=other.id)
    add_lead(first_name="Nobody's")
    login(rep)
    assert [r["First Name"] for r in records(download(client))] == ["Mine"]
    assert records(download(client, owner=str(other.id))) == []


def test_one_column_per_custom_field_of_the_exported_leads(client, admin, login, add_lead):
    add_lead(first_name="A", status="new", custom_fields={"seats": "12", "Industry": "SaaS"})
    add_lead(first_name="B", status="new", custom_fields={"Industry": "=Retail", "Budget": 5})
    add_lead(first_name="C", status="new")
    add_lead(first_name="Hidden", status="qualified", custom_fields={"Secret": "x"})
    login(admin)
    response = download(client, status="new")
    rows = records(response)
    assert list(rows[0]) == [*HEADER, "Custom: Budget", "Custom: Industry", "Custom: seats"]
    by_name = {row["First Name"]: row for row in rows}
    assert [by_name["A"][f"Custom: {k}"] for k in ("Budget", "Industry", "seats")] == [
        "",
        "SaaS",
        "12",
    ]
    assert [by_name["B"][f"Custom: {k}"] for k in ("Budget", "Industry", "seats")] == [
        "5",
        "'=Retail",
        "",
    ]
    assert [by_name["C"][f"Custom: {k}"] for k in ("Budget", "Industry", "seats")] == ["", "", ""]


def test_no_leads_gives_just_the_header(client, admin, login, add_lead):
    add_lead(first_name="Ann", status="new")
    login(admin)
    body = download(client, status="qualified").get_data()
    assert body == codecs.BOM_UTF8 + ",".join(HEADER).encode() + b"\r\n"


@pytest.mark.parametrize("count", [4, 5], ids=["full-last-batch", "short-last-batch"])
def test_batches_cover_every_lead_once(client, admin, login, add_lead, monkeypatch, count):
    monkeypatch.setattr(export, "BATCH_SIZE", 2)
    ids = [add_lead(first_name=f"Lead {n}").id for n in range(count)]
    login(admin)
    response = download(client)
    assert [int(row["Lead ID"]) for row in records(response)] == ids[::-1]


def test_leads_added_while_streaming_are_left_out(client, admin, login, add_lead):
    add_lead(first_name="Before")
    login(admin)
    response = download(client)
    chunks = iter(response.response)
    header = next(chunks)
    add_lead(first_name="During", custom_fields={"New": "x"})
    text = (header + b"".join(chunks)).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [row["First Name"] for row in rows] == ["Before"]
    assert "Custom: New" not in rows[0]


def test_export_does_not_take_the_sqlite_write_lock(client, admin, login, add_lead):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's begin mode only")
    add_lead(first_name="Ann")
    login(admin)
    db.session.commit()  # the test's own session must not be the one holding the lock
    # Another process is writing: a reader in WAL mode goes on without waiting.
    with db.engine.begin() as writer:
        writer.execute(sa.update(Lead).values(city="Paris"))
        assert b"Ann" in download(client).get_data()


def test_the_leads_page_links_to_the_export_with_its_filters(client, admin, login):
    login(admin)
    page = client.get("/leads?status=new&q=al&after=5").get_data(as_text=True)
    (link,) = re.findall(r'<a id="export-csv"[^>]*>', page)
    href = re.search(r'href="([^"]+)"', link).group(1).replace("&amp;", "&")
    assert href.startswith("/leads/export.csv?")
    assert sorted(href.split("?")[1].split("&")) == ["q=al", "status=new"]
    # htmx swaps only the results, so the link comes along out of band.
    fragment = client.get("/leads?status=qualified", headers={"HX-Request": "true"})
    (link,) = re.findall(r'<a id="export-csv"[^>]*>', fragment.get_data(as_text=True))
    assert 'hx-swap-oob="true"' in link and "status=qualified" in link


def test_a_large_export_streams_in_constant_memory(client, admin, login, workspace):
    def add_leads(numbers: range) -> None:
        db.session.execute(
            sa.insert(Lead.__table__),
            [
                {
                    "workspace_id": workspace.id,
                    "first_name": f"First{n}",
                    "last_name": f"Last{n}",
                    "company": f"Company number {n}, Incorporated",
                    "phone_e164": f"+1415{n:07}",
                    "email": f"lead{n}@example.com",
                    "email_key": f"lead{n}@example.com",
                    "notes": "A note long enough to make every row weigh something. " * 3,
                    "status": "new",
                    "phone_time_zones": [],
                    "custom_fields": {"Seats": str(n)},
                }
                for n in numbers
            ],
        )
        db.session.commit()

    def stream() -> tuple[int, int, int]:
        """Lines and bytes of the export, and the most memory held while sending it."""
        tracemalloc.start()
        try:
            response = download(client)
            assert response.is_streamed
            size = lines = 0
            for chunk in response.response:
                size += len(chunk)
                lines += chunk.count(b"\r\n")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        return lines, size, peak

    login(admin)
    add_leads(range(5_000))
    lines, small_size, small_peak = stream()
    assert lines == 5_001
    add_leads(range(5_000, 20_000))
    lines, size, peak = stream()
    assert lines == 20_001 and size > 4 * small_size
    # Four times the leads, the same memory: one batch at a time, never the whole file.
    assert peak < 1.25 * small_peak, f"{small_peak:,} then {peak:,} bytes"
    assert peak < 4_000_000 < size, f"peak {peak:,} bytes for a {size:,} byte file"
