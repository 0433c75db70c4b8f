"""A local Pipedrive whose every request body is checked against Pipedrive's OpenAPI specs.

Persons, organizations and deals answer as API v2 does, leads as API v1 does. A body
the spec does not allow (a wrong type, a missing required field, an unknown top-level
field) is refused with 400 and recorded in ``violations``; so is a custom field key the
account does not have. The fake's own replies are checked against the spec's response
schemas, so the fixtures cannot drift from the published shapes.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import threading
import time
import uuid
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from openapi_schema_validator import OAS30Validator
from werkzeug import Request, Response

SPECS = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "specs"
TOKEN = "0123456789abcdef0123456789abcdef01234567"
CUSTOM_FIELD = "5f1c1b7a9d0e4c3b2a19f8e7d6c5b4a392817160"
_ROUTES = {
    "persons": ("v2", "/persons"),
    "organizations": ("v2", "/organizations"),
    "deals": ("v2", "/deals"),
    "leads": ("v1", "/leads"),
}
_PATH = re.compile(r"^/api/(v1|v2)/(persons|organizations|deals|leads)(?:/([\w-]+))?$")


@cache
def spec(version: str) -> dict[str, Any]:
    with open(SPECS / f"pipedrive-openapi-{version}.yaml") as handle:
        return yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@cache
def validators(version: str, path: str, method: str) -> tuple[OAS30Validator, OAS30Validator]:
    """(request body validator, success response validator) for one operation."""
    operation = spec(version)["paths"][path][method]
    request = _closed(
        copy.deepcopy(operation["requestBody"]["content"]["application/json"]["schema"])
    )
    ok = next(code for code in ("200", "201") if code in operation["responses"])
    response = operation["responses"][ok]["content"]["application/json"]["schema"]
    return OAS30Validator(request), OAS30Validator(response)


@cache
def deleted_validator(version: str, path: str) -> OAS30Validator:
    """The success response of a DELETE operation (it has no request body)."""
    responses = spec(version)["paths"][path]["delete"]["responses"]
    return OAS30Validator(responses["200"]["content"]["application/json"]["schema"])


def _closed(schema: Any) -> Any:
    """Refuse fields the spec does not list, as Pipedrive does (custom fields stay open)."""
    if isinstance(schema, dict):
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
        for value in schema.values():
            _closed(value)
    elif isinstance(schema, list):
        for value in schema:
            _closed(value)
    return schema


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status, headers, content_type="application/json")


def _failure(
    status: int, error: str, info: str = "Please check developers.pipedrive.com"
) -> Response:
    return _json(
        status,
        {
            "success": False,
            "error": error,
            "errorCode": status,
            "error_info": info,
            "data": None,
            "additional_data": None,
        },
    )


class FakePipedrive:
    def __init__(self, limit: int | None = None, window: float = 2.0, slow: float = 1.0) -> None:
        self.objects: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in _ROUTES}
        self.custom_fields = {CUSTOM_FIELD}
        self.faults: list[str] = []
        self.violations: list[str] = []
        self.deleted: dict[str, list[str]] = {name: [] for name in _ROUTES}
        self.requests: list[tuple[str, str, Any]] = []
        self.statuses: Counter[int] = Counter()
        self.limit, self.window, self.slow = limit, window, slow
        self._window_start, self._window_count = time.monotonic(), 0
        self._ids = itertools.count(101)
        self._lock = threading.Lock()

    def install(self, server) -> None:
        # Parse the specs before the first request, not inside it: that would take
        # longer than the clients' timeout in the tests.
        for version, base in _ROUTES.values():
            validators(version, base, "post")
            validators(version, f"{base}/{{id}}", "patch")
        deleted_validator("v2", "/persons/{id}")
        server.expect_request(re.compile(r"^/api/")).respond_with_handler(self.handle)

    def handle(self, request: Request) -> Response:
        body = request.get_json(silent=True)
        with self._lock:
            self.requests.append((request.method, request.path, body))
            fault = self.faults.pop(0) if self.faults else None
            response = (
                self._auth(request)
                or self._throttle()
                or self._fault(fault)
                or self._route(request, body)
            )
            self.statuses[response.status_code] += 1
        if fault == "slow":
            time.sleep(self.slow)
        return response

    def _auth(self, request: Request) -> Response | None:
        if request.headers.get("x-api-token") == TOKEN:
            return None
        return _failure(401, "unauthorized access")

    def _throttle(self) -> Response | None:
        if not self.limit:
            return None
        now = time.monotonic()
        if now - self._window_start >= self.window:
            self._window_start, self._window_count = now, 0
        self._window_count += 1
        reset = max(1, round(self._window_start + self.window - now))
        headers = {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-reset": str(reset),
            "x-ratelimit-remaining": str(max(self.limit - self._window_count, 0)),
        }
        if self._window_count > self.limit:
            return _json(
                429,
                {"success": False, "error": "Request over limit", "errorCode": 429},
                {**headers, "Retry-After": str(reset)},
            )
        return None

    def _fault(self, fault: str | None) -> Response | None:
        if fault == "429":
            return _json(
                429,
                {"success": False, "error": "Request over limit", "errorCode": 429},
                {"Retry-After": "1"},
            )
        if fault == "500":
            return _failure(500, "Internal server error")
        if fault == "malformed":
            return Response(
                '{"success": true, "data": {"id": 1', 200, content_type="application/json"
            )
        return None

    def _route(self, request: Request, body: Any) -> Response:
        match = _PATH.match(request.path)
        if not match or _ROUTES[match.group(2)][0] != match.group(1):
            return _failure(404, f"Unknown route {request.path}")
        version, collection, object_id = match.groups()
        base = _ROUTES[collection][1]
        if request.method == "GET" and not object_id:
            return _json(
                200, {"success": True, "data": list(self.objects[collection].values())[:1]}
            )
        method = request.method.lower()
        path = f"{base}/{{id}}" if object_id else base
        if method == "delete" and object_id and version == "v2":
            return self._delete(collection, object_id, deleted_validator(version, path))
        if (path, method) not in {(base, "post"), (f"{base}/{{id}}", "patch")}:
            return _failure(405, f"{request.method} is not allowed on {request.path}")
        request_schema, response_schema = validators(version, path, method)
        if problem := self._problem(request_schema, body):
            self.violations.append(f"{request.method} {request.path}: {problem}")
            return _failure(400, f"Validation failed: {problem}")
        return self._save(collection, object_id, body, response_schema)

    def _delete(self, collection: str, object_id: str, response_schema) -> Response:
        """Pipedrive marks the object deleted (gone for good after 30 days); gone is 404."""
        if self.objects[collection].pop(object_id, None) is None:
            return _failure(404, f"{collection[:-1].capitalize()} not found")
        self.deleted[collection].append(object_id)
        reply = {"success": True, "data": {"id": int(object_id)}}
        response_schema.validate(reply)
        return _json(200, reply)

    def _problem(self, schema: OAS30Validator, body: Any) -> str | None:
        if not isinstance(body, dict):
            return "the body must be a JSON object"
        errors = sorted(schema.iter_errors(body), key=lambda e: list(e.path))
        if errors:
            where = "/".join(str(p) for p in errors[0].path) or "body"
            return f"{where}: {errors[0].message}"
        custom = set(body.get("custom_fields") or {})
        if unknown := sorted(custom - self.custom_fields):
            return f"custom field {unknown[0]} does not exist"
        return None

    def _save(
        self, collection: str, object_id: str | None, body: dict, response_schema
    ) -> Response:
        store = self.objects[collection]
        created = object_id is None
        if created:
            object_id = str(uuid.uuid4()) if collection == "leads" else str(next(self._ids))
            store[object_id] = {"id": object_id if collection == "leads" else int(object_id)}
        elif object_id not in store:
            return _failure(404, f"{collection[:-1].capitalize()} not found")
        store[object_id].update(body)
        store[object_id]["update_time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        reply = {"success": True, "data": store[object_id]}
        response_schema.validate(reply)
        # API v1 answers a created lead with 201; v2 answers 200 to both.
        return _json(201 if created and collection == "leads" else 200, reply)
