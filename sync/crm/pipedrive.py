"""Pipedrive: organizations, persons and deals through API v2, leads through API v1.

Item by item (Pipedrive has no batch writes): the organization, then the person
linked to it, then the deal or lead linked to both. An object whose id an earlier
delivery stored is updated (PATCH by id); any other is created. Nothing is looked up
by name or email first: a search-then-create races with itself and with people
editing the CRM, and stored ids make resending safe without it.
"""

from __future__ import annotations

import re
from typing import Any

from redis import Redis

from sync.crm import fields
from sync.crm.base import CrmTarget, Delivery, HandoffItem
from sync.crm.config import build_client, common_errors, token_error
from sync.crm.http import Rejected, Transient

BASE_URL = "https://api.pipedrive.com"
# Pipedrive limits each token in a rolling 2-second window; the size depends on the
# plan, so the admin can raise this default.
DEFAULT_LIMIT = (40, 2.0)
OBJECT_TYPES = frozenset({"contact", "company", "deal"})
DEAL_OBJECTS = ("deal", "lead")
CUSTOM_KEY = re.compile(r"^[0-9a-f]{40}$")
# Top-level string or number properties of the v2 (and v1 lead) request bodies that
# a mapping may fill; everything else goes to custom fields, keyed by their hash.
PLAIN_PROPERTIES = {
    "contact": frozenset({"name", "job_title"}),
    "company": frozenset({"name", "website", "linkedin", "industry"}),
    "deal": frozenset({"title", "value", "currency", "expected_close_date"}),
}
DEFAULT_MAPPING: fields.Mapping_ = {
    "contact": {"job_title": "title"},
    "company": {"name": "company", "website": "website"},
    "deal": {"title": "deal_name", "value": "deal_value", "currency": "deal_currency"},
}
_PATHS = {
    "company": "/api/v2/organizations",
    "contact": "/api/v2/persons",
    "deal": "/api/v2/deals",
    "lead": "/api/v1/leads",
}


def validate_settings(settings: dict[str, Any]) -> dict[str, str]:
    errors = {**token_error(settings), **common_errors(settings)}
    if settings.get("deal_object") not in (None, "", *DEAL_OBJECTS):
        errors["deal_object"] = "Choose deal or lead."
    return errors


def property_error(object_type: str, prop: str) -> str | None:
    if prop in PLAIN_PROPERTIES[object_type] or CUSTOM_KEY.match(prop):
        return None
    plain = ", ".join(sorted(PLAIN_PROPERTIES[object_type]))
    return f"Use one of {plain}, or a custom field's 40-character key."


def _error_message(body: Any) -> str | None:
    if not isinstance(body, dict) or not body.get("error"):
        return None
    info = body.get("error_info")
    return f"{body['error']} ({info})" if info else str(body["error"])


class PipedriveTarget(CrmTarget):
    kind = "pipedrive"
    display_name = "Pipedrive"

    def __init__(
        self,
        settings: dict[str, Any],
        field_mapping: dict[str, Any] | None = None,
        redis: Redis | None = None,
    ) -> None:
        self.mapping = fields.merged(DEFAULT_MAPPING, field_mapping)
        self.stages = (field_mapping or {}).get(fields.STAGES) or {}
        self.deal_object = settings.get("deal_object") or "deal"
        self.client = build_client(
            vendor="Pipedrive",
            kind=self.kind,
            settings=settings,
            credential=settings["token"],
            default_base_url=BASE_URL,
            default_limit=DEFAULT_LIMIT,
            headers={"x-api-token": settings["token"], "Accept": "application/json"},
            error_message=_error_message,
            redis=redis,
        )

    def _check(self) -> None:
        self.client.request("GET", "/api/v2/persons", params={"limit": 1})

    def _deliver(self, delivery: Delivery) -> None:
        for item in delivery.items:
            try:
                self._one(delivery, item)
            except Rejected as error:
                delivery.fail(item, error)
            delivery.finish([item])

    def _erase(self, delivery: Delivery) -> None:
        for item in delivery.items:
            person_id = item.external_ids.get("contact")
            if person_id:
                try:
                    self.client.request("DELETE", f"{_PATHS['contact']}/{person_id}")
                except Rejected as error:
                    if error.status != 404:  # 404: deleted already, by us or by hand
                        delivery.fail(item, error)
            delivery.finish([item])

    def _one(self, d: Delivery, item: HandoffItem) -> None:
        ids = d.ids[item.key]
        if item.company:
            self._save(d, item, "company", self._organization(item))
        self._save(d, item, "contact", self._person(item, ids.get("company")))
        if item.has_deal:
            if self.deal_object == "lead":
                self._save(d, item, "lead", self._lead(item, ids))
            else:
                self._save(d, item, "deal", self._deal(item, ids))

    def _save(self, d: Delivery, item: HandoffItem, object_type: str, body: dict) -> None:
        """PATCH the stored object, or POST a new one; record the id Pipedrive gives."""
        known = item.external_ids.get(object_type)
        path = _PATHS[object_type]
        if known:
            reply = self.client.request("PATCH", f"{path}/{known}", json=body)
        else:
            reply = self.client.request("POST", path, json=body)
        data = reply.body.get("data") if isinstance(reply.body, dict) else None
        if isinstance(reply.body, dict) and reply.body.get("success") is False:
            raise Rejected(f"Pipedrive rejected the {object_type}: {_error_message(reply.body)}")
        if not isinstance(data, dict) or data.get("id") in (None, ""):
            raise Transient(f"Pipedrive's reply gave the {object_type} no id.")
        d.found(item, object_type, data["id"])

    # -- request bodies ------------------------------------------------------------

    def _organization(self, item: HandoffItem) -> dict[str, Any]:
        body = self._mapped(item, "company")
        address = {
            k: v
            for k, v in (
                ("locality", item.city),
                ("admin_area_level_1", item.state),
                ("country", item.country),
            )
            if v
        }
        if address:
            body["address"] = {"value": ", ".join(address.values()), **address}
        return body

    def _person(self, item: HandoffItem, org_id: str | None) -> dict[str, Any]:
        body = self._mapped(item, "contact")
        body.setdefault("name", item.full_name or item.phone or item.key)
        if item.email:
            body["emails"] = [{"value": item.email, "primary": True, "label": "work"}]
        if item.phone:
            body["phones"] = [{"value": item.phone, "primary": True, "label": "work"}]
        if str(org_id or "").isdigit():
            body["org_id"] = int(org_id)
        return body

    def _deal(self, item: HandoffItem, ids: dict[str, str]) -> dict[str, Any]:
        body = self._mapped(item, "deal")
        body.setdefault("title", self._deal_title(item))
        stage = str(self.stages.get(item.deal_stage, ""))
        if stage.isdigit():
            body["stage_id"] = int(stage)
        body.update(_links(ids, person="person_id", org="org_id"))
        return body

    def _lead(self, item: HandoffItem, ids: dict[str, str]) -> dict[str, Any]:
        mapped = self._mapped(item, "deal")
        # Leads (API v1) take custom fields at the top level and value as an object.
        body: dict[str, Any] = mapped.pop("custom_fields", {})
        body["title"] = mapped.get("title") or self._deal_title(item)
        if item.deal_value is not None and item.deal_currency:
            body["value"] = {"amount": float(item.deal_value), "currency": item.deal_currency}
        if "expected_close_date" in mapped:
            body["expected_close_date"] = mapped["expected_close_date"]
        body.update(_links(ids, person="person_id", org="organization_id"))
        return body

    def _mapped(self, item: HandoffItem, object_type: str) -> dict[str, Any]:
        """Mapped values: plain properties at the top, custom field keys in custom_fields."""
        body: dict[str, Any] = {}
        custom = {}
        for prop, value in fields.values(item, self.mapping[object_type]).items():
            if prop in PLAIN_PROPERTIES[object_type]:
                body[prop] = value
            else:
                custom[prop] = value
        if custom:
            body["custom_fields"] = custom
        return body

    @staticmethod
    def _deal_title(item: HandoffItem) -> str:
        return item.deal_name or f"{item.company or item.full_name} deal"


def _links(ids: dict[str, str], *, person: str, org: str) -> dict[str, int]:
    links = {}
    for object_type, name in (("contact", person), ("company", org)):
        if str(ids.get(object_type, "")).isdigit():
            links[name] = int(ids[object_type])
    return links
