"""New leads of an import chunk: INSERT … ON CONFLICT DO NOTHING through the driver."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db
from leads.import_chunks import RunSettings
from leads.import_rows import IMPORTED_COLUMNS, KEY_COLUMNS
from leads.models import Lead, LeadStatus


def insert_leads(
    settings: RunSettings, columns: list[dict[str, Any]], stamp: datetime
) -> list[sa.Row]:
    """INSERT … ON CONFLICT DO NOTHING through the driver's executemany; the rows it added.

    SQLAlchemy's per-row parameter handling cost as much as the database's own
    work here, so the rows go to the driver as they are, each value converted
    by its column type's own bind processor. Ids the insert takes are above the
    highest one before it (SQLite holds the write lock; PostgreSQL's sequence
    only grows), so the added rows are found by id without RETURNING, which
    executemany cannot do on SQLite.
    """
    connection = db.session.connection()
    insert = _lead_insert(connection.dialect)
    highest = db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(Lead.id), 0)))
    fixed = (settings.workspace_id, LeadStatus.NEW.value, settings.run_id, stamp, stamp)
    connection.exec_driver_sql(insert.sql, insert.rows(columns, fixed))
    return db.session.execute(
        sa.select(Lead.id, *(getattr(Lead, name) for name in KEY_COLUMNS))
        .where(Lead.id > highest, Lead.pending_import_id == settings.run_id,
               Lead.created_at == stamp)
        .order_by(Lead.id)
    ).all()  # fmt: skip


# What a new lead gets from an import, in the order insert_leads passes the values.
NEW_LEAD_COLUMNS = (
    *IMPORTED_COLUMNS, "workspace_id", "status", "pending_import_id", "created_at", "updated_at",
)  # fmt: skip


@dataclass(frozen=True)
class _DriverInsert:
    sql: str
    names: tuple[str, ...]  # the parameters in the order the statement takes them
    positional: bool
    processors: tuple[Callable[[Any], Any] | None, ...]  # each column type's converter
    # Columns the statement adds for their Python-side defaults (queue and rotation
    # state a new lead starts with), with those defaults.
    defaults: dict[str, Any]

    def rows(
        self, columns: list[dict[str, Any]], fixed: tuple[Any, ...]
    ) -> list[tuple[Any, ...]] | list[dict[str, Any]]:
        """Driver parameters for new leads: each one's IMPORTED_COLUMNS, then ``fixed``."""
        converted = self.defaults | dict(
            zip(NEW_LEAD_COLUMNS[len(IMPORTED_COLUMNS) :], fixed, strict=True)
        )
        getters = []
        for name, process in zip(self.names, self.processors, strict=True):
            if name in converted:
                value = process(converted[name]) if process else converted[name]
                getters.append(lambda _row, value=value: value)
            else:
                getters.append(_converted(name, process))
        rows = [tuple([get(row) for get in getters]) for row in columns]
        return rows if self.positional else [dict(zip(self.names, r, strict=True)) for r in rows]


def _converted(name: str, process: Callable[[Any], Any] | None) -> Callable[[dict], Any]:
    if process is None:
        return operator.itemgetter(name)
    return lambda row: process(row[name])


@cache
def _lead_insert(dialect: sa.Dialect) -> _DriverInsert:
    table = Lead.__table__
    statement = (
        postgresql.insert(table) if dialect.name == "postgresql" else sqlite.insert(table)
    ).on_conflict_do_nothing()
    compiled = statement.values({name: sa.bindparam(name) for name in NEW_LEAD_COLUMNS}).compile(
        dialect=dialect, for_executemany=True
    )
    names = tuple(compiled.positiontup if compiled.positional else compiled.binds)
    processors = tuple(
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
    )
    defaults = {name: table.c[name].default.arg for name in names if name not in NEW_LEAD_COLUMNS}
    if any(callable(value) for value in defaults.values()):
        raise TypeError(f"Lead columns need a value per row from the import: {defaults}")
    return _DriverInsert(compiled.string, names, compiled.positional, processors, defaults)
