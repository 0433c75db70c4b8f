"""Pipedrive target against a local server that checks every body against Pipedrive's specs."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from sync.crm import Outcome, target_for
from tests.sync.crm.conftest import FAST
from tests.sync.crm.fake_pipedrive import CUSTOM_FIELD, SPECS, TOKEN

pytestmark = pytest.mark.skipif(not SPECS.is_dir(), reason=f"Pipedrive specs not found at {SPECS}")


@pytest.fixture
def target(server, pipedrive, redis):
    def build(mapping=None, **settings):
        config = {"token": TOKEN, "base_url": server.url_for("/"), **FAST, **settings}
        return target_for("pipedrive", config, mapping, redis=redis)

    return build


def calls(fake):
    return [(method, path) for method, path, _ in fake.requests]


def deal_item(make_item, number=1, **fields):
    return make_item(
        number,
        deal_name="Acme rollout",
        deal_value=Decimal("1200.50"),
        deal_currency="USD",
        deal_stage="qualified",
        **fields,
    )


def test_creates_organization_person_and_deal_with_spec_valid_bodies(target, pipedrive, make_item):
    result = target({"stages": {"qualified": "3"}}).deliver([deal_item(make_item)])[0]

    assert result.outcome == Outcome.DELIVERED, result.message
    assert pipedrive.violations == []
    assert calls(pipedrive) == [
        ("POST", "/api/v2/organizations"),
        ("POST", "/api/v2/persons"),
        ("POST", "/api/v2/deals"),
    ]
    ids = result.external_ids
    person = pipedrive.objects["persons"][ids["contact"]]
    assert person["org_id"] == int(ids["company"])
    assert person["emails"] == [{"value": "Person1@Example.com", "primary": True, "label": "work"}]
    deal = pipedrive.objects["deals"][ids["deal"]]
    assert (deal["person_id"], deal["org_id"]) == (int(ids["contact"]), int(ids["company"]))
    assert (deal["value"], deal["currency"], deal["stage_id"]) == (1200.5, "USD", 3)


def test_leads_go_through_api_v1(target, pipedrive, make_item):
    result = target(deal_object="lead").deliver([deal_item(make_item)])[0]

    assert result.outcome == Outcome.DELIVERED, result.message
    assert pipedrive.violations == []
    lead = pipedrive.objects["leads"][result.external_ids["lead"]]
    assert lead["value"] == {"amount": 1200.5, "currency": "USD"}
    assert lead["person_id"] == int(result.external_ids["contact"])
    assert ("POST", "/api/v1/leads") in calls(pipedrive)


def test_stored_ids_are_updated_never_searched_or_created_again(target, pipedrive, make_item):
    first = target(deal_object="lead").deliver([deal_item(make_item)])[0]
    again = deal_item(make_item, title="COO", external_ids=first.external_ids)
    pipedrive.requests.clear()

    second = target(deal_object="lead").deliver([again])[0]

    assert second.outcome == Outcome.DELIVERED and second.external_ids == first.external_ids
    assert [m for m, _ in calls(pipedrive)] == ["PATCH"] * 3
    assert not any("search" in path for _, path in calls(pipedrive))
    assert {k: len(v) for k, v in pipedrive.objects.items()} == {
        "persons": 1,
        "organizations": 1,
        "deals": 0,
        "leads": 1,
    }
    assert pipedrive.violations == []


def test_custom_fields_go_in_custom_fields(target, pipedrive, make_item):
    mapping = {"contact": {CUSTOM_FIELD: "custom.source"}}

    result = target(mapping).deliver([make_item(1, custom={"source": "Webinar"})])[0]

    assert result.outcome == Outcome.DELIVERED, result.message
    person = pipedrive.objects["persons"][result.external_ids["contact"]]
    assert person["custom_fields"] == {CUSTOM_FIELD: "Webinar"}


def test_unknown_custom_field_marks_the_item_with_pipedrives_reason(target, pipedrive, make_item):
    missing = "a" * 40
    mapping = {"contact": {missing: "custom.source"}}

    results = target(mapping).deliver(
        [make_item(1, custom={"source": "Webinar"}), make_item(2, company=None)]
    )

    assert [r.outcome for r in results] == [Outcome.NEEDS_ATTENTION, Outcome.DELIVERED]
    assert f"custom field {missing} does not exist" in results[0].message
    assert results[0].external_ids.keys() == {"company"}  # the organization was made first


def test_wrong_token_needs_attention_for_every_item(target, make_item):
    build = target(token="f" * 40)

    results = build.deliver([make_item(1), make_item(2)])

    assert {r.outcome for r in results} == {Outcome.NEEDS_ATTENTION}
    assert "unauthorized access" in results[0].message
    assert "unauthorized access" in build.check().message


def test_deleted_person_needs_attention(target, make_item):
    result = target().deliver([make_item(1, company=None, external_ids={"contact": "4242"})])[0]

    assert result.outcome == Outcome.NEEDS_ATTENTION
    assert "Person not found" in result.message


@pytest.mark.parametrize("fault", ["429", "500", "malformed", "slow"])
def test_passing_faults_are_retried(target, pipedrive, make_item, fault):
    pipedrive.faults = [fault]

    result = target().deliver([make_item(1, company=None)])[0]

    assert result.outcome == Outcome.DELIVERED, result.message
    assert pipedrive.violations == []


def test_vendor_down_turns_the_rest_of_the_batch_into_retry(target, pipedrive, make_item):
    pipedrive.faults = [None, "500", "500", "500"]

    results = target().deliver([make_item(n, company=None) for n in range(1, 4)])

    assert [r.outcome for r in results] == [Outcome.DELIVERED, Outcome.RETRY, Outcome.RETRY]
    assert results[1].retry_after > 0


def test_per_token_limit_is_honoured_without_a_429(target, pipedrive, make_item):
    pipedrive.limit, pipedrive.window = 5, 1.0

    results = target(requests_per_window=5, window_seconds=1).deliver(
        [make_item(n, company=None) for n in range(8)]
    )

    assert {r.outcome for r in results} == {Outcome.DELIVERED}
    assert pipedrive.statuses[429] == 0


@pytest.mark.parametrize(
    ("path", "body", "problem"),
    [
        ("/api/v2/deals", {"value": 10}, "'title' is a required property"),
        ("/api/v2/deals", {"title": "x", "value": "10"}, "value: '10' is not of type 'number'"),
        ("/api/v2/persons", {"name": "x", "email": "a@b.co"}, "Additional properties"),
        ("/api/v1/leads", {"title": "x", "value": {"amount": 1}}, "'currency' is a required"),
    ],
)
def test_the_local_pipedrive_refuses_bodies_off_the_spec(server, pipedrive, path, body, problem):
    response = requests.post(
        server.url_for(path), json=body, headers={"x-api-token": TOKEN}, timeout=5
    )

    assert response.status_code == 400 and response.json()["success"] is False
    assert problem in pipedrive.violations[0]
