"""HubSpot target against a local server that answers as HubSpot's CRM API does."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from sync.crm import Outcome, target_for
from tests.sync.crm.conftest import FAST
from tests.sync.crm.fake_hubspot import DEAL_KEY, TOKEN, FakeHubSpot


@pytest.fixture
def target(server, hubspot, redis):
    def build(mapping=None, **settings):
        config = {"token": TOKEN, "base_url": server.url_for("/"), **FAST, **settings}
        return target_for("hubspot", config, mapping, redis=redis)

    return build


def posts(fake, fragment):
    return [body for method, path, body in fake.requests if method == "POST" and fragment in path]


def test_delivers_contacts_companies_deals_and_associations(target, hubspot, make_item):
    items = [
        make_item(
            1,
            deal_name="Acme rollout",
            deal_value=Decimal("1200.50"),
            deal_currency="USD",
            deal_stage="qualified",
        ),
        make_item(2),
        make_item(3, company="Globex", website="globex.example"),
    ]
    results = target({"stages": {"qualified": "appointmentscheduled"}}).deliver(items)

    assert [r.outcome for r in results] == [Outcome.DELIVERED] * 3
    first, second, third = (r.external_ids for r in results)
    assert set(first) == {"contact", "company", "deal"}
    assert first["company"] == second["company"] != third["company"]  # one Acme per batch
    contact = hubspot.objects["contacts"][first["contact"]]
    assert contact["email"] == "person1@example.com" and contact["jobtitle"] == "Head of Operations"
    company = hubspot.objects["companies"][first["company"]]
    assert company["domain"] == "acme-tools.com"
    deal = hubspot.objects["deals"][first["deal"]]
    assert deal["dealstage"] == "appointmentscheduled" and deal["amount"] == 1200.5
    assert ("contacts", first["contact"], "companies", first["company"]) in hubspot.associations
    assert ("deals", first["deal"], "contacts", first["contact"]) in hubspot.associations
    assert ("deals", first["deal"], "companies", first["company"]) in hubspot.associations
    upsert = posts(hubspot, "contacts/batch/upsert")[0]["inputs"][0]
    assert upsert["idProperty"] == "email" and upsert["id"] == "person1@example.com"


def test_second_delivery_updates_by_stored_ids(target, hubspot, make_item):
    first = target().deliver([make_item(1, deal_name="Acme rollout")])[0]
    again = make_item(1, title="COO", deal_name="Acme rollout", external_ids=first.external_ids)

    second = target().deliver([again])[0]

    assert second.outcome == Outcome.DELIVERED and second.external_ids == first.external_ids
    assert {k: len(v) for k, v in hubspot.objects.items()} == {
        "contacts": 1,
        "companies": 1,
        "deals": 1,
    }
    assert hubspot.objects["contacts"][first.external_ids["contact"]]["jobtitle"] == "COO"
    assert posts(hubspot, "contacts/batch/update") and posts(hubspot, "deals/batch/update")


def test_multi_status_resends_only_the_failed_items(target, hubspot, make_item):
    hubspot.flaky["person2@example.com"] = 1  # its first upsert fails with a 207

    results = target().deliver([make_item(n) for n in range(1, 4)])

    assert [r.outcome for r in results] == [Outcome.DELIVERED] * 3
    upserts = posts(hubspot, "contacts/batch/upsert")
    assert [len(u["inputs"]) for u in upserts] == [3, 1]
    assert upserts[1]["inputs"][0]["id"] == "person2@example.com"
    assert len(hubspot.objects["contacts"]) == 3


def test_multi_status_refusal_marks_only_that_item(target, hubspot, make_item):
    results = target().deliver([make_item(1), make_item(2, email="not-an-email"), make_item(3)])

    assert [r.outcome for r in results] == [
        Outcome.DELIVERED,
        Outcome.NEEDS_ATTENTION,
        Outcome.DELIVERED,
    ]
    assert "not-an-email is invalid" in results[1].message
    assert len(posts(hubspot, "contacts/batch/upsert")) == 1  # refused items are not resent


def test_429_waits_for_retry_after_then_delivers(target, hubspot, make_item):
    hubspot.faults = ["429"]
    started = time.monotonic()

    result = target().deliver([make_item(1)])[0]

    assert result.outcome == Outcome.DELIVERED
    assert time.monotonic() - started >= 0.9  # Retry-After: 1 was honoured
    assert hubspot.statuses[429] == 1


def test_429_longer_than_the_worker_may_wait_comes_back_as_retry(target, hubspot, make_item):
    hubspot.faults = ["429"]

    result = target(max_wait_seconds=0.5).deliver([make_item(1)])[0]

    assert result.outcome == Outcome.RETRY and result.retry_after >= 1
    assert "rate limiting" in result.message


def test_server_errors_are_retried_then_delivered(target, hubspot, make_item):
    hubspot.faults = ["500", "502-html"]

    assert target().deliver([make_item(1)])[0].outcome == Outcome.DELIVERED
    assert hubspot.statuses[500] == 1 and hubspot.statuses[502] == 1


def test_lasting_server_errors_become_retry_with_a_delay(target, hubspot, make_item):
    hubspot.faults = ["500"] * 3

    results = target().deliver([make_item(1), make_item(2)])

    assert {r.outcome for r in results} == {Outcome.RETRY}
    assert all(r.retry_after and r.retry_after > 0 for r in results)
    assert "500" in results[0].message


def test_timeout_is_retried_and_the_upsert_does_not_duplicate(target, hubspot, make_item):
    hubspot.faults = ["slow"]  # answers after 1 s; the client gives up after 0.5 s

    result = target().deliver([make_item(1)])[0]

    assert result.outcome == Outcome.DELIVERED
    assert len(posts(hubspot, "contacts/batch/upsert")) == 2
    assert len(hubspot.objects["contacts"]) == 1


@pytest.mark.parametrize("fault", ["malformed", "no-results"])
def test_malformed_reply_is_retried(target, hubspot, make_item, fault):
    hubspot.faults = [fault]

    result = target().deliver([make_item(1)])[0]

    assert result.outcome == Outcome.DELIVERED and result.external_ids["contact"]


def test_wrong_token_needs_attention_with_hubspots_message(target, make_item):
    build = target(token="pat-na1-wrong")

    results = build.deliver([make_item(1), make_item(2)])
    check = build.check()

    assert {r.outcome for r in results} == {Outcome.NEEDS_ATTENTION}
    assert "Authentication credentials not found" in results[0].message
    assert not check.ok and "Authentication credentials not found" in check.message


def test_check_succeeds_with_the_right_token(target):
    assert target().check().ok


def test_mapped_property_hubspot_rejects_marks_items_with_the_reason(target, hubspot, make_item):
    mapping = {"contact": {"favourite_color": "custom.color"}}

    results = target(mapping).deliver([make_item(1, custom={"color": "teal"})])

    assert results[0].outcome == Outcome.NEEDS_ATTENTION
    assert 'Property \\"favourite_color\\" does not exist' in results[0].message
    assert not hubspot.objects["contacts"]


def test_deleted_contact_needs_attention_others_delivered(target, hubspot, make_item):
    gone = make_item(1, external_ids={"contact": "999999"})

    results = target().deliver([gone, make_item(2)])

    assert [r.outcome for r in results] == [Outcome.NEEDS_ATTENTION, Outcome.DELIVERED]
    assert "may be deleted" in results[0].message
    assert results[0].external_ids == {"contact": "999999"}


def test_large_deliveries_go_in_batches_of_at_most_100(target, hubspot, make_item):
    results = target().deliver([make_item(n, company=None) for n in range(250)])

    assert {r.outcome for r in results} == {Outcome.DELIVERED}
    assert [len(u["inputs"]) for u in posts(hubspot, "contacts/batch/upsert")] == [100, 100, 50]


def test_failure_in_a_later_batch_keeps_earlier_batches_delivered(target, hubspot, make_item):
    # Batch 1 (size 2): upsert, companies create, associations: 3 requests; then batch 2 fails.
    hubspot.faults = [None, None, None, "500", "500", "500"]

    results = target(batch_size=2).deliver([make_item(n) for n in range(1, 5)])

    assert [r.outcome for r in results] == [Outcome.DELIVERED] * 2 + [Outcome.RETRY] * 2


def test_two_items_of_one_person_share_one_input(target, hubspot, make_item):
    first = target().deliver([make_item(1)])[0]
    twins = [make_item(1, key=f"twin-{n}", external_ids=first.external_ids) for n in (1, 2)]
    fresh = [make_item(2, key=f"fresh-{n}") for n in (1, 2)]

    results = target().deliver(twins + fresh)

    assert {r.outcome for r in results} == {Outcome.DELIVERED}
    assert len(posts(hubspot, "contacts/batch/update")[-1]["inputs"]) == 1
    assert len(posts(hubspot, "contacts/batch/upsert")[-1]["inputs"]) == 1
    assert results[2].external_ids["contact"] == results[3].external_ids["contact"]


def test_check_creates_the_unique_deal_key_property_once(server, redis, make_item):
    fake = FakeHubSpot(deal_key=False)
    server.clear()
    fake.install(server)
    config = {"token": TOKEN, "base_url": server.url_for("/"), **FAST}
    crm = target_for("hubspot", config, redis=redis)
    item = make_item(1, deal_name="Orbit", deal_value=Decimal("10"), deal_stage="new")
    # Without the property HubSpot refuses the upsert: the item says why.
    (refused,) = crm.deliver([item])
    assert refused.outcome == Outcome.NEEDS_ATTENTION and DEAL_KEY in refused.message

    assert crm.check().ok and crm.check().ok
    assert DEAL_KEY in fake.unique["deals"]
    assert len(posts(fake, "/crm/v3/properties/deals")) == 1
    (delivered,) = crm.deliver([make_item(1, deal_name="Orbit", deal_value=Decimal("10"))])
    assert delivered.outcome == Outcome.DELIVERED and "deal" in delivered.external_ids
