"""Figures of finished UTC days, remembered: a day that has ended never changes again,
unless a call lands in it late, so its sums are read from the rollups once, not on every view.

A remembered figure is keyed by the workspace's rollup token (``RollupVersion``), which
a late call or a rebuild replaces, so nothing remembered outlives the data it came
from, in this process or any other. A workspace without a token row is never cached.
Each process keeps its own few entries; losing them costs one slower view.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db
from leads.metrics_models import RollupVersion

# A day counts as finished only this long after its UTC midnight, so a reader whose clock
# runs ahead of a writer's never caches a day the writer still counts as today.
CLOCK_MARGIN = timedelta(hours=1)
MAX_ENTRIES = 64  # a team page holds 3-4 figures per period viewed; ~0.5 MB each at most

_entries: OrderedDict[Hashable, Any] = OrderedDict()
_lock = threading.Lock()


def finished_until(now: datetime) -> datetime:
    """The end of the last finished UTC day (naive UTC midnight) as of ``now``."""
    return datetime.combine((now - CLOCK_MARGIN).date(), time())


def rollup_token(workspace_id: int) -> str | None:
    return db.session.scalar(
        sa.select(RollupVersion.token).where(RollupVersion.workspace_id == workspace_id)
    )


def note_call(workspace_id: int, started_at: datetime, now: datetime) -> None:
    """Called with every recorded call, in its transaction: a call in a UTC day that has
    already ended changes that day's figures, so it replaces the token."""
    late = started_at < datetime.combine(now.date(), time())
    _set_token(workspace_id, replace=late)


def figures_changed(workspace_id: int) -> None:
    """Forget every remembered figure of the workspace (the caller commits)."""
    _set_token(workspace_id, replace=True)


def _set_token(workspace_id: int, replace: bool) -> None:
    dialect = db.session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(RollupVersion)
    statement = insert.values(workspace_id=workspace_id, token=secrets.token_hex(16))
    if replace:
        statement = statement.on_conflict_do_update(
            index_elements=["workspace_id"], set_={"token": statement.excluded.token}
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=["workspace_id"])
    db.session.execute(statement)


def remembered(key: Hashable, compute: Callable[[], Any]) -> Any:
    """``compute()``'s result, kept under ``key`` (which must name the token it is valid for)."""
    with _lock:
        if key in _entries:
            _entries.move_to_end(key)
            return _entries[key]
    value = compute()
    with _lock:
        _entries[key] = value
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)
    return value
