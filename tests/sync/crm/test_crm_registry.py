"""Building targets from admin settings: field-level errors, and targets kept apart."""

from __future__ import annotations

import pytest

from sync.crm import KINDS, InvalidTarget, Outcome, target_for, validate
from sync.crm.hubspot import HubSpotTarget
from tests.sync.crm.conftest import FAST
from tests.sync.crm.fake_hubspot import TOKEN
from tests.sync.crm.webhook_receiver import SECRET, Receiver

PIPEDRIVE_KEY = "5f1c1b7a9d0e4c3b2a19f8e7d6c5b4a392817160"


def test_every_kind_is_listed():
    assert set(KINDS) == {"hubspot", "pipedrive", "webhook"}


@pytest.mark.parametrize(
    ("kind", "settings", "mapping", "field", "message"),
    [
        ("salesforce", {}, None, "kind", "Unknown target kind"),
        ("hubspot", {}, None, "token", "Enter the API token"),
        ("hubspot", {"token": "a b"}, None, "token", "spaces"),
        ("hubspot", {"token": "t", "batch_size": 500}, None, "batch_size", "from 1 to 100"),
        ("hubspot", {"token": "t", "timeout_seconds": "soon"}, None, "timeout_seconds", "number"),
        ("hubspot", {"token": "t", "max_attempts": 0}, None, "max_attempts", "from 1 to 10"),
        ("hubspot", {"token": "t", "base_url": "ftp://x"}, None, "base_url", "http://"),
        (
            "hubspot",
            {"token": "t"},
            {"contact": {"JobTitle": "title"}},
            "field_mapping.contact.JobTitle",
            "lower case",
        ),
        (
            "hubspot",
            {"token": "t"},
            {"contact": {"my-field": "title"}},
            "field_mapping.contact.my-field",
            "internal property name",
        ),
        (
            "hubspot",
            {"token": "t"},
            {"ticket": {"subject": "title"}},
            "field_mapping.ticket",
            "Unknown object type",
        ),
        (
            "hubspot",
            {"token": "t"},
            {"contact": {"jobtitle": "job"}},
            "field_mapping.contact.jobtitle",
            "Unknown source field",
        ),
        ("hubspot", {"token": "t"}, ["email"], "field_mapping.field_mapping", "object"),
        ("pipedrive", {"token": "t", "deal_object": "ticket"}, None, "deal_object", "deal or lead"),
        (
            "pipedrive",
            {"token": "t"},
            {"contact": {"favourite": "title"}},
            "field_mapping.contact.favourite",
            "40-character key",
        ),
        (
            "pipedrive",
            {"token": "t"},
            {"stages": {"qualified": "Qualified"}},
            "field_mapping.stages",
            "numeric stage ids",
        ),
        ("webhook", {"url": "https://h.example.com/x", "secret": "short"}, None, "secret", "16"),
        ("webhook", {"url": "gopher://h.example.com", "secret": SECRET}, None, "url", "http"),
    ],
)
def test_bad_settings_give_field_level_messages(kind, settings, mapping, field, message):
    errors = validate(kind, settings, mapping)

    assert message in errors[field], errors


@pytest.mark.parametrize(
    ("kind", "settings", "mapping"),
    [
        (
            "hubspot",
            {"token": "t", "batch_size": "50"},
            {"contact": {"lead_source": "custom.src", "phone": ""}},
        ),
        (
            "pipedrive",
            {"token": "t", "deal_object": "lead"},
            {"contact": {PIPEDRIVE_KEY: "custom.src"}, "stages": {"qualified": 3}},
        ),
        ("webhook", {"url": "http://localhost:8080/hook", "secret": SECRET}, None),
    ],
)
def test_good_settings_pass(kind, settings, mapping):
    assert validate(kind, settings, mapping) == {}


def test_target_for_refuses_bad_settings_with_the_errors(redis):
    with pytest.raises(InvalidTarget) as refused:
        target_for("pipedrive", {"token": ""}, None, redis=redis)
    assert refused.value.errors == {"token": "Enter the API token."}


def test_an_empty_source_removes_a_default_property(redis):
    target = target_for("hubspot", {"token": "t"}, {"contact": {"phone": ""}}, redis=redis)

    assert isinstance(target, HubSpotTarget)
    assert "phone" not in target.mapping["contact"] and "email" in target.mapping["contact"]


def test_wrong_credentials_on_one_target_leave_the_others_alone(server, hubspot, redis, make_item):
    receiver = Receiver()
    server.expect_request("/hook").respond_with_handler(receiver.handle)
    broken = target_for(
        "hubspot", {"token": "pat-wrong", "base_url": server.url_for("/"), **FAST}, redis=redis
    )
    working_hubspot = target_for(
        "hubspot", {"token": TOKEN, "base_url": server.url_for("/"), **FAST}, redis=redis
    )
    webhook = target_for(
        "webhook", {"url": server.url_for("/hook"), "secret": SECRET, **FAST}, redis=redis
    )
    items = [make_item(1), make_item(2)]

    outcomes = {
        t: [r.outcome for r in t.deliver(items)] for t in (broken, working_hubspot, webhook)
    }

    assert outcomes[broken] == [Outcome.NEEDS_ATTENTION] * 2
    assert outcomes[working_hubspot] == [Outcome.DELIVERED] * 2
    assert outcomes[webhook] == [Outcome.DELIVERED] * 2
