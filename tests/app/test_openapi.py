"""The OpenAPI document at /api/openapi.json: valid, complete, true of real answers, and
fuzzed by schemathesis with a real token (no server error for any input)."""

from __future__ import annotations

import re
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.extensions import db
from app.models import Role
from leads.models import LeadList
from tests.leads.dial_factories import make_lead

# Per operation: enough to reach each field's edges, few enough to stay quick.
EXAMPLES = {GenerationMode.POSITIVE: 10, GenerationMode.NEGATIVE: 5}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _document(client) -> dict:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def test_the_document_is_valid_openapi_3(client):
    document = _document(client)
    validate(document)
    assert document["openapi"].startswith("3.")
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_every_api_route_is_in_the_document(app, client):
    paths = _document(client)["paths"]
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.endpoint == "api-docs.openapi_json":
            continue
        path = re.sub(r"<(?:[^:>]+:)?(\w+)>", r"{\1}", rule.rule)
        assert path in paths, path
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in paths[path], (method, path)


def test_real_answers_match_the_document(
    app, client, api_client, workspace, make_user, api_headers
):
    schema = schemathesis.openapi.from_dict(_document(client))
    marketer = make_user(Role.MARKETER)
    lead = make_lead(marketer)
    lead_list = LeadList(workspace_id=workspace.id, name="Fair")
    db.session.add(lead_list)
    db.session.commit()
    headers = api_headers(marketer)
    calls = [
        ("/api/leads", "GET", api_client.get("/api/leads", headers=headers), 200),
        ("/api/leads/{lead_id}", "GET", api_client.get(f"/api/leads/{lead.id}", headers=headers),
         200),
        ("/api/leads", "POST", api_client.post(
            "/api/leads", json={"list_id": lead_list.id, "email": "ann@example.com"},
            headers=headers), 201),
        ("/api/leads", "POST", api_client.post(
            "/api/leads", json={"list_id": lead_list.id}, headers=headers), 422),
        ("/api/leads/{lead_id}/activities", "GET",
         api_client.get(f"/api/leads/{lead.id}/activities", headers=headers), 200),
        ("/api/deals", "GET", api_client.get("/api/deals", headers=headers), 403),
        ("/api/leads", "GET", api_client.get("/api/leads"), 401),
    ]  # fmt: skip
    for path, method, response, status in calls:
        assert response.status_code == status, (path, method, response.get_json())
        schema[path][method].validate_response(response)


def _fuzz(operation, mode: GenerationMode, headers: dict, statuses: Counter[int]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES[mode], deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def call(case):
        statuses[case.call_and_validate(headers=headers, checks=CHECKS).status_code] += 1

    call()


@pytest.mark.slow
def test_no_input_breaks_the_api(app, workspace, make_user, api_headers):
    """schemathesis generates requests for every operation from the document, valid and
    not, sent with an admin's token holding every scope; every answer must be documented,
    conform to its schema, and none may be a server error."""
    admin = make_user(Role.ADMIN)
    make_lead(admin)
    db.session.add(LeadList(workspace_id=workspace.id, name="Fuzz"))
    db.session.commit()
    headers = api_headers(admin)
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 11

    # Valid requests, and requests the document says are invalid.
    statuses: dict[GenerationMode, Counter[int]] = {mode: Counter() for mode in GenerationMode}
    for operation in operations:
        for mode in GenerationMode:
            _fuzz(operation, mode, headers, statuses[mode])
    valid = statuses[GenerationMode.POSITIVE]
    # The token got valid requests in: the answers are the endpoints', not the gate's.
    assert 401 not in valid and 403 not in valid
    assert {200, 404, 422} <= valid.keys(), valid
    assert statuses[GenerationMode.NEGATIVE].keys() & {400, 422}
