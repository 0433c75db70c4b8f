"""A generic outbound webhook: one signed JSON POST per item.

Headers: ``X-Leadline-Timestamp`` (Unix seconds) and ``X-Leadline-Signature:
sha256=<hex>``, the HMAC-SHA256 of ``"<timestamp>.<body>"`` with the target's secret,
so a receiver can check both who sent it and that it is fresh. ``Idempotency-Key``
carries the item's key: a receiver that sees it twice can ignore the second.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from redis import Redis

from sync.crm import fields
from sync.crm.base import CrmTarget, Delivery, HandoffItem
from sync.crm.config import build_client, common_errors, url_error
from sync.crm.http import Rejected

DEFAULT_LIMIT = (10, 1.0)
MIN_SECRET_LENGTH = 16
OBJECT_TYPES = frozenset({"lead", "deal"})
DEFAULT_MAPPING: fields.Mapping_ = {
    "lead": {
        name: name
        for name in (
            "email",
            "first_name",
            "last_name",
            "phone",
            "company",
            "title",
            "website",
            "city",
            "state",
            "country",
        )
    },
    "deal": {
        "name": "deal_name",
        "value": "deal_value",
        "currency": "deal_currency",
        "stage": "deal_stage",
    },
}


def validate_settings(settings: dict[str, Any]) -> dict[str, str]:
    errors = common_errors(settings)
    if message := url_error(settings.get("url")):
        errors["url"] = message
    secret = settings.get("secret")
    if not isinstance(secret, str) or len(secret) < MIN_SECRET_LENGTH:
        errors["secret"] = f"Enter a secret of at least {MIN_SECRET_LENGTH} characters."
    return errors


def property_error(object_type: str, prop: str) -> str | None:
    if not prop.strip():
        return "Name the JSON key."
    return None


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


class WebhookTarget(CrmTarget):
    kind = "webhook"
    display_name = "the webhook"

    def __init__(
        self,
        settings: dict[str, Any],
        field_mapping: dict[str, Any] | None = None,
        redis: Redis | None = None,
    ) -> None:
        if message := url_error(settings.get("url")):
            raise ValueError(f"Webhook URL refused: {message}")
        self.url = settings["url"]
        self.secret = settings["secret"]
        self.mapping = fields.merged(DEFAULT_MAPPING, field_mapping)
        self.client = build_client(
            vendor="The webhook",
            kind=self.kind,
            settings=settings,
            credential=self.url,
            default_base_url=self.url,
            default_limit=DEFAULT_LIMIT,
            headers={"Content-Type": "application/json", "User-Agent": "Leadline-Webhook/1"},
            error_message=_error_message,
            redis=redis,
        )
        self.client.base_url = self.url  # the URL is called as given, trailing slash too
        self.client.expects_json = False  # receivers often answer "OK" or nothing

    def _check(self) -> None:
        self._post({"event": "leadline.ping"}, key="ping")

    def _deliver(self, delivery: Delivery) -> None:
        for item in delivery.items:
            try:
                self._post(self._payload(item), key=item.key)
            except Rejected as error:
                delivery.fail(item, error)
            delivery.finish([item])

    def _erase(self, delivery: Delivery) -> None:
        for item in delivery.items:
            payload = {
                "event": "leadline.erasure",
                "idempotency_key": item.key,
                # The key the receiver got with the hand-off: how it finds the person.
                "handoff_key": item.key.removeprefix("erase-"),
                "external_ids": item.external_ids,
            }
            try:
                self._post(payload, key=item.key)
            except Rejected as error:
                delivery.fail(item, error)
            delivery.finish([item])

    def _payload(self, item: HandoffItem) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "event": "leadline.handoff",
            "idempotency_key": item.key,
            "lead": fields.values(item, self.mapping["lead"]),
            "external_ids": item.external_ids,
        }
        if item.has_deal:
            # Money as a decimal string: a JSON number would pass through a float.
            payload["deal"] = fields.values(item, self.mapping["deal"], decimal=str)
        return payload

    def _post(self, payload: dict[str, Any], key: str) -> None:
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        # Signed per attempt would be fresher, but receivers dedupe on the key, and
        # one signature per item keeps retries byte-for-byte identical.
        timestamp = str(int(time.time()))
        headers = {
            "X-Leadline-Timestamp": timestamp,
            "X-Leadline-Signature": signature(self.secret, timestamp, body),
            "Idempotency-Key": key,
        }
        self.client.request("POST", "", data=body, headers=headers)


def _error_message(body: Any) -> str | None:
    if isinstance(body, dict):
        for name in ("error", "message", "detail"):
            if isinstance(body.get(name), str):
                return body[name]
    return None
