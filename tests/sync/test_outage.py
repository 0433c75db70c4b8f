"""A target down for hours: the backlog waits with capped backoff, then goes out once, in order."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta

import pytest
import requests
import sqlalchemy as sa
from werkzeug import Request, Response

from app.extensions import db
from app.models import Role, utcnow
from sync import targets
from sync.backlog import backlog_counts
from sync.handoff import BACKOFF_CAP_SECONDS, deliver_due
from sync.models import Handoff, HandoffState
from sync.targets import (
    Delivered,
    DeliveryResult,
    HandoffRow,
    RetryLater,
    Target,
    register_target,
)


class VendorServer:
    """What a CRM's API does: down (503) or up, answering each key with its one record id."""

    def __init__(self, httpserver) -> None:
        self.url = httpserver.url_for("/records")
        self.up = False
        self.records: dict[str, int] = {}
        self.created: list[str] = []
        httpserver.expect_request("/records", method="POST").respond_with_handler(self.handle)

    def handle(self, request: Request) -> Response:
        if not self.up:
            return Response("maintenance", status=503)
        key = json.loads(request.data)["key"]
        if key not in self.records:  # the vendor's own idempotency: one record per key
            self.records[key] = len(self.records) + 1
            self.created.append(key)
        return Response(json.dumps({"id": self.records[key]}), content_type="application/json")


def http_target(url: str, per_minute: int | None = None) -> Target:
    """A minimal adapter speaking to the vendor over real HTTP."""

    def deliver(rows: Sequence[HandoffRow]) -> list[DeliveryResult]:
        results: list[DeliveryResult] = []
        for row in rows:
            response = requests.post(url, json={"key": row.idempotency_key}, timeout=5)
            if response.status_code >= 500:
                results.append(RetryLater(f"HTTP {response.status_code}"))
            else:
                results.append(Delivered({"record_id": response.json()["id"]}))
        return results

    return Target("vendor", "the vendor", deliver, batch_size=50, per_minute=per_minute)


@pytest.fixture
def vendor(app, httpserver, monkeypatch):
    server = VendorServer(httpserver)
    monkeypatch.setitem(app.config, "HANDOFF_TARGETS", ("pipeline", "vendor"))
    # The test's target is registered for this test only.
    monkeypatch.setattr(targets, "_REGISTRY", dict(targets._REGISTRY))
    return server


def test_hours_of_outage_then_everything_once_in_order(vendor, promoted):
    target = http_target(vendor.url)
    register_target(target)
    leads = [promoted() for _ in range(6)]
    start = utcnow()
    assert deliver_due(target, now=start) == 0
    attempts_seen = []
    for minutes in range(10, 3 * 60, 10):  # three hours, looked at every ten minutes
        deliver_due(target, now=start + timedelta(minutes=minutes))
        attempts_seen.append(db.session.scalar(sa.select(sa.func.max(Handoff.attempts))
                                               .where(Handoff.target == "vendor")))  # fmt: skip
    rows = db.session.scalars(sa.select(Handoff).where(Handoff.target == "vendor")).all()
    assert {row.state for row in rows} == {HandoffState.FAILED}
    assert {row.last_error for row in rows} == {"HTTP 503"}
    # Backoff: far fewer attempts than looks, and never more than the cap apart.
    assert 4 <= attempts_seen[-1] <= 12
    counts = {b.name: b.counts for b in backlog_counts(leads[0].workspace_id)}
    assert counts["vendor"] == {"failed": 6}
    assert counts["pipeline"] == {"pending": 6}  # the other target is not held up by it

    vendor.up = True
    later = start + timedelta(hours=3, seconds=BACKOFF_CAP_SECONDS)
    assert deliver_due(target, now=later) == 6
    assert deliver_due(target, now=later + timedelta(hours=1)) == 0
    ordered_keys = db.session.scalars(
        sa.select(Handoff.idempotency_key).where(Handoff.target == "vendor").order_by(Handoff.id)
    ).all()
    assert vendor.created == ordered_keys  # each once, in the order the leads qualified


def test_the_rate_limit_spreads_the_backlog_over_minutes(vendor, promoted):
    target = http_target(vendor.url, per_minute=4)
    register_target(target)
    vendor.up = True
    for _ in range(10):
        promoted()
    start = utcnow()
    delivered = [deliver_due(target, now=start + timedelta(minutes=m)) for m in range(4)]
    assert delivered == [4, 4, 2, 0]
    assert len(vendor.created) == 10


def test_the_sync_page_shows_a_down_target(vendor, promoted, client, login, make_user):
    register_target(http_target(vendor.url))
    promoted(first_name="Waiting")
    deliver_due(http_target(vendor.url))
    login(make_user(Role.ADMIN))
    page = client.get("/sync?state=failed", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "HTTP 503" in page and "Waiting" in page and "<html" not in page
