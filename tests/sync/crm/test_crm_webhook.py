"""The signed outbound webhook, against a local receiver that checks signatures."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sync.crm import InvalidTarget, Outcome, target_for
from sync.crm.webhook import WebhookTarget
from tests.sync.crm.conftest import FAST
from tests.sync.crm.webhook_receiver import SECRET, Receiver


@pytest.fixture
def receiver(server) -> Receiver:
    receiver = Receiver()
    server.expect_request("/hooks/leadline", method="POST").respond_with_handler(receiver.handle)
    return receiver


@pytest.fixture
def target(server, receiver, redis):
    def build(**settings):
        config = {"url": server.url_for("/hooks/leadline"), "secret": SECRET, **FAST, **settings}
        return target_for("webhook", config, None, redis=redis)

    return build


def test_each_item_is_posted_as_signed_json(target, receiver, make_item):
    item = make_item(
        1,
        deal_name="Acme rollout",
        deal_value=Decimal("1200.50"),
        deal_currency="USD",
        external_ids={"contact": "77"},
    )

    results = target().deliver([item, make_item(2)])

    assert [r.outcome for r in results] == [Outcome.DELIVERED] * 2
    payload, headers = receiver.received[0]
    assert payload["idempotency_key"] == "handoff-1" and headers["Idempotency-Key"] == "handoff-1"
    assert payload["lead"]["email"] == "Person1@Example.com"
    assert payload["deal"] == {"name": "Acme rollout", "value": "1200.50", "currency": "USD"}
    assert payload["external_ids"] == {"contact": "77"}
    assert "deal" not in receiver.received[1][0]


def test_wrong_secret_needs_attention_with_the_receivers_message(target, make_item):
    results = target(secret="another-secret-entirely").deliver([make_item(1), make_item(2)])

    assert {r.outcome for r in results} == {Outcome.NEEDS_ATTENTION}
    assert "bad signature" in results[0].message


def test_refused_item_needs_attention_the_others_go_through(target, receiver, make_item):
    receiver.answers = [(200, "OK"), (422, "email domain not accepted")]

    results = target().deliver([make_item(n) for n in range(1, 4)])

    assert [r.outcome for r in results] == [
        Outcome.DELIVERED,
        Outcome.NEEDS_ATTENTION,
        Outcome.DELIVERED,
    ]
    assert "email domain not accepted" in results[1].message
    assert len(receiver.received) == 3  # refused once, never resent


@pytest.mark.parametrize("fault", [(500, "oops"), (429, "slow down"), (503, ""), "slow"])
def test_passing_failures_are_retried(target, receiver, make_item, fault):
    receiver.answers = [fault]

    result = target().deliver([make_item(1)])[0]

    assert result.outcome == Outcome.DELIVERED
    assert [p["idempotency_key"] for p, _ in receiver.received][-1] == "handoff-1"


def test_receiver_down_means_retry_later(target, receiver, make_item):
    receiver.answers = [(502, "bad gateway")] * 3

    result = target().deliver([make_item(1)])[0]

    assert result.outcome == Outcome.RETRY and result.retry_after > 0


def test_check_sends_a_signed_ping(target, receiver):
    assert target().check().ok
    assert receiver.received[0][0] == {"event": "leadline.ping"}


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.example.com/x",
        "javascript:alert(1)",
        "http://",
        "hooks.example.com/x",
        "https://user:pw@hooks.example.com/",
        "https://hooks.example.com:99999/",
        "https://hooks.exa mple.com/",
        "file:///etc/passwd",
        "",
    ],
)
def test_malformed_urls_are_refused(redis, url):
    with pytest.raises(InvalidTarget) as refused:
        target_for("webhook", {"url": url, "secret": SECRET}, None, redis=redis)
    assert "url" in refused.value.errors
    with pytest.raises(ValueError, match="Webhook URL refused"):
        WebhookTarget({"url": url, "secret": SECRET}, redis=redis)
