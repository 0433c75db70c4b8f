"""The social queue at scale in SQLite: bulk creation and serving the next task.

    .venv/bin/python benchmarks/bench_social.py [--leads 100000] [--rounds 5]

A temporary database built by the real migrations holds ``--leads`` leads; one rep owns
a fifth of them, three in four with a LinkedIn address. In alternating rounds:

- bulk: ``bulk_create`` for every lead the rep sees (read, check addresses, batched
  insert), rolled back after each round; its baseline is one Core ``executemany`` of
  the same task rows into the same table: the floor of writing those tasks at all.
- next: ``queue_state`` for the rep with those tasks pending (quota, the served task
  with its lead), and the navigation badge's capped count; the baseline is selecting
  one task by primary key through the ORM.

The last line is ``social: leads=… tasks=… bulk_tasks_per_s=… bulk_ratio=…
next_p50_ms=… next_ratio=…``; ratios are bench/baseline rates (bulk) and baseline/bench
times (next), medians over rounds.
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))
_INSTANCE = Path(tempfile.mkdtemp(prefix="leadline-bench-social-"))
atexit.register(shutil.rmtree, _INSTANCE, ignore_errors=True)
os.environ["LEADLINE_INSTANCE_PATH"] = str(_INSTANCE)
os.environ["LEADLINE_ENV"] = "development"

import sqlalchemy as sa  # noqa: E402
from flask_migrate import upgrade  # noqa: E402

from app import create_app  # noqa: E402
from app.embedded_redis import EmbeddedRedis  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import Role, utcnow  # noqa: E402
from app.users import create_user, default_workspace  # noqa: E402
from leads.models import Lead  # noqa: E402
from leads.queries import LeadFilters  # noqa: E402
from leads.social import BADGE_CAP, due_count, queue_state  # noqa: E402
from leads.social_bulk import bulk_create  # noqa: E402
from leads.social_quota import set_quotas  # noqa: E402
from leads.tasks import Network, SocialAction, Task  # noqa: E402

BATCH = 10_000
NEXT_CALLS = 200


def build(leads: int):
    workspace = default_workspace()
    rep, _ = create_user(workspace, email="rep@example.com", name="Rep", roles={Role.REP},
                         password="correct horse battery")  # fmt: skip
    other, _ = create_user(workspace, email="o@example.com", name="Other", roles={Role.REP},
                           password="correct horse battery")  # fmt: skip
    db.session.commit()
    for start in range(0, leads, BATCH):
        rows = [
            {"workspace_id": workspace.id, "owner_id": rep.id if i % 5 == 0 else other.id,
             "first_name": f"Lead{i}", "status": "new", "phone_time_zones": [],
             "other_phones": [], "custom_fields": {},
             "linkedin_url": f"https://www.linkedin.com/in/lead-{i}" if i % 4 else None}
            for i in range(start, min(start + BATCH, leads))
        ]  # fmt: skip
        db.session.execute(sa.insert(Lead), rows)
    set_quotas(workspace.id, 10_000, {}, rep)
    db.session.commit()
    return rep


def baseline_rows(rep) -> list[dict]:
    lead_ids = db.session.scalars(
        sa.select(Lead.id).where(Lead.owner_id == rep.id, Lead.linkedin_url.is_not(None))
    ).all()
    now = utcnow()
    return [
        {"workspace_id": rep.workspace_id, "lead_id": lead_id, "owner_id": rep.id,
         "kind": "social", "status": "open", "network": "linkedin", "action": "connect",
         "due_at": now, "source": "bulk", "created_by_id": rep.id, "created_at": now}
        for lead_id in lead_ids
    ]  # fmt: skip


def timed(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def bulk_rounds(rep, rounds: int) -> tuple[int, float, float]:
    rows = baseline_rows(rep)
    table = Task.__table__
    bench, floor = [], []
    created = 0
    for _ in range(rounds):
        started = time.perf_counter()
        created = bulk_create(rep, LeadFilters(), Network.LINKEDIN, SocialAction.CONNECT).created
        bench.append(time.perf_counter() - started)
        db.session.rollback()
        floor.append(timed(lambda: db.session.connection().execute(table.insert(), rows)))
        db.session.rollback()
    assert created == len(rows), (created, len(rows))
    return created, created / statistics.median(bench), created / statistics.median(floor)


def next_rounds(rep, rounds: int) -> tuple[float, float, float]:
    bulk_create(rep, LeadFilters(), Network.LINKEDIN, SocialAction.CONNECT)
    db.session.commit()
    by_id = sa.select(Task).where(Task.id == db.session.scalar(sa.select(Task.id).limit(1)))
    bench, badge, floor = [], [], []
    for _ in range(rounds):
        bench += [timed(lambda: queue_state(rep)) for _ in range(NEXT_CALLS)]
        badge += [timed(lambda: due_count(rep)) for _ in range(NEXT_CALLS)]
        floor += [
            timed(lambda: db.session.execute(by_id).scalar_one())
            for _ in range(NEXT_CALLS)
        ]
    assert queue_state(rep).task is not None and due_count(rep) == BADGE_CAP + 1
    return statistics.median(bench), statistics.median(badge), statistics.median(floor)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    redis = None
    if not os.environ.get("REDIS_URL"):
        (_INSTANCE / "redis").mkdir()
        redis = EmbeddedRedis(_INSTANCE / "redis")
        redis.start()
        atexit.register(redis.stop)
    app = create_app({"REDIS_URL": os.environ.get("REDIS_URL") or redis.url})
    with app.app_context():
        upgrade()
        rep = build(args.leads)
        tasks, bulk_rate, floor_rate = bulk_rounds(rep, args.rounds)
        print(f"bulk: tasks={tasks} tasks_per_s={bulk_rate:,.0f} baseline_per_s={floor_rate:,.0f}")
        next_s, badge_s, get_s = next_rounds(rep, args.rounds)
        print(
            f"next: p50_ms={next_s * 1000:.2f} badge_p50_ms={badge_s * 1000:.2f} "
            f"baseline_p50_ms={get_s * 1000:.3f}"
        )
        print(
            f"social: leads={args.leads} tasks={tasks} bulk_tasks_per_s={bulk_rate:.0f} "
            f"bulk_ratio={bulk_rate / floor_rate:.2f} next_p50_ms={next_s * 1000:.2f} "
            f"next_ratio={get_s / next_s:.3f}"
        )


if __name__ == "__main__":
    main()
