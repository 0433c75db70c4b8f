"""The admin form's checks for a CRM target."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from sync.crm.forms import CrmTargetForm, mapping_from_text, mapping_to_text, masked


def submit(app, stored=None, **data):
    with app.test_request_context(method="POST", data=MultiDict(data)):
        form = CrmTargetForm(meta={"csrf": False}, stored=stored)
        return form, form.validate()


def test_a_complete_hubspot_target_is_valid(app):
    form, valid = submit(
        app,
        name="HubSpot EU",
        kind="hubspot",
        token="pat-eu1-abc",
        requests_per_window="190",
        window_seconds="10",
        field_mapping="contact.lead_source = custom.source\ncontact.phone =",
    )

    assert valid, form.errors
    assert form.settings() == {
        "token": "pat-eu1-abc",
        "requests_per_window": 190,
        "window_seconds": 10.0,
    }
    assert form.mapping() == {"contact": {"lead_source": "custom.source", "phone": ""}}


def test_missing_token_and_bad_mapping_are_shown_on_their_fields(app):
    form, valid = submit(
        app,
        name="HubSpot",
        kind="hubspot",
        field_mapping="contact.JobTitle = title\nnonsense",
    )

    assert not valid
    assert form.token.errors == ["Enter the API token."]
    assert "Line 2: write object.property = source." in form.field_mapping.errors
    assert any("contact.JobTitle" in e and "lower case" in e for e in form.field_mapping.errors)


def test_a_blank_secret_keeps_the_stored_one(app):
    form, valid = submit(
        app,
        stored={"secret": "kept-secret-0123456789"},
        name="Hook",
        kind="webhook",
        url="https://hooks.example.com/leadline",
    )

    assert valid, form.errors
    assert form.settings()["secret"] == "kept-secret-0123456789"


@pytest.mark.parametrize("url", ["ftp://hooks.example.com", "https://", "javascript:alert(1)"])
def test_a_malformed_webhook_url_is_refused_on_its_field(app, url):
    form, valid = submit(app, name="Hook", kind="webhook", url=url, secret="s" * 20)

    assert not valid and form.url.errors


def test_mapping_text_round_trips():
    mapping = {"contact": {"jobtitle": "title"}, "stages": {"qualified": "3"}}

    assert mapping_from_text(mapping_to_text(mapping)) == (mapping, [])


def test_masked_settings_say_only_that_a_secret_is_set():
    assert masked({"token": "pat-na1-abcdef1234", "url": "https://x.example", "secret": ""}) == {
        "token": "set",
        "url": "https://x.example",
        "secret": "",
    }
