"""New leads of an import chunk: INSERT … ON CONFLICT DO NOTHING through the driver."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db
from leads.import_rows import IMPORTED_COLUMNS, KEY_COLUMNS
from leads.models import Lead, LeadStatus

if TYPE_CHECKING:  # the chunk module encodes with this one
    from leads.import_chunks import RunSettings


def insert_leads(
    settings: RunSettings, params: list[tuple[Any, ...]], stamp: datetime
) -> list[sa.Row]:
    """INSERT … ON CONFLICT DO NOTHING through the driver's executemany; the rows it added.

    ``params`` are the candidates' columns as `LeadEncoder.encode` gave them
    (in the normalizing processes, off the runner's path). SQLAlchemy's per-row
    parameter handling cost as much as the database's own work here, so the
    rows go to the driver as they are. Ids the insert takes are above the
    highest one before it (SQLite holds the write lock; PostgreSQL's sequence
    only grows), so the added rows are found by id without RETURNING, which
    executemany cannot do on SQLite.
    """
    connection = db.session.connection()
    insert = lead_encoder(connection.dialect)
    highest = db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(Lead.id), 0)))
    fixed = (settings.workspace_id, LeadStatus.NEW.value, settings.run_id, stamp, stamp)
    connection.exec_driver_sql(insert.sql, insert.rows(params, fixed))
    return db.session.execute(
        sa.select(Lead.id, *(getattr(Lead, name) for name in KEY_COLUMNS))
        .where(Lead.id > highest, Lead.pending_import_id == settings.run_id,
               Lead.created_at == stamp)
        .order_by(Lead.id)
    ).all()  # fmt: skip


# What a new lead gets from an import beside its IMPORTED_COLUMNS, in the order
# insert_leads passes the values.
FIXED_COLUMNS = ("workspace_id", "status", "pending_import_id", "created_at", "updated_at")


@dataclass(frozen=True)
class LeadEncoder:
    """New leads' columns as one dialect's driver takes them, and the statement for them."""

    sql: str
    names: tuple[str, ...]  # the parameters in the order the statement takes them
    positional: bool
    # Each imported column's converter (JSON to text, booleans, dates), or None.
    processors: tuple[Callable[[Any], Any] | None, ...]
    fixed_processors: tuple[Callable[[Any], Any] | None, ...]
    # Columns the statement adds for their Python-side defaults (queue and rotation
    # state a new lead starts with), with those values converted.
    defaults: dict[str, Any]

    def encode(self, columns: dict[str, Any]) -> tuple[Any, ...]:
        """One candidate's IMPORTED_COLUMNS, converted for the driver."""
        return tuple([
            process(columns[name]) if process else columns[name]
            for name, process in zip(IMPORTED_COLUMNS, self.processors, strict=True)
        ])  # fmt: skip

    def rows(
        self, params: list[tuple[Any, ...]], fixed: tuple[Any, ...]
    ) -> list[tuple[Any, ...]] | list[dict[str, Any]]:
        """Driver parameters for new leads: each one's encoded columns, then ``fixed``."""
        converted = tuple(
            process(value) if process else value
            for value, process in zip(fixed, self.fixed_processors, strict=True)
        )
        tail = converted + tuple(self.defaults.values())
        layout = (*IMPORTED_COLUMNS, *FIXED_COLUMNS, *self.defaults)
        # One C-level gather a row puts the values in the statement's order.
        gather = operator.itemgetter(*(layout.index(name) for name in self.names))
        rows = [gather(row + tail) for row in params]
        return rows if self.positional else [dict(zip(self.names, r, strict=True)) for r in rows]


@cache
def lead_encoder(dialect: sa.Dialect) -> LeadEncoder:
    table = Lead.__table__
    new_columns = (*IMPORTED_COLUMNS, *FIXED_COLUMNS)
    statement = (
        postgresql.insert(table) if dialect.name == "postgresql" else sqlite.insert(table)
    ).on_conflict_do_nothing()
    compiled = statement.values({name: sa.bindparam(name) for name in new_columns}).compile(
        dialect=dialect, for_executemany=True
    )
    names = tuple(compiled.positiontup if compiled.positional else compiled.binds)

    def processor(name: str) -> Callable[[Any], Any] | None:
        return table.c[name].type.dialect_impl(dialect).bind_processor(dialect)

    defaults = {name: table.c[name].default.arg for name in names if name not in new_columns}
    if any(callable(value) for value in defaults.values()):
        raise TypeError(f"Lead columns need a value per row from the import: {defaults}")
    converted_defaults = {
        name: process(value) if (process := processor(name)) else value
        for name, value in defaults.items()
    }
    return LeadEncoder(
        compiled.string, names, compiled.positional,
        tuple(processor(name) for name in IMPORTED_COLUMNS),
        tuple(processor(name) for name in FIXED_COLUMNS), converted_defaults,
    )  # fmt: skip
