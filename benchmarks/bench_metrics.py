"""Call metrics at 5,000,000 calls: every dashboard's data queries, timed and checked.

    .venv/bin/python benchmarks/bench_metrics.py [--calls 5000000] [--reps 200]
        [--days 90] [--rounds 5] [--db-dir DIR]

Builds a database with the real migrations (SQLite in a temporary folder, or in
--db-dir where a database with the same number of calls is reused; PostgreSQL when
DATABASE_URL is set, whose tables it fills; PIPELINE_DATABASE_URL names a second
database for the pipeline bind), with ``--calls`` call records from
``--reps`` callers over ``--days`` days, and the daily and hourly rollups rebuilt
from them.

Then, for the periods today / 7 / 30 / 90 days (a viewer in New York, 23 minutes
before the last call), it times the data queries of each dashboard, median of
``--rounds`` rounds:

- team: totals, leaderboard, outcomes, lists, sources, heatmap, funnel, callbacks kept;
- lists: list performance, sources, heatmap of one list;
- mine: one rep's today, week and 14-day trend;
- drill: one rep's connects, the newest 200, and their count;

and checks every leaderboard, list, source, outcome and heatmap figure against a plain
GROUP BY over the call records. That GROUP BY, timed in the same process over the
same period, is the baseline: ``speedup`` is its time over the worst dashboard's.

Each dashboard line gives the median wall time, the median CPU time of this process
(on SQLite the database's work is in it; a shared machine's other load mostly is not)
and the first round's wall time: the first view of a period adds its finished days up
from the rollups, later ones find them remembered (leads.metrics_cache).

Last line: ``metrics: calls=… worst_dashboard_ms=… exact=yes|no baseline_ms=… speedup=…
worst_cpu_ms=… worst_first_view_ms=…``.
"""

from __future__ import annotations

import argparse
import atexit
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))
_INSTANCE = Path(tempfile.mkdtemp(prefix="leadline-bench-instance-"))
atexit.register(shutil.rmtree, _INSTANCE, ignore_errors=True)
os.environ["LEADLINE_INSTANCE_PATH"] = str(_INSTANCE)
os.environ["LEADLINE_ENV"] = "development"

import sqlalchemy as sa  # noqa: E402
from flask import Flask  # noqa: E402
from flask_migrate import upgrade  # noqa: E402

from app import create_app  # noqa: E402
from app.database import refresh_statistics, reset_begin_mode, set_read_only  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import Role, User, UserRole  # noqa: E402
from app.users import default_workspace  # noqa: E402
from leads import metrics_pages as pages  # noqa: E402
from leads import metrics_queries as q  # noqa: E402
from leads.metrics import CONNECTED  # noqa: E402
from leads.metrics_drill import CallFilter, calls_table, count_calls  # noqa: E402
from leads.metrics_periods import days_period, parse_period, this_week, zone_of  # noqa: E402
from leads.metrics_rollups import rebuild  # noqa: E402
from leads.models import LeadList  # noqa: E402

DB_NAME = "bench-metrics.db"
SEED = 42
LISTS = 20
SOURCES = ("web", "expo", "referral", "purchased", "partner")
VIEWER_ZONE = "America/New_York"
PERIODS = ("today", "7d", "30d", "90d")
INSERT_BATCH = 50_000
SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"
# Outcomes as a dialling floor sees them: mostly nobody answers.
OUTCOME_WEIGHTS = {
    "no_answer": 50, "voicemail": 18, "busy": 5, "gatekeeper": 6, "wrong_number": 2,
    "not_interested": 7, "call_back": 4, "conversation": 5, "meeting_booked": 1.5,
    "qualified": 1, "do_not_call": 0.5,
}  # fmt: skip
LEAD_ZONES = (-5, -6, -7, -8)  # lead UTC offsets (hours): the four US mainland zones
CALL_COLUMNS = (
    "workspace_id", "lead_id", "caller_id", "lease_token", "outcome", "category", "started_at",
    "duration_seconds", "lead_local_hour", "lead_time_zone", "list_id", "source",
    "lead_local_weekday", "attempt_number", "first_connect", "speed_to_lead_seconds",
    "opens_hour",
)  # fmt: skip


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=5_000_000)
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--db-dir", type=Path)
    return parser.parse_args()


def make_app(args: argparse.Namespace) -> Flask:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        pipeline = os.environ.get("PIPELINE_DATABASE_URL", url)
        config = {"SQLALCHEMY_DATABASE_URI": url, "SQLALCHEMY_BINDS": {"pipeline": pipeline}}
    else:
        folder = args.db_dir or Path(tempfile.mkdtemp(prefix="leadline-bench-metrics-"))
        if not args.db_dir:
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)
        config = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / DB_NAME}",
                  "SQLALCHEMY_BINDS": {"pipeline": f"sqlite:///{folder / 'pipeline.db'}"}}
    # The benchmark never touches Redis: no connection is made or checked.
    return create_app({**config, "CHECK_CONNECTIONS": False,
                       "REDIS_URL": "redis://127.0.0.1:1/0"})  # fmt: skip


def call_rows(args: argparse.Namespace, workspace_id: int, reps: list[int], lists: list[int],
              now: datetime) -> Iterator[tuple]:
    """Calls over the last ``days`` days up to ``now``, in the order they happen (as
    recorded calls are inserted: the table's row order follows time)."""
    rng = random.Random(SEED)
    outcomes, weights = zip(*OUTCOME_WEIGHTS.items(), strict=True)
    source_of = {list_id: SOURCES[i % len(SOURCES)] for i, list_id in enumerate(lists)}
    first = now - timedelta(days=args.days)
    per_day = args.calls // args.days
    number = 0
    for day in range(args.days):
        count = per_day if day < args.days - 1 else args.calls - per_day * (args.days - 1)
        offsets = sorted(rng.randrange(86400) for _ in range(count))
        for offset in offsets:
            started = first + timedelta(days=day, seconds=offset)
            zone = rng.choice(LEAD_ZONES)
            local = started + timedelta(hours=zone)
            outcome = rng.choices(outcomes, weights)[0]
            list_id = rng.choice(lists)
            attempt = rng.randrange(1, 7)
            yield (
                workspace_id, None, rng.choice(reps), f"{number:032x}", outcome, outcome,
                started, rng.randrange(0, 400), local.hour, f"UTC{zone}", list_id,
                source_of[list_id], local.weekday(), attempt,
                outcome in CONNECTED_VALUES and rng.random() < 0.5,
                rng.randrange(60, 200_000) if attempt == 1 and rng.random() < 0.7 else None,
                rng.random() < 0.12,
            )  # fmt: skip
            number += 1


CONNECTED_VALUES = frozenset(c.value for c in CONNECTED)


def insert_calls(rows: Iterator[tuple], total: int) -> None:
    connection = db.session.connection().connection.dbapi_connection
    columns = ", ".join(CALL_COLUMNS)
    cursor = connection.cursor()
    done, started = 0, time.perf_counter()
    if db.engine.dialect.name == "postgresql":
        with cursor.copy(f"COPY call_attempts ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                done += 1
                if done % 500_000 == 0:
                    print(f"  {done:,} calls", file=sys.stderr)
        return
    marks = ", ".join("?" for _ in CALL_COLUMNS)
    batch: list[tuple] = []
    at = CALL_COLUMNS.index("started_at")
    for row in rows:
        # Stored as SQLAlchemy stores a DateTime on SQLite, so string comparisons agree.
        batch.append((*row[:at], row[at].strftime(SQLITE_DATETIME), *row[at + 1 :]))
        if len(batch) == INSERT_BATCH:
            cursor.executemany(f"INSERT INTO call_attempts ({columns}) VALUES ({marks})", batch)
            done += len(batch)
            batch.clear()
            if done % 500_000 == 0:
                rate = done / (time.perf_counter() - started)
                print(f"  {done:,} of {total:,} calls ({rate:,.0f}/s)", file=sys.stderr)
    if batch:
        cursor.executemany(f"INSERT INTO call_attempts ({columns}) VALUES ({marks})", batch)


def build(args: argparse.Namespace, now: datetime) -> int:
    """Fill the database once; a reused one with the same number of calls is kept."""
    upgrade()
    workspace = default_workspace()
    db.session.commit()
    existing = db.session.scalar(sa.text("SELECT count(*) FROM call_attempts"))
    if existing == args.calls:
        print(f"reusing {existing:,} calls", file=sys.stderr)
        return workspace.id
    db.session.execute(sa.text("DELETE FROM call_attempts"))
    reps = _reps(workspace.id, args.reps)
    lists = _lists(workspace.id)
    started = time.perf_counter()
    with indexes_dropped("call_attempts"):
        insert_calls(call_rows(args, workspace.id, reps, lists, now), args.calls)
    db.session.commit()
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    rebuild(workspace.id)
    db.session.commit()
    print(f"load: {args.calls / loaded:,.0f} calls/s; rollup rebuild "
          f"{time.perf_counter() - started:.1f} s", file=sys.stderr)  # fmt: skip
    return workspace.id


@contextmanager
def indexes_dropped(table: str) -> Iterator[None]:
    """Bulk loading is several times faster with the secondary indexes built afterwards."""
    indexes = list(db.metadata.tables[table].indexes)
    for index in indexes:
        index.drop(db.session.connection())
    yield
    db.session.commit()
    for index in indexes:
        started = time.perf_counter()
        index.create(db.session.connection())
        print(f"  index {index.name}: {time.perf_counter() - started:.1f} s", file=sys.stderr)


def _reps(workspace_id: int, count: int) -> list[int]:
    have = list(db.session.scalars(sa.select(User.id).where(User.email.like("rep%@bench.test"))))
    for number in range(len(have), count):
        user = User(workspace_id=workspace_id, email=f"rep{number}@bench.test",
                    name=f"Rep {number:03d}", time_zone=VIEWER_ZONE)  # fmt: skip
        user.role_rows = [UserRole(role=Role.CALLER.value)]
        db.session.add(user)
    db.session.commit()
    return list(db.session.scalars(sa.select(User.id).where(User.email.like("rep%@bench.test"))))


def _lists(workspace_id: int) -> list[int]:
    for number in range(LISTS):
        name = f"Bench list {number:02d}"
        if not db.session.scalar(sa.select(LeadList.id).where(LeadList.name == name)):
            db.session.add(LeadList(workspace_id=workspace_id, name=name))
    db.session.commit()
    return list(db.session.scalars(sa.select(LeadList.id).where(LeadList.name.like("Bench%"))))


# --------------------------------------------------------------------------
# Dashboards and their check
# --------------------------------------------------------------------------


def dashboards(ws: int, rep: int, now: datetime) -> dict[str, Callable[[Any], Any]]:
    """Each dashboard's data queries, as the views run them, for one period."""
    zone = zone_of(VIEWER_ZONE)
    some_list = min(pages.list_names(ws))

    def team(period):
        people = pages.people_names(ws)
        callers_outcomes = q.caller_outcome_sums(ws, period.window)
        callers = q.project(callers_outcomes, 0)
        lists_sources = q.list_source_sums(ws, period.window)
        return (pages.summary(ws, period, list(people), callers),
                pages.leaderboard(ws, period, people, callers),
                pages.outcome_table(period, q.project(callers_outcomes, 1)),
                pages.list_table(ws, period, lists_sources),
                pages.source_table(period, lists_sources), pages.heatmap(ws, period, None),
                pages.funnel_table(pages.lead_funnel(ws)))  # fmt: skip

    def lists(period):
        lists_sources = q.list_source_sums(ws, period.window)
        return (pages.list_performance(ws, period, lists_sources),
                pages.source_table(period, lists_sources),
                pages.heatmap(ws, period, some_list))  # fmt: skip

    def mine(_period):
        last = parse_period({"period": "today"}, zone, now)
        trend = days_period("trend", last.first_day - timedelta(days=13), last.first_day, zone, now)
        return (q.total(ws, last.window, rep), q.total(ws, this_week(zone, now).window, rep),
                q.calls_by_local_day(ws, rep, trend))  # fmt: skip

    def drill(period):
        spec = CallFilter(group="connects", caller_id=rep)
        return calls_table(ws, period, spec), count_calls(ws, period, spec)

    return {"team": team, "lists": lists, "mine": mine, "drill": drill}


RAW = {
    "caller": "COALESCE(caller_id, 0)",
    "list": "COALESCE(list_id, 0)",
    "source": "COALESCE(source, '')",
    "outcome": "outcome",
    "slot": "lead_local_weekday, lead_local_hour",
}


def raw_group_by(ws: int, period) -> dict[str, dict]:
    """The baseline: the team dashboard's figures as plain GROUP BYs over the records."""
    connected = ", ".join(f"'{c}'" for c in sorted(CONNECTED_VALUES))
    result = {}
    for name, key in RAW.items():
        sql = sa.text(f"""
            SELECT {key}, COUNT(*), SUM(CASE WHEN category IN ({connected}) THEN 1 ELSE 0 END),
                   SUM(duration_seconds)
            FROM call_attempts WHERE workspace_id = :ws AND started_at >= :a AND started_at < :b
            {"AND lead_local_hour IS NOT NULL" if name == "slot" else ""}
            GROUP BY {key}""")  # noqa: S608 (constant SQL)
        params = {"ws": ws, "a": period.window.start, "b": period.window.end}
        rows = db.session.execute(sql, params)
        result[name] = {tuple(row[:-3]): tuple(int(v or 0) for v in row[-3:]) for row in rows}
    return result


def from_dashboards(ws: int, period) -> dict[str, dict]:
    def figures(tallies):
        return {key: (t.dials, t.connects, t.talk_seconds) for key, t in tallies.items()
                if t.dials}  # fmt: skip

    heat = q.heatmap(ws, period.window)
    return {
        "caller": figures(q.by_caller(ws, period.window)),
        "list": figures(q.project(q.list_source_sums(ws, period.window), 0)),
        "source": figures(q.project(q.list_source_sums(ws, period.window), 1)),
        "outcome": figures(q.project(q.caller_outcome_sums(ws, period.window), 1)),
        "slot": {key: (s["calls"], s["connects"]) for key, s in heat.items()},
    }


def exact(ws: int, period) -> bool:
    raw = raw_group_by(ws, period)
    raw["slot"] = {key: value[:2] for key, value in raw["slot"].items()}
    got = from_dashboards(ws, period)
    for name in RAW:
        if raw[name] != got[name]:
            print(f"  MISMATCH in {name} for {period.label}", file=sys.stderr)
            return False
    return True


def timed(function: Callable[[], Any], rounds: int) -> list[tuple[float, float]]:
    """Each round's wall and CPU milliseconds; the first starts with no finished day
    remembered. CPU time is this process's: on SQLite the database's work is in it, and a
    shared machine's other load mostly is not."""
    times = []
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        function()
        times.append(((time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000))
        db.session.rollback()  # each round starts from a fresh transaction, as a request does
    return times


def main() -> None:
    args = parse_args()
    app = make_app(args)
    now = datetime(2026, 11, 25, 20, 0)  # a Wednesday afternoon in New York
    with app.app_context():
        ws = build(args, now)
        db.session.close()
        # As production: the periodic statistics job has run, and a GET reads without
        # taking SQLite's write lock.
        refresh_statistics(db.engine)
        token = set_read_only(True)
        calls = db.session.scalar(sa.text("SELECT count(*) FROM call_attempts"))
        rep = db.session.scalar(sa.select(User.id).where(User.email == "rep0@bench.test"))
        # Viewed off the hour, as a real visit is: each edge keeps a part under an
        # hour that only the call records can answer. The app's clock says the same, so
        # the days it treats as finished (and remembers) are the viewer's.
        viewed = now - timedelta(minutes=23)
        app.config["DIAL_NOW"] = viewed.isoformat()
        with app.test_request_context("/metrics/team"):
            run(args, ws, rep, viewed, calls)
        reset_begin_mode(token)


def run(args: argparse.Namespace, ws: int, rep: int, now: datetime, calls: int) -> None:
    zone = zone_of(VIEWER_ZONE)
    boards = dashboards(ws, rep, now)
    worst, worst_cpu, worst_first, all_exact, baseline_worst = 0.0, 0.0, 0.0, True, 0.0
    print(f"{'period':>6} {'dashboard':>9} {'median_ms':>10} {'cpu_ms':>7} {'first_ms':>9}")
    for key in PERIODS:
        period = parse_period({"period": key}, zone, now)
        for name, board in boards.items():
            times = timed(lambda board=board, period=period: board(period), args.rounds)
            ms = statistics.median(wall for wall, _ in times)
            cpu = statistics.median(cpu for _, cpu in times)
            worst, worst_cpu = max(worst, ms), max(worst_cpu, cpu)
            worst_first = max(worst_first, times[0][0])
            print(f"{key:>6} {name:>9} {ms:10.1f} {cpu:7.1f} {times[0][0]:9.1f}")
        rounds = max(1, args.rounds // 2)
        baseline = statistics.median(
            wall for wall, _ in timed(lambda period=period: raw_group_by(ws, period), rounds)
        )
        baseline_worst = max(baseline_worst, baseline)
        ok = exact(ws, period)
        all_exact &= ok
        verdict = "yes" if ok else "no"
        print(f"{key:>6} {'raw':>9} {baseline:10.1f}  (baseline GROUP BY; exact={verdict})")
    verdict = "yes" if all_exact else "no"
    print(f"metrics: calls={calls} worst_dashboard_ms={worst:.1f} exact={verdict} "
          f"baseline_ms={baseline_worst:.1f} speedup={baseline_worst / worst:.1f}x "
          f"worst_cpu_ms={worst_cpu:.1f} worst_first_view_ms={worst_first:.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
