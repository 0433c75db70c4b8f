"""A local HubSpot that answers as the published CRM v3/v4 API does, for tests and the bench.

It keeps contacts, companies, deals and associations in memory and answers the batch
endpoints with HubSpot's shapes: 200/201 with ``results``, 207 with ``errors`` whose
``context.ids`` name the failed inputs, 400 ``VALIDATION_ERROR`` for an unknown
property or a duplicate id, 401 ``INVALID_AUTHENTICATION`` for a wrong token, and 429
with Retry-After over a rolling window when ``limit`` is set. ``faults`` scripts
answers for the next requests ("429", "500", "502-html", "slow", "malformed",
"no-results"). Deals upsert on a property with unique values (``hasUniqueValue``), as
HubSpot allows for any such property; ``/crm/v3/properties/deals`` reads and creates
properties. ``stall`` names a path whose next request is applied, then answered only
after ``slow`` seconds (a worker can be killed while it waits). ``batch/archive``
deletes objects and answers 204 with no body, also for ids it does not know.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import threading
import time
import uuid
from collections import Counter, deque
from typing import Any

from werkzeug import Request, Response

DEAL_KEY = "leadline_handoff_key"
TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"
PROPERTIES = {
    "contacts": {
        "email",
        "firstname",
        "lastname",
        "phone",
        "company",
        "jobtitle",
        "website",
        "city",
        "state",
        "country",
        "lifecyclestage",
    },
    "companies": {"name", "domain", "city", "state", "country", "industry"},
    "deals": {"dealname", "amount", "deal_currency_code", "dealstage", "pipeline", "closedate"},
}
_OBJECT = re.compile(r"^/crm/v3/objects/(contacts|companies|deals)/batch/(upsert|create|update)$")
_ARCHIVE = re.compile(r"^/crm/v3/objects/(contacts|companies|deals)/batch/archive$")
_PROPERTY = re.compile(r"^/crm/v3/properties/(contacts|companies|deals)(?:/(\w+))?$")
_ASSOCIATE = re.compile(r"^/crm/v4/associations/(\w+)/(\w+)/batch/associate/default$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status, headers, content_type="application/json")


def _error(status: int, category: str, message: str, **extra: Any) -> Response:
    body = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
        **extra,
    }
    return _json(status, body)


class FakeHubSpot:
    def __init__(
        self,
        limit: int | None = None,
        window: float = 10.0,
        slow: float = 1.0,
        deal_key: bool = True,
    ) -> None:
        self.objects: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in PROPERTIES}
        self.associations: set[tuple[str, str, str, str]] = set()
        self.archived: dict[str, list[str]] = {t: [] for t in PROPERTIES}
        self.faults: list[str] = []
        self.flaky: Counter[str] = Counter()  # email -> times its upsert fails with a 207
        self.properties = {k: set(v) for k, v in PROPERTIES.items()}
        # Properties with unique values, by object type: what an upsert may key on.
        self.unique: dict[str, set[str]] = {t: set() for t in PROPERTIES}
        if deal_key:
            self.properties["deals"].add(DEAL_KEY)
            self.unique["deals"].add(DEAL_KEY)
        self.stall: str | None = None
        self.stalled = threading.Event()
        self.requests: list[tuple[str, str, Any]] = []
        self.statuses: Counter[int] = Counter()
        self.limit, self.window, self.slow = limit, window, slow
        self._hits: deque[float] = deque()
        self._emails: dict[str, str] = {}  # email -> contact id, HubSpot's unique index
        self._by_unique: dict[tuple[str, str], dict[str, str]] = {}  # the others' indexes
        self._ids = itertools.count(1001)
        self._lock = threading.Lock()

    def install(self, server) -> None:
        server.expect_request(re.compile(r"^/crm/")).respond_with_handler(self.handle)

    def by_email(self, email: str) -> dict[str, Any] | None:
        return self.objects["contacts"].get(self._emails.get(email.lower(), ""))

    # -- dispatch ------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        body = request.get_json(silent=True)
        with self._lock:
            self.requests.append((request.method, request.path, body))
            fault = self.faults.pop(0) if self.faults else None
            response = self._throttle() or self._auth(request) or self._fault(fault)
            if response is None:
                response = self._route(request, body)
            self.statuses[response.status_code] += 1
        if fault == "slow" or self._stalls(request.path):
            time.sleep(self.slow)  # the write above happened; the answer comes too late
        return response

    def _stalls(self, path: str) -> bool:
        if self.stall != path:
            return False
        self.stall = None
        self.stalled.set()
        return True

    def _throttle(self) -> Response | None:
        if not self.limit:
            return None
        now = time.monotonic()
        while self._hits and self._hits[0] <= now - self.window:
            self._hits.popleft()
        if len(self._hits) >= self.limit:
            wait = self._hits[0] + self.window - now
            response = _json(
                429,
                {
                    "status": "error",
                    "message": "You have reached your ten_secondly_rolling limit.",
                    "errorType": "RATE_LIMIT",
                    "correlationId": str(uuid.uuid4()),
                    "policyName": "TEN_SECONDLY_ROLLING",
                },
                {"Retry-After": str(max(1, math.ceil(wait)))},
            )
            return response
        self._hits.append(now)
        return None

    def _auth(self, request: Request) -> Response | None:
        if request.headers.get("Authorization") == f"Bearer {TOKEN}":
            return None
        return _error(
            401,
            "INVALID_AUTHENTICATION",
            "Authentication credentials not found. This API supports OAuth 2.0 authentication "
            "and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
        )

    def _fault(self, fault: str | None) -> Response | None:
        if fault == "429":
            return _json(
                429,
                {
                    "status": "error",
                    "message": "You have reached your secondly limit.",
                    "errorType": "RATE_LIMIT",
                    "policyName": "SECONDLY",
                },
                {"Retry-After": "1"},
            )
        if fault == "500":
            return _error(500, "INTERNAL_ERROR", "internal error")
        if fault == "502-html":
            return Response(
                "<html><body>502 Bad Gateway</body></html>", 502, content_type="text/html"
            )
        if fault == "no-results":  # well-formed JSON, but not what HubSpot promises
            return _json(200, {"status": "COMPLETE", "results": [{"id": "1", "properties": []}]})
        if fault == "malformed":
            return Response(
                '{"status": "COMPLETE", "results": [', 200, content_type="application/json"
            )
        return None

    def _route(self, request: Request, body: Any) -> Response:
        if request.method == "GET" and request.path == "/crm/v3/objects/contacts":
            return _json(200, {"results": list(self.objects["contacts"].values())[:1]})
        if match := _PROPERTY.match(request.path):
            return self._property(request.method, match.group(1), match.group(2), body)
        if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
            return _error(400, "VALIDATION_ERROR", "Invalid input JSON on line 1")
        inputs = body["inputs"]
        if len(inputs) > 100:
            return _error(400, "VALIDATION_ERROR", "Batch size must be at most 100")
        if match := _OBJECT.match(request.path):
            return self._objects(match.group(1), match.group(2), inputs)
        if match := _ASSOCIATE.match(request.path):
            return self._associate(match.group(1), match.group(2), inputs)
        if match := _ARCHIVE.match(request.path):
            return self._archive(match.group(1), inputs)
        return _error(404, "OBJECT_NOT_FOUND", f"Unable to route {request.path}")

    # -- objects -------------------------------------------------------------------

    def _objects(self, object_type: str, action: str, inputs: list[dict]) -> Response:
        if rejected := self._check_inputs(object_type, action, inputs):
            return rejected
        results, errors = [], []
        for one in inputs:
            outcome = getattr(self, f"_{action}")(object_type, one)
            (errors if outcome.get("status") == "error" else results).append(outcome)
        status = 207 if errors else (201 if action == "create" else 200)
        now = _now()
        reply = {
            "status": "COMPLETE",
            "results": results,
            "requestedAt": now,
            "startedAt": now,
            "completedAt": now,
        }
        if errors:
            reply.update(numErrors=len(errors), errors=errors)
        return _json(status, reply)

    def _check_inputs(self, object_type: str, action: str, inputs: list[dict]) -> Response | None:
        unknown = sorted(
            {p for i in inputs for p in i.get("properties", {})} - self.properties[object_type]
        )
        if unknown:
            details = [
                {
                    "isValid": False,
                    "message": f'Property "{p}" does not exist',
                    "error": "PROPERTY_DOESNT_EXIST",
                    "name": p,
                }
                for p in unknown
            ]
            return _error(
                400, "VALIDATION_ERROR", f"Property values were not valid: {json.dumps(details)}"
            )
        ids = [str(i.get("id")).lower() for i in inputs if action != "create"]
        if duplicates := sorted({i for i in ids if ids.count(i) > 1}):
            return _error(
                400, "VALIDATION_ERROR", f"Duplicate IDs found in batch input: {duplicates}"
            )
        return None

    def _property(self, method: str, object_type: str, name: str | None, body: Any) -> Response:
        if method == "GET" and name:
            if name not in self.properties[object_type]:
                return _error(404, "OBJECT_NOT_FOUND", f"Unable to find property {name}")
            return _json(200, {"name": name, "hasUniqueValue": name in self.unique[object_type]})
        if method == "POST" and not name and isinstance(body, dict) and body.get("name"):
            if body["name"] in self.properties[object_type]:
                return _error(409, "OBJECT_ALREADY_EXISTS", f"{body['name']} already exists")
            self.properties[object_type].add(body["name"])
            if body.get("hasUniqueValue"):
                self.unique[object_type].add(body["name"])
            return _json(201, {**body, "createdAt": _now()})
        return _error(400, "VALIDATION_ERROR", "Invalid property request")

    def _upsert(self, object_type: str, one: dict) -> dict:
        if object_type != "contacts":
            return self._upsert_unique(object_type, one)
        email = str(one.get("id", "")).lower()
        if one.get("idProperty") != "email" or not _EMAIL.match(email):
            return _item_error("VALIDATION_ERROR", f"Email address {email} is invalid", email)
        if self.flaky[email] > 0:
            self.flaky[email] -= 1
            return _item_error("INTERNAL_ERROR", "An internal error occurred", email)
        existing = self.by_email(email)
        props = {**one.get("properties", {}), "email": email}
        if existing:
            existing.update(props)
            return self._result(object_type, existing, new=False)
        stored = self._store(object_type, props)
        self._emails[email] = stored["hs_object_id"]
        return self._result(object_type, stored, new=True)

    def _upsert_unique(self, object_type: str, one: dict) -> dict:
        key, value = one.get("idProperty"), str(one.get("id", ""))
        if key not in self.unique[object_type]:
            return _item_error(
                "VALIDATION_ERROR", f"{key} is not a unique property of {object_type}", value
            )
        props = {**one.get("properties", {}), key: value}
        index = self._by_unique.setdefault((object_type, key), {})
        existing = self.objects[object_type].get(index.get(value, ""))
        if existing:
            existing.update(props)
            return self._result(object_type, existing, new=False)
        stored = self._store(object_type, props)
        index[value] = stored["hs_object_id"]
        return self._result(object_type, stored, new=True)

    def _create(self, object_type: str, one: dict) -> dict:
        stored = self._store(object_type, dict(one.get("properties", {})))
        result = self._result(object_type, stored)
        result["objectWriteTraceId"] = one.get("objectWriteTraceId")
        return result

    def _update(self, object_type: str, one: dict) -> dict:
        stored = self.objects[object_type].get(str(one.get("id")))
        if stored is None:
            kind = object_type.upper().rstrip("S")
            message = (
                f"Could not get some {kind} objects, they may be deleted or not exist. "
                "Check that ids are valid."
            )
            return _item_error("OBJECT_NOT_FOUND", message, str(one.get("id")))
        stored.update(one.get("properties", {}))
        return self._result(object_type, stored)

    def _store(self, object_type: str, props: dict) -> dict:
        object_id = str(next(self._ids))
        stored = {**props, "hs_object_id": object_id}
        self.objects[object_type][object_id] = stored
        return stored

    @staticmethod
    def _result(object_type: str, stored: dict, new: bool | None = None) -> dict:
        now = _now()
        result = {
            "id": stored["hs_object_id"],
            "properties": {k: str(v) for k, v in stored.items()},
            "createdAt": now,
            "updatedAt": now,
            "archived": False,
        }
        if new is not None:
            result["new"] = new
        return result

    def _archive(self, object_type: str, inputs: list[dict]) -> Response:
        for one in inputs:
            object_id = str(one.get("id"))
            stored = self.objects[object_type].pop(object_id, None)
            if stored is not None:
                self.archived[object_type].append(object_id)
                if object_type == "contacts":
                    self._emails.pop(str(stored.get("email", "")).lower(), None)
                self.associations = {a for a in self.associations if object_id not in a}
        return Response(status=204)

    # -- associations --------------------------------------------------------------

    def _associate(self, source: str, target: str, inputs: list[dict]) -> Response:
        results, errors = [], []
        for one in inputs:
            from_id, to_id = str(one["from"]["id"]), str(one["to"]["id"])
            if from_id not in self.objects[source] or to_id not in self.objects[target]:
                errors.append(_item_error("OBJECT_NOT_FOUND", "No such object", from_id, to_id))
                continue
            self.associations.add((source, from_id, target, to_id))
            results.append(
                {
                    "from": {"id": from_id},
                    "to": {"id": to_id},
                    "associationSpec": {
                        "associationCategory": "HUBSPOT_DEFINED",
                        "associationTypeId": 1,
                    },
                }
            )
        reply = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": _now(),
            "completedAt": _now(),
        }
        if errors:
            reply.update(numErrors=len(errors), errors=errors)
        return _json(207 if errors else 200, reply)


def _item_error(category: str, message: str, *ids: str) -> dict:
    return {
        "status": "error",
        "category": category,
        "message": message,
        "context": {"ids": list(ids)},
    }


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
