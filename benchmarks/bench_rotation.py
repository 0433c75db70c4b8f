"""Rotating 100,000 unassigned leads among 50 reps, against a bare executemany.

    .venv/bin/python benchmarks/bench_rotation.py [--leads 100000] [--reps 50]

Fresh SQLite databases with the real migrations; the leads carry the columns the
rules read (list, source, country, state, time zone). Two pools are timed, each
over the same unassigned leads, batch after batch exactly as the rotation job
runs them (claim ~1,000 leads, one conditional set-based owner UPDATE, pool
counters, audit activities, one commit per batch):

- equal weights, round robin: the spread (most leads − fewest) must be ≤ 1;
- a weighted pool (weights 1 to 5): each rep's share within 1% of its target
  (the error printed is the largest relative miss, in percent).

In the same process it times the floor: a bare DB-API executemany of the same
number of ``UPDATE leads SET owner_id = ? WHERE id = ?`` and prints the ratio.
Target: ≤ 3 s per pool on a 2-core machine. The last line is
``rotation: leads=… reps=… seconds=… spread=… weight_error_pct=…``.
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

_ROOT = Path(tempfile.mkdtemp(prefix="leadline-bench-rotation-"))
atexit.register(shutil.rmtree, _ROOT, ignore_errors=True)
os.environ["LEADLINE_INSTANCE_PATH"] = str(_ROOT / "instance")
os.environ["LEADLINE_ENV"] = "development"

import sqlalchemy as sa  # noqa: E402
from flask_migrate import upgrade  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import User, UserRole, Workspace  # noqa: E402
from leads.models import Activity, Lead  # noqa: E402
from leads.rotation import assign_unassigned  # noqa: E402
from leads.rotation_models import RotationMember, RotationRule  # noqa: E402

STATES = ("CA", "TX", "NY", "FL", "WA", "IL")


def build_app():
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{_ROOT / 'leadline.db'}",
        "SQLALCHEMY_BINDS": {"pipeline": f"sqlite:///{_ROOT / 'pipeline.db'}"},
    })  # fmt: skip
    with app.app_context():
        upgrade()
    return app


def seed(leads: int, reps: int) -> tuple[int, list[int]]:
    workspace = Workspace(name="Bench")
    db.session.add(workspace)
    db.session.flush()
    users = [User(workspace_id=workspace.id, email=f"rep{n}@example.com", name=f"Rep {n}")
             for n in range(reps)]  # fmt: skip
    db.session.add_all(users)
    db.session.flush()
    db.session.add_all(UserRole(user_id=u.id, role="rep") for u in users)
    rows = [
        {"workspace_id": workspace.id, "first_name": f"Lead {n}", "status": "new",
         "state": STATES[n % len(STATES)], "country": "US", "source": "bench",
         "time_zone": "America/New_York", "phone_time_zones": [], "other_phones": [],
         "custom_fields": {}}
        for n in range(leads)
    ]  # fmt: skip
    db.session.execute(sa.insert(Lead), rows)
    db.session.commit()
    return workspace.id, [u.id for u in users]


def reset(workspace_id: int, user_ids: list[int], weights: list[float], method: str) -> None:
    db.session.execute(sa.delete(Activity))
    db.session.execute(
        sa.update(Lead).values(owner_id=None, assigned_at=None, rotation_rule_id=None)
    )
    db.session.execute(sa.delete(RotationRule))
    rule = RotationRule(workspace_id=workspace_id, name=method, method=method, max_rotations=2)
    rule.members = [RotationMember(user_id=u, weight=w, assigned=0)
                    for u, w in zip(user_ids, weights, strict=True)]  # fmt: skip
    db.session.add(rule)
    db.session.commit()


def rotate_all(workspace_id: int) -> float:
    started = time.perf_counter()
    after = 0
    while True:
        result = assign_unassigned(workspace_id, after_id=after)
        db.session.commit()
        if not result.more:
            break
        after = result.last_id
    return time.perf_counter() - started


def shares() -> Counter[int]:
    return Counter(dict(db.session.execute(
        sa.select(Lead.owner_id, sa.func.count()).group_by(Lead.owner_id)).all()))  # fmt: skip


def baseline(user_ids: list[int]) -> float:
    """A bare executemany of the same number of owner updates, then undone."""
    ids = list(db.session.scalars(sa.select(Lead.id).order_by(Lead.id)))
    db.session.commit()  # release the write lock the read took
    params = [(user_ids[n % len(user_ids)], lead_id) for n, lead_id in enumerate(ids)]
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        started = time.perf_counter()
        cursor.execute("BEGIN IMMEDIATE")
        cursor.executemany("UPDATE leads SET owner_id = ? WHERE id = ?", params)
        cursor.execute("COMMIT")
        seconds = time.perf_counter() - started
        cursor.execute("BEGIN IMMEDIATE")
        cursor.execute("UPDATE leads SET owner_id = NULL")
        cursor.execute("COMMIT")
    finally:
        raw.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=50)
    args = parser.parse_args()
    app = build_app()
    with app.app_context():
        workspace_id, user_ids = seed(args.leads, args.reps)
        bound = baseline(user_ids)
        print(f"baseline: executemany of {args.leads:,} owner updates in {bound:.2f} s")

        reset(workspace_id, user_ids, [1.0] * len(user_ids), "round_robin")
        equal_seconds = rotate_all(workspace_id)
        counts = shares()
        assert None not in counts, "every lead must get an owner"
        spread = max(counts.values()) - min(counts.values())
        print(f"equal weights: {equal_seconds:.2f} s, spread {spread}, "
              f"ratio to baseline {equal_seconds / bound:.2f}")  # fmt: skip

        weights = [float(1 + n % 5) for n in range(len(user_ids))]
        reset(workspace_id, user_ids, weights, "weighted")
        weighted_seconds = rotate_all(workspace_id)
        counts = shares()
        total_weight = sum(weights)
        error = max(
            abs(counts[u] / args.leads - w / total_weight) / (w / total_weight) * 100
            for u, w in zip(user_ids, weights, strict=True)
        )
        print(f"weighted: {weighted_seconds:.2f} s, largest share error {error:.3f}%, "
              f"ratio to baseline {weighted_seconds / bound:.2f}")  # fmt: skip
        audits = db.session.scalar(sa.select(sa.func.count()).select_from(Activity))
        assert audits == args.leads, f"{audits} audit rows for {args.leads} leads"
    seconds = max(equal_seconds, weighted_seconds)
    print(f"rotation: leads={args.leads} reps={args.reps} seconds={seconds:.2f} "
          f"spread={spread} weight_error_pct={error:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
