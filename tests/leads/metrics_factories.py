"""Test data for call metrics: random call records, and the raw GROUP BY to check against.

The reference queries are plain SQL over ``call_attempts``, written apart from the
code under test, so a dashboard figure that drifts from the records shows up.
"""

from __future__ import annotations

import random
import secrets
from collections import Counter, defaultdict
from datetime import datetime, timedelta

import sqlalchemy as sa

from app.extensions import db
from leads.dial_models import CallAttempt, OutcomeCategory
from leads.metrics import CONNECTED
from leads.metrics_periods import Window
from leads.metrics_rollups import rebuild

OUTCOMES = [(c.value, c.value) for c in OutcomeCategory]


def random_calls(workspace_id: int, callers: list[int | None], lists: list[int | None],
                 start: datetime, days: int, count: int, seed: int = 7) -> None:
    """``count`` calls spread over ``days`` from ``start``, then the rollups rebuilt."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        outcome, category = rng.choice(OUTCOMES)
        zoned = rng.random() < 0.9
        rows.append({
            "workspace_id": workspace_id, "lead_id": None, "caller_id": rng.choice(callers),
            "lease_token": secrets.token_hex(16), "outcome": outcome, "category": category,
            "started_at": start + timedelta(seconds=rng.randrange(days * 86400)),
            "duration_seconds": rng.randrange(0, 600),
            "lead_local_hour": rng.randrange(24) if zoned else None,
            "lead_local_weekday": rng.randrange(7) if zoned else None,
            "list_id": rng.choice(lists), "source": rng.choice(["web", "expo", None]),
            "attempt_number": rng.randrange(1, 6), "first_connect": rng.random() < 0.2,
            "speed_to_lead_seconds": rng.choice([None, rng.randrange(10, 90000)]),
            "opens_hour": rng.random() < 0.3,
        })  # fmt: skip
    db.session.execute(sa.insert(CallAttempt), rows)
    rebuild(workspace_id)
    db.session.commit()


def raw_by(column: str, workspace_id: int, window: Window, where: str = "") -> dict:
    """{key: (dials, connects, talk seconds, active hours, first-connect attempts)} straight
    from the call records."""
    connected = ", ".join(f"'{c.value}'" for c in CONNECTED)
    sql = sa.text(f"""
        SELECT {column} AS k, COUNT(*),
               SUM(CASE WHEN category IN ({connected}) THEN 1 ELSE 0 END),
               SUM(duration_seconds),
               SUM(CASE WHEN opens_hour THEN 1 ELSE 0 END),
               SUM(CASE WHEN first_connect THEN attempt_number ELSE 0 END)
        FROM call_attempts
        WHERE workspace_id = :ws AND started_at >= :start AND started_at < :end {where}
        GROUP BY {column}
    """)  # noqa: S608 (test-only SQL, no user input)
    params = {"ws": workspace_id, "start": window.start, "end": window.end}
    return {row[0]: tuple(int(v or 0) for v in row[1:]) for row in db.session.execute(sql, params)}


def raw_heatmap(workspace_id: int, window: Window) -> dict:
    sql = sa.text("""
        SELECT lead_local_weekday, lead_local_hour, started_at, category FROM call_attempts
        WHERE workspace_id = :ws AND started_at >= :start AND started_at < :end
          AND lead_local_hour IS NOT NULL
    """)
    cells: dict = defaultdict(Counter)
    params = {"ws": workspace_id, "start": window.start, "end": window.end}
    for weekday, hour, _started, category in db.session.execute(sql, params):
        cells[(weekday, hour)]["calls"] += 1
        cells[(weekday, hour)]["connects"] += category in {c.value for c in CONNECTED}
    return {key: dict(value) for key, value in cells.items()}
