"""CSV export of any filtered leads view, streamed in constant memory.

Format
    UTF-8 with a byte order mark, so spreadsheets read accented names as UTF-8 rather
    than the local code page. RFC 4180: CRLF line ends, a field is quoted only when it
    holds a comma, a double quote or a line break, and quotes inside are doubled.

Formula injection
    A spreadsheet runs a cell that begins with ``= + - @`` as a formula, and some strip
    a leading tab or carriage return before deciding, so a lead named ``=HYPERLINK(...)``
    would run on the exporter's machine. Such cells get a leading apostrophe, the
    spreadsheet's own "this is text" mark; quoting does not help, as a quoted cell is
    evaluated all the same.

    Phone numbers are stored in E.164 and so all begin with ``+``. They are exported as
    ``'+14155550134``: the rule allows no exceptions, and the alternatives are worse.
    Dropping the ``+`` turns the number into a figure that spreadsheets show as
    1.42E+10 and that reads back as a national number of the importer's default country.

    The other half of the contract is the importer: it strips exactly one leading
    apostrophe from every cell (``unescape_cell``) before normalizing, so the phone
    above reads back as the same E.164 number. For that strip to lose nothing, a cell
    that already begins with an apostrophe gets one more (``'Tis`` → ``''Tis``).

Memory
    Leads are read as plain column rows in keyset batches, newest first, the way the
    leads page pages; no ORM objects, and one CSV chunk per batch is all that is held.
    Each batch is its own short read: a slow download then holds neither a pooled
    connection nor an open transaction (which would keep SQLite from checkpointing its
    log and trip PostgreSQL's idle-in-transaction timeout). Only leads that existed
    when the export began are exported, so the header and the rows agree.

    The rows are read while the response is sent, after the request's context has
    ended, so each read runs in an app context (and session) of its own, opened and
    closed between two chunks. ``stream_with_context`` would instead keep the request's
    contexts pushed from one chunk to the next, and whatever else runs on the thread in
    between (the test client, for one) would find them as its own.

Custom fields
    One column per key, and the header comes first, so the keys are read before any row:
    the database lists the distinct keys of the matching leads (``json_each`` on SQLite,
    ``jsonb_object_keys`` on PostgreSQL). That costs the database one more scan of the
    matching leads but sends Python only the keys. A key added to a lead while its
    export runs is not in the header, and that one value is left out of the file.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy.orm import Session

from app.database import reset_begin_mode, set_read_only
from app.extensions import db
from app.models import User
from leads.models import Lead, LeadList

BOM = "\ufeff"
BATCH_SIZE = 1000
CUSTOM_PREFIX = "Custom: "
# Characters that make a spreadsheet read a cell as a formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
TEXT_MARK = "'"

# Plain field names, so the importer's header suggestions map each column back to
# the same field wherever the importer has one.
COLUMNS: tuple[tuple[str, sa.ColumnElement[Any]], ...] = (
    ("Lead ID", Lead.id),
    ("First Name", Lead.first_name),
    ("Last Name", Lead.last_name),
    ("Full Name", Lead.full_name),
    ("Company", Lead.company),
    ("Title", Lead.title),
    # What was typed when it never made a valid number, so nothing is lost.
    ("Phone", sa.func.coalesce(Lead.phone_e164, Lead.phone_raw)),
    ("Phone Extension", Lead.phone_extension),
    ("Email", sa.func.coalesce(Lead.email, Lead.email_raw)),
    ("Website", Lead.website),
    ("LinkedIn", Lead.linkedin_url),
    ("X", Lead.x_url),
    ("Other Profile", Lead.other_profile_url),
    ("City", Lead.city),
    ("State", Lead.state),
    ("Country", Lead.country),
    ("Time Zone", Lead.time_zone),
    ("Birthday", Lead.birthday),
    ("Status", Lead.status),
    ("Owner", User.name),
    ("Owner Email", User.email),
    ("List", LeadList.name),
    ("Source", Lead.source),
    ("External ID", Lead.external_id),
    ("Created At", Lead.created_at),
    ("Notes", Lead.notes),
)


def safe_cell(text: str) -> str:
    """``text`` as a spreadsheet shows it, never run as a formula (see the module notes)."""
    if text.startswith((*FORMULA_TRIGGERS, TEXT_MARK)):
        return TEXT_MARK + text
    return text


def unescape_cell(text: str) -> str:
    """The importer's inverse of ``safe_cell``: drop one leading apostrophe."""
    return text.removeprefix(TEXT_MARK)


def export_filename(today: date | None = None) -> str:
    return f"leads-{(today or datetime.now(UTC).date()).isoformat()}.csv"


def export_csv(query: sa.Select[tuple[Lead]]) -> Iterator[str]:
    """CSV text of the leads ``query`` selects, newest first, one chunk per batch.

    ``query`` is a scoped, filtered select such as ``filtered_leads`` builds. The first
    chunk is the byte order mark and the header. Call this in an app context; the
    chunks may be read after it has ended, and the caller's session is never used.
    """
    return _chunks(current_app._get_current_object(), query)


def _chunks(app: Flask, query: sa.Select[tuple[Lead]]) -> Iterator[str]:
    with _reading(app) as session:
        top = session.scalar(query.with_only_columns(sa.func.max(Lead.id)).order_by(None))
        keys: list[str] = []
        if top is not None:
            # Leads added while the file streams are left out, so the header covers every row.
            query = query.where(Lead.id <= top)
            keys = _custom_field_keys(session, query)

    buffer = _Lines()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    header = [name for name, _ in COLUMNS] + [CUSTOM_PREFIX + key for key in keys]
    writer.writerow([safe_cell(name) for name in header])
    yield BOM + _drain(buffer)
    if top is None:
        return

    rows = (
        query.with_only_columns(*(column for _, column in COLUMNS), Lead.custom_fields)
        .outerjoin(User, User.id == Lead.owner_id)
        .outerjoin(LeadList, LeadList.id == Lead.list_id)
        .order_by(None)
        .order_by(Lead.id.desc())
        .limit(BATCH_SIZE)
    )
    cursor, count = top + 1, BATCH_SIZE
    while count == BATCH_SIZE:
        count = 0
        with _reading(app) as session:
            # Row by row off the cursor: a list of the batch's rows would double its cost.
            for row in session.execute(rows.where(Lead.id < cursor)):
                *values, custom = row
                custom = custom if isinstance(custom, dict) else {}
                cells = [*values, *(custom.get(key) for key in keys)]
                writer.writerow([safe_cell(_text(value)) for value in cells])
                cursor, count = row[0], count + 1
        if count:
            yield _drain(buffer)


def _custom_field_keys(session: Session, query: sa.Select[tuple[Lead]]) -> list[str]:
    """Every custom field key among the leads ``query`` selects, in a stable order."""
    query = query.order_by(None)
    if session.get_bind(sa.inspect(Lead)).dialect.name == "postgresql":
        statement = query.with_only_columns(sa.func.jsonb_object_keys(Lead.custom_fields)).where(
            sa.func.jsonb_typeof(Lead.custom_fields) == "object"
        )
    else:
        each = sa.func.json_each(Lead.custom_fields).table_valued("key")
        statement = (
            query.with_only_columns(each.c.key)
            .select_from(Lead)
            .join(each, sa.true())
            .where(each.c.key.is_not(None))
        )
    keys = session.scalars(statement.distinct()).all()
    return sorted(keys, key=lambda key: (key.casefold(), key))


@contextmanager
def _reading(app: Flask) -> Iterator[Session]:
    """A short read in a fresh app context, whose teardown gives the connection back."""
    with app.app_context():
        # Safe requests begin deferred, but that setting ended with the request; the
        # default BEGIN IMMEDIATE would take SQLite's write lock and make writers wait.
        token = set_read_only(True)
        try:
            yield db.session()
        finally:
            reset_begin_mode(token)


class _Lines(list[str]):
    """Where the CSV writer puts its lines until a chunk is sent.

    A list, not a StringIO: emptying a StringIO for reuse switches it to four bytes
    a character, which made the buffer the largest thing an export holds.
    """

    write = list.append


def _drain(lines: _Lines) -> str:
    text = "".join(lines)
    lines.clear()
    return text


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        # Stored as naive UTC; the offset tells whoever reads the file.
        aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return aware.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    # Custom field values are strings today; anything else stays readable as JSON.
    return json.dumps(value, ensure_ascii=False)
