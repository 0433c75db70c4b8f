"""Engine set-up: SQLite tuned for several processes, connections safe across forks."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any, ParamSpec, TypeVar

import sqlalchemy as sa
from flask import Flask
from sqlalchemy import Engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from app.config import ConfigError
from app.extensions import db

# SQLite: a transaction that reads and later writes, begun with a plain BEGIN,
# fails at once with "database is locked" when another process wrote meanwhile,
# whatever the busy timeout. BEGIN IMMEDIATE takes the write lock up front and
# waits for it instead. Read-only requests begin deferred so they never queue
# behind writers (WAL lets readers run beside one writer).
_sqlite_begin: ContextVar[str] = ContextVar("sqlite_begin", default="BEGIN IMMEDIATE")
P = ParamSpec("P")
R = TypeVar("R")


def set_read_only(read_only: bool) -> Token[str]:
    """Set how SQLite transactions begin in this context; returns a token for reset."""
    return _sqlite_begin.set("BEGIN" if read_only else "BEGIN IMMEDIATE")


def reset_begin_mode(token: Token[str]) -> None:
    _sqlite_begin.reset(token)


def begins_deferred(view: Callable[P, R]) -> Callable[P, R]:
    """Mark a state-changing view that reads first and takes the write lock only
    around its writes (``write_transaction``): a hot endpoint then holds SQLite's one
    write lock for its writes, not for the whole request."""
    view.begins_deferred = True  # type: ignore[attr-defined]
    return view


@contextmanager
def write_transaction() -> Iterator[None]:
    """Run the block in its own transaction begun BEGIN IMMEDIATE, and commit it.

    What the request read so far is committed first; afterwards transactions begin
    as they did before the block. On an error the block's writes are rolled back.

    Neither commit expires the loaded objects: the signed-in user, the workspace
    and the rows the block wrote stay as they are, instead of each being read again
    by the next attribute the request touches. A query that must see the latest
    committed state of a row asks for it (``populate_existing``).
    """
    session = db.session()
    expire_on_commit, session.expire_on_commit = session.expire_on_commit, False
    token = _sqlite_begin.set("BEGIN IMMEDIATE")
    try:
        session.commit()
        with _writer_queue():
            yield
            session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        _sqlite_begin.reset(token)
        session.expire_on_commit = expire_on_commit


# Per process: a forked child must open its own, as a shared open file shares the flock.
_lock_files: dict[tuple[int, str], int] = {}


@contextmanager
def _writer_queue() -> Iterator[None]:
    """On SQLite, wait for the write lock in a kernel file lock rather than SQLite's busy loop.

    SQLite's busy handler sleeps in growing steps (up to 100 ms) and retries, so
    under steady contention some writers keep losing: seconds-long tails. A flock
    wakes the next waiter as soon as the lock is let go.
    """
    url = db.engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        yield
        return
    key = (os.getpid(), f"{url.database}-writers")
    if key not in _lock_files:
        _lock_files[key] = os.open(key[1], os.O_RDWR | os.O_CREAT, 0o600)
    descriptor = _lock_files[key]
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(descriptor, fcntl.LOCK_UN)


def configure_engines(app: Flask) -> None:
    """Apply per-dialect settings to the lead and pipeline engines."""
    with app.app_context():
        engines = [db.engine, *(db.engines[key] for key in app.config["SQLALCHEMY_BINDS"])]
    for engine in engines:
        if engine.dialect.name == "sqlite":
            _tune_sqlite(engine)
    # A forked RQ work-horse must not reuse the parent's sockets or file handles.
    os.register_at_fork(after_in_child=lambda: [e.dispose(close=False) for e in engines])


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record) -> None:
        # Take transaction control away from the driver so "begin" below decides.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # SQLite's default page cache is 2 MB; at a million leads every insert into
        # the random-order indexes (phone, email, names) then misses and reads disk.
        cursor.execute("PRAGMA cache_size=-65536")
        # Deleted rows are overwritten with zeros, not left in free space: an erased
        # person must not stay readable in the file (leads.erasure).
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection) -> None:
        connection.exec_driver_sql(_sqlite_begin.get())


def check_databases(app: Flask) -> None:
    """Fail fast, naming the variable, when a database does not answer."""
    with app.app_context():
        targets = [("DATABASE_URL", db.engine), ("PIPELINE_DATABASE_URL", db.engines["pipeline"])]
        for variable, engine in targets:
            try:
                with engine.connect() as connection:
                    connection.execute(text("SELECT 1"))
            except Exception as exc:  # any driver error means the same thing to the operator
                reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
                url = engine.url.render_as_string(hide_password=True)
                raise ConfigError(f"{variable}: cannot connect to {url}: {reason}") from None


def refresh_statistics(engine: Engine) -> None:
    """Refresh the planner's statistics so it picks the right index.

    Without statistics SQLite guesses that an equality on workspace_id matches a
    handful of rows and walks the whole workspace for a rare search term. The
    analysis limit keeps this to a sample, a fraction of a second at a million rows.
    """
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("PRAGMA analysis_limit=1000")
        connection.exec_driver_sql("ANALYZE")


def insert_ignoring_duplicates(table: sa.Table) -> Insert:
    """INSERT … ON CONFLICT DO NOTHING for the bound dialect: the unique constraints
    decide what is a duplicate, atomically, instead of a look-up before the insert."""
    if db.session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


def values_table(values: Sequence[Any], element_type: sa.types.TypeEngine) -> sa.TableValuedAlias:
    """A one-column table (`.c.value`) of ``values``, sent as a single parameter.

    `column IN (SELECT value FROM values_table(...))` or `INSERT … SELECT` over it
    is one statement text whatever the number of values, so statement caches stay
    small and no statement hits the database's limit on parameters. SQLite reads a
    JSON array with json_each, PostgreSQL an array with unnest.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        array = sa.bindparam(None, list(values), type_=postgresql.ARRAY(element_type))
        return sa.func.unnest(array).table_valued("value").render_derived()
    return sa.func.json_each(sa.bindparam(None, json.dumps(list(values)))).table_valued("value")
