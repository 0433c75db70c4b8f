"""Birthdays on the day in the lead's zone, and follow-ups: each announced once."""

from __future__ import annotations

from datetime import date, datetime

from app.extensions import db
from cadences.jobs import remind
from cadences.reminders import add_follow_up
from cadences.signals import cadence_tasks_due


def _announced(run) -> list[dict]:
    seen: list[dict] = []

    def receiver(_sender, **kwargs):
        seen.extend(kwargs["tasks"])

    with cadence_tasks_due.connected_to(receiver):
        run()
    return seen


def test_a_birthday_comes_due_at_nine_in_the_leads_own_zone(app, clock, make_lead, rep):
    tokyo = make_lead(birthday=date(1990, 11, 19), time_zone="Asia/Tokyo", owner_id=rep.id)
    make_lead(birthday=date(1985, 11, 19), time_zone="America/Los_Angeles")
    # 2026-11-18 15:00 UTC: already the 19th in Tokyo (00:00), still the 18th in LA.
    clock(datetime(2026, 11, 18, 15, 0))
    assert _announced(remind) == []  # Tokyo's 09:00 is 00:00 UTC on the 19th
    clock(datetime(2026, 11, 19, 0, 0))
    seen = _announced(remind)
    assert [(s["lead_id"], s["owner_id"], s["kind"]) for s in seen] == [(tokyo.id, rep.id, "task")]
    assert seen[0]["instructions"] == "Wish them a happy birthday"
    assert _announced(remind) == []  # the same day again: nothing twice
    clock(datetime(2026, 11, 19, 17, 0))  # 09:00 in Los Angeles
    assert len(_announced(remind)) == 1


def test_a_follow_up_surfaces_once_when_due(app, clock, make_lead, rep):
    lead = make_lead(owner_id=rep.id)
    add_follow_up(lead, None, datetime(2026, 11, 20, 14, 0), "Send the pricing sheet")
    db.session.commit()
    assert _announced(remind) == []
    clock(datetime(2026, 11, 20, 14, 0))
    seen = _announced(remind)
    assert [(s["owner_id"], s["instructions"]) for s in seen] == [
        (rep.id, "Send the pricing sheet")
    ]
    assert _announced(remind) == []
